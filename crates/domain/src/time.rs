use serde::{Deserialize, Serialize};

/// A point in time as milliseconds since the Unix epoch.
///
/// Stored as BIGINT on both backends (sqlx's `Any` driver has no portable timestamp type), and the
/// unit Messenger uses on the wire; Telegram's seconds are converted by its adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Millis(pub i64);

impl Millis {
    pub fn now() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Millis(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn from_unix_seconds(seconds: i64) -> Self {
        Millis(seconds.saturating_mul(1000))
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Millis(self.0.saturating_add(ms))
    }
}
