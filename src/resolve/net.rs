//! CIDR arithmetic for service and pod ranges (IPv4 and IPv6), with no host bits allowed.

use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cidr {
    pub network: IpAddr,
    pub prefix: u8,
}

/// Why a CIDR string was refused, worded for the diagnostic label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    Syntax,
    Prefix { max: u8 },
    HostBits { canonical: String },
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Syntax => write!(f, "expected an IP range such as `10.96.0.0/16` or `fd00::/108`"),
            CidrError::Prefix { max } => write!(f, "the prefix length must be at most {max}"),
            CidrError::HostBits { canonical } => write!(f, "host bits are set; the network is `{canonical}`"),
        }
    }
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrError::Syntax)?;
        let network: IpAddr = addr.parse().map_err(|_| CidrError::Syntax)?;
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Syntax)?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(CidrError::Prefix { max });
        }
        let cidr = Cidr { network, prefix };
        let masked = cidr.masked();
        if masked != network {
            return Err(CidrError::HostBits { canonical: Cidr { network: masked, prefix }.to_string() });
        }
        Ok(cidr)
    }

    fn bits(&self) -> u32 {
        if self.network.is_ipv4() { 32 } else { 128 }
    }

    fn as_u128(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(v4) => u32::from(v4) as u128,
            IpAddr::V6(v6) => u128::from(v6),
        }
    }

    fn from_u128(&self, v: u128) -> IpAddr {
        match self.network {
            IpAddr::V4(_) => IpAddr::V4((v as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(v.into()),
        }
    }

    fn host_mask(&self) -> u128 {
        let host_bits = self.bits() - u32::from(self.prefix);
        if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 }
    }

    fn masked(&self) -> IpAddr {
        self.from_u128(Self::as_u128(self.network) & !self.host_mask())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.network.is_ipv4() && (Self::as_u128(ip) & !self.host_mask()) == Self::as_u128(self.network)
    }

    /// The `n`-th address of the range (0 is the network address), if the range has it.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        (n <= self.host_mask()).then(|| self.from_u128(Self::as_u128(self.network) + n))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_counts() {
        let c = Cidr::parse("10.96.0.0/16").unwrap();
        assert_eq!(c.nth(1).unwrap().to_string(), "10.96.0.1");
        assert_eq!(c.nth(10).unwrap().to_string(), "10.96.0.10");
        assert!(c.contains("10.96.255.255".parse().unwrap()));
        assert!(!c.contains("10.97.0.1".parse().unwrap()));
        let v6 = Cidr::parse("fd00:10:96::/108").unwrap();
        assert_eq!(v6.nth(10).unwrap().to_string(), "fd00:10:96::a");
        assert!(!v6.contains("10.96.0.1".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/30").unwrap().nth(4), None);
    }

    #[test]
    fn refuses_bad_ranges() {
        assert_eq!(Cidr::parse("10.96.0.0/33"), Err(CidrError::Prefix { max: 32 }));
        assert_eq!(Cidr::parse("10.96.1.0/16"), Err(CidrError::HostBits { canonical: "10.96.0.0/16".into() }));
        assert_eq!(Cidr::parse("10.96.0.0"), Err(CidrError::Syntax));
        assert_eq!(Cidr::parse("banana/8"), Err(CidrError::Syntax));
    }
}
