//! Who the client is, when requests come through proxies: [`TrustedProxies`].

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;

/// Which proxies in front of the service may say who the client is.
///
/// The hops a request went through are the entries of one forwarding header, the one your
/// proxies append to ([`ForwardingHeader`]: `X-Forwarded-For` by default, or RFC 7239's
/// `Forwarded`), left to right, followed by the peer address of the connection. The other header
/// is never read: a proxy that appends to one passes the other through as the client wrote it.
/// The client is the **rightmost hop that is not a trusted proxy**: every hop to its right was
/// added by a proxy you run, while entries to its left are whatever the client sent.
///
/// ```
/// use kafka_events::middleware::TrustedProxies;
///
/// // The client sent `X-Forwarded-For: 6.6.6.6`; the load balancer (10.0.0.2) appended the
/// // address it saw, 203.0.113.9, and connected to the service.
/// let headers = http::HeaderMap::from_iter([(
///     http::header::HeaderName::from_static("x-forwarded-for"),
///     http::HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
/// )]);
/// let peer = Some("10.0.0.2".parse().unwrap());
/// assert_eq!(TrustedProxies::none().client(peer, &headers), "10.0.0.2");
/// assert_eq!(TrustedProxies::count(1).client(peer, &headers), "203.0.113.9");
/// let ranges = TrustedProxies::ranges(["10.0.0.0/8"]).unwrap();
/// assert_eq!(ranges.client(peer, &headers), "203.0.113.9");
/// // A peer outside the trusted ranges is the client, whatever it claims.
/// assert_eq!(ranges.client(Some("198.51.100.7".parse().unwrap()), &headers), "198.51.100.7");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    trust: Trust,
    header: ForwardingHeader,
}

/// The header your proxies append the address they saw to: the only one
/// [`TrustedProxies`] reads.
///
/// ```
/// use kafka_events::middleware::{ForwardingHeader, TrustedProxies};
///
/// let headers = http::HeaderMap::from_iter([
///     (http::header::FORWARDED, http::HeaderValue::from_static("for=203.0.113.9")),
///     (
///         http::header::HeaderName::from_static("x-forwarded-for"),
///         http::HeaderValue::from_static("6.6.6.6"),
///     ),
/// ]);
/// let peer = Some("10.0.0.2".parse().unwrap());
/// let proxies = TrustedProxies::count(1).header(ForwardingHeader::Forwarded);
/// assert_eq!(proxies.client(peer, &headers), "203.0.113.9");
/// assert_eq!(TrustedProxies::count(1).client(peer, &headers), "6.6.6.6");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default: what most load balancers write).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`: its `for=` parameters.
    Forwarded,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Trust {
    #[default]
    None,
    Count(usize),
    Ranges(Vec<IpRange>),
}

/// An address range (`10.0.0.0/8`, `2001:db8::/32`) or address that [`TrustedProxies::ranges`]
/// could not read.
///
/// ```
/// use kafka_events::middleware::{InvalidRange, TrustedProxies};
///
/// // A prefix longer than the address: the first entry that can't be read is named.
/// let error = TrustedProxies::ranges(["10.0.0.0/8", "10.0.0.0/33", "proxy-1"]).unwrap_err();
/// assert_eq!(error, InvalidRange("10.0.0.0/33".into()));
/// assert_eq!(
///     error.to_string(),
///     "`10.0.0.0/33` is not an IP address or range: write `10.0.0.0/8`, `2001:db8::/32` or `192.0.2.7`"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or range: write `10.0.0.0/8`, `2001:db8::/32` or `192.0.2.7`")]
pub struct InvalidRange(pub String);

impl TrustedProxies {
    /// No proxy is trusted: the client is the peer address (the default).
    pub fn none() -> Self {
        TrustedProxies::default()
    }

    /// The `n` hops nearest the service are your proxies: the peer and `n - 1` entries of the
    /// forwarding header (with one load balancer in front, `count(1)`).
    pub fn count(n: usize) -> Self {
        TrustedProxies {
            trust: if n == 0 { Trust::None } else { Trust::Count(n) },
            header: ForwardingHeader::default(),
        }
    }

    /// Reads this forwarding header (`X-Forwarded-For` unless you say otherwise) and never the
    /// other.
    pub fn header(mut self, header: ForwardingHeader) -> Self {
        self.header = header;
        self
    }

    /// Hops whose address is in one of these ranges are your proxies. The headers are read
    /// only when the peer itself is one, so the peer address must be known (axum:
    /// `into_make_service_with_connect_info::<SocketAddr>()`); without it the client is
    /// unknown (an empty `source_ip`), since anyone could have written the headers.
    pub fn ranges<I, S>(ranges: I) -> Result<Self, InvalidRange>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let ranges = ranges
            .into_iter()
            .map(|r| r.as_ref().parse())
            .collect::<Result<Vec<IpRange>, _>>()?;
        Ok(TrustedProxies {
            trust: Trust::Ranges(ranges),
            header: ForwardingHeader::default(),
        })
    }

    /// The client's address for a request from `peer` with these headers; empty when unknown.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> String {
        let peer_text = || peer.map_or_else(String::new, ip_text);
        match &self.trust {
            Trust::None => peer_text(),
            Trust::Count(n) => {
                let mut hops = forwarded_hops(self.header, headers);
                // The peer is the nearest proxy; unknown, it is still one of the `n`.
                let listed = match peer {
                    Some(peer) => {
                        hops.push(ip_text(peer));
                        *n
                    }
                    None => n - 1,
                };
                if hops.is_empty() {
                    return String::new();
                }
                let client = hops.len().saturating_sub(listed + 1);
                hops.swap_remove(client)
            }
            Trust::Ranges(ranges) => {
                let trusted = |hop: &str| {
                    parse_ip(hop).is_some_and(|ip| ranges.iter().any(|r| r.contains(ip)))
                };
                match peer {
                    // Headers are believed only from a proxy of yours.
                    None => return String::new(),
                    Some(peer) if !ranges.iter().any(|r| r.contains(peer)) => {
                        return ip_text(peer);
                    }
                    Some(_) => {}
                }
                let hops = forwarded_hops(self.header, headers);
                match hops.iter().rposition(|hop| !trusted(hop)) {
                    Some(client) => hops[client].clone(),
                    None => hops.into_iter().next().unwrap_or_else(peer_text),
                }
            }
        }
    }
}

/// The hops `header` lists, left to right: `Forwarded`'s `for=` values or `X-Forwarded-For`'s
/// entries. Each is an address without its port, or the header's text for what is not an
/// address (`unknown`, an obfuscated name), cut to 64 visible characters.
fn forwarded_hops(header: ForwardingHeader, headers: &HeaderMap) -> Vec<String> {
    let entries: Vec<String> = if header == ForwardingHeader::Forwarded {
        headers
            .get_all(http::header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| value.trim().trim_matches('"').to_owned())
                })
            })
            .collect()
    } else {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    };
    entries
        .into_iter()
        .map(|hop| match parse_ip(&hop) {
            Some(ip) => ip_text(ip),
            None => hop
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect(),
        })
        .collect()
}

/// `ip` as `Display` writes it; an IPv4 address (most clients) without going through `fmt`,
/// which costs more than the rest of reading the client's address.
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text.push('.');
                }
                text.push_str(itoa::Buffer::new().format(octet));
            }
            text
        }
        IpAddr::V6(_) => ip.to_string(),
    }
}

/// An address as the headers write it: `192.0.2.7`, `192.0.2.7:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`.
fn parse_ip(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for IpRange {
    type Err = InvalidRange;

    fn from_str(text: &str) -> Result<Self, InvalidRange> {
        let invalid = || InvalidRange(text.to_owned());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| invalid())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(invalid)?,
            None => max,
        };
        Ok(IpRange { network, prefix })
    }
}

impl IpRange {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.network, ip) {
            // An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            _ => ip,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn addresses_are_written_as_display_writes_them(v4 in proptest::prelude::any::<u32>(), v6 in proptest::prelude::any::<u128>()) {
            for ip in [IpAddr::from(v4.to_be_bytes()), IpAddr::from(v6.to_be_bytes())] {
                proptest::prop_assert_eq!(ip_text(ip), ip.to_string());
            }
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    http::header::HeaderName::from_static(n),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.3")]);
        assert_eq!(
            TrustedProxies::none().client(ip("10.0.0.2"), &h),
            "10.0.0.2"
        );
        assert_eq!(
            TrustedProxies::count(1).client(ip("10.0.0.2"), &h),
            "10.0.0.3"
        );
        assert_eq!(
            TrustedProxies::count(2).client(ip("10.0.0.2"), &h),
            "203.0.113.9"
        );
        assert_eq!(
            TrustedProxies::count(9).client(ip("10.0.0.2"), &h),
            "6.6.6.6"
        );
        let ranges = TrustedProxies::ranges(["10.0.0.0/8", "192.168.0.0/16"]).unwrap();
        assert_eq!(ranges.client(ip("10.0.0.2"), &h), "203.0.113.9");
        // Headers from a peer that is not a trusted proxy are not believed.
        assert_eq!(ranges.client(ip("6.6.6.6"), &h), "6.6.6.6");
        // No peer known (no ConnectInfo): nobody can tell who wrote the headers.
        assert_eq!(ranges.client(None, &h), "");
        assert_eq!(TrustedProxies::count(1).client(None, &headers(&[])), "");
        assert_eq!(TrustedProxies::count(2).client(None, &h), "203.0.113.9");
    }

    #[test]
    fn only_the_chosen_forwarding_header_is_read() {
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.3",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        let forwarded = ForwardingHeader::Forwarded;
        let ranges = TrustedProxies::ranges(["10.0.0.0/8"])
            .unwrap()
            .header(forwarded);
        assert_eq!(ranges.client(ip("10.0.0.2"), &h), "2001:db8:cafe::17");
        assert_eq!(
            TrustedProxies::count(2)
                .header(forwarded)
                .client(ip("10.0.0.2"), &h),
            "6.6.6.6"
        );
        let obfuscated = headers(&[("forwarded", "for=_hidden, for=10.1.2.3")]);
        assert_eq!(ranges.client(ip("10.0.0.2"), &obfuscated), "_hidden");
        // X-Forwarded-For (the default) is read alone: a client-sent `Forwarded` changes nothing,
        // nor does one without `for=`.
        let spoofed = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=6.6.6.6"),
        ]);
        assert_eq!(
            TrustedProxies::count(1).client(ip("10.0.0.2"), &spoofed),
            "203.0.113.9"
        );
        let ranges = TrustedProxies::ranges(["10.0.0.0/8"]).unwrap();
        assert_eq!(ranges.client(ip("10.0.0.2"), &spoofed), "203.0.113.9");
        let hiding = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "x")]);
        assert_eq!(ranges.client(ip("10.0.0.2"), &hiding), "203.0.113.9");
    }

    #[test]
    fn ranges_and_addresses() {
        let r = |s: &str| s.parse::<IpRange>().unwrap();
        assert!(r("10.0.0.0/8").contains("10.255.1.1".parse().unwrap()));
        assert!(!r("10.0.0.0/8").contains("11.0.0.1".parse().unwrap()));
        assert!(r("10.0.0.0/8").contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(r("2001:db8::/32").contains("2001:db8:1::1".parse().unwrap()));
        assert!(r("192.0.2.7").contains("192.0.2.7".parse().unwrap()));
        assert!(r("0.0.0.0/0").contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "not-an-ip", "10.0.0/8", "::/129"] {
            assert!(bad.parse::<IpRange>().is_err(), "{bad}");
        }
        assert_eq!(parse_ip("192.0.2.7:4711"), ip("192.0.2.7"));
        assert_eq!(parse_ip("[2001:db8::1]:80"), ip("2001:db8::1"));
    }
}
