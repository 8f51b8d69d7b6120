//! Which address a per-IP limit counts: the send limits, the connection caps, the admin
//! lockout. Pure.

use std::net::{IpAddr, Ipv6Addr};

/// Which IP counts: IPv4 addresses one by one, IPv6 addresses by /64 (one customer's network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpKey {
    V4([u8; 4]),
    V6([u8; 8]),
}

/// The address a limit counts for `ip`: an IPv4 address (IPv4-mapped IPv6 included) as is, an
/// IPv6 address by its /64. The one rule: [`ip_key`], [`ip_label`] and the admin lockout's
/// keys are this address.
pub fn key_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// [`key_of`], compact (for the connection caps' and send limits' maps).
pub fn ip_key(ip: IpAddr) -> IpKey {
    match key_of(ip) {
        IpAddr::V4(v4) => IpKey::V4(v4.octets()),
        IpAddr::V6(v6) => {
            let mut p = [0u8; 8];
            p.copy_from_slice(&v6.octets()[..8]);
            IpKey::V6(p)
        }
    }
}

/// The text of an IP's key: `192.0.2.1`, or `2001:db8:1:2::/64`.
pub fn ip_label(ip: IpAddr) -> String {
    match key_of(ip) {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("{a}/64"),
    }
}
