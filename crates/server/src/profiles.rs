//! Names for Messenger contacts: a webhook carries only a PSID, so each new person's profile is
//! asked of the User Profile API once, in the background, and cached on the contact.
//!
//! Telegram needs none of this: every update carries the `from` object, stored at ingest.
//!
//! Outcomes: names stored; `{}` (no permission, or the person has not interacted enough) is
//! stored as "asked" so it is not asked again; a transient failure or rate limit leaves the
//! contact pending for the next round; rejected credentials leave it pending too (the
//! dispatcher raises the channel alert).

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::{Millis, Psid, SendErrorClass};
use switchboard_storage::{PendingProfile, ProfileFacts, Store};
use tokio::sync::Notify;

use crate::registry::{ChannelRegistry, PlatformClient};

/// Contacts asked about per round.
const BATCH: i64 = 50;
/// How often to look when nothing woke us.
const POLL: Duration = Duration::from_secs(2);
/// After a round with failures, before trying those contacts again.
const BACKOFF: Duration = Duration::from_secs(10);

pub struct ProfileFetcher {
    pub store: Store,
    pub registry: ChannelRegistry,
    /// Notified when new messages were stored (the same signal that wakes the dispatcher).
    pub wake: Arc<Notify>,
}

impl ProfileFetcher {
    pub async fn run(self) {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let pause = match self.store.pending_profiles(BATCH).await {
                Ok(pending) if pending.is_empty() => POLL,
                Ok(pending) => {
                    if self.fetch_all(pending).await {
                        Duration::ZERO
                    } else {
                        BACKOFF
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not list contacts needing a profile");
                    BACKOFF
                }
            };
            if pause == BACKOFF {
                tokio::time::sleep(pause).await;
            } else if !pause.is_zero() {
                let _ = tokio::time::timeout(pause, woken).await;
            }
        }
    }

    /// Returns false when some contact must be retried later.
    async fn fetch_all(&self, pending: Vec<PendingProfile>) -> bool {
        let mut all_done = true;
        for contact in pending {
            all_done &= self.fetch(&contact).await;
        }
        all_done
    }

    async fn fetch(&self, contact: &PendingProfile) -> bool {
        let Ok(channel) = self.registry.get(contact.channel_id).await else {
            return false;
        };
        let PlatformClient::Messenger(client) = &channel.client else {
            return true;
        };
        let facts = match Psid::parse(&contact.external_id) {
            // Not a PSID (e.g. a user_ref): there is no profile to ask for.
            Err(_) => ProfileFacts::default(),
            Ok(psid) => match client.user_profile(&psid).await {
                Ok(p) => ProfileFacts {
                    first_name: p.first_name,
                    last_name: p.last_name,
                    locale: p.locale,
                },
                Err(e)
                    if matches!(
                        e.class,
                        SendErrorClass::BadRequest
                            | SendErrorClass::InvalidRecipient
                            | SendErrorClass::RecipientUnavailable
                    ) =>
                {
                    // Refused for this person for good: record that we asked.
                    tracing::debug!(contact = %contact.contact_id, class = e.class.as_str(), "no profile available");
                    ProfileFacts::default()
                }
                Err(e) => {
                    tracing::debug!(contact = %contact.contact_id, class = e.class.as_str(), "profile fetch will be retried");
                    return false;
                }
            },
        };
        match self
            .store
            .record_profile(contact.contact_id, &facts, Millis::now())
            .await
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not store a profile");
                false
            }
        }
    }
}
