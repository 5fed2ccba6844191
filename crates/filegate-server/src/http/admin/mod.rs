//! `/v1/admin`: tenants (superadmin), buckets, API keys and alert recipients (tenant admin).

pub mod alerts;
pub mod api_keys;
pub mod buckets;
pub mod quotas;
pub mod tenants;
