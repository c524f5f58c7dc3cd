//! Search across message texts, notes and contact names — only within what the actor may see:
//! conversation text (messages, notes) for those who read conversations, in their scope;
//! contacts for everyone who sees contacts.

use switchboard_domain::ChannelId;
use switchboard_storage::SearchHit;

use crate::Service;
use crate::actor::{Actor, Permission, Scope};
use crate::error::{ServiceError, ServiceResult};

const MAX_RESULTS: i64 = 50;

fn channels(scope: &Scope) -> Option<&[ChannelId]> {
    match scope {
        Scope::All => None,
        Scope::Channels(c) => Some(c),
    }
}

impl Service {
    pub async fn search(
        &self,
        actor: &Actor,
        query: &str,
        limit: Option<i64>,
    ) -> ServiceResult<Vec<SearchHit>> {
        let query = query.trim();
        if query.is_empty() || query.chars().count() > 200 {
            return Err(ServiceError::Invalid {
                field: "q",
                message: "a search has 1–200 characters".into(),
            });
        }
        let limit = limit.unwrap_or(20);
        if !(1..=MAX_RESULTS).contains(&limit) {
            return Err(ServiceError::Invalid {
                field: "limit",
                message: format!("1–{MAX_RESULTS}"),
            });
        }
        let mut hits = Vec::new();
        if actor.may(Permission::ReadTeamConversations) {
            let scope = self.conversation_scope(actor).await?;
            hits.extend(
                self.store
                    .search_texts(query, channels(&scope), &["message", "note"], limit)
                    .await?,
            );
        }
        let contact_scope = self.contact_scope(actor).await?;
        hits.extend(
            self.store
                .search_contacts(query, channels(&contact_scope), limit)
                .await?,
        );
        hits.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(hits)
    }

    /// Indexes what was stored since the last run; the server runs this in the background.
    pub async fn index_for_search(&self) -> ServiceResult<usize> {
        Ok(self.store.index_new_messages(500).await?)
    }
}
