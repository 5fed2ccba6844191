//! The client's address: the first address of `http.client_ip_header` when filegate sits
//! behind a proxy that sets it, the connection's peer otherwise (`serve` records it with
//! `into_make_service_with_connect_info`). The audit trail records it; per-address rate
//! limits count by it.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use http::{Extensions, HeaderMap};

/// `header` is the configured header name, lowercased.
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions, header: Option<&str>) -> Option<IpAddr> {
    let forwarded = header
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    forwarded.or(peer).map(|ip| ip.to_canonical())
}

/// The network one client is counted as: its IPv4 address, or the /64 of its IPv6 address
/// (one subscriber usually holds a whole /64, so counting single IPv6 addresses would let
/// a client step around its limit).
pub fn rate_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_peer(addr: &str) -> Extensions {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(addr.parse::<SocketAddr>().unwrap()));
        extensions
    }

    #[test]
    fn the_proxy_header_wins_only_when_configured_and_valid() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.1".parse().unwrap());
        let peer = with_peer("127.0.0.1:5000");
        let ip = |h: &HeaderMap, name| client_ip(h, &peer, name).map(|ip| ip.to_string());
        assert_eq!(ip(&headers, Some("x-forwarded-for")).as_deref(), Some("203.0.113.7"));
        assert_eq!(ip(&headers, None).as_deref(), Some("127.0.0.1"), "not configured");
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(ip(&headers, Some("x-forwarded-for")).as_deref(), Some("127.0.0.1"));
        assert_eq!(client_ip(&HeaderMap::new(), &Extensions::new(), None), None);
        // An IPv4-mapped IPv6 peer is the IPv4 client it is.
        assert_eq!(
            client_ip(&HeaderMap::new(), &with_peer("[::ffff:192.0.2.1]:80"), None),
            Some("192.0.2.1".parse().unwrap())
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let net = |s: &str| rate_network(s.parse().unwrap()).to_string();
        assert_eq!(net("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
        assert_eq!(net("2001:db8:1:2::ffff"), "2001:db8:1:2::");
        assert_ne!(net("2001:db8:1:3::1"), net("2001:db8:1:2::1"));
        assert_eq!(net("192.0.2.1"), "192.0.2.1");
    }
}
