//! What the sign-in tests share: an SMS gateway that receives the webhook sender's codes, an
//! app's redirect endpoint that records what it was sent, and a cookie-keeping HTTP agent
//! that walks the pages without a browser.

use crate::common::{self, StartOpts, TestServer};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tcauth_server::settings::OtpSenderConfig;
use tcauth_server::{Secret, Settings};
use tcauth_testkit::ports::local_listener;
use tokio::sync::{mpsc, Mutex};

/// The webhook secret the test servers sign with.
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789";

async fn serve_on_port_0(router: Router) -> String {
    let listener = local_listener().await;
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// One text message the gateway received.
#[derive(Debug, Clone)]
pub struct Sms {
    pub phone: String,
    pub code: String,
    pub purpose: String,
    pub expires_in: u64,
}

#[derive(Clone)]
struct GatewayState {
    tx: mpsc::UnboundedSender<Sms>,
    failing: Arc<AtomicBool>,
    received: Arc<AtomicUsize>,
}

/// An SMS gateway: checks the webhook's signature and keeps the codes for the test to read.
pub struct Gateway {
    pub url: String,
    rx: Mutex<mpsc::UnboundedReceiver<Sms>>,
    failing: Arc<AtomicBool>,
    received: Arc<AtomicUsize>,
}

async fn receive(State(g): State<GatewayState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    g.received.fetch_add(1, Ordering::SeqCst);
    let want = format!(
        "sha256={}",
        tcauth_core::secret::hex(&tcauth_core::secret::hmac_sha256(
            WEBHOOK_SECRET.as_bytes(),
            &body
        ))
    );
    let got = headers
        .get("x-tcauth-signature")
        .and_then(|v| v.to_str().ok());
    assert_eq!(got, Some(want.as_str()), "webhook signature");
    if g.failing.load(Ordering::SeqCst) {
        return StatusCode::BAD_GATEWAY;
    }
    let v: Value = serde_json::from_slice(&body).expect("webhook body is JSON");
    let _ = g.tx.send(Sms {
        phone: v["phone_number"].as_str().unwrap().to_string(),
        code: v["code"].as_str().unwrap().to_string(),
        purpose: v["purpose"].as_str().unwrap().to_string(),
        expires_in: v["expires_in"].as_u64().unwrap(),
    });
    StatusCode::OK
}

impl Gateway {
    pub async fn start() -> Gateway {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = GatewayState {
            tx,
            failing: Arc::default(),
            received: Arc::default(),
        };
        let (failing, received) = (state.failing.clone(), state.received.clone());
        let base =
            serve_on_port_0(Router::new().route("/sms", post(receive)).with_state(state)).await;
        Gateway {
            url: format!("{base}/sms"),
            rx: Mutex::new(rx),
            failing,
            received,
        }
    }

    /// Points a server's settings at this gateway.
    pub fn configure(&self, s: &mut Settings) {
        s.otp_sender = OtpSenderConfig::Webhook {
            url: self.url.clone(),
            secret: Secret(WEBHOOK_SECRET.as_bytes().to_vec()),
        };
    }

    /// The next code sent; panics after 10 s.
    pub async fn next(&self) -> Sms {
        tokio::time::timeout(Duration::from_secs(10), self.rx.lock().await.recv())
            .await
            .expect("no code reached the gateway within 10 s")
            .expect("gateway closed")
    }

    /// Answer 502 from now on (or stop).
    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    /// Webhook calls received so far (failed ones included).
    pub fn calls(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

/// An app's redirect endpoint: records the query of every visit.
pub struct Callback {
    pub uri: String,
    rx: Mutex<mpsc::UnboundedReceiver<HashMap<String, String>>>,
}

impl Callback {
    pub async fn start() -> Callback {
        let (tx, rx) = mpsc::unbounded_channel::<HashMap<String, String>>();
        let router = Router::new().route(
            "/cb",
            get(move |Query(q): Query<HashMap<String, String>>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(q);
                    Html("<!doctype html><title>Test app</title><h1>Back in the app</h1>")
                }
            }),
        );
        let base = serve_on_port_0(router).await;
        Callback {
            uri: format!("{base}/cb"),
            rx: Mutex::new(rx),
        }
    }

    /// The query of the next visit; panics after 10 s.
    pub async fn next(&self) -> HashMap<String, String> {
        tokio::time::timeout(Duration::from_secs(10), self.rx.lock().await.recv())
            .await
            .expect("the app's redirect endpoint was not visited within 10 s")
            .unwrap()
    }
}

/// A server with a gateway and an app (client) whose redirect URI is `redirect_uri`.
pub struct Setup {
    pub server: TestServer,
    pub gateway: Gateway,
    pub client_id: String,
    pub redirect_uri: String,
}

impl Setup {
    /// `f` may change the settings further.
    pub async fn start(redirect_uri: &str, f: impl FnOnce(&mut Settings)) -> Setup {
        Setup::start_opts(redirect_uri, StartOpts::default(), f).await
    }

    /// [`Setup::start`] with a server started with `opts`.
    pub async fn start_opts(
        redirect_uri: &str,
        opts: StartOpts,
        f: impl FnOnce(&mut Settings),
    ) -> Setup {
        Setup::start_with_store(redirect_uri, None, opts, f).await
    }

    /// [`Setup::start_opts`] on `store` when given (else the server's own SQLite file).
    pub async fn start_with_store(
        redirect_uri: &str,
        store: Option<Arc<dyn tcauth_store::Store>>,
        opts: StartOpts,
        f: impl FnOnce(&mut Settings),
    ) -> Setup {
        let gateway = Gateway::start().await;
        let configure = |s: &mut Settings| {
            gateway.configure(s);
            f(s);
        };
        let server = match store {
            Some(store) => TestServer::start_on(store, opts, configure).await,
            None => TestServer::start_opts(opts, configure).await,
        };
        let v = server
            .create_client_json(json!({
                "name": "Acme Shop",
                "redirect_uris": [redirect_uri, common::REDIRECT_URI],
                "scopes": ["openid", "profile", "phone", "offline_access"],
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .await;
        Setup {
            server,
            gateway,
            client_id: v["client_id"].as_str().unwrap().to_string(),
            redirect_uri: redirect_uri.to_string(),
        }
    }

    /// `/v1/auth?…` for this client with a fresh PKCE pair; (path and query, verifier).
    pub fn auth_path(&self, scope: &str, state: &str, nonce: Option<&str>) -> (String, String) {
        let verifier = common::random_verifier();
        let mut q = vec![
            ("response_type", "code".to_string()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("scope", scope.to_string()),
            ("state", state.to_string()),
            ("code_challenge", common::challenge_of(&verifier)),
            ("code_challenge_method", "S256".to_string()),
        ];
        if let Some(n) = nonce {
            q.push(("nonce", n.to_string()));
        }
        (format!("/v1/auth?{}", encode(&q)), verifier)
    }
}

pub fn encode(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A response, read whole.
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn location(&self) -> &str {
        self.header("location")
            .unwrap_or_else(|| panic!("no Location (status {}): {}", self.status, self.body))
    }

    /// The hidden CSRF field's value.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no CSRF field in: {}", self.body));
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }

    /// The query parameters of the `Location`.
    pub fn location_query(&self) -> HashMap<String, String> {
        query_of(self.location())
    }
}

pub fn query_of(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    url_pairs(q).into_iter().collect()
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

/// A browser stand-in: keeps the interaction cookie, follows nothing by itself.
pub struct Agent {
    pub base: String,
    pub cookie: Option<String>,
    http: reqwest::Client,
}

impl Agent {
    pub fn new(server: &TestServer) -> Agent {
        Agent {
            base: server.base.clone(),
            cookie: None,
            http: common::http_client(),
        }
    }

    async fn read(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        for sc in headers.get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let pair = sc.split(';').next().unwrap();
            let (_, v) = pair.split_once('=').unwrap();
            self.cookie = (!v.is_empty()).then(|| pair.to_string());
        }
        Page {
            status,
            headers,
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut rb = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", c);
        }
        let r = rb.send().await.unwrap();
        self.read(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut rb = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", c);
        }
        let r = rb.send().await.unwrap();
        self.read(r).await
    }

    /// Starts a sign-in at `path` (`/v1/auth?…`) and returns the phone page.
    pub async fn begin(&mut self, path: &str) -> Page {
        let p = self.get(path).await;
        assert_eq!(p.status, 302, "{}", p.body);
        assert_eq!(p.location(), "/v1/auth/phone");
        let page = self.get("/v1/auth/phone").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page
    }

    /// Submits the phone page; expects the 303 to the code page.
    pub async fn enter_phone(&mut self, page: &Page, phone: &str) -> Page {
        let r = self
            .post(
                "/v1/auth/phone",
                &[("csrf", &page.csrf()), ("country", "IN"), ("phone", phone)],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(r.location(), "/v1/auth/code");
        self.get("/v1/auth/code").await
    }

    pub async fn enter_code(&mut self, page: &Page, code: &str) -> Page {
        self.post("/v1/auth/code", &[("csrf", &page.csrf()), ("code", code)])
            .await
    }
}
