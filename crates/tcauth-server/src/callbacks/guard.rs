//! Which addresses a callback may be sent to (SSRF defence, CONTRACT.md §9).
//!
//! Refused always: link-local addresses (`169.254.0.0/16`, `fe80::/10`: cloud metadata
//! services live there) and the unspecified addresses (`0.0.0.0`, `::`, which reach this
//! host), in their IPv4-mapped, IPv4-compatible and NAT64 IPv6 forms too
//! (`crate::ip::embedded_v4`); refused besides: whatever is in `callback_deny_networks`. A host name is resolved at every attempt by [`Vetted`],
//! the HTTP client's resolver, which refuses the name if any of its addresses is refused and
//! otherwise hands the client exactly the addresses it checked, so nothing resolves the name a
//! second time between the check and the connection (DNS rebinding). IP literals never reach a
//! resolver: [`check`] is called on them before the request.

use crate::ip::{embedded_v4, Network};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A policy refusal: the delivery fails at once with this text as its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// `Err` with the reason (`refused: 169.254.169.254 is link-local`) if `ip` may not be called.
pub fn check(ip: IpAddr, deny: &[Network]) -> Result<(), Refused> {
    let v4 = match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => embedded_v4(a),
    };
    let link_local = match (v4, ip) {
        (Some(a), _) => a.is_link_local(),
        (None, IpAddr::V6(a)) => (a.segments()[0] & 0xffc0) == 0xfe80,
        (None, IpAddr::V4(_)) => false,
    };
    if link_local {
        return Err(Refused(format!("refused: {ip} is link-local")));
    }
    if ip.is_unspecified() || v4.is_some_and(|a| a.is_unspecified()) {
        return Err(Refused(format!("refused: {ip} is the unspecified address")));
    }
    if let Some(n) = deny.iter().find(|n| n.contains(ip)) {
        return Err(Refused(format!(
            "refused: {ip} is in callback_deny_networks ({n})"
        )));
    }
    Ok(())
}

/// The resolver of the callback client: the system's resolver (`getaddrinfo`, as reqwest's
/// default), then [`check`] on every address.
pub struct Vetted {
    pub deny: Arc<[Network]>,
}

impl Resolve for Vetted {
    fn resolve(&self, name: Name) -> Resolving {
        let deny = self.deny.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            for a in &addrs {
                check(a.ip(), &deny).map_err(|Refused(why)| {
                    // Name the host too: the address alone does not say where it came from.
                    Box::new(Refused(format!("{why} (resolved from {host})")))
                        as Box<dyn std::error::Error + Send + Sync>
                })?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The [`Refused`] somewhere in `err`'s chain of sources, if the error is a refusal.
pub fn refusal(err: &(dyn std::error::Error + 'static)) -> Option<Refused> {
    let mut e: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cur) = e {
        if let Some(r) = cur.downcast_ref::<Refused>() {
            return Some(r.clone());
        }
        e = cur.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn link_local_and_unspecified_are_always_refused() {
        for bad in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.169.254",
            "::169.254.169.254",
            "64:ff9b::169.254.169.254",
            "0.0.0.0",
            "::",
            "::ffff:0.0.0.0",
        ] {
            let e = check(ip(bad), &[]).unwrap_err();
            assert!(e.0.starts_with("refused: "), "{bad}: {e}");
        }
        assert_eq!(
            check(ip("169.254.169.254"), &[]).unwrap_err().0,
            "refused: 169.254.169.254 is link-local"
        );
        for ok in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "203.0.113.7",
            "fec0::1",
            "2001:db8::1",
        ] {
            assert_eq!(check(ip(ok), &[]), Ok(()), "{ok}");
        }
    }

    #[test]
    fn the_deny_list_adds_ranges() {
        let deny = [
            Network::parse("10.0.0.0/8").unwrap(),
            Network::parse("127.0.0.0/8").unwrap(),
            Network::parse("fc00::/7").unwrap(),
        ];
        assert_eq!(
            check(ip("10.0.0.1"), &deny).unwrap_err().0,
            "refused: 10.0.0.1 is in callback_deny_networks (10.0.0.0/8)"
        );
        assert!(check(ip("::ffff:127.0.0.1"), &deny).is_err());
        assert!(check(ip("fd00::5"), &deny).is_err());
        assert_eq!(check(ip("192.168.1.1"), &deny), Ok(()));
        assert_eq!(check(ip("::1"), &deny), Ok(()));
    }

    #[tokio::test]
    async fn names_are_vetted_after_resolution() {
        let r = Vetted {
            deny: Arc::from(vec![Network::parse("127.0.0.0/8").unwrap()]),
        };
        let err = r.resolve("localhost".parse().unwrap()).await.err();
        // `localhost` resolves to 127.0.0.1 (and maybe ::1): refused by the deny list.
        let err = err.expect("refused");
        let why = refusal(err.as_ref()).expect("a refusal");
        assert!(why.0.contains("callback_deny_networks"), "{why}");
        assert!(why.0.ends_with("(resolved from localhost)"), "{why}");
        let open = Vetted {
            deny: Arc::from(Vec::new()),
        };
        let addrs: Vec<_> = open
            .resolve("localhost".parse().unwrap())
            .await
            .expect("localhost resolves")
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
