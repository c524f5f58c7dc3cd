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
pub mod compose;
pub mod config;
pub mod delivery;
pub mod dispatcher;
pub mod error;
pub mod ingest;
pub mod pacing;
pub mod polling;
pub mod profiles;
pub mod registry;
pub mod webhooks;

pub use app::{Server, ServerHandle};
pub use config::ServerConfig;
