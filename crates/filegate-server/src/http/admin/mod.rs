//! `/v1/admin`: tenants (superadmin), buckets and API keys (tenant admin).

pub mod api_keys;
pub mod buckets;
pub mod tenants;
