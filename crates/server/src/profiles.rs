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

use switchboard_channels::messenger::MessengerClient;
use switchboard_domain::{ContactId, Millis, Psid, SendErrorClass};
use switchboard_storage::{PendingProfile, ProfileFacts, Store};
use tokio::sync::Notify;

use crate::registry::{ChannelRegistry, PlatformClient};

/// Contacts younger than this are left to the automation worker's inline fetch.
const NEW_CONTACT_GRACE_MS: i64 = 5_000;
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
            // Brand-new people are asked about by the automation worker, before their first
            // answer; this catches everyone else (and anyone that fetch missed).
            let settled = Millis::now().plus_millis(-NEW_CONTACT_GRACE_MS);
            let pause = match self.store.pending_profiles(BATCH, settled).await {
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
        fetch_profile(
            &self.store,
            client,
            contact.contact_id,
            &contact.external_id,
        )
        .await
    }
}

/// Asks Graph for one person's profile and stores the answer. Returns false when it should be
/// asked again later. Also used by the automation worker, so a new person's welcome can greet
/// them by name and in their language.
pub async fn fetch_profile(
    store: &Store,
    client: &MessengerClient,
    contact: ContactId,
    external_id: &str,
) -> bool {
    let facts = match Psid::parse(external_id) {
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
                tracing::debug!(%contact, class = e.class.as_str(), "no profile available");
                ProfileFacts::default()
            }
            Err(e) => {
                tracing::debug!(%contact, class = e.class.as_str(), "profile fetch will be retried");
                return false;
            }
        },
    };
    match store.record_profile(contact, &facts, Millis::now()).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not store a profile");
            false
        }
    }
}
