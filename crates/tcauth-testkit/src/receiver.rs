//! A callback receiver: a real HTTP server (axum, on loopback) that records every request —
//! method, path, headers, body — and answers what the test scripted: a status, a redirect, or
//! a sleep before the answer; once the script is used up, 200.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// `302 Found` to this location.
    Redirect(String),
    /// Waits, then answers 200.
    Sleep(Duration),
}

#[derive(Default)]
struct Shared {
    calls: Mutex<Vec<Call>>,
    script: Mutex<VecDeque<Answer>>,
    /// The answer once the script is used up (200 when `None`).
    otherwise: Mutex<Option<Answer>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(
    State(sh): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sh.calls.lock().unwrap().push(Call {
        method,
        path: uri.path().to_string(),
        headers,
        body: body.to_vec(),
    });
    let next = sh.script.lock().unwrap().pop_front();
    let answer = next.or_else(|| sh.otherwise.lock().unwrap().clone());
    match answer {
        None => StatusCode::OK.into_response(),
        Some(Answer::Status(s)) => StatusCode::from_u16(s).unwrap().into_response(),
        Some(Answer::Redirect(to)) => {
            (StatusCode::FOUND, [(axum::http::header::LOCATION, to)]).into_response()
        }
        Some(Answer::Sleep(d)) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
    }
}

impl Receiver {
    /// On a port-0 listener.
    pub async fn start(script: Vec<Answer>) -> Receiver {
        Self::on(crate::ports::local_listener().await, script)
    }

    /// On `127.0.0.1:port` (a port the test chose earlier, to bring a receiver up late).
    pub async fn start_on(port: u16, script: Vec<Answer>) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
        Self::on(listener, script)
    }

    fn on(listener: TcpListener, script: Vec<Answer>) -> Receiver {
        let shared = Arc::new(Shared::default());
        *shared.script.lock().unwrap() = script.into();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(record).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { addr, shared, task }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The answer once the script is used up (instead of 200).
    pub fn otherwise(&self, answer: Answer) {
        *self.shared.otherwise.lock().unwrap() = Some(answer);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.shared.calls.lock().unwrap().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_and_follows_the_script() {
        let r = Receiver::start(vec![Answer::Status(500), Answer::Redirect("/x".into())]).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let resp = http
                .post(r.url("/cb"))
                .header("x-a", "1")
                .body("hi")
                .send()
                .await
                .unwrap();
            statuses.push(resp.status().as_u16());
        }
        assert_eq!(statuses, [500, 302, 200]);
        let calls = r.calls();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0].method, Method::POST);
        assert_eq!(calls[0].path, "/cb");
        assert_eq!(calls[0].header("x-a"), Some("1"));
        assert_eq!(calls[0].body, b"hi");
    }
}
