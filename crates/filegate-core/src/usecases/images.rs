//! `POST /v1/images`: a base64 image in JSON (for clients that cannot send a file): a type allow-list, the bytes must
//! really be that type, and the name becomes `{name}_{uuid}.{ext}`.

use base64::Engine as _;
use bytes::Bytes;

use super::context::{HasBlobs, HasClock, HasLookups, HasSettings, HasStore};
use super::proxied::{self, ProxiedUpload};
use crate::domain::{
    BucketName, ContentType, FileName, FileRecord, Metadata, ObjectPath, Permission, Principal, parse_prefix,
};
use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Clone)]
pub struct NewImage {
    pub bucket: BucketName,
    /// Base64 (standard alphabet, padding optional), or a `data:` URL.
    pub data: String,
    pub content_type: ContentType,
    /// The stem of the stored name; `image` when absent. An extension is dropped.
    pub name: Option<String>,
    pub prefix: Option<String>,
    pub metadata: Metadata,
}

pub async fn upload(
    cx: &(impl HasStore + HasBlobs + HasSettings + HasClock + HasLookups),
    principal: &Principal,
    req: NewImage,
) -> Result<FileRecord> {
    principal.require(Permission::Write)?;
    let bucket = super::buckets::get_for(cx, principal, &req.bucket).await?;
    let essence = req.content_type.essence();
    let allowed = cx.settings().image_types.iter().any(|t| t == essence)
        || (essence.starts_with("image/")
            && !bucket.policy.allowed_content_types.is_empty()
            && bucket.policy.allows_type(&req.content_type));
    if !allowed {
        return Err(Error::UnsupportedType {
            message: format!(
                "{essence} is not an accepted image type (accepted: {})",
                cx.settings().image_types.join(", ")
            ),
        });
    }
    let bytes = decode(&req.data)?;
    if bytes.is_empty() {
        return Err(Error::invalid(ErrorCode::InvalidImage, "the image is empty"));
    }
    if bytes.len() as u64 > bucket.policy.max_file_size {
        return Err(Error::too_large(format!(
            "size {} exceeds the bucket limit of {}",
            bytes.len(),
            bucket.policy.max_file_size
        )));
    }
    // For the types we can recognise, the bytes must be what the client says they are.
    let recognisable = ["image/png", "image/jpeg", "image/gif", "image/webp"].contains(&essence);
    let actual = magic_type(&bytes);
    if recognisable && actual != Some(essence) {
        return Err(Error::mismatch(
            ErrorCode::ContentTypeMismatch,
            format!(
                "the bytes are {}, not {essence}",
                actual.unwrap_or("not an image of that type")
            ),
        ));
    }
    let path = image_path(req.prefix.as_deref(), req.name.as_deref(), essence)?;
    let body = Box::pin(futures::stream::once(async move {
        Ok::<_, std::io::Error>(Bytes::from(bytes))
    }));
    let upload = ProxiedUpload {
        bucket: req.bucket,
        path,
        content_type: req.content_type,
        metadata: req.metadata,
        external_id: None,
    };
    proxied::upload(cx, principal, upload, body).await
}

fn decode(data: &str) -> Result<Vec<u8>> {
    // Accept `data:image/png;base64,....` as browsers produce it.
    let payload = match data.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map(|(_, b)| b).unwrap_or(""),
        None => data,
    };
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine
        .decode(payload.trim())
        .map_err(|_| Error::invalid(ErrorCode::InvalidBase64, "data is not valid base64"))
}

/// The type the first bytes announce, for the types we know how to recognise.
fn magic_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn extension_for(essence: &str) -> &str {
    match essence {
        "image/jpeg" => "jpg",
        "image/svg+xml" => "svg",
        other => other.split('/').nth(1).unwrap_or("bin"),
    }
}

fn image_path(prefix: Option<&str>, name: Option<&str>, essence: &str) -> Result<ObjectPath> {
    let stem = match name {
        Some(n) => {
            let n = FileName::parse(n)?;
            let s = n.as_str();
            s.rsplit_once('.')
                .map(|(stem, _)| stem)
                .filter(|s| !s.is_empty())
                .unwrap_or(s)
                .to_owned()
        }
        None => "image".to_owned(),
    };
    let file = format!("{stem}_{}.{}", uuid::Uuid::new_v4(), extension_for(essence));
    let prefix = match prefix {
        Some(p) => parse_prefix(p)?,
        None => String::new(),
    };
    ObjectPath::join(&prefix, &file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_name_underscore_uuid_dot_extension() {
        let p = image_path(None, Some("photo.jpeg"), "image/jpeg").unwrap();
        let name = p.as_str();
        assert!(name.starts_with("photo_") && name.ends_with(".jpg"), "{name}");
        assert_eq!(name.len(), "photo_".len() + 36 + ".jpg".len());
        assert!(
            image_path(Some("avatars/"), None, "image/png")
                .unwrap()
                .as_str()
                .starts_with("avatars/image_")
        );
        assert!(image_path(None, Some("../x"), "image/png").is_err());
    }

    #[test]
    fn decodes_plain_and_data_url_base64() {
        assert_eq!(decode("aGk=").unwrap(), b"hi");
        assert_eq!(decode("aGk").unwrap(), b"hi");
        assert_eq!(decode("data:image/png;base64,aGk=").unwrap(), b"hi");
        assert!(decode("not base64!").is_err());
    }

    #[test]
    fn magic_bytes() {
        assert_eq!(magic_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(magic_type(b"GIF89a..."), Some("image/gif"));
        assert_eq!(magic_type(b"hello"), None);
    }
}
