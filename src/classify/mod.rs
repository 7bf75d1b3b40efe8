//! The knowledge base: for every failed record, its cause (what broke), failure domain (where),
//! and reporter (which proxy logged it, worked out in [`reporter`](mod@reporter)), decided by a
//! table of rules over the fields that matter (reference §4, §5, §11, §12; failure-semantics.md).
//!
//! One place to add a cause: a variant of [`Cause`], its row in [`CAUSES`] (name, meaning and
//! playbook), and a rule in [`RULES`]; then a real-shaped line for it in the test
//! `report::every_cause`. The compiler checks the rest: every array kept per cause is
//! `[_; Cause::COUNT]`, a missing or misplaced row in [`CAUSES`] fails the build, and so does a
//! cause without a test line. Rules are tried in order and key on response-code details first,
//! then on flags ("details say what triggered the status, flags list what happened",
//! failure-semantics §1.2). `crate::aggregate` calls [`classify`] per record;
//! `crate::summary::findings` turns groups of classified failures into judgements per upstream.
//!
//! Domains and why:
//! * `application` — the upstream app answered with a 5xx (`via_upstream`), or did not answer in
//!   time (route/per-try/stream-idle timeouts: the fix is its latency or the timeout budget), or
//!   nothing listens on the pod IP (connection refused logged by the *server* sidecar: the app is
//!   down or bound to 127.0.0.1).
//! * `network` — the path between proxies: refused or unreachable at a client sidecar or gateway
//!   (endpoint gone, stale endpoints), connect timeouts, resets and closed connections (`UC`, `UR`),
//!   and failures no rule explains.
//! * `security` — TLS/mTLS handshakes (`TLS_error…`, plaintext hitting STRICT mTLS:
//!   `filter_chain_not_found`, or in ambient ztunnel's `istio_converted_static_strict`, which is
//!   STRICT PeerAuthentication and not a policy the user wrote), certificates SDS did not deliver
//!   or that expired, and authorization denials (RBAC, ext_authz).
//! * `configuration` — routing and mesh config: no route, no cluster, wrong Service port protocol
//!   (`UPE`, codec errors at a sidecar), egress blocked by `REGISTRY_ONLY` (also a TCP `0 UH`
//!   whose cluster Istio's JSON log left `null`), injected faults.
//! * `capacity` — limits: circuit breakers (`UO` overflow), rate limits, overload manager, no
//!   healthy endpoint left (none ready, or all ejected by outlier detection).
//! * `client` — the downstream gave up or reset (`DC`, `DR`, or on Envoy before `DC` an HTTP
//!   record with code 0 and no flag), or sent bad HTTP to a gateway.

use std::fmt;

use crate::record::{Details, FormatKind, Record};
use crate::response_flags::{Flag, ResponseFlags};
// Not `memmem::find`: it builds a searcher per call, and the rules test a few short needles
// against short texts.
use crate::scan::find_literal;

listed_enum! {
/// What broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Cause {
    RouteTimeout,
    PerTryTimeout,
    ConnectionRefused,
    ConnectTimeout,
    TlsFailure,
    UpstreamReset,
    Overflow,
    NoHealthyUpstream,
    NoRoute,
    NoCluster,
    ProtocolError,
    DownstreamDisconnect,
    AppError,
    RateLimited,
    AuthzDenied,
    FaultInjected,
    BlockedEgress,
    StreamIdleTimeout,
    Other,
}
}

listed_enum! {
/// Where the failure lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Domain {
    Application,
    Network,
    Security,
    Configuration,
    Capacity,
    Client,
}
}

listed_enum! {
/// Which proxy wrote the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Reporter {
    Gateway,
    ClientSidecar,
    ServerSidecar,
    Unknown,
}
}

/// A record field that can serve as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    Code,
    Flags,
    Details,
    TransportFailure,
    TerminationDetails,
    Duration,
    Route,
    Cluster,
}

/// One row of the knowledge base.
pub struct CauseInfo {
    pub cause: Cause,
    pub name: &'static str,
    /// What the cause means, in plain words.
    pub meaning: &'static str,
    /// The CRD and field (or setting) to look at. Placeholders: `{pod}` and `{ns}` (the pod
    /// that logged the record and its namespace: commands naming `{pod}` take `-n {ns}`),
    /// `{svc}` and `{svc_ns}` (the destination service and its namespace), `{host}`, `{port}`,
    /// `{cluster}`, `{since}` (` --since-time=<the log's first start>` or nothing), filled by
    /// `crate::summary::findings`.
    pub look_at: &'static str,
    /// Commands that confirm it, with the same placeholders.
    pub commands: &'static [&'static str],
}

pub const CAUSES: [CauseInfo; Cause::COUNT] = [
    CauseInfo {
        cause: Cause::RouteTimeout,
        name: "route_timeout",
        meaning: "the route timeout fired before the upstream answered (504 UT)",
        look_at: "the `timeout` of the VirtualService route for {host} (Istio ≥1.0 sets no default route timeout: a fixed cut-off was configured somewhere), and the upstream's own latency",
        commands: &[
            "istioctl proxy-config routes {pod} -n {ns} -o json | grep -E '\"(name|timeout)\"'",
            "kubectl get virtualservice -A -o yaml | grep -n -B3 -A3 'timeout'",
        ],
    },
    CauseInfo {
        cause: Cause::PerTryTimeout,
        name: "per_try_timeout",
        meaning: "each try hit the per-try timeout and retries ran out (504 UT upstream_per_try_timeout)",
        look_at: "VirtualService `retries.perTryTimeout` and `retries.attempts` for {host}; the total `timeout` must exceed (attempts + 1) × perTryTimeout",
        commands: &[
            "istioctl proxy-config routes {pod} -n {ns} -o json | grep -A8 retryPolicy",
            "kubectl get virtualservice -A -o yaml | grep -n -A6 'retries'",
        ],
    },
    CauseInfo {
        cause: Cause::ConnectionRefused,
        name: "connection_refused",
        meaning: "the upstream endpoint refused the TCP connection: nothing listens on that address and port",
        look_at: "whether the app listens on 0.0.0.0 (not 127.0.0.1: since Istio 1.10 the sidecar connects to the pod IP) on port {port}, the Service `targetPort`, and whether the endpoint still exists",
        commands: &[
            "kubectl exec {pod} -n {ns} -c istio-proxy -- ss -ltn",
            "istioctl proxy-config endpoints {pod} -n {ns} --cluster '{cluster}'",
            "istioctl analyze -n {svc_ns}",
        ],
    },
    CauseInfo {
        cause: Cause::ConnectTimeout,
        name: "connect_timeout",
        meaning: "the TCP connection to the upstream was not established in time (or the endpoint was unreachable)",
        look_at: "reachability of the endpoints of {host} (NetworkPolicy, node/pod network, stale endpoints) and DestinationRule `trafficPolicy.connectionPool.tcp.connectTimeout` (Istio default 10 s)",
        commands: &[
            "istioctl proxy-config endpoints {pod} -n {ns} --cluster '{cluster}'",
            "kubectl get networkpolicy -n {svc_ns}",
        ],
    },
    CauseInfo {
        cause: Cause::TlsFailure,
        name: "tls_failure",
        meaning: "the TLS/mTLS handshake failed, or a plaintext client hit a TLS-only (STRICT mTLS) listener",
        look_at: "PeerAuthentication mode (STRICT vs PERMISSIVE) of the server and the client's DestinationRule `trafficPolicy.tls.mode` (ISTIO_MUTUAL vs DISABLE) for {host}; a sidecar missing on one side. A certificate problem (`Secret is not supplied by SDS`, expired, unknown CA): the proxy's certificates and istiod, then restart the pod",
        commands: &[
            "kubectl get peerauthentication -A",
            "kubectl get destinationrule -A -o yaml | grep -n -B2 -A3 'tls:'",
            "istioctl x describe pod {pod} -n {ns}",
            "istioctl proxy-config secret {pod} -n {ns}",
        ],
    },
    CauseInfo {
        cause: Cause::UpstreamReset,
        name: "upstream_reset",
        meaning: "the upstream closed or reset a connection while the request was in flight (UC/UR/LR)",
        look_at: "sporadic: a keep-alive race; set DestinationRule `trafficPolicy.connectionPool.http.idleTimeout` below the app's keep-alive timeout. Nearly every request: an mTLS mismatch (DestinationRule `tls.mode: DISABLE` against STRICT) or a wrong port protocol",
        commands: &[
            "kubectl get destinationrule -A -o yaml | grep -n -A4 'connectionPool'",
            "kubectl get peerauthentication -A",
        ],
    },
    CauseInfo {
        cause: Cause::Overflow,
        name: "overflow",
        meaning: "a circuit breaker or overload limit rejected the request (UO overflow, OM, drop_overload)",
        look_at: "DestinationRule `trafficPolicy.connectionPool` limits (`http.http1MaxPendingRequests`, `http.http2MaxRequests`, `tcp.maxConnections`) and retry budgets for {host}",
        commands: &[
            "istioctl proxy-config cluster {pod} -n {ns} --fqdn {host} -o json | grep -A12 circuitBreakers",
        ],
    },
    CauseInfo {
        cause: Cause::NoHealthyUpstream,
        name: "no_healthy_upstream",
        meaning: "the cluster had no healthy endpoint: none ready, selector matches no pod, or all ejected by outlier detection",
        look_at: "the Endpoints of {svc} in {svc_ns} (readiness, selector) and DestinationRule `trafficPolicy.outlierDetection`",
        commands: &[
            "kubectl get endpoints {svc} -n {svc_ns}",
            "istioctl proxy-config endpoints {pod} -n {ns} --cluster '{cluster}'",
        ],
    },
    CauseInfo {
        cause: Cause::NoRoute,
        name: "no_route",
        meaning: "no route matched the Host/authority and path (404 NR)",
        look_at: "VirtualService `hosts`/`gateways` and Gateway `servers.hosts` for the requested authority; at an ingress, scanner noise is common",
        commands: &["istioctl proxy-config routes {pod} -n {ns}", "kubectl get virtualservice,gateway -A"],
    },
    CauseInfo {
        cause: Cause::NoCluster,
        name: "no_cluster",
        meaning: "the route named a cluster the proxy does not have (NC / cluster_not_found)",
        look_at: "the destination host/subset of the VirtualService, the DestinationRule `subsets`, and a Sidecar resource limiting egress hosts",
        commands: &["istioctl proxy-config clusters {pod} -n {ns} --fqdn {host}", "kubectl get sidecar -A"],
    },
    CauseInfo {
        cause: Cause::ProtocolError,
        name: "protocol_error",
        meaning: "one side spoke HTTP the other could not parse (UPE, codec errors)",
        look_at: "the Service port name (`http-*`, `grpc-*`, `tcp-*`) or `appProtocol` of {svc} port {port}: a wrong protocol declaration makes the sidecar speak the wrong protocol",
        commands: &[
            "kubectl get svc {svc} -n {svc_ns} -o yaml | grep -A4 'ports:'",
            "istioctl analyze -n {svc_ns}",
        ],
    },
    CauseInfo {
        cause: Cause::DownstreamDisconnect,
        name: "downstream_disconnect",
        meaning: "the client closed or reset the connection before the response (DC/DR, code 0)",
        look_at: "the caller's own timeout (shorter than this upstream's latency?) and the latency of {host}",
        commands: &["istioctl proxy-config routes {pod} -n {ns} -o json | grep -E '\"timeout\"'"],
    },
    CauseInfo {
        cause: Cause::AppError,
        name: "app_error",
        meaning: "the next hop returned the 5xx itself (via_upstream): the application, or at a client sidecar possibly the server's sidecar",
        look_at: "the application logs of {svc}; at a client sidecar or gateway, the server sidecar's record with the same x-request-id",
        commands: &[
            "kubectl logs -n {svc_ns} -l app={svc} --all-containers --tail=-1{since} | grep -E ' 5[0-9][0-9] '",
        ],
    },
    CauseInfo {
        cause: Cause::RateLimited,
        name: "rate_limited",
        meaning: "a local or global rate limit rejected the request (429 RL)",
        look_at: "local/global rate-limit filters (EnvoyFilter) applying to {host}",
        commands: &["kubectl get envoyfilter -A"],
    },
    CauseInfo {
        cause: Cause::AuthzDenied,
        name: "authz_denied",
        meaning: "authorization denied the request (AuthorizationPolicy RBAC, or ext_authz)",
        look_at: "AuthorizationPolicy rules in {ns} (the policy name is in the details), or the external authorizer",
        commands: &["kubectl get authorizationpolicy -A", "istioctl x authz check {pod} -n {ns}"],
    },
    CauseInfo {
        cause: Cause::FaultInjected,
        name: "fault_injected",
        meaning: "fault injection aborted (FI) or delayed (DI) the request: configured, not a real failure",
        look_at: "the `fault` section of the VirtualService for {host}",
        commands: &["kubectl get virtualservice -A -o yaml | grep -n -A6 'fault:'"],
    },
    CauseInfo {
        cause: Cause::BlockedEgress,
        name: "blocked_egress",
        meaning: "outbound traffic to a host outside the registry was blocked (REGISTRY_ONLY: block_all / BlackHoleCluster)",
        look_at: "meshConfig `outboundTrafficPolicy.mode` and a ServiceEntry for the destination",
        commands: &[
            "kubectl get serviceentry -A",
            "istioctl proxy-config clusters {pod} -n {ns} | grep -E 'BlackHole|Passthrough'",
        ],
    },
    CauseInfo {
        cause: Cause::StreamIdleTimeout,
        name: "stream_idle_timeout",
        meaning: "a stream or request timeout on the downstream side fired (SI, request_overall_timeout), not a route timeout",
        look_at: "HTTP connection manager `stream_idle_timeout`/`request_timeout` (ProxyConfig or EnvoyFilter) and the route `idleTimeout`",
        commands: &[
            "istioctl proxy-config listeners {pod} -n {ns} -o json | grep -E 'idle_timeout|request_timeout'",
        ],
    },
    CauseInfo {
        cause: Cause::Other,
        name: "other",
        meaning: "a failure no rule explains; the evidence shows its flags and details",
        look_at: "the response flags and details shown as evidence",
        commands: &["istioctl proxy-status"],
    },
];

// `Cause::info` indexes the table by the variant: a row out of place fails the build.
const _: () = {
    let mut i = 0;
    while i < Cause::COUNT {
        assert!(CAUSES[i].cause as usize == i, "CAUSES rows must follow the order of Cause");
        i += 1;
    }
};

impl Cause {
    pub fn info(self) -> &'static CauseInfo {
        &CAUSES[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn from_name(name: &str) -> Option<Cause> {
        CAUSES.iter().find(|c| c.name == name).map(|c| c.cause)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Domain {
    pub fn name(self) -> &'static str {
        match self {
            Domain::Application => "application",
            Domain::Network => "network",
            Domain::Security => "security",
            Domain::Configuration => "configuration",
            Domain::Capacity => "capacity",
            Domain::Client => "client",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Reporter {
    pub fn name(self) -> &'static str {
        match self {
            Reporter::Gateway => "gateway",
            Reporter::ClientSidecar => "client_sidecar",
            Reporter::ServerSidecar => "server_sidecar",
            Reporter::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The verdict on one failed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub cause: Cause,
    pub domain: Domain,
    pub reporter: Reporter,
    /// The fields that decided it.
    pub evidence: &'static [Ev],
}

/// The fields rules look at, extracted once per record.
pub struct Facts<'r> {
    pub code: Option<u16>,
    pub flags: ResponseFlags,
    pub details: Details<'r>,
    pub transport_failure: &'r [u8],
    pub termination: &'r [u8],
    pub duration_ms: Option<u64>,
    pub route: &'r [u8],
    pub cluster: &'r [u8],
    pub tcp: bool,
    /// An Istio ambient ztunnel L4 record: `transport_failure` holds its `error` text.
    pub l4: bool,
    /// The details' transport failure text when it says something the field does not: Envoy
    /// from 1.23 writes the same reason in both, and the rules' dozen searches of it need only
    /// one of them.
    details_transport: Option<&'r [u8]>,
}

impl<'r> Facts<'r> {
    pub fn of(rec: &'r Record<'_>) -> Facts<'r> {
        let details = rec.details();
        let transport_failure = rec.upstream_transport_failure_reason.unwrap_or(b"");
        Facts {
            code: rec.response_code,
            flags: rec.response_flags,
            details,
            transport_failure,
            termination: rec.connection_termination_details.unwrap_or(b""),
            duration_ms: rec.duration_ms,
            route: rec.route_name.unwrap_or(b""),
            cluster: rec.upstream_cluster.unwrap_or(b""),
            tcp: rec.is_tcp(),
            l4: rec.format == FormatKind::Ztunnel,
            details_transport: details.transport_failure.filter(|&t| t != transport_failure),
        }
    }

    /// ztunnel's error text contains `needle` (family reference §10.1; its messages change
    /// between versions, so rules match parts of them).
    fn l4_error(&self, needle: &[u8]) -> bool {
        self.l4 && find_literal(needle, self.transport_failure).is_some()
    }

    fn has(&self, f: Flag) -> bool {
        self.flags.contains(f)
    }

    fn details_is(&self, v: &[u8]) -> bool {
        self.details.raw == v
    }

    fn reset_reason(&self) -> &[u8] {
        self.details.reset_reason.unwrap_or(b"")
    }

    /// Transport failure text from the field or, on Envoy 1.21–1.22, from the details braces.
    /// Most failures have none, and a dozen rules ask: that answer costs no search.
    #[inline]
    fn transport_text(&self, needle: &[u8]) -> bool {
        (!self.transport_failure.is_empty() && find_literal(needle, self.transport_failure).is_some())
            || self.details_transport.is_some_and(|t| find_literal(needle, t).is_some())
    }
}

/// True when the record describes a failure (failure-semantics §3.10): a 5xx, an HTTP record
/// with code 0, any flag but `RFCF`, reset/disconnect/deny details, or a TCP RBAC deny in the
/// termination details. A TCP session with code 0 and no flag is fine, and so is a WebSocket
/// (`101`) the client closed (`DC`). A ztunnel record failed when it carries an error.
///
/// `DI` counts, whatever the status: the request went through the delay the user injected, and
/// the user who injects one wants to see it hit (issue 17). It is reported as `fault_injected`
/// in the `configuration` domain, whose meaning says "configured, not a real failure", so that
/// a 200 that waited 5 s for a VirtualService `fault.delay` is a finding with its observed delay
/// instead of an invisible success. Only records that carry `DI` change: ordinary successes
/// stay out of every failure count, and `--fail-on` gates can leave the cause out
/// (`count(cause:fault_injected)`, `domain(configuration)` select it).
#[inline(always)]
pub fn is_failure(rec: &Record<'_>) -> bool {
    // ztunnel has no status: a connection failed when it logged an error.
    if rec.format == FormatKind::Ztunnel {
        return rec.upstream_transport_failure_reason.is_some();
    }
    let code = rec.response_code.unwrap_or(0);
    let flags = rec.response_flags;
    if code >= 500 || flags.has_failure_or_fault_flag() {
        // A WebSocket lives until a side closes it: `101 DC downstream_remote_disconnect` is
        // how a session the client ended is logged, not a failure.
        return code != 101 || flags != ResponseFlags::only(Flag::DC);
    }
    if code == 0 && !rec.is_tcp() && rec.response_code.is_some() {
        return true;
    }
    let details = rec.response_code_details.unwrap_or(b"");
    // Keyed on the first byte: the common `via_upstream` then costs one compare, not six.
    let failed_details = match details.first() {
        Some(b'u') => details.starts_with(b"upstream_reset_"),
        Some(b'd') => details == b"downstream_remote_disconnect",
        Some(b'h') => details.starts_with(b"http2.remote_re") || details.starts_with(b"http3.remote_re"),
        Some(b'r') => details.starts_with(b"rbac_access_denied"),
        Some(b'e') => details.starts_with(b"ext_authz_"),
        _ => false,
    };
    failed_details || rec.connection_termination_details.is_some_and(|t| t.starts_with(b"rbac_access_denied"))
}

/// A refusal takes a few ms even with retries and back-off; a connect timeout takes the
/// connect timeout (Istio default 10 s, often ≥1 s when tuned). Used only when the details do
/// not say which (Envoy ≤1.26's bare `{connection_failure}`, formats without details).
pub const CONNECT_TIMEOUT_GUESS_MS: u64 = 500;

/// One rule: when `test` holds, the record's cause is `cause`; `evidence` lists the fields
/// that decided it.
pub struct Rule {
    pub cause: Cause,
    pub test: fn(&Facts<'_>) -> bool,
    pub evidence: &'static [Ev],
}

const DETAILS: &[Ev] = &[Ev::Code, Ev::Flags, Ev::Details];
const TRANSPORT: &[Ev] = &[Ev::Code, Ev::Flags, Ev::Details, Ev::TransportFailure, Ev::Duration];
const TIMING: &[Ev] = &[Ev::Code, Ev::Flags, Ev::Details, Ev::Duration];
/// ztunnel records: the error text is in the transport-failure field.
const L4: &[Ev] = &[Ev::TransportFailure, Ev::Duration];

fn connect_failure(f: &Facts<'_>) -> bool {
    f.has(Flag::UF)
        || matches!(
            f.reset_reason(),
            b"connection_failure"
                | b"connection failure"
                | b"remote_connection_failure"
                | b"local_connection_failure"
                | b"connection_timeout"
        )
}

fn refused_evidence(f: &Facts<'_>) -> bool {
    f.transport_text(b"onnection_refused")
        || f.transport_text(b"onnection refused")
        || f.transport_text(b"connect_error:_111")
        || f.transport_text(b"connect error: 111")
}

/// The source ztunnel's view of a destination that could not reach its app: the destination
/// answers the HBONE CONNECT with 503 (family §10.1: refused, or timed out after 10 s).
fn l4_connect_503(f: &Facts<'_>) -> bool {
    f.l4_error(b"http status: 503")
}

fn unreachable_evidence(f: &Facts<'_>) -> bool {
    f.transport_text(b"immediate_connect_error")
        || f.transport_text(b"immediate connect error")
        || f.transport_text(b"o_route_to_host")
        || f.transport_text(b"etwork_is_unreachable")
        || f.transport_text(b"onnection_timed_out")
}

/// Ordered: the first rule that holds decides. Details-based rules come before flag-based ones.
pub const RULES: &[Rule] = &[
    Rule {
        cause: Cause::AuthzDenied,
        test: |f| {
            f.details.raw.starts_with(b"rbac_access_denied")
                || f.termination.starts_with(b"rbac_access_denied")
                || f.details.raw.starts_with(b"ext_authz_")
                || f.has(Flag::UAEX)
        },
        evidence: &[Ev::Code, Ev::Flags, Ev::Details, Ev::TerminationDetails],
    },
    Rule {
        cause: Cause::FaultInjected,
        test: |f| f.has(Flag::FI) || f.details_is(b"fault_filter_abort"),
        evidence: DETAILS,
    },
    Rule {
        cause: Cause::RateLimited,
        test: |f| {
            f.has(Flag::RL)
                || f.has(Flag::RLSE)
                || f.details_is(b"local_rate_limited")
                || f.details_is(b"request_rate_limited")
        },
        evidence: DETAILS,
    },
    Rule {
        cause: Cause::BlockedEgress,
        // A TCP `UH` without a cluster is the same block: Envoy records the cluster before it
        // picks a host (tcp_proxy, formats reference §6), so only Istio's JSON logs of
        // BlackHoleCluster leave it out (`"upstream_cluster":null`, istio/istio#33281); an
        // empty endpoint set names its cluster.
        test: |f| {
            (f.details_is(b"direct_response") && f.route == b"block_all")
                || f.cluster == b"BlackHoleCluster"
                || (f.tcp && f.code.unwrap_or(0) == 0 && f.has(Flag::UH) && f.cluster.is_empty())
        },
        evidence: &[Ev::Code, Ev::Flags, Ev::Details, Ev::Route, Ev::Cluster],
    },
    Rule {
        cause: Cause::TlsFailure,
        // Envoy writes a transport failure reason only for a failed upstream connection, so
        // `TLS error: …` there decides whatever flag came with it (a cut or hand-edited line
        // may have lost or changed the flags).
        test: |f| {
            // `SSL` is TLS evidence only for a failed connection. (Each text is searched once:
            // the rules search a failed connection's reason a dozen times.)
            f.details_is(b"filter_chain_not_found")
                || f.transport_text(b"TLS error")
                || f.transport_text(b"TLS_error")
                || (connect_failure(f) && f.transport_text(b"SSL"))
        },
        evidence: TRANSPORT,
    },
    Rule {
        cause: Cause::NoCluster,
        test: |f| f.has(Flag::NC) || f.details_is(b"cluster_not_found"),
        evidence: DETAILS,
    },
    Rule {
        cause: Cause::NoRoute,
        test: |f| {
            f.has(Flag::NR)
                || f.details_is(b"route_not_found")
                || f.details_is(b"route_configuration_not_found")
        },
        evidence: DETAILS,
    },
    Rule {
        cause: Cause::PerTryTimeout,
        // Without details (Envoy default format), UT together with URX means the tries timed out.
        test: |f| {
            f.details.raw.starts_with(b"upstream_per_try")
                || (f.has(Flag::UT) && f.has(Flag::URX) && f.details.raw.is_empty())
        },
        evidence: TIMING,
    },
    Rule {
        cause: Cause::RouteTimeout,
        test: |f| {
            f.has(Flag::UT)
                || f.has(Flag::UMSDR)
                || f.details_is(b"response_timeout")
                || f.details_is(b"upstream_response_timeout")
                || f.details_is(b"upstream_max_stream_duration_reached")
        },
        evidence: TIMING,
    },
    Rule {
        cause: Cause::StreamIdleTimeout,
        test: |f| {
            f.has(Flag::SI)
                || f.has(Flag::DT)
                || matches!(
                    f.details.raw,
                    b"stream_idle_timeout"
                        | b"request_overall_timeout"
                        | b"request_header_timeout"
                        | b"max_duration_timeout"
                        | b"duration_timeout"
                )
        },
        evidence: TIMING,
    },
    Rule {
        cause: Cause::Overflow,
        test: |f| {
            (f.has(Flag::UO) && !f.details_is(b"maintenance_mode"))
                || f.reset_reason() == b"overflow"
                || f.reset_reason() == b"overload_manager_reset"
                || f.has(Flag::OM)
                || f.has(Flag::DO)
                || f.has(Flag::UDO)
                || matches!(f.details.raw, b"overload" | b"drop_overload" | b"unconditional_drop_overload")
        },
        evidence: DETAILS,
    },
    Rule {
        cause: Cause::NoHealthyUpstream,
        test: |f| f.has(Flag::UH) || f.has(Flag::LH) || f.details_is(b"no_healthy_upstream"),
        evidence: DETAILS,
    },
    Rule {
        cause: Cause::ConnectTimeout,
        test: |f| {
            connect_failure(f)
                && (f.reset_reason() == b"connection_timeout"
                    || unreachable_evidence(f)
                    || (!refused_evidence(f) && f.duration_ms.unwrap_or(0) >= CONNECT_TIMEOUT_GUESS_MS))
        },
        evidence: TRANSPORT,
    },
    Rule { cause: Cause::ConnectionRefused, test: connect_failure, evidence: TRANSPORT },
    Rule {
        cause: Cause::ProtocolError,
        test: |f| {
            f.has(Flag::UPE)
                || f.has(Flag::DPE)
                || f.reset_reason() == b"protocol_error"
                || ((f.details.raw.starts_with(b"http1.") || f.details.raw.starts_with(b"http2."))
                    && !f.details.raw.starts_with(b"http2.remote_re"))
        },
        evidence: DETAILS,
    },
    Rule {
        cause: Cause::DownstreamDisconnect,
        // Code 0 with neither flag nor details on an HTTP record: no response was sent because
        // the client hung up, written so before Envoy had the `DC` flag (Istio 1.0's Envoy;
        // envoyproxy/envoy#5119 asked for the flag for exactly these records).
        test: |f| {
            f.has(Flag::DC)
                || f.has(Flag::DR)
                || (f.code == Some(0) && !f.tcp && f.flags.is_empty() && f.details.raw.is_empty())
                || f.details_is(b"downstream_remote_disconnect")
                || f.details.raw.starts_with(b"http2.remote_re")
                || f.details.raw.starts_with(b"http3.remote_re")
        },
        evidence: TIMING,
    },
    Rule {
        cause: Cause::UpstreamReset,
        test: |f| {
            f.has(Flag::UC)
                || f.has(Flag::UR)
                || f.has(Flag::LR)
                || f.details.raw.starts_with(b"upstream_reset_")
        },
        evidence: TIMING,
    },
    // Istio ambient ztunnel (L4): no code, flags or details, only its `error` text (family
    // §10.1), which no rule above reads; matched on parts because the wording changed between
    // releases (1.22/1.23 lack the NetworkPolicy hint and the policy name).
    Rule {
        cause: Cause::TlsFailure,
        // ztunnel turns a STRICT PeerAuthentication into a DENY policy of this name for
        // connections without a peer identity (istio/istio `staticStrictPolicyName` in
        // pilot/pkg/serviceregistry/kube/controller/ambient/policies.go): plaintext reached a STRICT
        // workload — an mTLS mismatch, not an AuthorizationPolicy the user wrote.
        test: |f| f.l4_error(b"istio_converted_static_strict"),
        evidence: L4,
    },
    Rule {
        cause: Cause::AuthzDenied,
        // AuthorizationPolicy at the destination, or its 401 as the source sees it.
        test: |f| {
            f.l4_error(b"policy rejection")
                || f.l4_error(b"policy change")
                || f.l4_error(b"http status: 401")
                || f.l4_error(b"http status: 403")
        },
        evidence: L4,
    },
    Rule { cause: Cause::NoHealthyUpstream, test: |f| f.l4_error(b"no healthy upstream"), evidence: L4 },
    Rule {
        cause: Cause::TlsFailure,
        test: |f| f.l4_error(b"tls error") || f.l4_error(b"identity error"),
        evidence: L4,
    },
    Rule {
        cause: Cause::ConnectTimeout,
        // The 10 s connect timeout to the app, or the HBONE connect to the remote :15008.
        test: |f| {
            f.l4_error(b"deadline has elapsed")
                || f.l4_error(b"timed out")
                || (l4_connect_503(f) && f.duration_ms.unwrap_or(0) >= CONNECT_TIMEOUT_GUESS_MS)
        },
        evidence: L4,
    },
    Rule {
        cause: Cause::ConnectionRefused,
        test: |f| f.l4_error(b"Connection refused") || f.l4_error(b"os error 111") || l4_connect_503(f),
        evidence: L4,
    },
    Rule { cause: Cause::DownstreamDisconnect, test: |f| f.l4_error(b"client disconnected"), evidence: L4 },
    Rule {
        cause: Cause::UpstreamReset,
        test: |f| f.l4_error(b"destination disconnected") || f.l4_error(b"Connection reset"),
        evidence: L4,
    },
    Rule {
        cause: Cause::AppError,
        // A 5xx the next hop sent: `via_upstream`, or, in formats without details, no flag.
        test: |f| {
            f.code.unwrap_or(0) >= 500
                && (f.details_is(b"via_upstream")
                    || (f.details.raw.is_empty()
                        && (f.flags.is_empty() || f.flags == ResponseFlags::only(Flag::URX))))
        },
        evidence: DETAILS,
    },
    // Last: a delay is the cause only when nothing else went wrong (`DI,UT` is a timeout, and a
    // delayed `503 via_upstream` is still the app's 5xx). The duration shows the delay.
    Rule { cause: Cause::FaultInjected, test: |f| f.has(Flag::DI), evidence: TIMING },
];

/// The domain of a cause as seen by a reporter (see the module docs for the reasons).
pub fn domain(cause: Cause, reporter: Reporter, facts: &Facts<'_>) -> Domain {
    match cause {
        Cause::RouteTimeout | Cause::PerTryTimeout | Cause::StreamIdleTimeout | Cause::AppError => {
            Domain::Application
        }
        Cause::ConnectionRefused if reporter == Reporter::ServerSidecar => Domain::Application,
        Cause::ConnectionRefused | Cause::ConnectTimeout | Cause::UpstreamReset | Cause::Other => {
            Domain::Network
        }
        Cause::TlsFailure | Cause::AuthzDenied => Domain::Security,
        Cause::Overflow | Cause::NoHealthyUpstream | Cause::RateLimited => Domain::Capacity,
        Cause::NoRoute | Cause::NoCluster | Cause::BlockedEgress | Cause::FaultInjected => {
            Domain::Configuration
        }
        Cause::ProtocolError if reporter == Reporter::Gateway && facts.has(Flag::DPE) => Domain::Client,
        Cause::ProtocolError => Domain::Configuration,
        Cause::DownstreamDisconnect => Domain::Client,
    }
}

/// Classifies one record; `None` when it did not fail.
#[inline]
pub fn classify(rec: &Record<'_>, reporter: Reporter) -> Option<Classification> {
    if !is_failure(rec) {
        return None;
    }
    Some(classify_failure(rec, reporter))
}

/// The rules, out of line: most records succeed and should not pay for their stack frame.
#[inline(never)]
fn classify_failure(rec: &Record<'_>, reporter: Reporter) -> Classification {
    let facts = Facts::of(rec);
    let (cause, evidence) = RULES
        .iter()
        .find(|r| (r.test)(&facts))
        .map(|r| (r.cause, r.evidence))
        .unwrap_or((Cause::Other, &[Ev::Code, Ev::Flags, Ev::Details, Ev::TerminationDetails]));
    Classification { cause, domain: domain(cause, reporter, &facts), reporter, evidence }
}

pub mod origin;
pub mod reporter;

pub use reporter::{ip_of, reporter};

#[cfg(test)]
mod tests;
