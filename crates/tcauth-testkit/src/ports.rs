//! Ports on 127.0.0.1 for servers a test starts.
//!
//! A server that binds its own port later (a `tcauth serve` process, chromedriver) is given a
//! port by [`free_port`]: free when asked for, and never handed out twice in this process.
//! Tests run in parallel and each such server binds its port only when it starts, so two
//! calls could otherwise get the same free port: one server then fails to start and the other
//! test's server answers in its place. A server started in the test process itself should
//! rather take a [`local_listener`], bound before the server is spawned (no race at all).

use std::collections::HashSet;
use std::sync::Mutex;

/// A port on 127.0.0.1 that was free a moment ago and that no other caller in this process
/// was given.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind 127.0.0.1:0")
            .local_addr()
            .expect("the local address of a bound listener")
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// A tokio listener on a port of 127.0.0.1 the system chose (port 0), already bound:
/// connections made before the server accepts wait in the backlog.
pub async fn local_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_never_hands_out_a_port_twice() {
        let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
        let distinct: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        assert!(ports.iter().all(|&p| p != 0));
    }

    #[tokio::test]
    async fn local_listener_is_bound_on_loopback() {
        let l = local_listener().await;
        let addr = l.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
        tokio::net::TcpStream::connect(addr).await.unwrap();
    }
}
