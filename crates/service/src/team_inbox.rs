//! The team inbox: the filtered conversation list with each line's window state, assignment,
//! tags, private notes, snoozes, read marks and sender actions (seen, typing).

use serde::Serialize;
use serde_json::json;
use switchboard_channels::messenger::SenderAction;
use switchboard_domain::policy::{
    ChannelFacts, ContactFacts, PolicyProfile, WindowState, window_state,
};
use switchboard_domain::{
    ChannelId, ChannelSettings, ContactId, ConversationId, Millis, Psid, TeamId, UserId,
};
use switchboard_storage::{
    AssigneeFilter, InboxItem, InboxQuery, InboxStatus, NoteRow, TeamRow, UserRow,
};

use crate::Service;
use crate::actor::{Actor, Permission, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::registry::PlatformClient;

/// The list's filters, as the API takes them.
#[derive(Debug, Clone, Default)]
pub struct ListFilters {
    pub status: Option<String>,
    /// `me`, `none`, or a user id.
    pub assignee: Option<String>,
    pub team_id: Option<TeamId>,
    pub channel_id: Option<ChannelId>,
    pub tag: Option<String>,
    pub unread: bool,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// One line of the list.
#[derive(Debug, Clone, Serialize)]
pub struct ListItem {
    pub id: ConversationId,
    pub channel_id: ChannelId,
    pub contact_id: ContactId,
    /// `open`, `pending` (waiting for a human), `snoozed` or `resolved`.
    pub status: &'static str,
    pub assignee_id: Option<UserId>,
    pub team_id: Option<TeamId>,
    pub tags: Vec<String>,
    pub contact: ContactSummary,
    pub last_message: Option<LastMessage>,
    pub unread: i64,
    pub waiting_since: Option<Millis>,
    pub snoozed_until: Option<Millis>,
    pub last_activity_at: Option<Millis>,
    pub window: WindowState,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactSummary {
    pub id: ContactId,
    pub name: Option<String>,
    pub username: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastMessage {
    pub direction: switchboard_domain::Direction,
    pub author_kind: switchboard_domain::AuthorKind,
    pub text: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListPage {
    pub items: Vec<ListItem>,
    pub next_cursor: Option<String>,
}

/// At most this many lines per page.
pub const MAX_PAGE: i64 = 100;
const DEFAULT_PAGE: i64 = 25;
/// Tags: at most this many per conversation, each 1–50 characters.
const MAX_TAGS: usize = 20;

fn invalid(field: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field,
        message: message.into(),
    }
}

fn parse_status(raw: &str) -> ServiceResult<InboxStatus> {
    match raw {
        "open" => Ok(InboxStatus::Open),
        "pending" => Ok(InboxStatus::Pending),
        "snoozed" => Ok(InboxStatus::Snoozed),
        "resolved" => Ok(InboxStatus::Resolved),
        _ => Err(invalid("status", "open, pending, snoozed or resolved")),
    }
}

/// The cursor is opaque to clients: `<last activity ms>.<id>` of the page's last line.
fn parse_cursor(raw: &str) -> ServiceResult<(Millis, ConversationId)> {
    raw.split_once('.')
        .and_then(|(at, id)| Some((Millis(at.parse().ok()?), ConversationId(id.parse().ok()?))))
        .ok_or_else(|| invalid("cursor", "not a cursor this server gave"))
}

fn shown_status(item: &InboxItem, now: Millis) -> &'static str {
    let c = &item.conversation;
    match c.status.as_str() {
        "resolved" => "resolved",
        _ if c.snoozed_until.is_some_and(|t| t > now) => "snoozed",
        "waiting" => "pending",
        _ => "open",
    }
}

fn contact_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!name.trim().is_empty()).then_some(name)
}

/// The team whose channels include this one (the first, by id), for the list's `team_id`.
fn team_of(teams: &[TeamRow], channel: ChannelId) -> Option<TeamId> {
    teams
        .iter()
        .find(|t| t.channel_ids.contains(&channel))
        .map(|t| t.id)
}

impl Service {
    /// `GET /api/v1/conversations`: newest activity first, filtered, cursor-paged, within what
    /// the actor may see.
    pub async fn conversation_list(
        &self,
        actor: &Actor,
        filters: ListFilters,
    ) -> ServiceResult<ListPage> {
        let scope = self.conversation_scope(actor).await?;
        let teams = self.store.list_teams().await?;
        let mut channels = match scope {
            Scope::All => None,
            Scope::Channels(c) => Some(c),
        };
        let mut narrow = |only: Vec<ChannelId>| {
            channels = Some(match channels.take() {
                None => only,
                Some(visible) => visible.into_iter().filter(|c| only.contains(c)).collect(),
            });
        };
        if let Some(team) = filters.team_id {
            let team = teams
                .iter()
                .find(|t| t.id == team)
                .ok_or_else(|| invalid("team_id", "there is no such team"))?;
            narrow(team.channel_ids.clone());
        }
        if let Some(channel) = filters.channel_id {
            narrow(vec![channel]);
        }
        let assignee = match filters.assignee.as_deref() {
            None => None,
            Some("none") => Some(AssigneeFilter::Nobody),
            Some("me") => Some(AssigneeFilter::User(actor.user_id().ok_or_else(|| {
                invalid("assignee", "`me` needs a user, not the admin token")
            })?)),
            Some(id) => {
                Some(AssigneeFilter::User(UserId(id.parse().map_err(|_| {
                    invalid("assignee", "me, none or a user id")
                })?)))
            }
        };
        let limit = filters.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(invalid("limit", format!("1–{MAX_PAGE}")));
        }
        if filters.unread && actor.user_id().is_none() {
            return Err(invalid(
                "unread",
                "unread is per user; the admin token has none",
            ));
        }
        let now = Millis::now();
        let query = InboxQuery {
            channels,
            status: filters.status.as_deref().map(parse_status).transpose()?,
            assignee,
            tag: filters.tag.filter(|t| !t.is_empty()),
            text: filters
                .q
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
            unread_for: actor.user_id().filter(|_| filters.unread),
            reader: actor.user_id(),
            after: filters.cursor.as_deref().map(parse_cursor).transpose()?,
            limit,
            now,
        };
        let (items, more) = self.store.inbox_page(&query).await?;
        let mut lines = Vec::with_capacity(items.len());
        for item in items {
            lines.push(self.list_item(item, &teams, now).await?);
        }
        let next_cursor = more
            .then(|| lines.last())
            .flatten()
            .map(|l| format!("{}.{}", l.last_activity_at.map_or(0, |t| t.0), l.id));
        Ok(ListPage {
            items: lines,
            next_cursor,
        })
    }

    async fn list_item(
        &self,
        item: InboxItem,
        teams: &[TeamRow],
        now: Millis,
    ) -> ServiceResult<ListItem> {
        let channel = self.registry.get(item.conversation.channel_id).await?;
        let window = window_of(&channel.record.settings, &item, now);
        let c = &item.conversation;
        Ok(ListItem {
            id: c.id,
            channel_id: c.channel_id,
            contact_id: c.contact_id,
            status: shown_status(&item, now),
            assignee_id: c.assignee_id,
            team_id: team_of(teams, c.channel_id),
            tags: item.tags.clone(),
            contact: ContactSummary {
                id: item.contact.id,
                name: contact_name(
                    item.contact.first_name.as_deref(),
                    item.contact.last_name.as_deref(),
                ),
                username: item.contact.username.clone(),
                locale: item.contact.locale.clone(),
            },
            last_message: item.last_message.as_ref().map(|m| LastMessage {
                direction: m.direction,
                author_kind: m.author_kind,
                text: m.text.clone(),
                created_at: m.created_at,
            }),
            unread: item.unread,
            waiting_since: c.waiting_since,
            snoozed_until: c.snoozed_until,
            last_activity_at: c.last_message_at,
            window,
        })
    }

    /// One conversation as the list shows it (after a change, for the response).
    pub async fn conversation_line(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> ServiceResult<ListItem> {
        let conversation = self.readable_conversation(actor, id).await?;
        let teams = self.store.list_teams().await?;
        let item = self
            .store
            .inbox_items(vec![conversation], actor.user_id())
            .await?
            .pop()
            .ok_or(ServiceError::NotFound)?;
        self.list_item(item, &teams, Millis::now()).await
    }

    /// Gives the conversation to `to` (or to nobody). Taking it oneself needs `AssignSelf`;
    /// giving it to someone else, or taking it from them, `AssignOthers`. The new assignee must
    /// be active and able to read it.
    pub async fn assign(
        &self,
        actor: &Actor,
        id: ConversationId,
        to: Option<UserId>,
    ) -> ServiceResult<ListItem> {
        let conversation = self.readable_conversation(actor, id).await?;
        let me = actor.user_id();
        let only_self = to.is_none_or(|t| Some(t) == me)
            && conversation.assignee_id.is_none_or(|a| Some(a) == me);
        if only_self {
            actor.require(Permission::AssignSelf)?;
        } else {
            actor.require(Permission::AssignOthers)?;
        }
        if let Some(to) = to {
            let user = self
                .store
                .get_user(to)
                .await
                .map_err(|_| invalid("user_id", "there is no such user"))?;
            if !user.active || !self.user_can_read(&user, conversation.channel_id).await? {
                return Err(invalid(
                    "user_id",
                    "this user is inactive or cannot see this conversation",
                ));
            }
        }
        if !self
            .store
            .assign_conversation(id, conversation.assignee_id, to)
            .await?
        {
            return Err(ServiceError::Conflict(
                "someone else changed the assignment just now; look again".into(),
            ));
        }
        self.audit(
            actor,
            "conversation.assigned",
            Some(format!("conversation:{id}")),
            json!({ "from": conversation.assignee_id, "to": to }),
        )
        .await?;
        self.emit(
            "conversation.assigned",
            &conversation,
            None,
            json!({ "assignee_id": to }),
        )
        .await?;
        self.conversation_line(actor, id).await
    }

    async fn user_can_read(&self, user: &UserRow, channel: ChannelId) -> ServiceResult<bool> {
        let as_actor = Actor::user(user.clone(), crate::Credential::System, None);
        Ok(match self.conversation_scope(&as_actor).await {
            Ok(scope) => scope.includes(channel),
            Err(ServiceError::Forbidden(_)) => false,
            Err(e) => return Err(e),
        })
    }

    /// Replaces the conversation's tags (trimmed, lower-cased, deduplicated).
    pub async fn set_tags(
        &self,
        actor: &Actor,
        id: ConversationId,
        tags: Vec<String>,
    ) -> ServiceResult<Vec<String>> {
        let conversation = self.writable_conversation(actor, id).await?;
        let mut clean: Vec<String> = Vec::with_capacity(tags.len());
        for tag in tags {
            let tag = tag.trim().to_lowercase();
            if tag.is_empty() || tag.chars().count() > 50 || tag.chars().any(char::is_control) {
                return Err(invalid("tags", "a tag has 1–50 printable characters"));
            }
            if !clean.contains(&tag) {
                clean.push(tag);
            }
        }
        if clean.len() > MAX_TAGS {
            return Err(invalid("tags", format!("at most {MAX_TAGS} tags")));
        }
        let tags = self
            .store
            .set_conversation_tags(id, &clean, Millis::now())
            .await?;
        self.emit(
            "conversation.updated",
            &conversation,
            None,
            json!({ "tags": tags }),
        )
        .await?;
        Ok(tags)
    }

    /// A private note (never sent to the customer). `@someone` mentions a user by the part of
    /// their e-mail address before the `@`, or by the whole address; only people who can read
    /// the conversation can be mentioned.
    pub async fn add_note(
        &self,
        actor: &Actor,
        id: ConversationId,
        text: String,
    ) -> ServiceResult<NoteRow> {
        let conversation = self.writable_conversation(actor, id).await?;
        let text = text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 5000 {
            return Err(invalid("text", "a note has 1–5000 characters"));
        }
        let users = self.store.list_users().await?;
        let mut mentions = Vec::new();
        for handle in mention_handles(&text) {
            let found = users.iter().find(|u| {
                u.active
                    && (u.email == handle || u.email.split('@').next() == Some(handle.as_str()))
            });
            if let Some(user) = found
                && !mentions.contains(&user.id)
                && self.user_can_read(user, conversation.channel_id).await?
            {
                mentions.push(user.id);
            }
        }
        let note = self
            .store
            .add_note(
                id,
                actor.user_id(),
                &actor
                    .user
                    .as_ref()
                    .map_or_else(|| actor.label(), |u| u.name.clone()),
                &text,
                &mentions,
                Millis::now(),
            )
            .await?;
        self.store
            .index_note(
                note.id,
                conversation.id,
                conversation.channel_id,
                conversation.contact_id,
                &note.text,
            )
            .await?;
        for user in &note.mentions {
            self.emit(
                "note.mentioned",
                &conversation,
                Some(*user),
                json!({ "note_id": note.id, "author": note.author }),
            )
            .await?;
        }
        Ok(note)
    }

    pub async fn notes(&self, actor: &Actor, id: ConversationId) -> ServiceResult<Vec<NoteRow>> {
        self.readable_conversation(actor, id).await?;
        Ok(self.store.list_notes(id).await?)
    }

    /// Out of the open list until `until`, or until the customer writes again.
    pub async fn snooze(
        &self,
        actor: &Actor,
        id: ConversationId,
        until: Millis,
    ) -> ServiceResult<ListItem> {
        let conversation = self.writable_conversation(actor, id).await?;
        if until <= Millis::now() {
            return Err(invalid("until", "a snooze ends in the future"));
        }
        self.store.snooze_conversation(id, Some(until)).await?;
        self.emit(
            "conversation.updated",
            &conversation,
            None,
            json!({ "snoozed_until": until }),
        )
        .await?;
        self.conversation_line(actor, id).await
    }

    /// The agent has the thread open and is ready to answer: marks it read for them and, on
    /// Messenger, tells the person "Seen" (D2) — only now, never on receipt.
    pub async fn mark_read(&self, actor: &Actor, id: ConversationId) -> ServiceResult<()> {
        let conversation = self.writable_conversation(actor, id).await?;
        if let Some(user) = actor.user_id() {
            self.store.mark_read(id, user).await?;
        }
        self.sender_action(
            conversation.channel_id,
            conversation.contact_id,
            SenderAction::MarkSeen,
        )
        .await
    }

    /// The agent is typing: Messenger `typing_on`, Telegram `sendChatAction` typing.
    pub async fn typing(&self, actor: &Actor, id: ConversationId) -> ServiceResult<()> {
        let conversation = self.writable_conversation(actor, id).await?;
        self.sender_action(
            conversation.channel_id,
            conversation.contact_id,
            SenderAction::TypingOn,
        )
        .await
    }

    async fn sender_action(
        &self,
        channel: ChannelId,
        contact: ContactId,
        action: SenderAction,
    ) -> ServiceResult<()> {
        let live = self.registry.get(channel).await?;
        let contact = self.store.get_contact(contact).await?;
        let result = match &live.client {
            PlatformClient::Messenger(client) => {
                let Ok(psid) = Psid::parse(&contact.external_id) else {
                    return Err(ServiceError::Internal);
                };
                client.sender_action(&psid, action).await
            }
            // Telegram has no read receipts for bots; typing is the only action.
            PlatformClient::Telegram(_) if action == SenderAction::MarkSeen => return Ok(()),
            PlatformClient::Telegram(client) => {
                let Ok(chat) = contact.external_id.parse::<i64>() else {
                    return Err(ServiceError::Internal);
                };
                client.send_typing(chat).await
            }
        };
        // A sender action is a courtesy: a platform that refuses one must not fail the agent's
        // work (the read mark is stored either way).
        if let Err(e) = result {
            tracing::info!(channel = %channel, action = action.as_str(), error = %e, "sender action not delivered");
        }
        Ok(())
    }
}

/// The window state of a list line, from the channel's profile in force now.
fn window_of(settings: &ChannelSettings, item: &InboxItem, now: Millis) -> WindowState {
    let (kind, facts) = match settings {
        ChannelSettings::Messenger(m) => (
            switchboard_domain::ChannelKind::Messenger,
            ChannelFacts::messenger(m.human_agent_permission, m.utility_messaging_permission),
        ),
        ChannelSettings::Telegram(_) => (
            switchboard_domain::ChannelKind::Telegram,
            ChannelFacts::telegram(),
        ),
    };
    let Some(profile) = PolicyProfile::builtin_for(kind, now) else {
        return WindowState::Closed;
    };
    let contact = ContactFacts {
        last_window_action_at: item.contact.last_window_action_at,
        last_message_at: item.last_inbound_at,
        reachable: item.contact.reachable,
        subscribed: item.contact.subscribed,
        recent_bulk_sends: Vec::new(),
    };
    window_state(&profile, &facts, &contact, now)
}

/// `@handle` words of a note: letters, digits and `._-+@` after an `@` that starts a word.
fn mention_handles(text: &str) -> Vec<String> {
    let mut handles = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && previous.is_none_or(char::is_whitespace) {
            let rest = &text[i + 1..];
            let handle: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || "._-+@".contains(*c))
                .collect();
            let handle = handle.trim_end_matches(['.', '-']).to_lowercase();
            if !handle.is_empty() {
                handles.push(handle);
            }
        }
        previous = Some(c);
    }
    handles
}

impl Service {
    /// Meta's response rate, response time and badge for one channel, as of `to` (default now),
    /// from messages since `from` (default: all) — protocols.md D1.
    pub async fn responsiveness(
        &self,
        actor: &Actor,
        channel: ChannelId,
        from: Option<Millis>,
        to: Option<Millis>,
    ) -> ServiceResult<switchboard_domain::responsiveness::Responsiveness> {
        use switchboard_domain::responsiveness::{counted_messages, responsiveness};
        actor.require(Permission::ViewReports)?;
        self.registry.get(channel).await?;
        let to = to.unwrap_or_else(Millis::now);
        let timelines = self.store.reply_timelines(channel, to).await?;
        // Meta's "away" is a Page setting Switchboard does not switch; no away periods yet.
        let mut counted: Vec<_> = timelines
            .values()
            .flat_map(|thread| counted_messages(thread, &[]))
            .collect();
        if let Some(from) = from {
            counted.retain(|c| c.at >= from);
        }
        Ok(responsiveness(counted, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_words_starting_with_an_at_sign() {
        assert_eq!(
            mention_handles("@bo can you check? cc @Ana.Rossi@example.com. mail x@y.z"),
            vec!["bo", "ana.rossi@example.com"]
        );
        assert!(mention_handles("no mentions here, a@b").is_empty());
    }

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(
            parse_cursor("1780272000000.42").unwrap(),
            (Millis(1_780_272_000_000), ConversationId(42))
        );
        assert!(parse_cursor("42").is_err());
        assert!(parse_cursor("a.b").is_err());
    }
}
