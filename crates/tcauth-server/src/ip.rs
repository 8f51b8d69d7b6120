//! Which address a per-IP limit counts: the send limits, the connection caps, the admin
//! lockout; and [`Network`], an address range in CIDR notation (`callback_deny_networks`).
//! Pure.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// An address range, `192.168.0.0/16` or `fd00::/8` (a bare address is its own /32 or /128).
/// The address is kept with the host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses CIDR notation; the message says what is wrong. Host bits set below the prefix
    /// (`10.1.2.3/8`) are refused, as a typo for another range is likelier than intent.
    pub fn parse(text: &str) -> Result<Network, String> {
        let t = text.trim();
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (t, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{t:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => return Err(format!("{t:?}: the prefix length must be 0 to {max}")),
            },
        };
        let net = Network { addr, prefix };
        if net.masked(addr) != addr {
            return Err(format!(
                "{t:?} has host bits set below /{prefix}; did you mean {}?",
                Network {
                    addr: net.masked(addr),
                    prefix
                }
            ));
        }
        Ok(net)
    }

    /// `ip` with the bits below this network's prefix cleared.
    fn masked(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(a) => {
                let m = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
            }
            IpAddr::V6(a) => {
                let m = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
            }
        }
    }

    /// Whether `ip` is in the range. An IPv4 network also holds the IPv6 forms of its
    /// addresses that [`embedded_v4`] reads (`::ffff:10.0.0.1`, `::10.0.0.1`,
    /// `64:ff9b::10.0.0.1`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match embedded_v4(v6) {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (_, ip) => ip,
        };
        self.addr.is_ipv4() == ip.is_ipv4() && self.masked(ip) == self.addr
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`,
/// deprecated but still routed by some stacks) or NAT64 (`64:ff9b::a.b.c.d`, RFC 6052's
/// well-known prefix: a NAT64 gateway connects to the IPv4 address) IPv6 address; `None` for
/// other addresses, and for `::` and `::1`, which are IPv6's own.
pub fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let o = v6.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if o[..12].iter().all(|b| *b == 0) && u128::from(v6) > 1 {
        return Some(last);
    }
    if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(last);
    }
    None
}

/// The text of an IP's key: `192.0.2.1`, or `2001:db8:1:2::/64`.
pub fn ip_label(ip: IpAddr) -> String {
    match key_of(ip) {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("{a}/64"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_contain() {
        let n = Network::parse("10.0.0.0/8").unwrap();
        assert_eq!(n.to_string(), "10.0.0.0/8");
        assert!(n.contains(ip("10.255.0.1")));
        assert!(n.contains(ip("::ffff:10.0.0.1")));
        assert!(n.contains(ip("::10.0.0.1")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(!n.contains(ip("fe80::1")));
        let one = Network::parse(" 127.0.0.1 ").unwrap();
        assert_eq!(one.to_string(), "127.0.0.1/32");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all = Network::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("2001:db8::1")));
        let v6 = Network::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(Network::parse("::/0").unwrap().contains(ip("::1")));
        for bad in [
            "",
            "10.0.0/8",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.1.0.0/8",
            "fd00::/129",
            "example.com/8",
            "10.0.0.0/8/8",
        ] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
        assert!(Network::parse("10.1.0.0/8")
            .unwrap_err()
            .contains("10.0.0.0/8"));
    }

    #[test]
    fn embedded_v4_forms() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(
            embedded_v4(v6("::ffff:169.254.169.254")),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        assert_eq!(
            embedded_v4(v6("::169.254.169.254")),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        assert_eq!(
            embedded_v4(v6("64:ff9b::169.254.169.254")),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        assert_eq!(embedded_v4(v6("64:ff9b:1::a9fe:a9fe")), None);
        assert_eq!(embedded_v4(v6("::1")), None);
        assert_eq!(embedded_v4(v6("::")), None);
        assert_eq!(embedded_v4(v6("2001:db8::1")), None);
    }
}
