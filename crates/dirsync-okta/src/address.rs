//! The addresses an Okta org can never be at (SSRF): one table, used for IP
//! literals in instance URLs, for what names resolve to when a tenant is
//! registered (`dirsync-api`), and for what they resolve to at every
//! connection (the client's resolver).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a customer's token must never be sent to `ip`, or `None` for an
/// ordinary public address.
///
/// Refused: unspecified, loopback, private (RFC 1918, IPv6 unique local),
/// link-local, shared (CGNAT), IETF-reserved, documentation, benchmarking,
/// multicast, broadcast, reserved, the cloud metadata services
/// (`169.254.169.254`, `fd00:ec2::254`, Azure's and Alibaba's), and IPv4
/// addresses dressed as IPv6: mapped (`::ffff:a.b.c.d`) and compatible
/// (`::a.b.c.d`) always; 6to4 (`2002::/16`) and well-known NAT64
/// (`64:ff9b::/96`, what DNS64 answers in an IPv6-only cluster) by the IPv4
/// address they carry; Teredo, local-use NAT64 and IPv6 outside the global
/// unicast range `2000::/3` always.
///
/// The reason is a short phrase that fits "a {reason} address".
pub fn forbidden_address(ip: &IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(*v4),
        IpAddr::V6(v6) => forbidden_v6(*v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let kind = match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "cloud metadata",
        // Azure's wire server and Alibaba's metadata service.
        _ if ip == Ipv4Addr::new(168, 63, 129, 16) => "cloud metadata",
        _ if ip == Ipv4Addr::new(100, 100, 100, 200) => "cloud metadata",
        _ if ip.is_broadcast() => "broadcast",
        (0, ..) => "unspecified (0.0.0.0/8)",
        (10, ..) => "private",
        (127, ..) => "loopback",
        (169, 254, _) => "link-local",
        (172, 16..=31, _) => "private",
        (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) => "IETF-reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    };
    Some(kind)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("cloud metadata");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.to_ipv4_mapped().is_some() {
        return Some("IPv4-mapped");
    }
    let kind = match s[0] {
        // ::a.b.c.d, the deprecated IPv4-compatible form.
        0 if s[1..6] == [0; 5] => "IPv4-compatible",
        0x64 if s[1..6] == [0xff9b, 0, 0, 0, 0] => {
            // Well-known NAT64: the embedded IPv4 address decides.
            forbidden_v4(embedded_v4(s[6], s[7]))?
        }
        0x64 if s[1] == 0xff9b && s[2] == 1 => "local NAT64",
        0x100 if s[1..4] == [0; 3] => "discard-only",
        0x2001 if s[1] == 0 => "Teredo",
        0x2001 if s[1] == 2 && s[2] == 0 => "benchmarking",
        // 2001::/23, the rest of the IETF protocol assignments.
        0x2001 if s[1] < 0x200 => "IETF-reserved",
        0x2001 if s[1] == 0xdb8 => "documentation",
        0x3fff if s[1] < 0x1000 => "documentation",
        0x2002 => {
            // 6to4: the embedded IPv4 address decides.
            forbidden_v4(embedded_v4(s[1], s[2]))?
        }
        x if x & 0xfe00 == 0xfc00 => "private (unique local)",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "site-local",
        x if x & 0xff00 == 0xff00 => "multicast",
        // Everything else outside 2000::/3 is unassigned or reserved.
        x if x & 0xe000 != 0x2000 => "reserved",
        _ => return None,
    };
    Some(kind)
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(ip: &str) -> Option<&'static str> {
        forbidden_address(&ip.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for public in [
            "8.8.8.8",
            "44.231.10.5",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2600:1f14::1",
            "2a00:1450:4001:80b::200e",
            "2001:200::1",
            "2001:db9::1",
            "3fff:1000::1",
            // NAT64 and 6to4 of public addresses (DNS64 in an IPv6-only cluster).
            "64:ff9b::2ce7:a05",
            "2002:808:808::1",
        ] {
            assert_eq!(kind(public), None, "{public}");
        }
    }

    #[test]
    fn every_ipv4_category_is_refused() {
        for (ip, expected) in [
            ("169.254.169.254", "cloud metadata"),
            ("168.63.129.16", "cloud metadata"),
            ("100.100.100.200", "cloud metadata"),
            ("0.0.0.0", "unspecified (0.0.0.0/8)"),
            ("0.1.2.3", "unspecified (0.0.0.0/8)"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.0.1", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.255", "shared (CGNAT)"),
            ("192.0.0.8", "IETF-reserved"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.254", "reserved"),
            ("255.255.255.255", "broadcast"),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn every_ipv6_category_is_refused() {
        for (ip, expected) in [
            ("fd00:ec2::254", "cloud metadata"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("100::1", "discard-only"),
            ("2001::1", "Teredo"),
            ("2001:2::1", "benchmarking"),
            ("2001:10::1", "IETF-reserved"),
            ("2001:db8::1", "documentation"),
            ("3fff::1", "documentation"),
            ("64:ff9b:1::1", "local NAT64"),
            ("4000::1", "reserved"),
            ("::ffff:0:808:808", "reserved"),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv4_dressed_as_ipv6_is_judged_or_refused() {
        for (ip, expected) in [
            // Mapped and compatible forms are refused whatever they carry.
            ("::ffff:127.0.0.1", "IPv4-mapped"),
            ("::ffff:169.254.169.254", "IPv4-mapped"),
            ("::ffff:10.0.0.1", "IPv4-mapped"),
            ("::ffff:8.8.8.8", "IPv4-mapped"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("::8.8.8.8", "IPv4-compatible"),
            // NAT64 and 6to4 forms are judged by the address they carry.
            ("64:ff9b::127.0.0.1", "loopback"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b::169.254.169.254", "cloud metadata"),
            ("64:ff9b::100.64.0.1", "shared (CGNAT)"),
            ("2002:7f00:1::", "loopback"),
            ("2002:a00:1::", "private"),
            ("2002:a9fe:a9fe::1", "cloud metadata"),
            ("2002:c0a8:101::", "private"),
        ] {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }
}
