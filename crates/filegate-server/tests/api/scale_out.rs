//! A gateway scaled out for the tests that run a flow on the engines users scale out to.

/// A gateway scaled out: on a PostgreSQL database and an S3 server (s3s-fs) of its own.
pub struct ScaleOut {
    pub app: crate::common::TestApp,
    pub s3: crate::s3s_fs::S3sFs,
    database: crate::engines::PostgresDatabase,
}

impl ScaleOut {
    /// `None` (test skipped) without PostgreSQL or s3s-fs — a failure under `CI=true`.
    pub async fn start() -> Option<Self> {
        let database = crate::engines::postgres_database().await?;
        let Some(s3) = crate::s3s_fs::S3sFs::start() else {
            database.drop_database().await;
            return None;
        };
        let (db, storage) = (database.url.clone(), s3.url());
        let app = crate::common::TestApp::spawn_with(|c| {
            c.database = Some(db);
            c.storage = Some(storage);
        })
        .await;
        Some(Self { app, s3, database })
    }

    /// Another gateway on the same database and S3 bucket (its own port, data directory and
    /// token keys): what a load balancer sends a client's next request to.
    pub async fn second_gateway(&self) -> crate::common::TestApp {
        let (db, storage) = (self.database.url.clone(), self.s3.url());
        crate::common::TestApp::spawn_with(|c| {
            c.database = Some(db);
            c.storage = Some(storage);
        })
        .await
    }

    /// Stops the gateway and drops its database (the S3 server goes with its value).
    pub async fn finish(self) {
        drop(self.app);
        self.database.drop_database().await;
    }
}
