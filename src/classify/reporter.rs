//! Who logged a record: a gateway, the client's sidecar or the server's (reference §6.2; other
//! products: family reference §15), from the pod name, the layout, the cluster name and the
//! local addresses. Part of the knowledge base in [`super`], which calls [`reporter`] for every
//! record before it classifies the failures; `crate::aggregate` also uses [`ip_of`] to tell
//! inbound clusters apart by pod IP.

use memchr::memmem;

use super::Reporter;
use crate::record::{Direction, FormatKind, Record};
use crate::scan::non_digits;

/// A pod name with `gateway` in it (`istio-ingressgateway-…`, `checkout-gateway-…`). Runs per
/// record when pods are named: a byte search, not a `memmem` searcher per call.
fn names_a_gateway(pod: &[u8]) -> bool {
    crate::scan::find_literal(b"gateway", pod).is_some()
}

/// Who logged the record (reference §6.2; other products: family reference §15). The pod name
/// from the line prefix or the file path is the strongest signal: a pod named like a gateway is
/// a gateway. Then the layout, when it names the product's role (Emissary and Envoy Gateway are
/// gateways; ztunnel and Kuma say the direction), then the cluster name.
///
/// Istio ambient waypoints (`inbound-vip|…`, `connect_originate`, `main_internal`, …) count as
/// [`Reporter::ServerSidecar`]: the family reference (§10.2, §15) calls a waypoint record "the
/// server-side view of the service", the hop in front of the destination that a server sidecar
/// is in sidecar mode. ztunnel counts as the sidecar of the side it logged for: `outbound`
/// (source node) → [`Reporter::ClientSidecar`], `inbound` → [`Reporter::ServerSidecar`].
#[inline(always)]
pub fn reporter(rec: &Record<'_>, source_pod: Option<&[u8]>) -> Reporter {
    let pod = rec.meta.pod.or(source_pod);
    if pod.is_some_and(names_a_gateway) {
        return Reporter::Gateway;
    }
    if let Some(r) = reporter_by_layout(rec) {
        return r;
    }
    // Istio's own cluster names first, inline (nearly every record); the two prefixes exclude
    // each other and every name `reporter_by_cluster` tests, so the order changes nothing.
    let cluster = rec.upstream_cluster.unwrap_or(b"");
    // As arrays, the prefixes are compared inline (a slice comparison is a call).
    if cluster.first_chunk::<8>() == Some(b"inbound|") {
        return Reporter::ServerSidecar;
    }
    if cluster.first_chunk::<9>() == Some(b"outbound|") {
        return outbound_side(rec);
    }
    reporter_by_cluster(rec, cluster)
}

/// The reporter a layout implies, when it implies one.
#[inline]
fn reporter_by_layout(rec: &Record<'_>) -> Option<Reporter> {
    match rec.format {
        FormatKind::Emissary | FormatKind::EnvoyGatewayText => Some(Reporter::Gateway),
        FormatKind::Ztunnel | FormatKind::KumaHttp | FormatKind::KumaHttpPre131 | FormatKind::KumaTcp => {
            match rec.direction {
                Some(Direction::Inbound) => return Some(Reporter::ServerSidecar),
                Some(Direction::Outbound) => return Some(Reporter::ClientSidecar),
                None => {}
            }
            if rec.format == FormatKind::Ztunnel {
                return None;
            }
            // Kuma's inbound records name the source service `unknown` (family §7).
            Some(match rec.source_workload {
                Some(b"unknown") => Reporter::ServerSidecar,
                Some(_) => Reporter::ClientSidecar,
                None => Reporter::Unknown,
            })
        }
        _ => None,
    }
}

/// The reporter of a record whose cluster is not Istio's `inbound|…`/`outbound|…`.
#[inline(never)]
fn reporter_by_cluster(rec: &Record<'_>, cluster: &[u8]) -> Reporter {
    if cluster.starts_with(b"InboundPassthroughCluster") {
        return Reporter::ServerSidecar;
    }
    if matches!(cluster, b"PassthroughCluster" | b"BlackHoleCluster" | b"AllowAnyDynamicDNSCluster") {
        return outbound_side(rec);
    }
    if cluster.is_empty() {
        // No cluster chosen: Istio mTLS SNI means an inbound listener; block_all/allow_any are
        // outbound routes.
        if rec.requested_server_name.is_some_and(|s| s.starts_with(b"outbound_.")) {
            return Reporter::ServerSidecar;
        }
        if matches!(rec.route_name, Some(b"block_all" | b"allow_any")) {
            return Reporter::ClientSidecar;
        }
        return Reporter::Unknown;
    }
    match product_cluster_side(cluster) {
        Some(Side::Gateway) => Reporter::Gateway,
        Some(Side::Server) => Reporter::ServerSidecar,
        Some(Side::Client) => outbound_side(rec),
        None => Reporter::Unknown,
    }
}

/// A client-side record is a gateway's when the gateway accepted on its own pod IP and
/// connected out from it; a client sidecar accepts on the address the app dialled (a
/// ClusterIP or another pod), so the two local addresses differ.
#[inline]
fn outbound_side(rec: &Record<'_>) -> Reporter {
    if let (Some(up), Some(down)) = (rec.upstream_local_address, rec.downstream_local_address) {
        if ip_of(up).is_some_and(|ip| has_ip(down, ip)) {
            return Reporter::Gateway;
        }
    }
    Reporter::ClientSidecar
}

/// `ip_of(addr) == Some(ip)` for a non-empty `ip`, tested from the front: `addr` must continue
/// `ip` with `:` and digits only (then that `:` is the one `ip_of` finds). A client sidecar's
/// two local addresses usually differ at once, in the byte where the colon should be.
#[inline]
pub(super) fn has_ip(addr: &[u8], ip: &[u8]) -> bool {
    addr.get(ip.len()) == Some(&b':')
        && addr.starts_with(ip)
        && addr[ip.len() + 1..].iter().all(u8::is_ascii_digit)
}

/// The side a cluster name implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Gateway,
    /// Outbound from a mesh proxy (a client sidecar, or a gateway: see [`outbound_side`]).
    Client,
    /// In front of the destination: a server sidecar or an ambient waypoint.
    Server,
}

/// Cluster names of the other Envoy-family products (family reference §15), and Istio
/// ambient's waypoint clusters. Names a product shares with arbitrary user clusters (Contour's
/// and Emissary's stat names `ns_svc_port`, `quote_8080`; Gloo's `<upstream>_<ns>`) say nothing.
fn product_cluster_side(c: &[u8]) -> Option<Side> {
    // Istio ambient waypoint and HBONE internals.
    if c.starts_with(b"inbound-vip|")
        || c.starts_with(b"inbound-pod|")
        || matches!(
            c,
            b"connect_originate"
                | b"main_internal"
                | b"encap"
                | b"connect_terminate"
                | b"inner_connect_originate"
                | b"outer_connect_originate"
                | b"forward_inner_connect"
        )
    {
        return Some(Side::Server);
    }
    let slashes = memchr::memchr_iter(b'/', c).count();
    // Envoy Gateway: `httproute/ns/name/rule/0`, `tcproute/ns/name/rule/-1`, mirrors
    // `…-mirror-N`; merged backends (v1.9+) `service/ns/name/port[/protocol]`.
    const EG_KINDS: [&[u8]; 5] = [b"httproute/", b"grpcroute/", b"tcproute/", b"tlsroute/", b"udproute/"];
    if EG_KINDS.iter().any(|k| c.starts_with(k)) && memmem::find(c, b"/rule/").is_some() {
        return Some(Side::Gateway);
    }
    if c.starts_with(b"service/") && (3..=4).contains(&slashes) {
        return Some(Side::Gateway);
    }
    // Contour: `ns/service/port/<10 hex>`, extension services `extension/ns/name`.
    if slashes == 3 {
        let last = &c[memchr::memrchr(b'/', c)? + 1..];
        if last.len() == 10 && last.iter().all(u8::is_ascii_hexdigit) {
            return Some(Side::Gateway);
        }
    }
    if c.starts_with(b"extension/") && slashes == 2 {
        return Some(Side::Gateway);
    }
    // Emissary (full cluster names, Emissary 1.x/2.x logs), Gloo Edge, kgateway.
    if c.starts_with(b"cluster_") || c.starts_with(b"kube-svc:") || c.starts_with(b"kube-upstream_") {
        return Some(Side::Gateway);
    }
    if c.starts_with(b"kube_") && c.iter().filter(|&&b| b == b'_').count() >= 3 {
        return Some(Side::Gateway);
    }
    // Consul: `local_app` is the local application; SNI-style upstream names end in
    // `.consul` (`svc.ns.dc.internal.<uuid>.consul`, `failover-target~…`, `<hash>~<sni>`).
    if c == b"local_app" {
        return Some(Side::Server);
    }
    if c == b"original-destination" || (c.ends_with(b".consul") && memchr::memchr(b'.', c).is_some()) {
        return Some(Side::Client);
    }
    // AWS App Mesh: `cds_ingress_<mesh>_<vgw>_self_redirect_…` is a virtual gateway,
    // other `cds_ingress_…` the local app, `cds_egress_…` outbound.
    if c.starts_with(b"cds_ingress_") {
        return Some(if memmem::find(c, b"_self_redirect_").is_some() {
            Side::Gateway
        } else {
            Side::Server
        });
    }
    if c.starts_with(b"cds_egress_") {
        return Some(Side::Client);
    }
    // Open Service Mesh: `ns/svc|port|local` (v0.11+) or `ns/svc-local` (≤v0.10) is the local
    // app; `ns/svc|port`, `passthrough-outbound` outbound.
    if c == b"passthrough-outbound" {
        return Some(Side::Client);
    }
    if slashes == 1 {
        if c.ends_with(b"|local") || (memchr::memchr(b'|', c).is_none() && c.ends_with(b"-local")) {
            return Some(Side::Server);
        }
        let bars = memchr::memchr_iter(b'|', c).count();
        if bars == 1
            && c.rsplit(|&b| b == b'|')
                .next()
                .is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
        {
            return Some(Side::Client);
        }
        // Cilium Ingress / Gateway API: `ns/service:port`.
        if bars == 0
            && c.rsplit(|&b| b == b':')
                .next()
                .is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
        {
            return Some(Side::Gateway);
        }
    }
    None
}

/// The IP part of `ip:port` or `[v6]:port`: what precedes the last `:` when only digits (or
/// nothing) follow it and something precedes it.
#[inline]
pub fn ip_of(addr: &[u8]) -> Option<&[u8]> {
    // Runs up to three times per record on ~20-byte addresses, where `memrchr`'s set-up costs
    // more than the scan. The port's end is found in the last eight bytes at once when they
    // hold a non-digit (ports have at most five digits); a byte loop otherwise.
    let start = match addr.len().checked_sub(8) {
        Some(base) => {
            let word = u64::from_le_bytes(addr[base..].try_into().expect("8 bytes"));
            match non_digits(word) {
                0 => port_start(&addr[..base]),
                m => base + (m.ilog2() / 8) as usize + 1,
            }
        }
        None => port_start(addr),
    };
    match start.checked_sub(1) {
        Some(colon) if colon > 0 && addr[colon] == b':' => Some(&addr[..colon]),
        _ => None,
    }
}

/// Where the trailing run of digits of `bytes` starts.
fn port_start(bytes: &[u8]) -> usize {
    let mut i = bytes.len();
    while i > 0 && bytes[i - 1].is_ascii_digit() {
        i -= 1;
    }
    i
}
