//! Which address a per-IP limit counts: the send limits, the connection caps. Pure.

use std::net::IpAddr;

/// Which IP counts: IPv4 addresses one by one, IPv6 addresses by /64 (one customer's network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpKey {
    V4([u8; 4]),
    V6([u8; 8]),
}

pub fn ip_key(ip: IpAddr) -> IpKey {
    match ip {
        IpAddr::V4(v4) => IpKey::V4(v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpKey::V4(v4.octets()),
            None => {
                let mut p = [0u8; 8];
                p.copy_from_slice(&v6.octets()[..8]);
                IpKey::V6(p)
            }
        },
    }
}

/// The text of an IP's key: `192.0.2.1`, or `2001:db8:1:2::/64`.
pub fn ip_label(ip: IpAddr) -> String {
    match ip_key(ip) {
        IpKey::V4(o) => std::net::Ipv4Addr::from(o).to_string(),
        IpKey::V6(p) => {
            let mut o = [0u8; 16];
            o[..8].copy_from_slice(&p);
            format!("{}/64", std::net::Ipv6Addr::from(o))
        }
    }
}
