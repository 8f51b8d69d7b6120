//! The accept loop: connection hygiene in front of the router (issue 15).
//!
//! - **Caps.** At most `max_connections` connections are open at once, and at most
//!   `max_connections_per_ip` from one IPv4 address or one IPv6 /64. A connection over a cap is
//!   closed right after accept, before a byte is read, so the server keeps its descriptors and
//!   memory for the callers within their share (and `/healthz` keeps answering).
//! - **Timeouts.** A request head (request line and headers) must arrive within
//!   `header_read_timeout`, counted from the connection's opening for its first request and
//!   from the first byte of the head after that; dripping bytes does not extend it. A
//!   connection with no request in progress and no byte moving either way for `idle_timeout`
//!   is closed (a kept-alive connection, or one whose client does not read its answer). Both
//!   close the connection without an answer. The body has its own bound
//!   ([`crate::oauth::BODY_READ_TIMEOUT`], 408), and so does a store call.
//!   hyper's own `header_read_timeout` is not used: hyper starts it as soon as a kept-alive
//!   connection goes idle, so it cannot tell a slow head from an idle connection.
//! - **Request heads.** [`head_limits`] answers 414 past [`MAX_URI_BYTES`] and 431 past
//!   [`MAX_HEADER_FIELDS`] or [`MAX_HEADER_BYTES`], as the contract's JSON. hyper's own limits
//!   lie beyond ours (a 64 KiB buffer, [`HYPER_MAX_HEADER_FIELDS`] fields, a 64 KiB URI); the
//!   bodiless 400, 414 and 431 hyper writes itself when a head breaks them (or does not parse)
//!   are replaced on the way out by the same JSON answers ([`Tracked`]).
//! - **HTTP/1.1 only.** axum is built without HTTP/2, and this loop speaks HTTP/1.1 alone.
//! - **Counted and logged.** Every cap and timeout is counted in `/metrics`
//!   (`tcauth_connections_*`); a summary with the totals is logged at most once a minute, and
//!   so are failed accepts (after each, the loop waits [`ACCEPT_BACKOFF`]: with no descriptor
//!   left it would otherwise spin).
//! - **Graceful shutdown.** When `shutdown` completes the loop stops accepting, asks every
//!   connection to finish its request in progress and close (idle ones close at once), and
//!   returns when all have closed; the timeouts still apply meanwhile.

use crate::error::ApiError;
use crate::ip::{ip_key, IpKey};
use crate::metrics::{ConnectionMetrics, Metrics};
use crate::settings::ConnectionLimits;
use crate::state::App;
use crate::throttle::Throttle;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// Longest request target (path and query) answered; longer is 414. `/v1/auth` with the
/// longest `state` and `nonce` (512 bytes each) takes about 1.5 KiB.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields in a request; more is 431.
pub const MAX_HEADER_FIELDS: usize = 100;
/// Most bytes of header fields in a request (names, values and their `": "` and CRLF); more
/// is 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper's read buffer, which bounds a request head; a head that does not fit is hyper's 431.
pub const HYPER_MAX_BUF: usize = 64 * 1024;
/// The fields hyper parses at most; more is hyper's 431.
pub const HYPER_MAX_HEADER_FIELDS: usize = 128;
/// How long the loop waits after a failed accept.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// The summary of caps and timeouts is logged at most this often.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);

/// The answers to oversized and unparseable request heads.
pub fn uri_too_long() -> ApiError {
    ApiError {
        close: true,
        ..ApiError::oauth(
            StatusCode::URI_TOO_LONG,
            "invalid_request",
            "Request URI too long (at most 8192 bytes)",
        )
    }
}

pub fn head_too_large() -> ApiError {
    ApiError {
        close: true,
        ..ApiError::oauth(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "invalid_request",
            "Request header fields too large (at most 100 fields and 32768 bytes in all)",
        )
    }
}

pub fn malformed() -> ApiError {
    ApiError {
        close: true,
        ..ApiError::bad_request("Malformed HTTP request")
    }
}

/// Middleware: 414 and 431 for request heads over our limits, before any handler runs.
pub async fn head_limits(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let uri_len = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3);
    if uri_len > MAX_URI_BYTES {
        return uri_too_long().into_response();
    }
    let headers = req.headers();
    if headers.len() > MAX_HEADER_FIELDS {
        return head_too_large().into_response();
    }
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return head_too_large().into_response();
    }
    next.run(req).await
}

/// Why a connection was closed by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    GlobalCap,
    IpCap,
    HeaderTimeout,
    IdleTimeout,
}

/// The open connections, in all and per IP (IPv6: per /64).
struct Conns {
    limits: ConnectionLimits,
    per_ip: Mutex<HashMap<IpKey, usize>>,
    app: App,
    /// The once-a-minute summary of caps and timeouts.
    summary: Throttle,
    /// Failed accepts, logged at most once a minute.
    accept_log: Throttle,
}

/// One admitted connection; dropping it gives its place back.
struct Admitted {
    conns: Arc<Conns>,
    ip: IpKey,
}

impl Conns {
    fn metrics(&self) -> &ConnectionMetrics {
        &self.app.metrics.connections
    }

    fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Admitted, Closed> {
        let m = self.metrics();
        Metrics::inc(&m.accepted);
        let ip = ip_key(peer.ip());
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        // Under the lock, so that the global count and the per-IP counts agree.
        if m.open.load(Relaxed) >= self.limits.max_connections as u64 {
            return Err(Closed::GlobalCap);
        }
        let n = per_ip.entry(ip).or_default();
        if *n >= self.limits.max_connections_per_ip {
            return Err(Closed::IpCap);
        }
        *n += 1;
        m.open.fetch_add(1, Relaxed);
        Ok(Admitted {
            conns: self.clone(),
            ip,
        })
    }

    /// Counts `why` and, at most once a minute, logs the totals (idle timeouts are routine:
    /// counted only).
    fn closed(&self, why: Closed) {
        let m = self.metrics();
        Metrics::inc(match why {
            Closed::GlobalCap => &m.rejected_global_cap,
            Closed::IpCap => &m.rejected_ip_cap,
            Closed::HeaderTimeout => &m.timed_out_header,
            Closed::IdleTimeout => &m.timed_out_idle,
        });
        if why == Closed::IdleTimeout {
            return;
        }
        if let Some(left_out) = self.summary.allow(crate::now_ms()) {
            tracing::warn!(
                latest = ?why,
                left_out,
                open = m.open.load(Relaxed),
                global_cap = m.rejected_global_cap.load(Relaxed),
                ip_cap = m.rejected_ip_cap.load(Relaxed),
                header_timeouts = m.timed_out_header.load(Relaxed),
                idle_timeouts = m.timed_out_idle.load(Relaxed),
                max_connections = self.limits.max_connections,
                max_connections_per_ip = self.limits.max_connections_per_ip,
                "connections closed at a cap or for a slow request head (totals since start; \
                 at most one line a minute)"
            );
        }
    }

    fn accept_failed(&self, e: &io::Error) {
        Metrics::inc(&self.metrics().accept_errors);
        if let Some(left_out) = self.accept_log.allow(crate::now_ms()) {
            tracing::warn!(
                error = %e,
                left_out,
                total = self.metrics().accept_errors.load(Relaxed),
                "accept failed (at most one line a minute)"
            );
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut per_ip = self.conns.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.conns.metrics().open.fetch_sub(1, Relaxed);
    }
}

/// Accepts until `shutdown` completes, then drains the open connections.
pub async fn run(
    listener: TcpListener,
    app: App,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let conns = Arc::new(Conns {
        limits: app.settings.connections,
        per_ip: Mutex::default(),
        app,
        summary: Throttle::every(SUMMARY_EVERY),
        accept_log: Throttle::every(SUMMARY_EVERY),
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(HYPER_MAX_BUF)
        .max_headers(HYPER_MAX_HEADER_FIELDS)
        .header_read_timeout(None);
    let http = Arc::new(http);
    let service = TowerToHyperService::new(router);
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        conns.accept_failed(&e);
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let admitted = match conns.admit(peer) {
            Ok(a) => a,
            Err(why) => {
                drop(stream);
                conns.closed(why);
                continue;
            }
        };
        tokio::spawn(connection(
            stream,
            peer,
            admitted,
            http.clone(),
            service.clone(),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    stop_tx.closed().await;
    Ok(())
}

/// Errors of one connection that was never ours (not of the listener): accept the next.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes, times out, or the server drains.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Admitted,
    http: Arc<hyper::server::conn::http1::Builder>,
    service: TowerToHyperService<Router>,
    mut stop: watch::Receiver<()>,
) {
    let limits = admitted.conns.limits;
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked::new(stream, activity.clone()));
    let requests = activity.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let in_progress = InProgress::begin(requests.clone());
        let answer = hyper::service::Service::call(&service, req);
        async move {
            let r = answer.await;
            drop(in_progress);
            r
        }
    });
    let conn = http.serve_connection(io, svc);
    tokio::pin!(conn);
    // One timer per connection, armed never later than the earliest deadline that can arise
    // before it fires: the current one, and at most `header_read_timeout` ahead (a head that
    // begins meanwhile is due no sooner). So a head's start needs no wake-up, and a request
    // on a kept-alive connection costs no timer work at all (BENCHMARKS.md, issue 15).
    let sleep = tokio::time::sleep_until(activity.next_check(&limits));
    tokio::pin!(sleep);
    let mut draining = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = &mut sleep => {
                if let (at, Some(why)) = activity.deadline(&limits) {
                    if at <= Instant::now() {
                        admitted.conns.closed(why);
                        break;
                    }
                }
                sleep.as_mut().reset(activity.next_check(&limits));
            }
        }
    }
}

/// What a connection is doing, for its timeouts: times in ms since it was accepted.
struct Activity {
    born: Instant,
    /// The last byte read or written.
    last_io: AtomicU64,
    /// When the head being read began ([`NO_HEAD`]: none is); the first from the opening.
    head_since: AtomicU64,
    /// Requests handed to the router whose answer is not ready.
    in_progress: AtomicU32,
}

const NO_HEAD: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Activity {
            born: Instant::now(),
            last_io: AtomicU64::new(0),
            head_since: AtomicU64::new(0),
            in_progress: AtomicU32::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Relaxed);
        if self.in_progress.load(Relaxed) == 0 && self.head_since.load(Relaxed) == NO_HEAD {
            self.head_since.store(now, Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Relaxed);
    }

    /// When to look at the connection again: its deadline, but no later than
    /// `header_read_timeout` from now (the deadline of a head that would begin now).
    fn next_check(&self, limits: &ConnectionLimits) -> Instant {
        let soonest_head = Instant::now() + limits.header_read_timeout;
        match self.deadline(limits) {
            (at, Some(_)) => at.min(soonest_head),
            (_, None) => soonest_head,
        }
    }

    /// When the connection times out, and why (`None`: a request is in progress; look again
    /// then).
    fn deadline(&self, limits: &ConnectionLimits) -> (Instant, Option<Closed>) {
        let ms = Duration::from_millis;
        if self.in_progress.load(Relaxed) > 0 {
            return (Instant::now() + limits.idle_timeout, None);
        }
        match self.head_since.load(Relaxed) {
            NO_HEAD => (
                self.born + ms(self.last_io.load(Relaxed)) + limits.idle_timeout,
                Some(Closed::IdleTimeout),
            ),
            since => (
                self.born + ms(since) + limits.header_read_timeout,
                Some(Closed::HeaderTimeout),
            ),
        }
    }
}

/// A request handed to the router; dropped when its answer is ready (or abandoned).
struct InProgress(Arc<Activity>);

impl InProgress {
    fn begin(a: Arc<Activity>) -> Self {
        a.in_progress.fetch_add(1, Relaxed);
        a.head_since.store(NO_HEAD, Relaxed);
        InProgress(a)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        // The answer is yet to be written: the idle clock starts now.
        self.0.wrote();
        self.0.in_progress.fetch_sub(1, Relaxed);
    }
}

/// The socket as hyper sees it: notes every byte moved in [`Activity`], and replaces the
/// bodiless answers hyper writes itself for heads it refuses with our JSON ones.
struct Tracked {
    io: TcpStream,
    activity: Arc<Activity>,
    /// Our answer in place of hyper's, and how much of it is written.
    replacing: Option<(Vec<u8>, usize)>,
}

impl Tracked {
    fn new(io: TcpStream, activity: Arc<Activity>) -> Self {
        Tracked {
            io,
            activity,
            replacing: None,
        }
    }

    /// Writes what is left of the replacement.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.replacing {
            if *done == bytes.len() {
                self.replacing = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
            self.activity.wrote();
        }
        Poll::Ready(Ok(()))
    }
}

/// Our JSON answer in place of `buf`, when `buf` is exactly one of the answers hyper writes
/// itself for a request head it refuses: status 400, 414 or 431, and no header but
/// `content-length: 0`, `date` and `connection`. Every answer of ours has a `content-type`.
fn replacement(buf: &[u8]) -> Option<Vec<u8>> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let err = match rest.get(..4)? {
        b"400 " => malformed(),
        b"414 " => uri_too_long(),
        b"431 " => head_too_large(),
        _ => return None,
    };
    let head = std::str::from_utf8(buf.strip_suffix(b"\r\n\r\n")?).ok()?;
    let mut date = None;
    for line in head.split("\r\n").skip(1) {
        let (name, value) = line.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value.trim() == "0" => {}
            "connection" => {}
            "date" => date = Some(value.trim()),
            _ => return None,
        }
    }
    let body = serde_json::to_vec(&err.body).ok()?;
    let reason = err.status.canonical_reason().unwrap_or("");
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-content-type-options: nosniff\r\n",
        err.status.as_u16(),
        body.len()
    );
    if let Some(d) = date {
        out.push_str("date: ");
        out.push_str(d);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&body);
    Some(out)
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            this.activity.read();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none() {
            if let Some(ours) = replacement(buf) {
                this.replacing = Some((ours, 0));
            }
        }
        if this.replacing.is_some() {
            // hyper offers the same bytes again until told they are written.
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        if n > 0 {
            this.activity.wrote();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_own_answers_are_replaced_by_json_and_ours_are_not() {
        let ours = replacement(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\
              date: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n",
        )
        .unwrap();
        let text = String::from_utf8(ours).unwrap();
        let body = r#"{"error":"invalid_request","error_description":"Request header fields too large (at most 100 fields and 32768 bytes in all)"}"#;
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nconnection: close\r\nx-content-type-options: nosniff\r\n\
                 date: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n{body}",
                body.len()
            )
        );
        assert!(replacement(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n").is_some());
        assert!(replacement(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n").is_some());
        // Answers of our own, other statuses, partial heads.
        for not in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n",
            b"{\"error\":\"x\"}",
        ] {
            assert_eq!(replacement(not), None, "{:?}", String::from_utf8_lossy(not));
        }
    }

    #[test]
    fn deadlines_follow_what_the_connection_does() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_connections: 10,
            max_connections_per_ip: 10,
        };
        let a = Arc::new(Activity::new());
        // A new connection waits for its first head.
        assert_eq!(
            a.deadline(&limits),
            (
                a.born + limits.header_read_timeout,
                Some(Closed::HeaderTimeout)
            )
        );
        let r = InProgress::begin(a.clone());
        assert_eq!(a.deadline(&limits).1, None);
        a.read(); // the body: no new head
        assert_eq!(a.deadline(&limits).1, None);
        drop(r);
        let (at, why) = a.deadline(&limits);
        assert_eq!(why, Some(Closed::IdleTimeout));
        assert!(at >= a.born + limits.idle_timeout);
        // Idle: looked at again within a header timeout, not only at the idle deadline.
        let next = a.next_check(&limits);
        assert!(next < at && next <= Instant::now() + limits.header_read_timeout);
        a.read(); // the next head begins
        assert_eq!(a.deadline(&limits).1, Some(Closed::HeaderTimeout));
    }
}
