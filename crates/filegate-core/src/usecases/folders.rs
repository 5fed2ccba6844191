//! The folder view: what a bucket looks like as folders, for people browsing it. A folder
//! is only a path prefix ending with `/`; it exists while a live file is below it.

use super::context::HasPaths;
use crate::domain::{BucketName, FileAction, Principal};
use crate::error::Result;

/// At most this many folders per page.
pub const MAX_FOLDERS: u32 = 1000;

/// A page of folder names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPage {
    pub names: Vec<String>,
    /// The last name, when more may follow: pass it as `after`.
    pub next: Option<String>,
}

/// The folders directly in `folder` (a parsed prefix: empty or ending with `/`) of
/// `bucket`, in byte order after `after`, as far as the principal sees files (its own only,
/// for a partner's machine).
pub async fn list(
    cx: &impl HasPaths,
    principal: &Principal,
    bucket: &BucketName,
    folder: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<FolderPage> {
    let owner = principal.owner_filter(FileAction::See)?;
    let limit = limit.clamp(1, MAX_FOLDERS);
    let mut names = cx
        .paths()
        .folders(&principal.tenant, bucket, folder, owner, after, limit + 1)
        .await?;
    let more = names.len() > limit as usize;
    names.truncate(limit as usize);
    let next = if more { names.last().cloned() } else { None };
    Ok(FolderPage { names, next })
}
