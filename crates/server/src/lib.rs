//! The Switchboard server: webhooks in, API, ingest pipeline and outbox dispatcher.
//!
//! ```text
//! webhook ─► verify ─► parse (channels crate) ─► plan replies ─► ingest writer (group commit)
//!                                                                    │ commit, then 200
//!                                          dispatcher ◄── notify ────┘
//!                                  claim ─► send (channel client) ─► record result
//! ```

pub mod api;
pub mod app;
pub mod auth;
pub mod automation;
pub mod body;
pub mod config;
pub mod delivery;
pub mod dispatcher;
pub mod error;
pub mod ingest;
pub mod pacing;
pub mod polling;
pub mod profiles;
pub mod webhooks;

pub use app::{Server, ServerHandle, offline_service};
pub use config::ServerConfig;
/// The live-channel registry and the compose path belong to the service layer; the engine
/// (webhooks, dispatcher, automations) uses them from there.
pub use switchboard_service::{compose, registry};
