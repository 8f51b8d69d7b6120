//! A TCP proxy a test puts between servers and a backend (PostgreSQL, Redis) to take the
//! backend away and give it back: [`Proxy::cut`] closes every open connection and refuses new
//! ones (accepted, then closed at once), [`Proxy::restore`] lets connections through again.
//! Point the servers at [`Proxy::addr`] instead of the backend ([`target_of`] finds the
//! backend's `host:port` in its URL).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// A TCP proxy to one `host:port`, listening on a port of 127.0.0.1 of its own. Dropping it
/// stops it and closes every connection.
pub struct Proxy {
    /// Where the proxy listens.
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `target` (`host:port`), passing connections through.
    pub async fn start(target: String) -> Proxy {
        let listener = crate::ports::local_listener().await;
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                c.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Proxy {
            addr,
            down,
            conns,
            accept,
        }
    }

    /// Closes every open connection; new ones are closed as soon as they are accepted.
    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Lets new connections through again.
    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// The `host:port` of a URL such as `postgres://user:pw@host:5432/db?x=y` (user info, path
/// and query ignored), with `default_port` when the URL names none.
pub fn target_of(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let after_at = rest.rsplit_once('@').map(|(_, a)| a).unwrap_or(rest);
    let hostport = after_at.split(['/', '?']).next().unwrap();
    if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:{default_port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn target_of_finds_host_and_port() {
        let t = |u| target_of(u, 5432);
        assert_eq!(t("postgres://u:p@db.example:6000/x?y=1"), "db.example:6000");
        assert_eq!(t("postgres://postgres@127.0.0.1/test"), "127.0.0.1:5432");
        assert_eq!(t("postgres://127.0.0.1:5433"), "127.0.0.1:5433");
        assert_eq!(target_of("redis://127.0.0.1:6379/", 6379), "127.0.0.1:6379");
    }

    /// An echo server; the proxy passes bytes, cuts, refuses, and passes again.
    #[tokio::test]
    async fn cut_and_restore() {
        let echo = crate::ports::local_listener().await;
        let target = echo.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let proxy = Proxy::start(target).await;
        let roundtrip = |mut s: TcpStream| async move {
            s.write_all(b"ping").await.ok()?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.ok()?;
            (buf == *b"ping").then_some(s)
        };
        let open = roundtrip(TcpStream::connect(proxy.addr).await.unwrap())
            .await
            .expect("passes through");
        proxy.cut();
        assert!(
            roundtrip(open).await.is_none(),
            "an open connection is closed"
        );
        let refused = TcpStream::connect(proxy.addr).await.unwrap();
        assert!(roundtrip(refused).await.is_none(), "a new one is closed");
        proxy.restore();
        let again = TcpStream::connect(proxy.addr).await.unwrap();
        assert!(roundtrip(again).await.is_some(), "passes through again");
    }
}
