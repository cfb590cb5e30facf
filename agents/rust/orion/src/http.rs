//! W3C `traceparent` helpers for HTTP clients and servers, whatever the HTTP library: the
//! running trace's `traceparent` to send, and each request recorded as an event
//! (`http.client`, `http.server`, as the Go and Node.js agents record them), so that the
//! traces of several services can be stitched together later.

use crate::writer::{self, Attr};
use std::time::Duration;

/// The `traceparent` header value naming the running trace (`00-<trace id>-<span id>-01`),
/// to send with an outgoing request; None when nothing is being traced.
pub fn traceparent() -> Option<String> {
    writer::traceparent()
}

/// Records a request this process served: method, route, status, duration and the
/// `traceparent` the caller sent (an `http.server` event).
pub fn http_server(
    method: &str,
    route: &str,
    status: u16,
    duration: Duration,
    traceparent: Option<&str>,
) {
    writer::event("http.server", || {
        vec![
            ("method", Attr::Text(method.to_string())),
            ("route", Attr::Text(route.to_string())),
            ("status", Attr::Number(status as u64)),
            ("duration_ns", Attr::Number(duration.as_nanos() as u64)),
            (
                "traceparent",
                Attr::Text(traceparent.unwrap_or("").to_string()),
            ),
        ]
    });
}

/// Records a request this process sent: method, URL (a password in it is redacted),
/// status (None when no response came), duration and the `traceparent` sent with it (an
/// `http.client` event).
pub fn http_client(
    method: &str,
    url: &str,
    status: Option<u16>,
    duration: Duration,
    traceparent: Option<&str>,
) {
    writer::event("http.client", || {
        let mut attrs = vec![
            ("method", Attr::Text(method.to_string())),
            ("url", Attr::Text(url.to_string())),
            ("duration_ns", Attr::Number(duration.as_nanos() as u64)),
            (
                "traceparent",
                Attr::Text(traceparent.unwrap_or("").to_string()),
            ),
        ];
        if let Some(status) = status {
            attrs.push(("status", Attr::Number(status as u64)));
        }
        attrs
    });
}
