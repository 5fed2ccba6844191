//! Private engines for the fault harness: a PostgreSQL cluster, a RabbitMQ node, a Redis, an
//! S3 server (s3s-fs) and a clamd of its own, each on its own port and directory, so that
//! stopping one for 30 s disturbs nobody else on the machine (other test suites share the
//! system's servers). Each can be stopped and started again on the same port and data.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// Which engine a scenario stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    RabbitMq,
    Redis,
    S3,
    Clamd,
}

impl Engine {
    pub fn label(self) -> &'static str {
        match self {
            Engine::Postgres => "PostgreSQL",
            Engine::RabbitMq => "RabbitMQ",
            Engine::Redis => "Redis",
            Engine::S3 => "S3 server (s3s-fs)",
            Engine::Clamd => "clamd",
        }
    }
}

pub const S3_ACCESS_KEY: &str = "AKFAULTS";
pub const S3_SECRET_KEY: &str = "SKFAULTS";

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub async fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("nothing listens on port {port} after {within:?}")
}

async fn run(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `cmd` run as `user` when we are root (PostgreSQL and RabbitMQ refuse to run as root).
fn as_user(user: &str, program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", user, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A directory under the system temp dir that `user` owns (the work dir is root's, 0700).
fn owned_dir(prefix: &str, user: &str) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    if is_root() {
        std::process::Command::new("chown")
            .arg(user)
            .arg(dir.path())
            .status()
            .context("chown")?
            .success()
            .then_some(())
            .context("chown of the engine's directory failed")?;
    }
    Ok(dir)
}

/// A PostgreSQL cluster of our own (`initdb`, `pg_ctl`).
pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Postgres {
    pub async fn start() -> anyhow::Result<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .context("PostgreSQL is not installed (/usr/lib/postgresql)")?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").is_file())
            .max()
            .context("no initdb under /usr/lib/postgresql/*/bin")?;
        let dir = owned_dir("filegate-faults-pg-", "postgres")?;
        let port = free_port()?;
        run(
            as_user("postgres", &bin.join("initdb"))
                .arg("-D")
                .arg(dir.path().join("data"))
                .args(["-A", "trust", "-U", "postgres", "--no-sync"]),
            "initdb",
        )
        .await?;
        let pg = Self { bin, dir, port };
        pg.up().await?;
        Ok(pg)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub async fn up(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        run(
            as_user("postgres", &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-o", &options, "-l"])
                .arg(self.dir.path().join("log"))
                .args(["-w", "start"]),
            "pg_ctl start",
        )
        .await
    }

    /// `pg_ctl stop -m fast`: every connection is cut, as when an operator stops it.
    pub async fn down(&self) -> anyhow::Result<()> {
        run(
            as_user("postgres", &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.path().join("data"))
                .args(["-m", "fast", "-w", "stop"]),
            "pg_ctl stop",
        )
        .await
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut c = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
            c
        } else {
            std::process::Command::new(self.bin.join("pg_ctl"))
        };
        let _ = c
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A RabbitMQ node of our own (its own node name, ports and database).
pub struct RabbitMq {
    dir: tempfile::TempDir,
    node: String,
    pub port: u16,
    dist_port: u16,
    child: Option<Child>,
}

impl RabbitMq {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = owned_dir("filegate-faults-rabbitmq-", "rabbitmq")?;
        std::fs::write(dir.path().join("enabled_plugins"), "[].\n")?;
        let mut rabbit = Self {
            node: format!("filegate-faults-{}@localhost", std::process::id()),
            port: free_port()?,
            dist_port: free_port()?,
            dir,
            child: None,
        };
        if is_root() {
            std::process::Command::new("chown")
                .args(["rabbitmq"])
                .arg(rabbit.dir.path().join("enabled_plugins"))
                .status()?;
        }
        rabbit.up().await?;
        Ok(rabbit)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    pub async fn up(&mut self) -> anyhow::Result<()> {
        let d = self.dir.path();
        let child = Command::new("rabbitmq-server")
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("none"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting rabbitmq-server")?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(90)).await
    }

    /// `rabbitmqctl stop`: the node shuts down and every connection is closed.
    pub async fn down(&mut self) -> anyhow::Result<()> {
        run(
            Command::new("rabbitmqctl").args(["-n", &self.node, "stop"]),
            "rabbitmqctl stop",
        )
        .await?;
        if let Some(mut child) = self.child.take() {
            tokio::time::timeout(Duration::from_secs(30), child.wait()).await.ok();
        }
        Ok(())
    }
}

impl Drop for RabbitMq {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = std::process::Command::new("rabbitmqctl")
                .args(["-n", &self.node, "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A child process that can be stopped and started again with the same command line:
/// Redis, s3s-fs, clamd.
pub struct Restartable {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    pub port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Restartable {
    async fn start(
        name: &'static str,
        program: PathBuf,
        args: Vec<String>,
        port: u16,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        let mut p = Self {
            name,
            program,
            args,
            port,
            log,
            child: None,
        };
        p.up().await?;
        Ok(p)
    }

    pub async fn up(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(60))
            .await
            .with_context(|| format!("{} did not start (log: {})", self.name, self.log.display()))
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub async fn down(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            }
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                child.kill().await?;
            }
        }
        Ok(())
    }
}

/// Every engine of the scale-out deployment, private to this run.
pub struct Engines {
    pub postgres: Postgres,
    pub rabbitmq: RabbitMq,
    pub redis: Restartable,
    pub s3: Restartable,
    pub s3_root: PathBuf,
    pub clamd: Restartable,
}

impl Engines {
    pub async fn start(dir: &Path, s3s_fs: &Path) -> anyhow::Result<Self> {
        eprintln!("faults: starting private PostgreSQL, RabbitMQ, Redis, s3s-fs and clamd");
        std::fs::create_dir_all(dir)?;
        let postgres = Postgres::start().await.context("private PostgreSQL")?;
        let rabbitmq = RabbitMq::start().await.context("private RabbitMQ")?;
        let port = free_port()?;
        let redis = Restartable::start(
            "redis",
            "redis-server".into(),
            vec![
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--save".into(),
                String::new(),
                "--appendonly".into(),
                "no".into(),
            ],
            port,
            dir.join("redis.log"),
        )
        .await?;
        let s3_root = dir.join("s3");
        std::fs::create_dir_all(&s3_root)?;
        let port = free_port()?;
        let s3 = Restartable::start(
            "s3s-fs",
            s3s_fs.to_owned(),
            vec![
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                port.to_string(),
                "--access-key".into(),
                S3_ACCESS_KEY.into(),
                "--secret-key".into(),
                S3_SECRET_KEY.into(),
                s3_root.display().to_string(),
            ],
            port,
            dir.join("s3s-fs.log"),
        )
        .await?;
        let clamd = start_clamd(&dir.join("clamd")).await?;
        Ok(Self {
            postgres,
            rabbitmq,
            redis,
            s3,
            s3_root,
            clamd,
        })
    }

    pub async fn down(&mut self, engine: Engine) -> anyhow::Result<()> {
        match engine {
            Engine::Postgres => self.postgres.down().await,
            Engine::RabbitMq => self.rabbitmq.down().await,
            Engine::Redis => self.redis.down().await,
            Engine::S3 => self.s3.down().await,
            Engine::Clamd => self.clamd.down().await,
        }
    }

    pub async fn up(&mut self, engine: Engine) -> anyhow::Result<()> {
        match engine {
            Engine::Postgres => self.postgres.up().await,
            Engine::RabbitMq => self.rabbitmq.up().await,
            Engine::Redis => self.redis.up().await,
            Engine::S3 => self.s3.up().await,
            Engine::Clamd => self.clamd.up().await,
        }
    }
}

/// clamd with the project's test signatures (as `scripts/clamd.sh` starts it), in the
/// foreground as our child.
async fn start_clamd(dir: &Path) -> anyhow::Result<Restartable> {
    let program = ["/usr/sbin/clamd", "/usr/bin/clamd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .context("clamd is not installed (scripts/clamd.sh installs it)")?;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../filegate-clamd/tests/fixtures/clamav");
    std::fs::create_dir_all(dir.join("db"))?;
    for entry in std::fs::read_dir(&fixtures).with_context(|| format!("reading {}", fixtures.display()))? {
        let entry = entry?;
        std::fs::copy(entry.path(), dir.join("db").join(entry.file_name()))?;
    }
    let port = free_port()?;
    let user = std::env::var("USER").unwrap_or_else(|_| if is_root() { "root".into() } else { String::new() });
    let user_line = if user.is_empty() {
        String::new()
    } else {
        format!("User {user}\n")
    };
    let conf = dir.join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "Foreground true\nDatabaseDirectory {db}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n{user_line}StreamMaxLength 10M\nSelfCheck 0\n",
            db = dir.join("db").display()
        ),
    )?;
    Restartable::start(
        "clamd",
        program,
        vec!["-c".into(), conf.display().to_string()],
        port,
        dir.join("clamd.log"),
    )
    .await
}
