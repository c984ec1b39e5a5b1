//! Which client a request counts against: the peer address, the client address
//! behind trusted proxies, an IPv6 prefix, a header, one global key, or a closure.

use http::request::Parts;
use http::{HeaderName, HeaderValue};
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The key a request is limited under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Key {
    /// A client address (IPv6 already cut to its prefix).
    Ip(IpAddr),
    /// A header's value (an API key).
    Header(HeaderValue),
    /// Any text a closure chose.
    Text(String),
    /// Any number a closure chose (a user id).
    Number(u64),
    /// One key for every request.
    Global,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Header(v) => f.write_str(v.to_str().unwrap_or("<binary>")),
            Self::Text(t) => f.write_str(t),
            Self::Number(n) => write!(f, "{n}"),
            Self::Global => f.write_str("<global>"),
        }
    }
}

/// A closure from the request's head (and its client address, if known) to a key;
/// `None` means the key could not be extracted.
pub type KeyFn = dyn Fn(&Parts, Option<IpAddr>) -> Option<Key> + Send + Sync;

/// How the layer finds a request's key.
#[derive(Clone)]
pub enum KeyExtractor {
    /// The client address (the default): the peer address, or, when the peer is a
    /// trusted proxy, the address it forwarded (see
    /// [`RateLimitLayer::trust_proxies`](crate::http::RateLimitLayer::trust_proxies));
    /// IPv6 cut to its prefix.
    ClientIp,
    /// The peer address, whatever the headers say; IPv6 cut to its prefix.
    Peer,
    /// The value of this header (an API key); a request without it fails extraction.
    Header(HeaderName),
    /// One key for every request.
    Global,
    /// Any closure.
    Custom(Arc<KeyFn>),
}

impl KeyExtractor {
    /// A closure over the request's head and its client address.
    pub fn custom(
        f: impl Fn(&Parts, Option<IpAddr>) -> Option<Key> + Send + Sync + 'static,
    ) -> Self {
        Self::Custom(Arc::new(f))
    }

    pub(crate) fn needs_client_ip(&self) -> bool {
        matches!(self, Self::ClientIp | Self::Custom(_))
    }

    pub(crate) fn extract(
        &self,
        parts: &Parts,
        client: Option<IpAddr>,
        cfg: &ClientIp,
    ) -> Option<Key> {
        match self {
            Self::ClientIp => client.map(|ip| Key::Ip(cfg.prefix(ip))),
            Self::Peer => peer_addr(parts).map(|ip| Key::Ip(cfg.prefix(ip))),
            Self::Header(name) => parts.headers.get(name).cloned().map(Key::Header),
            Self::Global => Some(Key::Global),
            Self::Custom(f) => f(parts, client),
        }
    }
}

impl fmt::Debug for KeyExtractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientIp => f.write_str("ClientIp"),
            Self::Peer => f.write_str("Peer"),
            Self::Header(h) => f.debug_tuple("Header").field(h).finish(),
            Self::Global => f.write_str("Global"),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// The header a trusted proxy reports the client address in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the default).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// How the client address is found and cut.
#[derive(Clone, Debug)]
pub(crate) struct ClientIp {
    pub(crate) trusted: Vec<IpNet>,
    pub(crate) header: ForwardedHeader,
    pub(crate) v4_prefix: u8,
    pub(crate) v6_prefix: u8,
}

impl Default for ClientIp {
    fn default() -> Self {
        Self {
            trusted: Vec::new(),
            header: ForwardedHeader::XForwardedFor,
            v4_prefix: 32,
            v6_prefix: 64,
        }
    }
}

impl ClientIp {
    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| contains(net, ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then
    /// the forwarded chain is walked from the right and the first untrusted address
    /// is the client (nginx `real_ip_recursive on`). An entry that does not parse
    /// ends the walk at the last trusted hop, so garbage never becomes a key.
    pub(crate) fn resolve(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = peer_addr(parts)?;
        if self.trusted.is_empty() || !self.is_trusted(peer) {
            return Some(peer);
        }
        let name = match self.header {
            ForwardedHeader::XForwardedFor => X_FORWARDED_FOR,
            ForwardedHeader::Forwarded => http::header::FORWARDED,
        };
        let mut current = peer;
        for value in parts.headers.get_all(name).iter().rev() {
            let Ok(text) = value.to_str() else {
                return Some(current);
            };
            for entry in text.rsplit(',') {
                let parsed = match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(entry),
                    ForwardedHeader::Forwarded => forwarded_for(entry).and_then(parse_node),
                };
                let Some(ip) = parsed else {
                    return Some(current);
                };
                current = ip;
                if !self.is_trusted(ip) {
                    return Some(ip);
                }
            }
        }
        Some(current)
    }

    /// The address cut to its configured prefix (IPv4 /32 and IPv6 /64 by default).
    pub(crate) fn prefix(&self, ip: IpAddr) -> IpAddr {
        mask(ip, self.v4_prefix, self.v6_prefix)
    }
}

/// The peer address: axum's `ConnectInfo<SocketAddr>`, or a `SocketAddr` or
/// `IpAddr` a hyper server put in the request extensions.
pub fn peer_addr(parts: &Parts) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0.ip().to_canonical());
    }
    let ext = &parts.extensions;
    ext.get::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|| ext.get::<IpAddr>().copied())
        .map(|ip| ip.to_canonical())
}

/// Cuts `ip` to its first `v4` or `v6` bits.
pub(crate) fn mask(ip: IpAddr, v4: u8, v6: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(v4.min(32)))
                .unwrap_or(0);
            IpAddr::from((u32::from(a) & keep).to_be_bytes())
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(v6.min(128)))
                .unwrap_or(0);
            IpAddr::from((u128::from(a) & keep).to_be_bytes())
        }
    }
}

/// Whether `net` holds `ip`: the bits under the prefix agree. `IpNet::contains`
/// computes the network and broadcast addresses first, on every request.
pub(crate) fn contains(net: &IpNet, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(n.prefix_len()))
                .unwrap_or(0);
            (u32::from(a) ^ u32::from(n.addr())) & keep == 0
        }
        (IpNet::V6(n), IpAddr::V6(a)) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(n.prefix_len()))
                .unwrap_or(0);
            (u128::from(a) ^ u128::from(n.addr())) & keep == 0
        }
        _ => false,
    }
}

/// One node of a forwarded chain: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:80`; anything else (`unknown`, `_hidden`) is
/// `None`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The `for=` value of one RFC 7239 element (`for=1.2.3.4;proto=https`), unquoted;
/// a quote on one side only is refused.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim();
        match (value.strip_prefix('"'), value.ends_with('"')) {
            (Some(rest), true) => rest.strip_suffix('"'),
            (None, false) => Some(value),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, header: Option<(&'static str, &str)>) -> Parts {
        let mut req = http::Request::builder().uri("/");
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        parts.extensions.insert(peer.parse::<SocketAddr>().unwrap());
        parts
    }

    fn trusting(nets: &[&str], header: ForwardedHeader) -> ClientIp {
        ClientIp {
            trusted: nets.iter().map(|n| n.parse().unwrap()).collect(),
            header,
            ..ClientIp::default()
        }
    }

    #[test]
    fn contains_agrees_with_ipnet_at_every_prefix_and_edge() {
        let v4: [IpAddr; 4] = [
            "0.0.0.0".parse().unwrap(),
            "10.1.2.3".parse().unwrap(),
            "10.1.255.255".parse().unwrap(),
            "255.255.255.255".parse().unwrap(),
        ];
        let v6: [IpAddr; 3] = [
            "::".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
            "2001:db8:0:ffff::1".parse().unwrap(),
        ];
        for len in 0..=128u8 {
            let nets = [
                (len <= 32).then(|| format!("10.1.2.3/{len}")),
                Some(format!("2001:db8::7/{len}")),
            ];
            for net in nets.into_iter().flatten() {
                let net: IpNet = net.parse().unwrap();
                for ip in v4.iter().chain(&v6) {
                    assert_eq!(contains(&net, *ip), net.contains(ip), "{net} {ip}");
                }
            }
        }
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_sends() {
        let cfg = trusting(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let p = parts("192.0.2.9:5000", Some(("x-forwarded-for", "1.1.1.1")));
        assert_eq!(cfg.resolve(&p), Some("192.0.2.9".parse().unwrap()));
    }

    #[test]
    fn rightmost_untrusted_entry_wins_over_a_forged_left_one() {
        let cfg = trusting(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let p = parts(
            "10.0.0.1:5000",
            Some(("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")),
        );
        assert_eq!(cfg.resolve(&p), Some("203.0.113.7".parse().unwrap()));
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_hop() {
        let cfg = trusting(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        for junk in ["not-an-ip", "", "999.1.1.1", "[::1", "\u{7f}"] {
            let value = format!("203.0.113.7, {junk}, 10.0.0.2");
            let Ok(hv) = HeaderValue::from_str(&value) else {
                continue;
            };
            let mut p = parts("10.0.0.1:5000", None);
            p.headers.insert("x-forwarded-for", hv);
            assert_eq!(
                cfg.resolve(&p),
                Some("10.0.0.2".parse().unwrap()),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn forwarded_header_forms() {
        let cfg = trusting(&["127.0.0.0/8"], ForwardedHeader::Forwarded);
        let p = parts(
            "127.0.0.1:1",
            Some((
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=127.0.0.2",
            )),
        );
        assert_eq!(cfg.resolve(&p), Some("2001:db8:cafe::17".parse().unwrap()));
        let p = parts("127.0.0.1:1", Some(("forwarded", "for=_hidden")));
        assert_eq!(cfg.resolve(&p), Some("127.0.0.1".parse().unwrap()));
        let p = parts("127.0.0.1:1", Some(("forwarded", "for=\"1.2.3.4")));
        assert_eq!(cfg.resolve(&p), Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn prefixes_cut_addresses() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(mask(a, 32, 64), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_eq!(mask(a, 32, 0), "::".parse::<IpAddr>().unwrap());
        assert_eq!(mask(a, 32, 128), a);
        let b: IpAddr = "192.0.2.200".parse().unwrap();
        assert_eq!(mask(b, 24, 64), "192.0.2.0".parse::<IpAddr>().unwrap());
        assert_eq!(mask(b, 0, 64), "0.0.0.0".parse::<IpAddr>().unwrap());
    }
}
