//! Who is asking, and what they may do.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TenantId;
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Reader,
    Writer,
    Admin,
    Superadmin,
    /// A partner's machine: may read the exchange passphrase and pending requests, upload.
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
                "invalid-role",
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
    /// Read file metadata and bytes.
    Read,
    /// Create, change and delete files.
    Write,
    /// Manage the tenant: buckets, API keys.
    Administer,
    /// Manage tenants.
    Operate,
    /// Read the exchange passphrase and the pending file requests (seed 000's partner
    /// machines, and the tenant's admins).
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
    pub fn may(&self, permission: Permission) -> bool {
        let any = |roles: &[Role]| roles.iter().any(|r| self.has(*r));
        match permission {
            Permission::Read => any(&[
                Role::Reader,
                Role::Writer,
                Role::Admin,
                Role::Superadmin,
                Role::Exchange,
            ]),
            Permission::Write => any(&[Role::Writer, Role::Admin, Role::Superadmin, Role::Exchange]),
            Permission::Administer => any(&[Role::Admin, Role::Superadmin]),
            Permission::Operate => any(&[Role::Superadmin]),
            Permission::Exchange => any(&[Role::Exchange, Role::Admin, Role::Superadmin]),
        }
    }

    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "the role(s) {} may not do this",
                self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            )))
        }
    }
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
}
