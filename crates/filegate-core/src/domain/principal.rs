//! Who is asking, and what they may do.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TenantId;
use crate::error::{Error, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Writer,
    Admin,
    Superadmin,
    /// A partner's machine: may read the exchange passphrase and the file requests, upload,
    /// and see only the files it uploaded itself.
    Exchange,
}

impl Role {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "reader" => Ok(Self::Reader),
            "writer" => Ok(Self::Writer),
            "admin" => Ok(Self::Admin),
            "superadmin" => Ok(Self::Superadmin),
            "exchange" => Ok(Self::Exchange),
            _ => Err(Error::invalid(
                ErrorCode::InvalidRole,
                format!("unknown role {s:?}; known: reader, writer, admin, superadmin, exchange"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
            Self::Superadmin => "superadmin",
            Self::Exchange => "exchange",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a principal wants to do; each use case asks for exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the metadata and bytes of every file of the tenant.
    Read,
    /// Change, share and delete every file of the tenant.
    Write,
    /// Create uploads, and finish and see one's own (see [`FileAction`]). Writers upload
    /// too; a partner's machine does nothing else with files.
    Upload,
    /// Manage the tenant: buckets, API keys.
    Administer,
    /// Manage tenants.
    Operate,
    /// Read the exchange passphrase and the pending file requests (partners' machines in
    /// the hospital exchange, and the tenant's admins).
    Exchange,
}

/// An authenticated caller, scoped to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who: a JWT `sub`, or `key:<id>` for an API key.
    pub subject: String,
    pub tenant: TenantId,
    pub roles: Vec<Role>,
    /// Where the request came from, for the audit trail.
    pub origin: Origin,
}

/// Where a request came from: what the audit trail records beside the principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The request's correlation id (`X-Request-Id`).
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Roles are cumulative: writer reads, admin writes, superadmin administers every tenant.
    /// `exchange` stands apart: the passphrase, the requests, and its own uploads — never
    /// the tenant's other files.
    pub fn may(&self, permission: Permission) -> bool {
        let any = |roles: &[Role]| roles.iter().any(|r| self.has(*r));
        match permission {
            Permission::Read => any(&[Role::Reader, Role::Writer, Role::Admin, Role::Superadmin]),
            Permission::Write => any(&[Role::Writer, Role::Admin, Role::Superadmin]),
            Permission::Upload => any(&[Role::Writer, Role::Admin, Role::Superadmin, Role::Exchange]),
            Permission::Administer => any(&[Role::Admin, Role::Superadmin]),
            Permission::Operate => any(&[Role::Superadmin]),
            Permission::Exchange => any(&[Role::Exchange, Role::Admin, Role::Superadmin]),
        }
    }

    /// Which of the tenant's files `action` reaches for this principal: all of them (its
    /// role grants the action tenant-wide), only those it created (a partner's machine and
    /// its uploads), or none (403, asked before any file is looked up).
    pub fn reach(&self, action: FileAction) -> Result<Reach, Error> {
        let (tenant_wide, own) = action.grants();
        if self.may(tenant_wide) {
            Ok(Reach::Tenant)
        } else if self.may(own) {
            Ok(Reach::Own)
        } else {
            Err(self.refusal())
        }
    }

    /// The owner a listing or search of files for `action` is narrowed to: none for a
    /// principal that reaches the whole tenant, itself for one that reaches only its own.
    pub fn owner_filter(&self, action: FileAction) -> Result<Option<&str>, Error> {
        Ok(match self.reach(action)? {
            Reach::Tenant => None,
            Reach::Own => Some(self.subject.as_str()),
        })
    }

    /// Refuses `action` on a file that `owner` created unless it is within reach. A file
    /// out of reach answers 404 like a missing one, so a partner's machine cannot confirm
    /// that another's file id exists.
    pub fn require_on(&self, action: FileAction, owner: &str) -> Result<(), Error> {
        match self.reach(action)? {
            Reach::Tenant => Ok(()),
            Reach::Own if owner == self.subject => Ok(()),
            Reach::Own => Err(Error::not_found("file")),
        }
    }

    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(self.refusal())
        }
    }

    fn refusal(&self) -> Error {
        Error::forbidden(format!(
            "the role(s) {} may not do this",
            self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
        ))
    }
}

/// What a principal wants to do with files that may be someone else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// List files, read a file's record, poll its status.
    See,
    /// Ask for a pending upload's part URLs, complete it, abort it.
    FinishUpload,
}

impl FileAction {
    /// The permission that grants the action on every file of the tenant, and the one that
    /// grants it on the principal's own files.
    fn grants(self) -> (Permission, Permission) {
        match self {
            Self::See => (Permission::Read, Permission::Upload),
            Self::FinishUpload => (Permission::Write, Permission::Upload),
        }
    }
}

/// The files of its tenant an action reaches for a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Tenant,
    /// Only the files whose `owner` is the principal's subject.
    Own,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[Role]) -> Principal {
        Principal {
            subject: "u".into(),
            tenant: TenantId::default_tenant(),
            roles: roles.to_vec(),
            origin: Origin::default(),
        }
    }

    #[test]
    fn roles_are_cumulative() {
        assert!(principal(&[Role::Reader]).may(Permission::Read));
        assert!(!principal(&[Role::Reader]).may(Permission::Write));
        assert!(principal(&[Role::Writer]).may(Permission::Write));
        assert!(!principal(&[Role::Writer]).may(Permission::Administer));
        assert!(principal(&[Role::Admin]).may(Permission::Administer));
        assert!(!principal(&[Role::Admin]).may(Permission::Operate));
        assert!(principal(&[Role::Superadmin]).may(Permission::Operate));
        assert!(!principal(&[]).may(Permission::Read));
        assert!(principal(&[Role::Exchange]).may(Permission::Exchange));
        assert!(principal(&[Role::Admin]).may(Permission::Exchange));
        assert!(!principal(&[Role::Writer]).may(Permission::Exchange));
        assert!(!principal(&[Role::Exchange]).may(Permission::Administer));
    }

    /// docs/guides/hospital-exchange.md's promise to a partner's machine: the passphrase, the requests, its own
    /// uploads; not one of the tenant's other files, not a share, not a deletion.
    #[test]
    fn exchange_reads_and_writes_no_file_of_the_tenant() {
        let exchange = principal(&[Role::Exchange]);
        assert!(exchange.may(Permission::Exchange));
        assert!(exchange.may(Permission::Upload));
        for refused in [
            Permission::Read,
            Permission::Write,
            Permission::Administer,
            Permission::Operate,
        ] {
            assert!(!exchange.may(refused), "{refused:?}");
        }
    }

    #[test]
    fn uploading_is_for_writers_and_partners_not_readers() {
        assert!(!principal(&[Role::Reader]).may(Permission::Upload));
        for role in [Role::Writer, Role::Admin, Role::Superadmin, Role::Exchange] {
            assert!(principal(&[role]).may(Permission::Upload), "{role}");
        }
    }

    #[test]
    fn a_partner_reaches_its_own_files_and_others_are_not_found() {
        let exchange = principal(&[Role::Exchange]);
        for action in [FileAction::See, FileAction::FinishUpload] {
            assert_eq!(exchange.reach(action).unwrap(), Reach::Own);
            assert!(exchange.require_on(action, "u").is_ok());
            assert!(matches!(
                exchange.require_on(action, "someone-else"),
                Err(Error::NotFound { .. })
            ));
        }
    }

    #[test]
    fn roles_with_tenant_wide_grants_reach_every_file() {
        let reader = principal(&[Role::Reader]);
        assert_eq!(reader.reach(FileAction::See).unwrap(), Reach::Tenant);
        assert!(reader.require_on(FileAction::See, "someone-else").is_ok());
        assert!(matches!(
            reader.require_on(FileAction::FinishUpload, "u"),
            Err(Error::Forbidden { .. })
        ));
        for role in [Role::Writer, Role::Admin, Role::Superadmin] {
            for action in [FileAction::See, FileAction::FinishUpload] {
                assert_eq!(principal(&[role]).reach(action).unwrap(), Reach::Tenant);
            }
        }
        assert!(matches!(
            principal(&[]).reach(FileAction::See),
            Err(Error::Forbidden { .. })
        ));
    }

    #[test]
    fn a_reader_that_is_also_a_partner_sees_everything_but_finishes_only_its_own() {
        let both = principal(&[Role::Reader, Role::Exchange]);
        assert_eq!(both.reach(FileAction::See).unwrap(), Reach::Tenant);
        assert_eq!(both.reach(FileAction::FinishUpload).unwrap(), Reach::Own);
    }
}
