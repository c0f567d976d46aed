//! IP addresses and CIDR blocks read the way Python's `ipaddress` reads them
//! (`ip_address` and `ip_network(strict=False)`), which is what the
//! interpreter's `cidrMatch` uses: dotted quads without leading zeros, IPv6
//! with an optional `%scope`, blocks as `addr/prefix`, a bare address (a
//! host block), or for IPv4 `addr/netmask` and `addr/hostmask`.

use std::net::Ipv6Addr;

/// An address as an integer with its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ip {
    V4(u32),
    V6(u128),
}

/// A block: family, network bits and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    base: Ip,
    prefix: u32,
}

impl Block {
    /// Whether `ip` is in the block (families must agree).
    pub fn contains(&self, ip: Ip) -> bool {
        match (self.base, ip) {
            (Ip::V4(net), Ip::V4(a)) => mask32(self.prefix) & (a ^ net) == 0,
            (Ip::V6(net), Ip::V6(a)) => mask128(self.prefix) & (a ^ net) == 0,
            _ => false,
        }
    }
}

fn mask32(prefix: u32) -> u32 {
    u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
}

fn mask128(prefix: u32) -> u128 {
    u128::MAX.checked_shl(128 - prefix).unwrap_or(0)
}

/// `ipaddress.ip_address(text)`.
pub fn parse_ip(text: &str) -> Option<Ip> {
    parse_v4(text)
        .map(Ip::V4)
        .or_else(|| parse_v6(text).map(Ip::V6))
}

fn parse_v4(text: &str) -> Option<u32> {
    let mut parts = text.split('.');
    let mut value = 0u32;
    for _ in 0..4 {
        value = value << 8 | parse_octet(parts.next()?)?;
    }
    parts.next().is_none().then_some(value)
}

fn parse_octet(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None; // Python refuses leading zeros (they look octal)
    }
    text.parse::<u32>().ok().filter(|&n| n <= 255)
}

fn parse_v6(text: &str) -> Option<u128> {
    if text.contains('/') {
        return None;
    }
    let address = match text.split_once('%') {
        // A scope id must be non-empty and contain no further `%`.
        Some((address, scope)) if !scope.is_empty() && !scope.contains('%') => address,
        Some(_) => return None,
        None => text,
    };
    address.parse::<Ipv6Addr>().ok().map(u128::from)
}

/// `ipaddress.ip_network(text, strict=False)`.
pub fn parse_block(text: &str) -> Option<Block> {
    let (address, mask) = match text.split_once('/') {
        Some((a, m)) if !m.contains('/') => (a, Some(m)),
        Some(_) => return None,
        None => (text, None),
    };
    if let Some(ip) = parse_v4(address) {
        let prefix = match mask {
            None => 32,
            Some(m) => prefix_number(m, 32).or_else(|| v4_mask_prefix(m))?,
        };
        return Some(Block {
            base: Ip::V4(ip & mask32(prefix)),
            prefix,
        });
    }
    let ip = parse_v6(address)?;
    let prefix = match mask {
        None => 128,
        Some(m) => prefix_number(m, 128)?,
    };
    Some(Block {
        base: Ip::V6(ip & mask128(prefix)),
        prefix,
    })
}

fn prefix_number(text: &str, max: u32) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Leading zeros are fine here (`/08`); a long run of them still parses.
    let digits = text.trim_start_matches('0');
    if digits.len() > 3 {
        return None;
    }
    let n = if digits.is_empty() {
        0
    } else {
        digits.parse::<u32>().ok()?
    };
    (n <= max).then_some(n)
}

/// An IPv4 netmask (`255.255.0.0`) or hostmask (`0.0.255.255`) as a prefix.
fn v4_mask_prefix(text: &str) -> Option<u32> {
    let bits = parse_v4(text)?;
    contiguous_prefix(bits).or_else(|| contiguous_prefix(!bits))
}

fn contiguous_prefix(bits: u32) -> Option<u32> {
    let prefix = 32 - bits.trailing_zeros().min(32);
    (bits == mask32(prefix)).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_block(ip: &str, block: &str) -> bool {
        parse_block(block).unwrap().contains(parse_ip(ip).unwrap())
    }

    #[test]
    fn v4_blocks() {
        assert!(in_block("10.6.48.157", "10.0.0.0/8"));
        assert!(in_block("10.6.48.157", "10.6.48.157/8"));
        assert!(!in_block("11.0.0.1", "10.0.0.0/8"));
        assert!(in_block("1.2.3.4", "0.0.0.0/0"));
        assert!(in_block("1.2.3.4", "1.2.3.4"));
        assert!(in_block("192.168.1.9", "192.168.0.0/255.255.0.0"));
        assert!(in_block("192.168.1.9", "192.168.0.0/0.0.255.255"));
        assert!(in_block("192.168.1.9", "192.168.0.0/016"));
        assert!(parse_block("10.0.0.0/33").is_none());
        assert!(parse_block("10.0.0.0/").is_none());
        assert!(parse_block("10.0.0.0/255.0.255.0").is_none());
        assert!(parse_ip("01.2.3.4").is_none());
        assert!(parse_ip("1.2.3").is_none());
        assert!(parse_ip(" 1.2.3.4").is_none());
    }

    #[test]
    fn v6_blocks() {
        assert!(in_block("fe80::1", "fe80::/10"));
        assert!(in_block("fe80::1%eth0", "fe80::/10"));
        assert!(!in_block("::ffff:10.0.0.1", "10.0.0.0/8"));
        assert!(!in_block("10.0.0.1", "::/0"));
        assert!(parse_ip("fe80::1%").is_none());
        assert!(parse_block("::/129").is_none());
        assert!(parse_block("::/ffff::").is_none());
    }
}
