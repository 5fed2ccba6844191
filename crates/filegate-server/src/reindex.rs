//! `filegate reindex`: the search index rebuilt from the database, for one tenant or all.
//! For an index lost or damaged, or built by another version (the embedded index starts
//! empty after a schema change).

use anyhow::Context as _;
use filegate_core::domain::TenantId;
use filegate_core::usecases::search;

use crate::app::settings;
use crate::config::Config;
use crate::engines::Engines;
use crate::secret::Secret;

/// Rebuilds `tenant`'s index, or every tenant's. `progress(tenant, read, total)` follows
/// each batch. Returns how many files are searchable.
///
/// On the embedded engine the index has one writer: a running `filegate serve` with its
/// workers holds it, and this answers that the index is busy (stop the server first).
pub async fn reindex(
    config: Config,
    tenant: Option<&str>,
    mut progress: impl FnMut(&TenantId, u64, u64),
) -> anyhow::Result<u64> {
    config.validate()?;
    let secret = Secret::for_config(&config)?;
    let engines = Engines::open(&config, &secret, settings(&config)?).await?;
    let services = &engines.services;
    let tenants = match tenant {
        Some(id) => {
            let id = TenantId::parse(id)?;
            services
                .store
                .get_tenant(&id)
                .await?
                .with_context(|| format!("no tenant {id}"))?;
            vec![id]
        }
        None => services.store.list_tenants().await?.into_iter().map(|t| t.id).collect(),
    };
    let mut indexed = 0;
    for tenant in &tenants {
        indexed += search::reindex(services, tenant, |read, total| progress(tenant, read, total))
            .await
            .with_context(|| format!("reindexing tenant {tenant}"))?;
    }
    Ok(indexed)
}
