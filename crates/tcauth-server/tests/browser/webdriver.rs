//! A real headless Chromium, driven over WebDriver by `chromedriver` (Debian's `chromium` and
//! `chromium-driver`). Each [`Browser`] is its own chromedriver on a free port with its own
//! profile directory. Runs only with `TCAUTH_BROWSER_TESTS` set.

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tcauth_testkit::gate;
use tcauth_testkit::ports::free_port;
use tokio::sync::{Semaphore, SemaphorePermit};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Phone and desktop windows.
pub const PHONE: (u32, u32) = (360, 800);
pub const DESKTOP: (u32, u32) = (1280, 900);

/// At most this many browsers at once: each is a handful of processes.
static SLOTS: Semaphore = Semaphore::const_new(3);

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    _slot: SemaphorePermit<'static>,
}

fn path_of(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// Whether browser tests run; prints a loud SKIPPED line when they do not.
pub fn enabled(test: &str) -> bool {
    gate::env_or_skip(&gate::BROWSER_TESTS, &format!("the browser test {test}")).is_some()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `size` window.
    pub async fn start(size: (u32, u32)) -> Browser {
        let slot = SLOTS.acquire().await.unwrap();
        let chromium = path_of("TCAUTH_CHROMIUM", CHROMIUM);
        let chromedriver = path_of("TCAUTH_CHROMEDRIVER", CHROMEDRIVER);
        for p in [&chromium, &chromedriver] {
            assert!(
                std::path::Path::new(p).exists(),
                "{p} not found: install Debian's chromium and chromium-driver (apt-get install \
                 chromium chromium-driver), or unset TCAUTH_BROWSER_TESTS"
            );
        }
        let profile = tempfile::tempdir().unwrap();
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port();
            // Its own process group, which Chromium inherits: ending the group ends both,
            // even when a failing test never closes its session.
            let mut driver = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver");
            if !wait_for_port(port).await {
                end_group(&mut driver);
                last_err = format!("chromedriver did not listen on port {port}");
                continue;
            }
            let caps = json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
                        "--disable-breakpad", "--disable-crash-reporter",
                        format!("--window-size={},{}", size.0, size.1),
                        format!("--user-data-dir={}", profile.path().display()),
                    ],
                },
            });
            let caps = caps.as_object().unwrap().clone();
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => {
                    let b = Browser {
                        client,
                        driver,
                        _profile: profile,
                        _slot: slot,
                    };
                    b.resize(size).await;
                    return b;
                }
                Err(e) => {
                    last_err = e.to_string();
                    end_group(&mut driver);
                }
            }
        }
        panic!("could not start a WebDriver session: {last_err}");
    }

    /// Sets the viewport (not the outer window) to `size`.
    pub async fn resize(&self, (w, h): (u32, u32)) {
        self.client.set_window_size(w, h).await.unwrap();
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .unwrap();
        let (iw, ih) = (
            inner[0].as_u64().unwrap() as u32,
            inner[1].as_u64().unwrap() as u32,
        );
        if (iw, ih) != (w, h) {
            let (ow, oh) = (w + (w.saturating_sub(iw)), h + (h.saturating_sub(ih)));
            self.client
                .set_window_size(ow.max(w), oh.max(h))
                .await
                .unwrap();
        }
    }

    pub async fn viewport_width(&self) -> u64 {
        self.client
            .execute("return window.innerWidth", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap()
    }

    /// Whether the page is wider than the viewport (a horizontal scroll bar).
    pub async fn overflows(&self) -> bool {
        self.client
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap()
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    pub async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("no {selector} on {}: {e}", self.url().await),
        }
    }

    pub async fn type_into(&self, selector: &str, text: &str) {
        let e = self.css(selector).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Clicks a submit button and waits for the page it loads. Every click of these tests
    /// submits a form; reading the page before the new one replaced it could find the old
    /// one's elements (gone by the time they are read, or with the old text).
    pub async fn click(&self, selector: &str) {
        let e = self.css(selector).await;
        // Marks this document: the next one starts without the mark.
        self.client
            .execute("window.tcauthOldPage = true", vec![])
            .await
            .unwrap();
        e.click().await.unwrap();
        for _ in 0..200 {
            let loaded = self
                .client
                .execute(
                    "return window.tcauthOldPage !== true && document.readyState === 'complete'",
                    vec![],
                )
                .await;
            // An error here is the old page going away.
            if matches!(loaded, Ok(v) if v.as_bool() == Some(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {selector} on {} loaded no page", self.url().await);
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.css("body").await.text().await.unwrap()
    }

    /// Waits until the path is `path`.
    pub async fn wait_path(&self, path: &str) {
        for _ in 0..200 {
            if self.path().await == path {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {path}, still at {}: {}",
            self.url().await,
            self.text().await
        );
    }

    /// Saves `target/screenshots/<name>-<width>.png` at the phone and the desktop size, then
    /// goes back to `restore`.
    pub async fn screenshots(&self, name: &str, restore: (u32, u32)) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        for size in [PHONE, DESKTOP] {
            self.resize(size).await;
            assert!(
                !self.overflows().await,
                "{name} overflows a {}px window",
                size.0
            );
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{}.png", size.0)), png).unwrap();
        }
        self.resize(restore).await;
    }

    /// Ends the session (chromedriver stops Chromium), then chromedriver's process group.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        end_group(&mut self.driver);
    }
}

/// Kills chromedriver's process group (chromedriver and the Chromium it started) and reaps
/// chromedriver.
fn end_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

async fn wait_for_port(port: u16) -> bool {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}
