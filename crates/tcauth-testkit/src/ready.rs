//! Waiting for a server a test started (a process, usually) until it answers: `GET url` is
//! tried every 50 ms until it answers 200, for at most a deadline. Failures name the URL, the
//! deadline and the last answer (a status, or the connection error).

use std::time::{Duration, Instant};

/// How often the URL is tried.
const EVERY: Duration = Duration::from_millis(50);

/// Waits until `GET url` answers 200; panics when it did not within `within`.
pub async fn wait_ready(http: &reqwest::Client, url: &str, within: Duration) {
    if let Err(e) = wait_ready_or(http, url, within, || None).await {
        panic!("{e}");
    }
}

/// Waits until `GET url` answers 200, or gives up: after `within` (`Err` says so), or as soon
/// as `give_up` (asked before every try, e.g. "has the server process exited?") returns a
/// reason, which is then the `Err`. For callers with something to do before they fail: stop
/// a process, add its log to the message.
pub async fn wait_ready_or(
    http: &reqwest::Client,
    url: &str,
    within: Duration,
    mut give_up: impl FnMut() -> Option<String>,
) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(reason) = give_up() {
            return Err(reason);
        }
        let last = match http.get(url).send().await {
            Ok(r) if r.status() == 200 => return Ok(()),
            Ok(r) => format!("status {}", r.status()),
            Err(e) => format!("error: {e}"),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "{url} did not answer 200 within {within:?} (last: {last})"
            ));
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_nobody_answers_at_fails_with_its_name() {
        let http = reqwest::Client::new();
        let port = crate::ports::free_port();
        let url = format!("http://127.0.0.1:{port}/readyz");
        let e = wait_ready_or(&http, &url, Duration::from_millis(200), || None)
            .await
            .unwrap_err();
        assert!(
            e.starts_with(&format!("{url} did not answer 200 within")),
            "{e}"
        );
        let e = wait_ready_or(&http, &url, Duration::from_secs(10), || Some("gone".into()))
            .await
            .unwrap_err();
        assert_eq!(e, "gone");
    }
}
