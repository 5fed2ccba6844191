//! Domain records rendered as API views.

use filegate_api::{ApiKeyView, BucketView, DecryptionView, FileView, ProcessingView, StatusView, TenantView};
use filegate_core::domain::{ApiKey, Bucket, DedupScope, FileRecord, Tenant};

pub fn file(f: FileRecord) -> FileView {
    FileView {
        id: f.id.to_string(),
        name: f.name().to_owned(),
        tenant: f.tenant.to_string(),
        bucket: f.bucket.to_string(),
        path: f.path.to_string(),
        size: f.size,
        content_type: f.content_type.to_string(),
        sha256: f.sha256.map(|s| s.to_string()),
        etag: f.etag.map(|e| e.to_string()),
        status: f.status.to_string(),
        status_reason: f.status_reason,
        owner: f.owner,
        external_id: f.external_id,
        metadata: f.metadata.into_map(),
        processing: ProcessingView {
            scan: f.processing.scan,
            sniffed_type: f.processing.sniffed_type,
            image: f.processing.image,
            thumbnails: f.processing.thumbnails,
            decryption: f.processing.decryption.map(|d| DecryptionView {
                passphrase_version: d.passphrase_version,
                old_passphrase: d.old_passphrase,
            }),
        },
        download_count: f.download_count,
        created_at: f.created_at,
        updated_at: f.updated_at,
        deleted_at: f.deleted_at,
        encryption: f.encryption.map(|e| e.as_str().to_owned()),
        request_id: f.request_id.map(|id| id.to_string()),
    }
}

pub fn status(f: &FileRecord) -> StatusView {
    StatusView {
        id: f.id.to_string(),
        status: f.status.to_string(),
        status_reason: f.status_reason.clone(),
        updated_at: f.updated_at,
    }
}

pub fn dedup_name(d: DedupScope) -> &'static str {
    match d {
        DedupScope::Off => "off",
        DedupScope::Bucket => "bucket",
        DedupScope::Tenant => "tenant",
    }
}

pub fn bucket(b: Bucket) -> BucketView {
    BucketView {
        name: b.name.to_string(),
        public: b.policy.public,
        max_file_size: b.policy.max_file_size,
        allowed_content_types: b.policy.allowed_content_types,
        retention_days: b.policy.retention_days,
        stages: b.policy.stages,
        dedup: dedup_name(b.policy.dedup).to_owned(),
        inline_active: b.policy.inline_active,
        created_at: b.created_at,
        updated_at: b.updated_at,
    }
}

pub fn tenant(t: Tenant) -> TenantView {
    TenantView {
        id: t.id.to_string(),
        created_at: t.created_at,
    }
}

pub fn api_key(k: ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: k.id.to_string(),
        name: k.name,
        roles: k.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    }
}
