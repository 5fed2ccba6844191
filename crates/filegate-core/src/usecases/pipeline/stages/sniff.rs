//! `sniff`: the type the bytes really are (magic bytes, first few KiB only), recorded as
//! `processing.sniffed_type`. In a restricted bucket (one with `allowed_content_types`) the
//! file fails with `type-mismatch` when the bytes contradict the declared type or are of a
//! type the bucket does not allow: the allow-list is only worth something if a client
//! cannot pass it by lying about the type. Open buckets only record what was found.

use async_trait::async_trait;

use super::{Stage, StageContext, StageError, read_prefix};
use crate::domain::{BucketPolicy, ContentType};
use crate::ports::Media;

pub struct Sniff;

#[async_trait]
impl Stage for Sniff {
    fn name(&self) -> &'static str {
        "sniff"
    }

    async fn run(&self, ctx: &mut StageContext<'_>) -> Result<(), StageError> {
        let media = ctx.services.media.clone();
        let head = read_prefix(ctx, media.sniff_bytes() as u64).await?;
        let sniffed = media.sniff(&head);
        ctx.file.processing.sniffed_type = sniffed.map(str::to_owned);
        let policy = &ctx.bucket.policy;
        if policy.allowed_content_types.is_empty() {
            return Ok(());
        }
        match mismatch(media.as_ref(), policy, &ctx.file.content_type, sniffed) {
            None => Ok(()),
            Some(why) => Err(StageError::Fail(format!("type-mismatch: {why}"))),
        }
    }
}

/// Why the bytes do not fit the declared type and the bucket, or `None` when they do.
fn mismatch(media: &dyn Media, policy: &BucketPolicy, declared: &ContentType, sniffed: Option<&str>) -> Option<String> {
    let declared = declared.essence();
    match sniffed {
        Some(found) => {
            let allowed = ContentType::parse(found).is_ok_and(|ct| policy.allows_type(&ct));
            if !allowed {
                Some(format!("the bytes are {found}, which this bucket does not allow"))
            } else if !media.same_type(declared, found) && media.sniffable(declared) {
                Some(format!("declared {declared}, but the bytes are {found}"))
            } else {
                None
            }
        }
        // Text formats have no signature: only a type that has one can be caught lying.
        None if media.sniffable(declared) => Some(format!("declared {declared}, but the bytes are not {declared}")),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(types: &[&str]) -> BucketPolicy {
        BucketPolicy {
            allowed_content_types: types.iter().map(|t| (*t).to_owned()).collect(),
            ..BucketPolicy::default()
        }
    }

    fn ct(s: &str) -> ContentType {
        ContentType::parse(s).unwrap()
    }

    /// Knows a few signatures and one alias, as `filegate-media` does for many (its own
    /// tests hold the real table): enough to exercise the rule.
    struct FewTypes;

    impl Media for FewTypes {
        fn sniff_bytes(&self) -> usize {
            0
        }
        fn sniff(&self, _: &[u8]) -> Option<&'static str> {
            None
        }
        fn sniffable(&self, content_type: &str) -> bool {
            ["image/png", "image/jpeg", "image/jpg", "application/pdf"].contains(&content_type)
        }
        fn same_type(&self, declared: &str, sniffed: &str) -> bool {
            let canonical = |t: &str| {
                if t == "image/jpg" {
                    "image/jpeg".to_owned()
                } else {
                    t.to_owned()
                }
            };
            canonical(declared) == canonical(sniffed)
        }
        fn is_image(&self, _: &str) -> bool {
            false
        }
        fn inspect(&self, _: &[u8], _: &str) -> Result<crate::domain::ImageInfo, crate::domain::MediaError> {
            Err(crate::domain::MediaError::Unreadable("no images here".into()))
        }
        fn render_thumbnails(
            &self,
            _: &[u8],
            _: &str,
            _: &[u32],
            _: &crate::domain::ImageLimits,
        ) -> Result<Vec<crate::ports::RenderedThumbnail>, crate::domain::MediaError> {
            Err(crate::domain::MediaError::Unreadable("no images here".into()))
        }
    }

    fn mismatch(policy: &BucketPolicy, declared: &ContentType, sniffed: Option<&str>) -> Option<String> {
        super::mismatch(&FewTypes, policy, declared, sniffed)
    }

    #[test]
    fn mismatches_are_caught_and_plain_text_passes() {
        let images = policy(&["image/*"]);
        assert_eq!(mismatch(&images, &ct("image/png"), Some("image/png")), None);
        assert_eq!(mismatch(&images, &ct("image/jpg"), Some("image/jpeg")), None);
        assert!(mismatch(&images, &ct("image/png"), Some("image/jpeg")).is_some());
        assert!(mismatch(&images, &ct("image/png"), Some("application/pdf")).is_some());
        assert!(mismatch(&images, &ct("image/png"), None).is_some());
        let text = policy(&["text/csv", "application/octet-stream", "application/pdf"]);
        assert_eq!(mismatch(&text, &ct("text/csv"), None), None);
        assert!(mismatch(&text, &ct("text/csv"), Some("application/x-executable")).is_some());
        assert_eq!(
            mismatch(&text, &ct("application/octet-stream"), Some("application/pdf")),
            None
        );
    }
}
