//! `GET /api/v1/events`: Server-Sent Events of what the caller may see. `event:` is
//! `message.created`, `conversation.updated`, `conversation.assigned` or `note.mentioned`;
//! `data:` is JSON with `conversation_id`; `id:` resumes the stream (`Last-Event-ID`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use crate::app::AppState;
use crate::auth::ActorOf;
use crate::error::ApiResult;

pub async fn stream(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let events = state.service.events(&actor, last).await?;
    let closing = state.closing.clone();
    let stream =
        futures_util::stream::unfold((events, closing), |(mut events, mut closing)| async move {
            let next = tokio::select! {
                next = events.next() => next,
                _ = closing.wait_for(|closing| *closing) => return None,
            };
            match next {
                Ok(e) => {
                    let event = Event::default()
                        .id(e.id)
                        .event(e.kind)
                        .data(e.data.to_string());
                    Some((Ok(event), (events, closing)))
                }
                Err(e) => {
                    // The client reconnects with its last id and loses nothing.
                    tracing::warn!(error = %e, "event stream ended");
                    None
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
