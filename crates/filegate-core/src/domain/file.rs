//! The file record: what filegate knows about one stored file.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    BucketName, ContentType, Decryption, ETag, Encryption, FileId, FileStatus, Metadata, ObjectPath, RequestId,
    Sha256Hex, TenantId,
};

/// How the bytes of a pending file are expected to arrive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UploadPlan {
    /// One signed PUT.
    Put,
    /// One signed form POST (the browser-friendly S3 POST policy shape).
    Form,
    /// Signed part URLs, then complete with the part etags.
    Multipart {
        upload_id: String,
        part_size: u64,
        part_count: u32,
    },
    /// Streamed through the gateway (`POST /v1/files`, `POST /v1/images`).
    Proxied,
    /// tus (docs/tus.md): the client appends the bytes in order; the state of the upload.
    Tus(super::TusUpload),
    /// No bytes were sent: the file shares the blob of `source`, a `ready` file of the same
    /// tenant whose computed sha256 and size matched (dedup).
    Deduplicated { source: FileId },
}

/// Results of the processing stages, as clients see them under `processing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Processing {
    pub scan: Option<String>,
    pub sniffed_type: Option<String>,
    pub image: Option<serde_json::Value>,
    pub thumbnails: Vec<serde_json::Value>,
    /// Set when the `decrypt` stage opened an encrypted upload.
    pub decryption: Option<Decryption>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub id: FileId,
    pub tenant: TenantId,
    pub bucket: BucketName,
    pub path: ObjectPath,
    /// The declared size until the bytes are verified, then the verified size.
    pub size: u64,
    pub content_type: ContentType,
    /// The sha256 the client declared, checked at completion when present.
    pub declared_sha256: Option<Sha256Hex>,
    /// The sha256 the pipeline computed. The only hash filegate trusts.
    pub sha256: Option<Sha256Hex>,
    pub etag: Option<ETag>,
    pub status: FileStatus,
    pub status_reason: Option<String>,
    /// The status a soft-deleted file returns to when restored.
    pub previous_status: Option<FileStatus>,
    pub owner: String,
    pub external_id: Option<String>,
    pub metadata: Metadata,
    pub processing: Processing,
    pub download_count: u64,
    /// Where the bytes live in the blob store. Never derived from user input.
    pub blob_key: String,
    pub upload: UploadPlan,
    /// When a pending upload's URLs stop working and the file expires.
    pub upload_expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// When a deleted file's bytes are removed for good (deletion time + the bucket's
    /// retention at that moment).
    pub purge_after: Option<DateTime<Utc>>,
    /// Position in the tenant's change feed; assigned by the store on every write.
    pub change_seq: i64,
    /// How the uploaded bytes are encrypted; the `decrypt` stage replaces them with the
    /// plaintext.
    pub encryption: Option<Encryption>,
    /// The file request this upload answers; fulfilled when the file is `ready`.
    pub request_id: Option<RequestId>,
}

/// What a new file is created from; everything else starts empty.
pub struct NewFile {
    pub id: FileId,
    pub tenant: TenantId,
    pub owner: String,
    pub bucket: BucketName,
    pub path: ObjectPath,
    pub size: u64,
    pub content_type: ContentType,
    pub declared_sha256: Option<Sha256Hex>,
    pub metadata: Metadata,
    pub external_id: Option<String>,
    pub upload: UploadPlan,
    pub upload_expires_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub encryption: Option<Encryption>,
    pub request_id: Option<RequestId>,
}

impl FileRecord {
    /// A `pending` file, its bytes to be stored under a key derived from tenant and id.
    pub fn pending(new: NewFile) -> Self {
        Self {
            blob_key: blob_key_for(&new.tenant, new.id),
            id: new.id,
            tenant: new.tenant,
            bucket: new.bucket,
            path: new.path,
            size: new.size,
            content_type: new.content_type,
            declared_sha256: new.declared_sha256,
            sha256: None,
            etag: None,
            status: FileStatus::Pending,
            status_reason: None,
            previous_status: None,
            owner: new.owner,
            external_id: new.external_id,
            metadata: new.metadata,
            processing: Processing::default(),
            download_count: 0,
            upload: new.upload,
            upload_expires_at: new.upload_expires_at,
            created_at: new.now,
            updated_at: new.now,
            deleted_at: None,
            purge_after: None,
            change_seq: 0,
            encryption: new.encryption,
            request_id: new.request_id,
        }
    }

    pub fn name(&self) -> &str {
        self.path.name()
    }

    /// A partial tus upload (docs/tus.md, concatenation): bytes kept for a final upload, no
    /// file of its own. Listings, folders, the change feed and events leave it out.
    pub fn is_tus_partial(&self) -> bool {
        matches!(&self.upload, UploadPlan::Tus(tus) if tus.concat == Some(super::Concat::Partial))
    }

    /// The sizes of the thumbnails recorded under `processing.thumbnails` (objects with a
    /// `size` field); entries without a usable size are skipped.
    pub fn thumbnail_sizes(&self) -> Vec<u32> {
        let mut sizes: Vec<u32> = self
            .processing
            .thumbnails
            .iter()
            .filter_map(|t| t.get("size")?.as_u64())
            .filter_map(|s| u32::try_from(s).ok())
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }
}

/// The blob key for a new file: derived from tenant and id only, so a rename never moves
/// bytes and no user-supplied name reaches the storage layer.
pub fn blob_key_for(tenant: &TenantId, id: FileId) -> String {
    format!("t/{tenant}/{id}")
}

/// Where the thumbnail of `size` pixels made from the blob at `blob_key` is stored. Derived
/// from the blob, not the file: files that share a blob (dedup) share its thumbnails, and
/// the thumbnails go when the blob goes.
pub fn thumbnail_key(blob_key: &str, size: u32) -> String {
    format!("{blob_key}.thumb-{size}")
}

/// Where the `decrypt` stage stores the plaintext of the encrypted blob at `blob_key`.
pub fn plaintext_key(blob_key: &str) -> String {
    format!("{blob_key}.plain")
}

/// The tenant whose objects live under `key` (`t/{tenant}/…`: file blobs, their plaintexts
/// and thumbnails).
pub fn blob_key_tenant(key: &str) -> Option<TenantId> {
    let (tenant, _) = key.strip_prefix("t/")?.split_once('/')?;
    TenantId::parse(tenant).ok()
}

/// The tenant and file a blob key was made for (the inverse of [`blob_key_for`]).
pub fn parse_blob_key(key: &str) -> Option<(TenantId, FileId)> {
    let rest = key.strip_prefix("t/")?;
    let (tenant, id) = rest.split_once('/')?;
    Some((TenantId::parse(tenant).ok()?, FileId::parse(id).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_parse_back() {
        let tenant = TenantId::default_tenant();
        let id = FileId::new();
        assert_eq!(parse_blob_key(&blob_key_for(&tenant, id)), Some((tenant, id)));
        assert_eq!(parse_blob_key("t/default/not-a-uuid"), None);
        assert_eq!(parse_blob_key("x/default/1"), None);
    }

    #[test]
    fn the_tenant_of_a_blob_key_and_of_the_objects_derived_from_it() {
        let tenant = TenantId::default_tenant();
        let key = blob_key_for(&tenant, FileId::new());
        for derived in [key.clone(), plaintext_key(&key), thumbnail_key(&key, 256)] {
            assert_eq!(blob_key_tenant(&derived), Some(tenant.clone()), "{derived}");
        }
        assert_eq!(blob_key_tenant("archives/x.zip"), None);
        assert_eq!(blob_key_tenant("t/../x"), None);
    }

    #[test]
    fn thumbnail_sizes_come_from_the_recorded_thumbnails() {
        let tenant = TenantId::default_tenant();
        let mut file = FileRecord::pending(NewFile {
            id: FileId::new(),
            tenant,
            owner: "o".into(),
            bucket: BucketName::default_bucket(),
            path: ObjectPath::parse("a.png").unwrap(),
            size: 1,
            content_type: ContentType::octet_stream(),
            declared_sha256: None,
            metadata: Metadata::default(),
            external_id: None,
            encryption: None,
            request_id: None,
            upload: UploadPlan::Put,
            upload_expires_at: Utc::now(),
            now: Utc::now(),
        });
        file.processing.thumbnails = vec![
            serde_json::json!({"size": 256, "key": "whatever"}),
            serde_json::json!({"size": 64}),
            serde_json::json!({"size": 64}),
            serde_json::json!({"size": -1}),
            serde_json::json!({"width": 10}),
            serde_json::json!("nonsense"),
        ];
        assert_eq!(file.thumbnail_sizes(), vec![64, 256]);
    }
}
