//! The application-service layer: every operation people and integrations perform, between
//! HTTP (the JSON API and the web pages) and the [`Store`].
//!
//! Each operation takes an authenticated [`Actor`], checks it against the role matrix
//! ([`actor::MATRIX`]) and the actor's scope, does the work, and writes the audit log — in this
//! one place, so the JSON API and the web app cannot disagree about who may do what. The layer
//! knows nothing of HTTP: it never sees a request, a header or the server's state, and what it
//! needs to act (the live-channel [`registry`], the [`compose`] path) lives here with it.

pub mod actor;
pub mod compose;
pub mod error;
pub mod events;
pub mod inbox;
pub mod people;
pub mod registry;
pub mod search;
pub mod secrets;
pub mod send;
pub mod team_inbox;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use switchboard_lint::Linter;
use switchboard_storage::{NewAuditEntry, Store};
use tokio::sync::Notify;

pub use actor::{Actor, Credential, Permission, Scope};
pub use error::{ServiceError, ServiceResult};

use crate::compose::Composer;
use crate::registry::ChannelRegistry;
use crate::secrets::AdminToken;
use crate::throttle::LoginThrottle;

/// What the layer is configured with.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Where this server is reachable from outside (media URLs, secure cookies).
    pub public_url: Option<String>,
    /// The break-glass admin token, if configured.
    pub admin_token: Option<AdminToken>,
    /// How long a browser session lasts from login.
    pub session_ttl: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            public_url: None,
            admin_token: None,
            session_ttl: Duration::from_secs(14 * 24 * 3600),
        }
    }
}

/// The service layer. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    pub store: Store,
    pub registry: ChannelRegistry,
    pub linter: Arc<Linter>,
    /// Wakes the dispatcher when something was queued.
    pub wake: Arc<Notify>,
    config: Arc<ServiceConfig>,
    throttle: Arc<LoginThrottle>,
}

impl Service {
    pub fn new(
        store: Store,
        registry: ChannelRegistry,
        linter: Arc<Linter>,
        wake: Arc<Notify>,
        config: ServiceConfig,
    ) -> Service {
        Service {
            store,
            registry,
            linter,
            wake,
            config: Arc::new(config),
            throttle: Arc::default(),
        }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The one path to queue a message (send API, automations, campaigns).
    pub fn composer(&self) -> Composer {
        Composer {
            store: self.store.clone(),
            registry: self.registry.clone(),
            linter: self.linter.clone(),
            public_url: self.config.public_url.clone(),
        }
    }

    /// Records what a person did. A failure to audit fails the operation's response but never
    /// undoes it, so it is logged loudly.
    pub(crate) async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> ServiceResult<()> {
        let label = actor.label();
        let entry = NewAuditEntry {
            actor: &label,
            user_id: actor.user_id(),
            action,
            target: target.as_deref(),
            detail: &detail,
            ip: actor.ip.as_deref(),
        };
        if let Err(e) = self
            .store
            .record_audit(entry, switchboard_domain::Millis::now())
            .await
        {
            tracing::error!(action, error = %e, "audit entry not written");
            return Err(e.into());
        }
        Ok(())
    }
}
