//! Who is acting, and the one table of what each role may do.
//!
//! Every operation of the service layer starts with [`Actor::require`] (or a scoped variant for
//! conversations): the HTTP routes and the web pages never decide permissions themselves. The
//! matrix is [`MATRIX`]; `ARCHITECTURE.md` shows it rendered by [`matrix_markdown`], and a test
//! keeps the two equal.

use std::sync::Arc;

use switchboard_domain::{ChannelId, Role, UserId};
use switchboard_storage::UserRow;

use crate::error::ServiceError;

/// How an actor proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session (`sb_session` cookie).
    Session { session_id: i64 },
    /// A personal API token; it acts with its user's role.
    ApiToken { token_id: i64 },
    /// The break-glass admin token from the configuration: owner rights, no user.
    AdminToken,
    /// Switchboard itself (automations, schedulers, the CLI on the database).
    System,
}

/// An authenticated caller of the service layer.
#[derive(Debug, Clone)]
pub struct Actor {
    pub credential: Credential,
    /// The user behind a session or token; `None` for the admin token and the system.
    pub user: Option<Arc<UserRow>>,
    /// Where the request came from, for the audit log.
    pub ip: Option<String>,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            credential: Credential::System,
            user: None,
            ip: None,
        }
    }

    pub fn admin_token(ip: Option<String>) -> Actor {
        Actor {
            credential: Credential::AdminToken,
            user: None,
            ip,
        }
    }

    pub fn user(user: UserRow, credential: Credential, ip: Option<String>) -> Actor {
        Actor {
            credential,
            user: Some(Arc::new(user)),
            ip,
        }
    }

    /// The admin token and the system act as owners.
    pub fn role(&self) -> Role {
        self.user.as_ref().map_or(Role::Owner, |u| u.role)
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.user.as_ref().map(|u| u.id)
    }

    /// How the audit log names this actor.
    pub fn label(&self) -> String {
        match (&self.credential, &self.user) {
            (Credential::ApiToken { token_id }, Some(u)) => {
                format!("user:{} token:{token_id}", u.id)
            }
            (_, Some(u)) => format!("user:{}", u.id),
            (Credential::AdminToken, None) => "admin-token".into(),
            _ => "system".into(),
        }
    }

    pub fn may(&self, permission: Permission) -> bool {
        allows(self.role(), permission)
    }

    /// Refuses with the permission's name unless the actor's role has it.
    pub fn require(&self, permission: Permission) -> Result<(), ServiceError> {
        if self.may(permission) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(permission))
        }
    }
}

/// Which conversations (and their contacts) an actor may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// Only these channels' (an agent's teams').
    Channels(Vec<ChannelId>),
}

impl Scope {
    pub fn includes(&self, channel: ChannelId) -> bool {
        match self {
            Scope::All => true,
            Scope::Channels(channels) => channels.contains(&channel),
        }
    }
}

/// Everything the service layer checks. One variant per kind of operation, not per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Create, change or deactivate owners (and make someone an owner).
    ManageOwners,
    /// Create, change or deactivate users other than owners.
    ManageUsers,
    /// See the team list and members (everyone who works in the inbox).
    ViewPeople,
    ManageTeams,
    /// See the list of channels (names, kinds, health; never secrets).
    ViewChannels,
    /// Connect and configure channels.
    ManageChannels,
    /// Automations, flows, rules and FAQ.
    ManageAutomations,
    /// Read every conversation's messages.
    ReadAllConversations,
    /// Read the conversations of the channels of one's teams.
    ReadTeamConversations,
    /// Send, note, tag, resolve, snooze in a conversation one may read.
    Reply,
    /// Assign a conversation one may read to someone else.
    AssignOthers,
    /// Take a conversation one may read.
    AssignSelf,
    /// Contact lists, subscription, attributes, tags of every contact.
    ManageContacts,
    /// Export or erase a contact's data.
    ContactDataRights,
    ManageCannedReplies,
    ViewReports,
    ManageCampaigns,
    /// Read the audit log.
    ViewAudit,
    /// Upload media and lint drafts (everyone who writes messages).
    Compose,
}

use Permission as P;
use Role::{Admin, Agent, Marketer, Owner, Supervisor};

/// The matrix: for each permission, the roles that have it.
pub const MATRIX: &[(Permission, &[Role])] = &[
    (P::ManageOwners, &[Owner]),
    (P::ManageUsers, &[Owner, Admin]),
    (P::ViewPeople, &[Owner, Admin, Supervisor, Agent, Marketer]),
    (P::ManageTeams, &[Owner, Admin]),
    (
        P::ViewChannels,
        &[Owner, Admin, Supervisor, Agent, Marketer],
    ),
    (P::ManageChannels, &[Owner, Admin]),
    (P::ManageAutomations, &[Owner, Admin]),
    (P::ReadAllConversations, &[Owner, Admin, Supervisor]),
    (P::ReadTeamConversations, &[Owner, Admin, Supervisor, Agent]),
    (P::Reply, &[Owner, Admin, Supervisor, Agent]),
    (P::AssignOthers, &[Owner, Admin, Supervisor]),
    (P::AssignSelf, &[Owner, Admin, Supervisor, Agent]),
    (P::ManageContacts, &[Owner, Admin, Supervisor, Marketer]),
    (P::ContactDataRights, &[Owner, Admin]),
    (P::ManageCannedReplies, &[Owner, Admin, Supervisor]),
    (P::ViewReports, &[Owner, Admin, Supervisor, Marketer]),
    (P::ManageCampaigns, &[Owner, Admin, Marketer]),
    (P::ViewAudit, &[Owner, Admin]),
    (P::Compose, &[Owner, Admin, Supervisor, Agent, Marketer]),
];

pub fn allows(role: Role, permission: Permission) -> bool {
    MATRIX
        .iter()
        .any(|(p, roles)| *p == permission && roles.contains(&role))
}

impl Permission {
    /// What the permission lets one do, for refusals ("your role may not …").
    pub fn describe(self) -> &'static str {
        match self {
            P::ManageOwners => "manage owners",
            P::ManageUsers => "manage users",
            P::ViewPeople => "see users and teams",
            P::ManageTeams => "manage teams",
            P::ViewChannels => "see channels",
            P::ManageChannels => "connect or configure channels",
            P::ManageAutomations => "change automations",
            P::ReadAllConversations => "read every conversation",
            P::ReadTeamConversations => "read conversations",
            P::Reply => "write in conversations",
            P::AssignOthers => "assign conversations to others",
            P::AssignSelf => "take conversations",
            P::ManageContacts => "manage contacts",
            P::ContactDataRights => "export or erase a contact's data",
            P::ManageCannedReplies => "manage canned replies",
            P::ViewReports => "see reports",
            P::ManageCampaigns => "manage campaigns",
            P::ViewAudit => "read the audit log",
            P::Compose => "compose messages",
        }
    }
}

/// The matrix as a Markdown table (ARCHITECTURE.md carries this exact text).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| permission |");
    for role in Role::ALL {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n|---|");
    for _ in Role::ALL {
        out.push_str(":-:|");
    }
    out.push('\n');
    for (permission, _) in MATRIX {
        out.push_str(&format!("| {} |", permission.describe()));
        for role in Role::ALL {
            out.push_str(if allows(role, *permission) {
                " ✓ |"
            } else {
                "   |"
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_appears_once_in_the_matrix() {
        let mut seen = std::collections::HashSet::new();
        for (p, _) in MATRIX {
            assert!(seen.insert(*p), "{p:?} twice");
        }
        assert_eq!(seen.len(), 19, "a new permission needs its row in MATRIX");
    }

    #[test]
    fn owners_may_do_everything_and_marketers_never_read_conversations() {
        for (p, _) in MATRIX {
            assert!(allows(Role::Owner, *p), "{p:?}");
        }
        assert!(!allows(Role::Marketer, P::ReadTeamConversations));
        assert!(!allows(Role::Marketer, P::ReadAllConversations));
        assert!(!allows(Role::Agent, P::ReadAllConversations));
        assert!(!allows(Role::Admin, P::ManageOwners));
    }

    #[test]
    fn architecture_md_shows_the_matrix_as_enforced() {
        let doc = include_str!("../../../ARCHITECTURE.md");
        assert!(
            doc.contains(&matrix_markdown()),
            "ARCHITECTURE.md's role matrix differs from MATRIX; paste:\n{}",
            matrix_markdown()
        );
    }
}
