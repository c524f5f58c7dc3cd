//! Channel adapters: the only place in Switchboard that knows Messenger's and Telegram's JSON.
//!
//! Inbound, webhook bodies and Telegram updates are parsed into the canonical
//! [`switchboard_domain::InboundEnvelope`]; anything we do not model is kept as
//! [`switchboard_domain::InboundEvent::Unknown`] rather than rejected, so a platform adding a
//! field or an event kind never makes us drop (or fail to acknowledge) a delivery.
//!
//! Outbound, the clients render a rich [`switchboard_domain::OutgoingMessage`] in the platform's
//! terms (`send_message`; media come as a [`MediaSet`] and uploads made on the way are reported
//! in [`Delivered::learned`]) and turn platform answers into a [`Delivered`] or a
//! [`switchboard_domain::SendError`] classified by numeric codes only, never leaking tokens into
//! error details.

mod error;
mod json;
mod media;
pub mod messenger;
pub mod telegram;

use std::time::Duration;

pub use media::{Delivered, MediaInput, MediaSet};

/// Builds the HTTP client shared by both platform clients.
///
/// reqwest is built with `rustls-no-provider`, so the process-wide rustls crypto provider must be
/// installed before any client exists; doing it here means callers cannot forget. The settings
/// suit many small API calls to a handful of hosts: short connect timeout (a dead network should
/// fail fast, and a connect failure is known not to have delivered anything), a request timeout
/// well above the platforms' normal latency, a large idle pool so bursts reuse connections, and
/// `TCP_NODELAY` because requests are small and latency-bound.
///
/// Telegram long polling overrides the request timeout per call (see
/// [`telegram::TelegramClient::get_updates`]).
///
/// # Panics
///
/// Only if the TLS backend cannot be initialised at all, which is a broken build rather than a
/// runtime condition; it is called once at startup.
pub fn http_client() -> reqwest::Client {
    http_client_with_timeout(DEFAULT_REQUEST_TIMEOUT)
}

/// How long a platform call may take before we give up on its answer (30 s; Meta and Telegram
/// answer in well under a second when healthy).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// [`http_client`] with another request timeout. A call that times out after its request left
/// is ambiguous (the platform may have delivered it), so the outbox records it `unknown`.
pub fn http_client_with_timeout(request_timeout: Duration) -> reqwest::Client {
    // Err means a provider is already installed (by an earlier call or by the host program),
    // which is exactly the state we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(request_timeout)
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client must build once the rustls provider is installed")
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_client_can_be_built_more_than_once() {
        // The second call finds the rustls provider already installed and must not panic.
        let _first = super::http_client();
        let _second = super::http_client();
    }
}
