//! Where a failure originated, judged from every hop's record of one request: the hop that made
//! the failure itself, not the hops that only passed on what the next hop answered. A pure
//! function over already classified hops ([`super::classify`], [`super::reporter()`]): `crate::trace`
//! calls it for each traced request, and the findings (`crate::summary`) for requests seen by
//! several proxies.
//!
//! The rules, with their sources (failure-semantics.md = FS, envoy-access-log-formats.md = AL):
//! * Hops are ordered gateway < client sidecar < server sidecar (AL §6.2); a proxy whose role is
//!   unknown counts as a client-side proxy (it forwards to an upstream of its own).
//! * A `via_upstream` 5xx at a gateway or client sidecar (`app_error` there) is "a 503 the *next
//!   hop* sent" (FS item 1, AL §11 last row): that hop is not the origin. At a server sidecar the
//!   next hop is the app, so the app is (FS item 1, AL §11).
//! * A `DC` is logged by the hop whose caller hung up (FS item 11): when a shallower hop timed
//!   out, the deeper hop's `DC` is that timeout seen from below ("the hop *below* it typically
//!   logs `DC`", FS item 13), so the origin is the timeout. When every failed hop says `DC`, the
//!   caller in front of the first one gave up.
//! * Otherwise the deepest hop that made a failure itself is the origin: a client's `503 URX
//!   via_upstream` over a server's `503 UF` refused on the pod IP is the app not listening there
//!   (bound to 127.0.0.1 or another port, FS item 9); the client's `503 UC` over the server's
//!   `0 NR filter_chain_not_found` is a plaintext client meeting STRICT mTLS, fixed on the client
//!   side (FS items 12 and 18); `UO`/`UH`/`NR` at a client sidecar with no record further in
//!   was decided by the client sidecar itself (circuit breaker, no endpoint, no route: FS item
//!   14, AL §11).

use super::{Cause, Reporter};
use crate::response_flags::{Flag, ResponseFlags};

/// One proxy's record of the request, as the judgement needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop<'a> {
    pub reporter: Reporter,
    /// The classification's cause; `None` when this hop's record is not a failure.
    pub cause: Option<Cause>,
    pub response_code: Option<u16>,
    pub flags: ResponseFlags,
    /// `%RESPONSE_CODE_DETAILS%` (empty when absent).
    pub details: &'a str,
    pub upstream_cluster: &'a str,
    pub upstream_host: &'a str,
}

/// Where a failure began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Index into the slice given to [`origin`]: the record that shows it.
    pub hop: usize,
    pub place: Place,
    /// One sentence naming the hop and what to look at. Holds log values: escape it on output.
    pub why: String,
}

listed_enum! {
/// The part of the path where a failure began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// Whoever called the first hop: it hung up, or sent what the hop could not accept.
    Caller,
    Gateway,
    ClientSidecar,
    /// A proxy whose role the record does not tell.
    Proxy,
    /// Between a proxy and the next one: a connection refused, timed out or closed with no
    /// record of it further in.
    Between,
    ServerSidecar,
    /// The application behind the server sidecar.
    App,
    /// Beyond the deepest hop in the inputs: it passed on its upstream's answer, and the
    /// upstream's own record is not there.
    Upstream,
}
}

impl Place {
    /// The stable name (JSON).
    pub fn name(self) -> &'static str {
        match self {
            Place::Caller => "caller",
            Place::Gateway => "gateway",
            Place::ClientSidecar => "client_sidecar",
            Place::Proxy => "proxy",
            Place::Between => "between",
            Place::ServerSidecar => "server_sidecar",
            Place::App => "app",
            Place::Upstream => "upstream",
        }
    }

    /// In words, for the table.
    pub fn describe(self) -> &'static str {
        match self {
            Place::Caller => "the caller (in front of the first hop)",
            Place::Gateway => "the gateway",
            Place::ClientSidecar => "the client sidecar",
            Place::Proxy => "the proxy",
            Place::Between => "between the proxies (network or endpoint)",
            Place::ServerSidecar => "the server sidecar",
            Place::App => "the app (behind the server sidecar)",
            Place::Upstream => "beyond the last hop logged",
        }
    }
}

/// Where the failure of one request began, from its hops' records in any order; `None` when
/// none of them failed. Within one depth the slice order decides (give them by start time).
pub fn origin(hops: &[Hop<'_>]) -> Option<Origin> {
    if hops.iter().all(|h| h.cause.is_none()) {
        return None;
    }
    // Only a listener logs `filter_chain_not_found`, and in a mesh that is the server side's
    // inbound one (FS item 12); the record names no cluster, so nothing else says whose it is.
    let hops: Vec<Hop<'_>> = hops
        .iter()
        .map(|h| match h.reporter {
            Reporter::Unknown if h.details == "filter_chain_not_found" => {
                Hop { reporter: Reporter::ServerSidecar, ..*h }
            }
            _ => *h,
        })
        .collect();
    let hops = hops.as_slice();
    let mut order: Vec<usize> = (0..hops.len()).collect();
    order.sort_by_key(|&i| depth(hops[i].reporter));
    let with = |role: Role| order.iter().copied().filter(move |&i| self::role(&hops[i]) == role);
    if let Some(deepest) = with(Role::Made).next_back() {
        // The first record at that depth: a retried request's first failed try.
        let d = depth(hops[deepest].reporter);
        let pick = with(Role::Made).find(|&i| depth(hops[i].reporter) == d).unwrap_or(deepest);
        return Some(made(hops, &order, pick));
    }
    if let Some(p) = with(Role::PassesOn).next_back() {
        let h = &hops[p];
        let why = format!(
            "the {} passed on {} from its upstream{}, and no record of a hop further in is among the \
             inputs: add the logs of the pods behind {} to see where it began",
            label(h),
            seen(h),
            at_host(h),
            or_dash(h.upstream_cluster)
        );
        return Some(Origin { hop: p, place: Place::Upstream, why });
    }
    // Only disconnects: the caller of the first hop that saw one gave up.
    let first = with(Role::HungUp).next()?;
    let h = &hops[first];
    let why = format!(
        "the caller in front of the {} hung up before the response came ({}), and every hop behind it \
         saw the disconnect: look at the caller's own timeout and at why the upstream took that long",
        label(h),
        seen(h)
    );
    Some(Origin { hop: first, place: Place::Caller, why })
}

/// How far into the path a reporter sits.
fn depth(r: Reporter) -> u8 {
    match r {
        Reporter::Gateway => 0,
        Reporter::ClientSidecar | Reporter::Unknown => 1,
        Reporter::ServerSidecar => 2,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Fine,
    /// Passed on what the next hop answered (a `via_upstream` 5xx at a non-server hop).
    PassesOn,
    /// Saw its caller go away (`DC`).
    HungUp,
    /// Made the failure itself.
    Made,
}

fn role(h: &Hop<'_>) -> Role {
    match h.cause {
        None => Role::Fine,
        Some(Cause::AppError) if h.reporter != Reporter::ServerSidecar => Role::PassesOn,
        Some(Cause::DownstreamDisconnect) => Role::HungUp,
        Some(_) => Role::Made,
    }
}

fn own_place(r: Reporter) -> Place {
    match r {
        Reporter::Gateway => Place::Gateway,
        Reporter::ClientSidecar => Place::ClientSidecar,
        Reporter::ServerSidecar => Place::ServerSidecar,
        Reporter::Unknown => Place::Proxy,
    }
}

/// The judgement on hop `pick`, which made a failure itself, in view of the other hops.
fn made(hops: &[Hop<'_>], order: &[usize], pick: usize) -> Origin {
    let h = &hops[pick];
    let cause = h.cause.unwrap_or(Cause::Other);
    let deeper_hung_up =
        order.iter().any(|&i| depth(hops[i].reporter) > depth(h.reporter) && role(&hops[i]) == Role::HungUp);
    let (l, s) = (label(h), seen(h));
    let mut place = own_place(h.reporter);
    let mut hop = pick;
    let why = if h.reporter == Reporter::ServerSidecar {
        match cause {
            Cause::TlsFailure if h.details == "filter_chain_not_found" => {
                // The client that sent plaintext is the one to fix (FS items 12, 18): the
                // deepest shallower hop that failed, when it is in the trace.
                let client = order
                    .iter()
                    .copied()
                    .rfind(|&i| depth(hops[i].reporter) < depth(h.reporter) && hops[i].cause.is_some());
                match client {
                    Some(c) => {
                        hop = c;
                        place = own_place(hops[c].reporter);
                        format!(
                            "the {} sent plaintext to a server sidecar that requires mTLS (STRICT): the server \
                             closed the connection ({s}) and the client logged {}; fix the client side — its \
                             DestinationRule `tls.mode` (DISABLE → ISTIO_MUTUAL) or its missing sidecar — or set \
                             the server's PeerAuthentication to PERMISSIVE",
                            label(&hops[c]),
                            seen(&hops[c])
                        )
                    }
                    None => {
                        place = Place::Caller;
                        format!(
                            "a caller without mTLS (plaintext) reached the {l}, which requires mTLS (STRICT) \
                             ({s}): find the caller — a pod without a sidecar, or a DestinationRule with \
                             `tls.mode: DISABLE` — or set the PeerAuthentication to PERMISSIVE"
                        )
                    }
                }
            }
            Cause::AppError => {
                place = Place::App;
                format!(
                    "the app{} behind the {l} answered {} itself ({s}): read the app's own logs for this request",
                    at_host(h),
                    h.response_code.unwrap_or(0)
                )
            }
            Cause::ConnectionRefused => {
                place = Place::App;
                let host = or_dash(h.upstream_host);
                if host.starts_with("127.0.0.1:") {
                    format!(
                        "the {l} could not connect to the app at {host} ({s}): the app does not listen on \
                         127.0.0.1 at that port (the sidecar of Istio before 1.10 connects there) — check \
                         `ss -ltn` in the pod and the Service `targetPort`"
                    )
                } else {
                    format!(
                        "the {l} was refused by the app at {host} ({s}): the app does not listen on the pod \
                         IP at that port — bound to 127.0.0.1 (unreachable since Istio 1.10) or listening on \
                         another port; check `ss -ltn` in the pod and the Service `targetPort`"
                    )
                }
            }
            Cause::ConnectTimeout => {
                place = Place::App;
                format!(
                    "the {l} could not connect to the app at {} in time ({s}): the app is not accepting \
                     connections — stuck, overloaded or still starting",
                    or_dash(h.upstream_host)
                )
            }
            Cause::UpstreamReset => {
                place = Place::App;
                format!(
                    "the app behind the {l} closed or reset the connection ({s}): an app keep-alive timeout \
                     shorter than the sidecar's idle timeout, or the app failing mid-request"
                )
            }
            Cause::ProtocolError if h.flags.contains(Flag::UPE) => {
                place = Place::App;
                format!(
                    "the app behind the {l} answered with invalid HTTP ({s}): check that the Service port's \
                     protocol (its name or `appProtocol`) is what the app speaks"
                )
            }
            Cause::ProtocolError => format!(
                "the {l} could not read the request it was sent ({s}): the caller speaks another protocol \
                 than the Service port declares (HTTP/2 to an http1 port, or TLS to a plaintext one)"
            ),
            Cause::RouteTimeout | Cause::PerTryTimeout | Cause::StreamIdleTimeout => format!(
                "the timeout of the {l} itself fired before the app answered ({s}): the app is slow, or \
                 the inbound timeout is too short"
            ),
            Cause::AuthzDenied => format!(
                "the {l} denied the request by policy ({s}): an AuthorizationPolicy (or ext_authz) on the \
                 server's workload"
            ),
            _ => format!("the {l} failed the request itself ({s}): look at its configuration for this port"),
        }
    } else {
        match cause {
            Cause::Overflow => format!(
                "the {l} rejected the request at its circuit breaker ({s}) before any server saw it: a \
                 DestinationRule `connectionPool` limit (or the retry budget) for that cluster was reached"
            ),
            Cause::NoHealthyUpstream => format!(
                "the {l} had no healthy endpoint to send to ({s}): no ready pod behind the Service, or \
                 every one ejected by outlier detection"
            ),
            Cause::NoRoute => format!(
                "the {l} found no route for the request ({s}): the VirtualService hosts and routes, the \
                 Host header, or a Sidecar resource that hides the destination"
            ),
            Cause::NoCluster => format!(
                "the {l} routed to a cluster it does not have ({s}): a DestinationRule subset that does \
                 not exist, or a Sidecar resource that hides the destination"
            ),
            Cause::BlockedEgress => format!(
                "the {l} blocked a destination outside the mesh ({s}): outboundTrafficPolicy REGISTRY_ONLY \
                 — add a ServiceEntry for it"
            ),
            Cause::RouteTimeout | Cause::PerTryTimeout | Cause::StreamIdleTimeout => format!(
                "the timeout of the {l} fired ({s}){}: look at the `timeout` and `retries.perTryTimeout` of \
                 its VirtualService route, and at why the upstream took longer",
                if deeper_hung_up { ", and the hop behind it saw it hang up (DC)" } else { "" }
            ),
            Cause::TlsFailure => format!(
                "the TLS handshake from the {l} to {} failed ({s}): the DestinationRule `tls` settings \
                 against what the server presents (its mTLS mode, certificate or CA)",
                or_dash(h.upstream_host)
            ),
            Cause::ConnectionRefused | Cause::ConnectTimeout => {
                place = Place::Between;
                format!(
                    "the {l} could not connect to {} ({s}) and no hop further in logged the request: the \
                     endpoint is gone (stale endpoints during a rollout) or nothing accepts connections \
                     there",
                    or_dash(h.upstream_host)
                )
            }
            Cause::UpstreamReset => {
                place = Place::Between;
                format!(
                    "the connection from the {l} to {} was closed or reset before a response ({s}) and no \
                     hop further in logged a failure: get the server sidecar's logs (a keep-alive race, a \
                     draining listener, or mTLS refused there)",
                    or_dash(h.upstream_host)
                )
            }
            Cause::ProtocolError if h.flags.contains(Flag::DPE) => {
                place = Place::Caller;
                format!(
                    "the caller sent the {l} a request it could not parse ({s}): a client speaking another \
                     protocol than the listener expects"
                )
            }
            Cause::ProtocolError if h.flags.contains(Flag::UPE) => {
                // The answer was made past this hop: by the server (or its sidecar), whose record
                // is not among the inputs.
                place = Place::Upstream;
                format!(
                    "the upstream answered the {l} with invalid HTTP ({s}): check the Service port's protocol \
                     (its name or `appProtocol`) against what the server speaks"
                )
            }
            Cause::ProtocolError => {
                place = Place::Caller;
                format!(
                    "the caller sent the {l} a request it could not read ({s}): a client speaking another \
                     protocol than the port expects (TLS or HTTP/2 to a plaintext HTTP/1 listener), or a malformed request"
                )
            }
            _ => format!("the {l} failed the request itself ({s}): look at its configuration for this route"),
        }
    };
    Origin { hop, place, why }
}

/// "client sidecar (outbound|9080||reviews…)".
fn label(h: &Hop<'_>) -> String {
    let who = match h.reporter {
        Reporter::Gateway => "gateway",
        Reporter::ClientSidecar => "client sidecar",
        Reporter::ServerSidecar => "server sidecar",
        Reporter::Unknown => "proxy",
    };
    if h.upstream_cluster.is_empty() { who.to_string() } else { format!("{who} ({})", h.upstream_cluster) }
}

/// "503 URX,UF upstream_reset_…" as logged.
fn seen(h: &Hop<'_>) -> String {
    let code = h.response_code.map_or_else(|| "-".to_string(), |c| c.to_string());
    if h.details.is_empty() {
        format!("{code} {}", h.flags)
    } else {
        format!("{code} {} {}", h.flags, h.details)
    }
}

fn at_host(h: &Hop<'_>) -> String {
    if h.upstream_host.is_empty() { String::new() } else { format!(" at {}", h.upstream_host) }
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::json::Scratch;
    use crate::format::parse_line;

    /// A hop from a real-shaped line, classified as the pipeline does it (owned text: the
    /// test keeps the lines).
    struct Line {
        reporter: Reporter,
        cause: Option<Cause>,
        code: Option<u16>,
        flags: ResponseFlags,
        details: String,
        cluster: String,
        host: String,
    }

    /// `text` may start with kubectl's `[pod/NAME/CONTAINER] ` prefix, which names the pod.
    fn line(text: &str) -> Line {
        let (pod, text) = match text.strip_prefix("[pod/").and_then(|t| t.split_once("] ")) {
            Some((prefix, rest)) => (prefix.split('/').next(), rest),
            None => (None, text),
        };
        let scratch = Scratch::new();
        let rec = parse_line(text.as_bytes(), &scratch).unwrap_or_else(|e| panic!("{e} in {text}"));
        let reporter = super::super::reporter(&rec, pod.map(str::as_bytes));
        let s = |v: Option<&[u8]>| String::from_utf8_lossy(v.unwrap_or(b"")).into_owned();
        Line {
            reporter,
            cause: super::super::classify(&rec, reporter).map(|c| c.cause),
            code: rec.response_code,
            flags: rec.response_flags,
            details: s(rec.response_code_details),
            cluster: s(rec.upstream_cluster),
            host: s(rec.upstream_host),
        }
    }

    fn hops(lines: &[Line]) -> Vec<Hop<'_>> {
        lines
            .iter()
            .map(|l| Hop {
                reporter: l.reporter,
                cause: l.cause,
                response_code: l.code,
                flags: l.flags,
                details: &l.details,
                upstream_cluster: &l.cluster,
                upstream_host: &l.host,
            })
            .collect()
    }

    // Real lines from sample-logs/ (Envoy 1.40 set up as Istio sidecars and a gateway) and the
    // references' §10 examples; the same request id across hops. A record that names no
    // cluster carries the pod's name, as `kubectl logs --prefix` writes it, to tell its reporter.
    const CLIENT_VIA_UPSTREAM_503: &str = r#"[2026-11-25T02:30:52.320Z] "GET /reviews/1 HTTP/1.1" 503 - via_upstream - "-" 0 121 77 75 "-" "python-requests/2.31.0" "fd6eb3c7-bdb0-455b-8206-513d90478c8a" "reviews:9080" "127.0.0.40:9080" outbound|9080||reviews.bookinfo.svc.cluster.local 127.0.0.20:34052 127.0.1.2:9080 127.0.0.20:36111 - default"#;
    const CLIENT_URX_VIA_UPSTREAM_503: &str = r#"[2026-11-25T02:30:52.320Z] "GET /reviews/1 HTTP/1.1" 503 URX via_upstream - "-" 0 121 77 75 "-" "python-requests/2.31.0" "fd6eb3c7-bdb0-455b-8206-513d90478c8a" "reviews:9080" "10.44.1.40:9080" outbound|9080||reviews.bookinfo.svc.cluster.local 10.44.1.20:34052 10.96.1.2:9080 10.44.1.20:36111 - default"#;
    const SERVER_REFUSED: &str = r#"[2026-11-25T02:30:52.327Z] "GET /reviews/1 HTTP/1.1" 503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 121 69 - "-" "python-requests/2.31.0" "fd6eb3c7-bdb0-455b-8206-513d90478c8a" "reviews:9080" "127.0.0.41:9080" inbound|9080|| - 127.0.0.40:9080 127.0.0.20:34052 outbound_.9080_._.reviews.bookinfo.svc.cluster.local default"#;
    const SERVER_REFUSED_LOCALHOST: &str = r#"[2021-03-02T10:00:00.000Z] "GET /reviews/1 HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 91 1 - "-" "python-requests/2.25.1" "fd6eb3c7-bdb0-455b-8206-513d90478c8a" "reviews:9080" "127.0.0.1:9080" inbound|9080|http|reviews.bookinfo.svc.cluster.local 127.0.0.1:0 10.44.1.40:9080 10.44.1.20:34052 outbound_.9080_._.reviews.bookinfo.svc.cluster.local default"#;
    const CLIENT_UC: &str = r#"[2026-11-25T02:30:56.154Z] "GET /ratings/1 HTTP/1.1" 503 UC upstream_reset_before_response_started{connection_termination} - "-" 0 95 0 - "-" "Go-http-client/1.1" "024165e1-84ea-49f9-bd32-4bf2efc076f8" "ratings:9080" "127.0.0.50:9080" outbound|9080||ratings.bookinfo.svc.cluster.local 127.0.0.20:43982 127.0.1.3:9080 127.0.0.20:52817 - default"#;
    const SERVER_FILTER_CHAIN: &str = r#"[2026-11-25T02:30:56.154Z] "- - -" 0 NR filter_chain_not_found - "-" 0 0 0 - "-" "-" "-" "-" "-" - - 127.0.0.50:9080 127.0.0.20:43982 - -"#;
    const GATEWAY_UT: &str = r#"[2026-11-25T02:30:26.683Z] "GET /delay/20 HTTP/1.1" 504 UT response_timeout - "-" 0 24 15001 - "127.0.0.208" "curl/7.88.1" "c4461b2c-48c5-45ef-a274-e414092c68b7" "httpbin.example.com" "127.0.0.30:8080" outbound|8000||httpbin.foo.svc.cluster.local 127.0.0.10:47696 127.0.0.10:8080 127.0.0.208:54055 - httpbin-delay"#;
    const SERVER_DC: &str = r#"[2026-11-25T02:30:26.686Z] "GET /delay/20 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 14998 - "127.0.0.208" "curl/7.88.1" "c4461b2c-48c5-45ef-a274-e414092c68b7" "httpbin.example.com" "127.0.0.31:8080" inbound|8080|| 127.0.0.6:57514 127.0.0.30:8080 127.0.0.208:0 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#;
    const GATEWAY_DC: &str = r#"[2026-11-25T02:31:31.763Z] "GET /delay/5 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 1000 - "127.0.0.202" "curl/8.5.0" "98bf5b67-e4a2-46fd-af53-5e671262734d" "httpbin.example.com" "127.0.0.30:8080" outbound|8000||httpbin.foo.svc.cluster.local 127.0.0.10:38548 127.0.0.10:8080 127.0.0.202:50344 - httpbin-delay"#;
    const SERVER_DC_2: &str = r#"[2026-11-25T02:31:31.764Z] "GET /delay/5 HTTP/1.1" 0 DC downstream_remote_disconnect - "-" 0 0 1000 - "127.0.0.202" "curl/8.5.0" "98bf5b67-e4a2-46fd-af53-5e671262734d" "httpbin.example.com" "127.0.0.31:8080" inbound|8080|| 127.0.0.6:53060 127.0.0.30:8080 127.0.0.202:0 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#;
    const GATEWAY_VIA_UPSTREAM_503: &str = r#"[2026-11-25T02:30:52.318Z] "GET /reviews/1 HTTP/1.1" 503 - via_upstream - "-" 0 121 80 79 "127.0.0.205" "curl/8.5.0" "fd6eb3c7-bdb0-455b-8206-513d90478c8a" "bookinfo.example.com" "127.0.0.20:9080" outbound|9080||reviews.bookinfo.svc.cluster.local 127.0.0.10:51296 127.0.0.10:8080 127.0.0.205:40711 - reviews"#;
    const SERVER_APP_500: &str = r#"[2026-11-25T02:30:52.330Z] "GET /reviews/1 HTTP/1.1" 500 - via_upstream - "-" 0 21 5 5 "-" "python-requests/2.31.0" "fd6eb3c7-bdb0-455b-8206-513d90478c8a" "reviews:9080" "127.0.0.41:9080" inbound|9080|| 127.0.0.6:40112 127.0.0.40:9080 127.0.0.20:34052 outbound_.9080_._.reviews.bookinfo.svc.cluster.local default"#;
    const CLIENT_APP_500: &str = r#"[2026-11-25T02:30:52.329Z] "GET /reviews/1 HTTP/1.1" 500 - via_upstream - "-" 0 21 7 6 "-" "python-requests/2.31.0" "fd6eb3c7-bdb0-455b-8206-513d90478c8a" "reviews:9080" "127.0.0.40:9080" outbound|9080||reviews.bookinfo.svc.cluster.local 127.0.0.20:34052 127.0.1.2:9080 127.0.0.20:36111 - default"#;
    const CLIENT_UO: &str = r#"[2026-11-25T02:31:10.120Z] "GET /api/v1/pay HTTP/1.1" 503 UO upstream_reset_before_response_started{overflow} - "-" 0 81 0 - "-" "okhttp/4.12.0" "7a1c3f0e-5b2d-4e8f-9a6b-1c2d3e4f5a6b" "payments:8080" "-" outbound|8080||payments.shop.svc.cluster.local - 127.0.1.9:8080 127.0.0.20:41000 - default"#;
    const CLIENT_UH: &str = r#"[2026-11-25T02:31:12.500Z] "GET /api/v1/stock HTTP/1.1" 503 UH no_healthy_upstream - "-" 0 19 0 - "-" "okhttp/4.12.0" "3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b" "inventory:8080" "-" outbound|8080||inventory.shop.svc.cluster.local - 127.0.1.8:8080 127.0.0.20:41002 - default"#;
    const GATEWAY_NR: &str = r#"[pod/istio-ingressgateway-7d4f8b9c6-x2x9z/istio-proxy] [2026-11-25T02:31:14.000Z] "GET /.env HTTP/1.1" 404 NR route_not_found - "-" 0 0 0 - "127.0.0.206" "Mozilla/5.0" "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d8e" "bookinfo.example.com" "-" - - 127.0.0.10:8080 127.0.0.206:43000 - -"#;
    const CLIENT_UF_NO_SERVER: &str = r#"[2026-11-25T02:31:20.000Z] "GET /api/v1/orders HTTP/1.1" 503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 152 3 - "-" "okhttp/4.12.0" "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a" "orders:8080" "127.0.0.100:8080" outbound|8080||orders.shop.svc.cluster.local - 127.0.1.7:8080 127.0.0.20:41004 - default"#;
    const GATEWAY_UPE: &str = r#"[2026-11-25T02:31:02.420Z] "GET /api/v1/export/daily.csv HTTP/1.1" 502 UPE upstream_reset_before_response_started{protocol_error} - "-" 0 87 44 - "127.0.0.206" "python-requests/2.31.0" "447e769f-23d9-4f77-8756-b5fd5d012a6d" "inventory.example.com" "127.0.0.90:8080" outbound|8080||inventory.shop.svc.cluster.local 127.0.0.10:51292 127.0.0.10:8080 127.0.0.206:44583 - -"#;
    const GATEWAY_DPE: &str = r#"[pod/istio-ingressgateway-7d4f8b9c6-x2x9z/istio-proxy] [2026-11-25T02:31:02.635Z] "- - HTTP/1.1" 400 DPE http1.codec_error - "-" 0 11 0 - "-" "-" "-" "-" "-" - - 127.0.0.10:8080 127.0.0.20:48484 - -"#;
    const GATEWAY_200: &str = r#"[2026-11-25T02:30:52.220Z] "GET /api/v1/items?limit=50 HTTP/1.1" 200 - via_upstream - "-" 0 494 16 15 "127.0.0.205" "curl/8.5.0" "142061b0-484d-4f81-aea3-648498f0a23b" "inventory.example.com" "127.0.0.90:8080" outbound|8080||inventory.shop.svc.cluster.local 127.0.0.10:51296 127.0.0.10:8080 127.0.0.205:40711 - -"#;

    #[test]
    fn the_hop_where_a_failure_began() {
        use Place::*;
        // (what, lines in any order, index of the originating line, place, words the why needs)
        type Case<'c> = (&'c str, &'c [&'c str], usize, Place, &'c [&'c str]);
        let cases: &[Case<'_>] = &[
            (
                "client passes on the 503 (Istio ≥1.24), server refused on the pod IP: the app",
                &[CLIENT_VIA_UPSTREAM_503, SERVER_REFUSED],
                1,
                App,
                &["127.0.0.41:9080", "bound to 127.0.0.1", "ss -ltn"],
            ),
            (
                "the issue's example: client 503 URX via_upstream, server 503 UF; order given reversed",
                &[SERVER_REFUSED, CLIENT_URX_VIA_UPSTREAM_503],
                0,
                App,
                &["pod IP"],
            ),
            (
                "Istio ≤1.9: refused on 127.0.0.1: the app listens only on the pod IP",
                &[CLIENT_VIA_UPSTREAM_503, SERVER_REFUSED_LOCALHOST],
                1,
                App,
                &["127.0.0.1:9080", "before 1.10"],
            ),
            (
                "STRICT mTLS and a plaintext client: the client side is the one to fix",
                &[SERVER_FILTER_CHAIN, CLIENT_UC],
                1,
                ClientSidecar,
                &["plaintext", "STRICT", "DestinationRule", "503 UC"],
            ),
            (
                "filter_chain_not_found with no client record: a caller without mTLS",
                &[SERVER_FILTER_CHAIN],
                0,
                Caller,
                &["plaintext", "PERMISSIVE"],
            ),
            (
                "gateway route timeout; the server sidecar saw the gateway hang up",
                &[SERVER_DC, GATEWAY_UT],
                1,
                Gateway,
                &["timeout", "(DC)", "504 UT response_timeout"],
            ),
            (
                "everyone saw a disconnect: the caller of the gateway gave up",
                &[SERVER_DC_2, GATEWAY_DC],
                1,
                Caller,
                &["gateway", "hung up"],
            ),
            (
                "gateway → client → server; the app's own 500 passed on twice",
                &[GATEWAY_VIA_UPSTREAM_503, CLIENT_APP_500, SERVER_APP_500],
                2,
                App,
                &["answered 500 itself", "app's own logs"],
            ),
            (
                "a client sidecar's circuit breaker, no server record",
                &[CLIENT_UO],
                0,
                ClientSidecar,
                &["circuit breaker", "connectionPool", "payments"],
            ),
            (
                "no healthy endpoint at the client sidecar",
                &[CLIENT_UH],
                0,
                ClientSidecar,
                &["no healthy endpoint"],
            ),
            ("no route at the gateway", &[GATEWAY_NR], 0, Gateway, &["no route"]),
            (
                "refused at the client sidecar and no server record: between them",
                &[CLIENT_UF_NO_SERVER],
                0,
                Between,
                &["127.0.0.100:8080", "endpoint is gone"],
            ),
            (
                "invalid HTTP from the upstream, whose record is not in the inputs: beyond the gateway",
                &[GATEWAY_UPE],
                0,
                Upstream,
                &["invalid HTTP", "appProtocol"],
            ),
            (
                "a request the gateway could not read: its caller",
                &[GATEWAY_DPE],
                0,
                Caller,
                &["could not parse", "400 DPE"],
            ),
            (
                "a 503 passed on by the only hop logged: beyond it",
                &[GATEWAY_200, CLIENT_VIA_UPSTREAM_503],
                1,
                Upstream,
                &["add the logs", "reviews.bookinfo"],
            ),
        ];
        for (what, texts, hop, place, words) in cases {
            let lines: Vec<Line> = texts.iter().map(|t| line(t)).collect();
            let o = origin(&hops(&lines)).unwrap_or_else(|| panic!("{what}: no origin"));
            assert_eq!((o.hop, o.place), (*hop, *place), "{what}: {}", o.why);
            for w in *words {
                assert!(o.why.contains(w), "{what}: {w:?} not in {:?}", o.why);
            }
        }
    }

    #[test]
    fn nothing_failed_is_no_origin() {
        let lines = [line(GATEWAY_200)];
        assert_eq!(origin(&hops(&lines)), None);
        assert_eq!(origin(&[]), None);
    }

    #[test]
    fn the_reporters_of_the_real_lines_are_the_ones_the_cases_assume() {
        // The cases above lean on who logged each line; pin it, so a change in the reporter
        // rules shows here rather than as a puzzling origin.
        let r = |t| line(t).reporter;
        assert_eq!(r(GATEWAY_UT), Reporter::Gateway);
        assert_eq!(r(CLIENT_UC), Reporter::ClientSidecar);
        assert_eq!(r(SERVER_REFUSED), Reporter::ServerSidecar);
        // Nothing in a filter-chain record names its side: `origin` takes it for the server's.
        assert_eq!(r(SERVER_FILTER_CHAIN), Reporter::Unknown);
    }
}
