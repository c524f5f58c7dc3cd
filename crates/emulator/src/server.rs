//! HTTP plumbing: our own accept loop (so a fault can kill a connection before
//! any response byte), the entry point for platform API requests, and the
//! fault / call-log steps both platforms share.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

use crate::Platform;
use crate::calls::NewCall;
use crate::faults::Fault;
use crate::state::Inner;

/// Request extension: notifying it makes the connection task drop the
/// connection (a `DropConnection` fault).
#[derive(Clone)]
pub(crate) struct ConnKill(Arc<Notify>);

/// Uploads are capped at 50 MB by Telegram; leave headroom for multipart.
const MAX_BODY: usize = 64 << 20;

pub(crate) async fn serve(listener: TcpListener, router: Router) {
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let ext = ConnKill(kill.clone());
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ext.clone());
                    let router = router.clone();
                    async move {
                        Ok::<_, Infallible>(
                            router.oneshot(req.map(Body::new)).await.into_response(),
                        )
                    }
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                // Dropping `conn` closes the socket with the request unanswered.
                _ = kill.notified() => {}
            }
        });
    }
}

/// A platform API request, body already collected.
pub(crate) struct ApiRequest {
    pub method: axum::http::Method,
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub kill: Option<ConnKill>,
}

/// Fallback route: everything that is not `/_emulator/...`.
pub(crate) async fn platform_entry(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let req = ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
        kill: parts.extensions.get::<ConnKill>().cloned(),
    };
    if req.path.starts_with("/file/bot") {
        crate::telegram::download(&inner, &req.path)
    } else if req.path.starts_with("/bot") {
        crate::telegram::handle(&inner, req).await
    } else {
        crate::graph::handle(&inner, req).await
    }
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Records the call and turns it into the HTTP answer.
pub(crate) fn finish(
    inner: &Inner,
    platform: Platform,
    method: String,
    credential: String,
    request: Value,
    status: u16,
    response: Value,
) -> Response {
    let http = json_response(status, &response);
    inner.record(NewCall {
        platform,
        method,
        credential,
        request,
        status,
        response,
    });
    http
}

/// Result of consulting the fault rules for one call.
pub(crate) enum FaultOutcome {
    Proceed,
    /// Answer with this (status, body) instead of processing.
    Respond(u16, Value),
    Drop,
}

pub(crate) async fn apply_faults(inner: &Inner, platform: Platform, method: &str) -> FaultOutcome {
    let d = inner.faults.decide(platform, method);
    if d.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(d.latency_ms)).await;
    }
    match d.fault {
        None | Some(Fault::Latency { .. }) => FaultOutcome::Proceed,
        Some(Fault::DropConnection) => FaultOutcome::Drop,
        Some(Fault::ServerError) => match platform {
            Platform::Messenger => FaultOutcome::Respond(
                500,
                crate::graph_rules::error_body(
                    "An unexpected error has occurred. Please retry your request later.",
                    2,
                    None,
                ),
            ),
            Platform::Telegram => FaultOutcome::Respond(
                500,
                crate::telegram::error_body(500, "Internal Server Error", None),
            ),
        },
        Some(Fault::GraphError {
            http_status,
            code,
            subcode,
            message,
        }) => FaultOutcome::Respond(
            http_status,
            crate::graph_rules::error_body(&message, code, subcode),
        ),
        Some(Fault::TelegramError {
            error_code,
            description,
            retry_after,
        }) => FaultOutcome::Respond(
            u16::try_from(error_code).unwrap_or(500),
            crate::telegram::error_body(error_code, &description, retry_after),
        ),
    }
}

/// Records the call as not answered (status 0) and kills the connection.
pub(crate) async fn drop_connection(
    inner: &Inner,
    platform: Platform,
    method: String,
    credential: String,
    request: Value,
    kill: Option<ConnKill>,
) -> Response {
    inner.record(NewCall {
        platform,
        method,
        credential,
        request,
        status: 0,
        response: serde_json::json!({ "emulator": "connection dropped by fault" }),
    });
    match kill {
        Some(k) => {
            k.0.notify_one();
            // The connection task drops this future together with the
            // connection; nothing is ever written.
            std::future::pending::<Response>().await
        }
        None => StatusCode::BAD_GATEWAY.into_response(),
    }
}
