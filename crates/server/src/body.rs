//! Reading request bodies with a size limit, so that an oversize body is answered with a 413 the
//! client actually receives.
//!
//! Refusing is the easy part: a `Content-Length` over the limit is refused before a byte is read,
//! a chunked body as soon as it passes the limit. Getting the answer to the client is the hard
//! part. A client that sends the whole body without `Expect: 100-continue` (Python's urllib, many
//! proxies) reads the response only after it has written everything; if the server closes the
//! connection while request bytes are still unread in its socket, the kernel answers with a TCP
//! reset, and the reset destroys the 413 the client had not read yet. hyper closes such a
//! connection without draining it. So after deciding, we read and throw away the rest of the
//! body — at most [`DRAIN_CAP`] bytes for at most [`DRAIN_TIME`], so a refusal never costs more
//! than that — and the 413 says `Connection: close` (see `error.rs`). A body larger than the
//! cap still gets its connection closed early; its sender may see a reset, which is the price of
//! not reading arbitrarily much.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, Request};
use bytes::BytesMut;

use crate::app::AppState;
use crate::error::ApiError;

/// The most a refused body is read (and discarded) so the 413 reaches its sender.
pub const DRAIN_CAP: u64 = 8 * 1024 * 1024;
/// The longest a refused body is read for.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Reads the body up to `limit` bytes; a larger body is refused (and drained, see the module).
pub(crate) async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = body.size_hint().exact();
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body, 0).await;
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut buf = BytesMut::with_capacity(declared.map_or(0, |n| n as usize));
    while let Some(frame) = next_data(&mut body).await {
        // A broken body (the client went away, a malformed chunk) is the client's fault.
        let frame = frame.map_err(|e| ApiError::BadRequest(format!("unreadable body: {e}")))?;
        let Some(data) = frame else {
            continue; // trailers
        };
        if buf.len() + data.len() > limit {
            drain(body, (buf.len() + data.len()) as u64).await;
            return Err(ApiError::PayloadTooLarge(limit));
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.freeze())
}

/// The next frame's data (`None` inside for a trailers frame), or `None` at the end.
async fn next_data(body: &mut Body) -> Option<Result<Option<Bytes>, axum::Error>> {
    std::future::poll_fn(|cx| {
        Pin::new(&mut *body)
            .poll_frame(cx)
            .map(|frame| frame.map(|r| r.map(|f| f.into_data().ok())))
    })
    .await
}

/// Reads and discards what is left of a refused body, within [`DRAIN_CAP`] (counting the `seen`
/// bytes already read) and [`DRAIN_TIME`].
async fn drain(mut body: Body, mut seen: u64) {
    if body.size_hint().lower() > DRAIN_CAP {
        return;
    }
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while seen <= DRAIN_CAP {
            match next_data(&mut body).await {
                Some(Ok(data)) => seen += data.map_or(0, |d| d.len() as u64),
                _ => return,
            }
        }
    })
    .await;
}

/// A JSON API body read with the configured `body_limit`; use it instead of `Bytes`, whose
/// extractor has its own limit and answers an oversize body without draining it.
pub struct LimitedBody(pub Bytes);

impl FromRequest<AppState> for LimitedBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_body(req.into_body(), state.config.body_limit)
            .await
            .map(LimitedBody)
    }
}
