//! An open-loop load generator for `POST /v1/token`, used by `bench/run.py` (the overload
//! scenario). wrk is closed-loop: it sends the next request only when the previous one on that
//! connection has answered, so a slow server slows the load down. This sends at a fixed rate
//! whatever the server does, the way independent clients would.
//!
//! ```text
//! cargo run --release --example openloop -p tcauth -- \
//!     --url http://127.0.0.1:8080 --codes codes.txt --rate 20000 --secs 10
//! ```
//!
//! `--codes` holds one `client_id code verifier` line per pre-minted code; every request redeems
//! the next unused line (a distinct code per request). `--connections` keep-alive connections are
//! opened before the clock starts (a fleet of clients, each with one connection); requests are
//! released on a 1 ms tick, each on an idle connection, so at most that many are in flight, and a
//! request due while every connection is busy is not sent but counted (`not_sent`). A connection
//! the server closed is opened again (`reconnects`). Latency
//! is measured from the moment a request was written (`latency_ms`) and from the moment it was
//! due (`latency_from_due_ms`, which adds the generator's own lag, `send_lag_ms`: on a small
//! machine the generator competes with the server for CPU).
//! Every `--health-ms` a `GET /healthz` on a fresh connection checks that the server still
//! answers. Prints one JSON object on stdout.
//!
//! A minimal HTTP/1.1 client over tokio (Content-Length and chunked bodies), so that the
//! generator spends little of the machine's CPU, which it shares with the server.

use clap::Parser;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(
    about = "Open-loop load on POST /v1/token: a fixed request rate, one pre-minted code per request"
)]
struct Args {
    /// Base URL of the server: http://HOST:PORT (plain HTTP, a literal address).
    #[arg(long)]
    url: String,
    /// File of `client_id code verifier` lines, one per request.
    #[arg(long)]
    codes: String,
    /// Requests per second to send.
    #[arg(long)]
    rate: f64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Connections opened before the start; also the most requests in flight at once (one
    /// more due is counted as not sent).
    #[arg(long, default_value_t = 4096)]
    connections: usize,
    /// A request without an answer after this long counts as a timeout.
    #[arg(long, default_value_t = 10_000)]
    timeout_ms: u64,
    /// Interval of the `/healthz` probe (0: none).
    #[arg(long, default_value_t = 200)]
    health_ms: u64,
    /// Worker threads of the generator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Bodies of non-200 answers kept per status.
    #[arg(long, default_value_t = 3)]
    samples: usize,
}

/// What one request ended as: an HTTP status, or a transport failure.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Outcome {
    Status(u16),
    IoError,
    Timeout,
}

impl Outcome {
    fn key(self) -> String {
        match self {
            Outcome::Status(s) => s.to_string(),
            Outcome::IoError => "io_error".into(),
            Outcome::Timeout => "timeout".into(),
        }
    }
}

#[derive(Default)]
struct Stats {
    /// Latency in microseconds from the moment each request was written, per outcome.
    latency: BTreeMap<Outcome, Vec<u64>>,
    /// The same from the moment each request was due (includes the generator's own lag).
    latency_due: BTreeMap<Outcome, Vec<u64>>,
    /// A few response bodies (or error messages) per outcome other than 200.
    samples: BTreeMap<Outcome, Vec<String>>,
    /// How late each request was written, in microseconds (the generator's own lag).
    send_lag: Vec<u64>,
}

struct Shared {
    addr: SocketAddr,
    host: String,
    idle: Mutex<Vec<TcpStream>>,
    outstanding: AtomicUsize,
    max_outstanding_seen: AtomicUsize,
    connections_opened: AtomicU64,
    stats: Mutex<Stats>,
    samples: usize,
    timeout: Duration,
}

#[derive(Default)]
struct Health {
    checks: u64,
    ok: u64,
    failed: u64,
    max_us: u64,
    first_failure: Option<String>,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("openloop: {e}");
        std::process::exit(2);
    }
}

fn run(args: Args) -> Result<(), String> {
    let positive = |v: f64| v > 0.0 && v.is_finite();
    if !positive(args.rate) || !positive(args.secs) {
        return Err("--rate and --secs must be positive".into());
    }
    let hostport = args
        .url
        .strip_prefix("http://")
        .ok_or("--url must start with http://")?
        .trim_end_matches('/');
    let addr: SocketAddr = hostport
        .parse()
        .map_err(|e| format!("--url must be http://IP:PORT ({hostport}: {e})"))?;
    let text = std::fs::read_to_string(&args.codes)
        .map_err(|e| format!("cannot read --codes {}: {e}", args.codes))?;
    let requests: Vec<Vec<u8>> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (client_id, code, verifier) = (it.next()?, it.next()?, it.next()?);
            let body = format!(
                "grant_type=authorization_code&client_id={client_id}&code={code}&code_verifier={verifier}"
            );
            Some(
                format!(
                    "POST /v1/token HTTP/1.1\r\nHost: {hostport}\r\n\
                     Content-Type: application/x-www-form-urlencoded\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes(),
            )
        })
        .collect();
    if requests.is_empty() {
        return Err(format!(
            "no `client_id code verifier` lines in {}",
            args.codes
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let shared = Arc::new(Shared {
        addr,
        host: hostport.to_string(),
        idle: Mutex::new(Vec::new()),
        outstanding: AtomicUsize::new(0),
        max_outstanding_seen: AtomicUsize::new(0),
        connections_opened: AtomicU64::new(0),
        stats: Mutex::new(Stats::default()),
        samples: args.samples,
        timeout: Duration::from_millis(args.timeout_ms),
    });
    let out = rt.block_on(drive(args, shared, requests));
    println!("{out}");
    Ok(())
}

async fn drive(args: Args, shared: Arc<Shared>, requests: Vec<Vec<u8>>) -> Value {
    let requests = Arc::new(requests);
    let health = Arc::new(Mutex::new(Health::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let health_task = (args.health_ms > 0).then(|| {
        let (shared, health, stop) = (shared.clone(), health.clone(), stop.clone());
        let every = Duration::from_millis(args.health_ms);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Relaxed) {
                tick.tick().await;
                probe_health(&shared, &health).await;
            }
        })
    });

    // Open the fleet's connections, 64 at a time, before the clock starts.
    let t_connect = Instant::now();
    let mut opened = 0usize;
    let mut connect_error = None;
    while opened < args.connections {
        let batch = (args.connections - opened).min(64);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let addr = shared.addr;
            set.spawn(async move { TcpStream::connect(addr).await });
        }
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(c)) => {
                    let _ = c.set_nodelay(true);
                    shared.idle.lock().unwrap().push(c);
                }
                Ok(Err(e)) => connect_error = Some(e.to_string()),
                Err(e) => connect_error = Some(e.to_string()),
            }
        }
        opened += batch;
        if connect_error.is_some() {
            break;
        }
    }
    let pool = shared.idle.lock().unwrap().len();
    let connect_s = t_connect.elapsed().as_secs_f64();

    let start = Instant::now();
    let period = Duration::from_secs_f64(args.secs);
    let total = (args.rate * args.secs).round() as u64;
    let (mut scheduled, mut sent, mut not_sent, mut exhausted) = (0u64, 0usize, 0u64, 0u64);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    while scheduled < total {
        tick.tick().await;
        let elapsed = start.elapsed();
        let due = ((elapsed.as_secs_f64() * args.rate) as u64).min(total);
        while scheduled < due {
            let due_at = start + Duration::from_secs_f64(scheduled as f64 / args.rate);
            scheduled += 1;
            if sent >= requests.len() {
                exhausted += 1;
                continue;
            }
            let n = shared.outstanding.fetch_add(1, Relaxed) + 1;
            if n > pool {
                shared.outstanding.fetch_sub(1, Relaxed);
                not_sent += 1;
                continue;
            }
            shared.max_outstanding_seen.fetch_max(n, Relaxed);
            let (shared, requests, i) = (shared.clone(), requests.clone(), sent);
            sent += 1;
            tasks.spawn(async move {
                one(&shared, &requests[i], due_at).await;
                shared.outstanding.fetch_sub(1, Relaxed);
            });
        }
        // Reap finished tasks so the set does not grow with the whole run.
        while tasks.try_join_next().is_some() {}
        if elapsed > period + Duration::from_secs(1) {
            break; // the generator cannot keep up; what is left is not sent
        }
    }
    let sending = start.elapsed();
    not_sent += total - scheduled;
    // Wait for the answers (each request times out on its own).
    let drain_deadline = Instant::now() + shared.timeout + Duration::from_secs(1);
    while !tasks.is_empty() && Instant::now() < drain_deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), tasks.join_next()).await;
    }
    let unfinished = tasks.len();
    tasks.abort_all();
    // One last health check after the load.
    stop.store(true, Relaxed);
    if let Some(t) = health_task {
        t.abort();
    }
    probe_health(&shared, &health).await;
    let wall = start.elapsed();

    let mut stats = std::mem::take(&mut *shared.stats.lock().unwrap());
    let mut status = Map::new();
    let mut latency = Map::new();
    for (outcome, v) in stats.latency.iter_mut() {
        status.insert(outcome.key(), json!(v.len()));
        latency.insert(outcome.key(), summary(v));
    }
    let latency_due: Map<String, Value> = stats
        .latency_due
        .iter_mut()
        .map(|(o, v)| (o.key(), summary(v)))
        .collect();
    let samples: Map<String, Value> = stats
        .samples
        .iter()
        .map(|(o, v)| (o.key(), json!(v)))
        .collect();
    let h = health.lock().unwrap();
    json!({
        "target_rate": args.rate,
        "secs": args.secs,
        "scheduled": total,
        "sent": sent,
        "not_sent": not_sent,
        "codes_exhausted": exhausted,
        "unfinished": unfinished,
        "sending_s": sending.as_secs_f64(),
        "wall_s": wall.as_secs_f64(),
        "connections": pool,
        "connect_s": connect_s,
        "connect_error": connect_error,
        "max_outstanding_seen": shared.max_outstanding_seen.load(Relaxed),
        "reconnects": shared.connections_opened.load(Relaxed),
        "status": status,
        "latency_ms": latency,
        "latency_from_due_ms": latency_due,
        "send_lag_ms": summary(&mut stats.send_lag),
        "samples": samples,
        "health": {
            "checks": h.checks, "ok": h.ok, "failed": h.failed,
            "max_ms": h.max_us as f64 / 1000.0, "first_failure": h.first_failure,
        },
    })
}

/// p50/p99/max in milliseconds of a set of microsecond figures.
fn summary(v: &mut [u64]) -> Value {
    if v.is_empty() {
        return json!({"n": 0});
    }
    v.sort_unstable();
    let pick =
        |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1] as f64 / 1000.0;
    json!({"n": v.len(), "p50": pick(0.50), "p99": pick(0.99), "max": pick(1.0)})
}

/// Sends one request (on an idle connection if there is one) and records what came back.
async fn one(shared: &Shared, request: &[u8], due_at: Instant) {
    let sent_at = Instant::now();
    let lag = sent_at.saturating_duration_since(due_at);
    let result = tokio::time::timeout(shared.timeout, exchange(shared, request)).await;
    let (elapsed, elapsed_due) = (sent_at.elapsed(), due_at.elapsed());
    let (outcome, detail) = match result {
        Ok(Ok((status, body))) => (Outcome::Status(status), body),
        Ok(Err(e)) => (Outcome::IoError, e),
        Err(_) => (Outcome::Timeout, String::new()),
    };
    let mut stats = shared.stats.lock().unwrap();
    stats.send_lag.push(lag.as_micros() as u64);
    stats
        .latency
        .entry(outcome)
        .or_default()
        .push(elapsed.as_micros() as u64);
    stats
        .latency_due
        .entry(outcome)
        .or_default()
        .push(elapsed_due.as_micros() as u64);
    if outcome != Outcome::Status(200) {
        let kept = stats.samples.entry(outcome).or_default();
        if kept.len() < shared.samples {
            kept.push(detail.chars().take(300).collect());
        }
    }
}

/// One request/response on a pooled or new connection. A pooled connection that the server
/// closed in the meantime is replaced once by a new one.
async fn exchange(shared: &Shared, request: &[u8]) -> Result<(u16, String), String> {
    let pooled = shared.idle.lock().unwrap().pop();
    if let Some(conn) = pooled {
        match round_trip(conn, request).await {
            Ok(r) => return finish(shared, r),
            Err((e, got_bytes)) if got_bytes => return Err(e),
            Err(_) => {} // closed while idle: retry on a new connection
        }
    }
    let conn = connect(shared).await?;
    match round_trip(conn, request).await {
        Ok(r) => finish(shared, r),
        Err((e, _)) => Err(e),
    }
}

fn finish(shared: &Shared, r: Response) -> Result<(u16, String), String> {
    if let Some(conn) = r.conn {
        shared.idle.lock().unwrap().push(conn);
    }
    Ok((r.status, r.body))
}

async fn connect(shared: &Shared) -> Result<TcpStream, String> {
    let conn = TcpStream::connect(shared.addr)
        .await
        .map_err(|e| format!("connect {}: {e}", shared.addr))?;
    let _ = conn.set_nodelay(true);
    shared.connections_opened.fetch_add(1, Relaxed);
    Ok(conn)
}

struct Response {
    status: u16,
    body: String,
    /// The connection, when it may be reused.
    conn: Option<TcpStream>,
}

/// Writes `request` and reads one response. The error says whether any byte of a response
/// had arrived.
async fn round_trip(mut conn: TcpStream, request: &[u8]) -> Result<Response, (String, bool)> {
    conn.write_all(request)
        .await
        .map_err(|e| (format!("write: {e}"), false))?;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p + 4;
        }
        let n = conn
            .read(&mut chunk)
            .await
            .map_err(|e| (format!("read: {e}"), !buf.is_empty()))?;
        if n == 0 {
            return Err((
                "connection closed before a response".into(),
                !buf.is_empty(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 64 * 1024 {
            return Err(("response head over 64 KiB".into(), true));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| (format!("bad status line: {:?}", head.lines().next()), true))?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let close = header("connection:").is_some_and(|v| v == "close");
    let mut rest = buf[head_end..].to_vec();
    let body = if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        read_chunked(&mut conn, rest).await?
    } else {
        let len: usize = header("content-length:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < len {
            let n = conn
                .read(&mut chunk)
                .await
                .map_err(|e| (format!("read body: {e}"), true))?;
            if n == 0 {
                return Err(("connection closed in the body".into(), true));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    };
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
        conn: (!close).then_some(conn),
    })
}

async fn read_chunked(conn: &mut TcpStream, mut buf: Vec<u8>) -> Result<Vec<u8>, (String, bool)> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Enough bytes for the size line?
        if let Some(p) = find(&buf, b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..p]).to_string();
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| (format!("bad chunk size {line:?}"), true))?;
            if buf.len() >= p + 2 + size + 2 {
                if size == 0 {
                    return Ok(body); // trailers are not used by the server
                }
                body.extend_from_slice(&buf[p + 2..p + 2 + size]);
                buf.drain(..p + 2 + size + 2);
                continue;
            }
        }
        let n = conn
            .read(&mut chunk)
            .await
            .map_err(|e| (format!("read chunk: {e}"), true))?;
        if n == 0 {
            return Err(("connection closed in a chunked body".into(), true));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `GET /healthz` on a fresh connection, within 2 s.
async fn probe_health(shared: &Shared, health: &Mutex<Health>) {
    let t = Instant::now();
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        shared.host
    );
    let result = tokio::time::timeout(Duration::from_secs(2), async {
        let conn = TcpStream::connect(shared.addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        round_trip(conn, request.as_bytes())
            .await
            .map_err(|(e, _)| e)
    })
    .await;
    let us = t.elapsed().as_micros() as u64;
    let mut h = health.lock().unwrap();
    h.checks += 1;
    h.max_us = h.max_us.max(us);
    let failure = match result {
        Ok(Ok(r)) if r.status == 200 => None,
        Ok(Ok(r)) => Some(format!("status {}: {}", r.status, r.body)),
        Ok(Err(e)) => Some(e),
        Err(_) => Some("no answer within 2 s".into()),
    };
    match failure {
        None => h.ok += 1,
        Some(f) => {
            h.failed += 1;
            h.first_failure.get_or_insert(f);
        }
    }
}
