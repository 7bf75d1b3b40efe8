//! Judgement per upstream: turns groups of classified failures (cause × upstream × reporter)
//! into findings with their share of the upstream's traffic, the evidence, the observed
//! timeout cut-off, and the next step from the playbook in [`crate::classify::CAUSES`] with the
//! pod, namespace, host and port the log reveals filled in. Read by [`crate::summary`].
//!
//! The calls made here are per upstream, not per line (failure-semantics.md): nearly every
//! request to an upstream failing with `UC` is configuration or mTLS, a sporadic `UC` rate is a
//! keep-alive race; `503 … via_upstream` at a client sidecar means look at the server side; a
//! wall of `UT` at one duration is a configured timeout, and 15 s is not an Istio default.

use super::values::{Percentiles, human_ms};
use crate::aggregate::{Aggregate, Clipped, Group};
use crate::classify::{Cause, Domain, Reporter};

/// The dominant field values of a finding.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evidence {
    pub response_code: Option<u16>,
    pub response_flags: String,
    pub response_code_details: Option<String>,
    /// `<field>_truncated_from`: the length in bytes of a value cut to its first
    /// `SAMPLE_VALUE_BYTES` (present only then; for a list, one entry per value, `null` for
    /// one kept whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code_details_truncated_from: Option<u64>,
    pub upstream_transport_failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_transport_failure_reason_truncated_from: Option<u64>,
    pub connection_termination_details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_termination_details_truncated_from: Option<u64>,
    pub route_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_name_truncated_from: Option<u64>,
    /// How many of the finding's records share these values.
    pub matching: u64,
    /// Other combinations seen in the same finding.
    pub other_signatures: u64,
    pub duration_ms: Percentiles,
    /// Set when most durations sit at one value: a configured timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff_ms: Option<u64>,
    pub upstream_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_hosts_truncated_from: Option<Vec<Option<u64>>>,
    /// Records that carried `URX` (retries exhausted).
    pub retried: u64,
    /// With a cut-off: the durations in [`DURATION_BINS`] equal bins from 0 to a little past the
    /// longest, as (bin's upper bound in ms, requests), for the HTML report's "wall" picture.
    #[serde(skip)]
    pub duration_bins: Vec<(u64, u64)>,
}

/// Bins of [`Evidence::duration_bins`].
pub const DURATION_BINS: u64 = 40;

/// `h` in [`DURATION_BINS`] equal bins from 0 to a tenth past its largest value.
fn duration_bins(h: &hdrhistogram::Histogram<u64>) -> Vec<(u64, u64)> {
    let top = (h.max() + h.max() / 10).max(DURATION_BINS);
    let step = top.div_ceil(DURATION_BINS);
    let mut bins: Vec<(u64, u64)> = (1..=DURATION_BINS).map(|i| (i * step, 0)).collect();
    // Each recorded value once, at its own (quantized) value: the bins add up to the count.
    for v in h.iter_recorded() {
        let i = (h.median_equivalent(v.value_iterated_to()) / step).min(DURATION_BINS - 1) as usize;
        bins[i].1 += v.count_at_value();
    }
    bins
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hint {
    /// The judgement in one or two sentences.
    pub summary: String,
    /// The CRD and field (or setting) to look at.
    pub look_at: String,
    /// Commands that confirm it.
    pub commands: Vec<String>,
}

/// Another finding that holds some of the same requests (same `x-request-id`), seen by
/// another proxy or at another upstream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Related {
    pub cause: &'static str,
    pub reporter: &'static str,
    pub upstream: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Requests the two findings share.
    pub shared_requests: u64,
    /// True when the count is estimated (more than a thousand ids on a side).
    pub estimated: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    pub cause: &'static str,
    pub domain: &'static str,
    pub reporter: &'static str,
    pub upstream: String,
    /// For inbound clusters: the workload whose sidecar logged them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    pub count: u64,
    /// Share of this upstream's requests (as logged by all reporters), 0–1.
    pub share: f64,
    pub upstream_requests: u64,
    pub evidence: Evidence,
    pub hint: Hint,
    pub request_ids: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_ids_truncated_from: Option<Vec<Option<u64>>>,
    /// `namespace/pod` of the proxies that logged it, when the input says.
    pub pods: Vec<String>,
    /// For a pod, the length of `namespace/pod` before its parts were cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pods_truncated_from: Option<Vec<Option<u64>>>,
    /// The same requests seen elsewhere, largest first.
    pub related: Vec<Related>,
    /// `count × severity × √share` (see `super::rank`), rounded to 0.01.
    pub impact: f64,
    /// The rank of the incident this finding is part of (`Summary::incidents`).
    pub incident: usize,
}

/// What the cluster name and samples reveal, to fill the playbook's placeholders.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Target {
    pub pod: Option<String>,
    /// The namespace of the pod that logged the record: `istioctl proxy-config`, `kubectl exec`
    /// and `x describe` name that pod, so `-n` must be its namespace, not the destination's.
    pub ns: Option<String>,
    /// The namespace of the destination service (`kubectl get svc/endpoints`, its app logs).
    pub svc_ns: Option<String>,
    pub svc: Option<String>,
    pub host: Option<String>,
    pub port: Option<String>,
    pub cluster: String,
    /// The log's earliest start time: app logs to compare with start there, not "now minus".
    pub since: Option<String>,
}

/// Where Istio installs its gateways unless told otherwise.
const GATEWAY_NAMESPACE: &str = "istio-system";

impl Target {
    /// `pod` is (namespace, name) of the logging pod as the input said (namespace may be empty:
    /// `kubectl logs --prefix` does not print it).
    pub fn new(
        cluster: &str,
        authority: Option<&str>,
        pod: Option<(&str, &str)>,
        reporter: Reporter,
    ) -> Target {
        let mut t = Target { cluster: cluster.to_string(), ..Target::default() };
        let parts: Vec<&str> = cluster.split('|').collect();
        if parts.len() == 4 {
            t.port = Some(parts[1].to_string()).filter(|p| !p.is_empty());
            if !parts[3].is_empty() {
                t.host = Some(parts[3].to_string());
            }
        }
        if t.host.is_none() {
            if let Some((host, port)) = authority.map(split_host_port) {
                t.host = Some(host.to_string());
                if t.port.is_none() {
                    t.port = port.map(str::to_string);
                }
            }
        }
        if let Some(h) = &t.host {
            let labels: Vec<&str> = h.split('.').collect();
            if labels.first().is_some_and(|l| !l.is_empty() && !l.bytes().all(|b| b.is_ascii_digit())) {
                t.svc = Some(labels[0].to_string());
                if labels.len() >= 3 && (labels[2] == "svc" || h.ends_with(".svc.cluster.local")) {
                    t.svc_ns = Some(labels[1].to_string());
                }
            }
        }
        let (pod_ns, pod_name) = match pod {
            Some((ns, p)) => (Some(ns).filter(|n| !n.is_empty()), Some(p)),
            None => (None, None),
        };
        t.pod = pod_name.map(str::to_string);
        let istio_gateway_pod = pod_name
            .is_some_and(|p| p.starts_with("istio-ingressgateway") || p.starts_with("istio-egressgateway"));
        t.ns = match pod_ns {
            Some(ns) => Some(ns.to_string()),
            // A server sidecar's inbound cluster, authority or SNI names the pod's own Service,
            // and a Service selects pods in its own namespace.
            None if reporter == Reporter::ServerSidecar => t.svc_ns.clone(),
            None if istio_gateway_pod
                || (reporter == Reporter::Gateway
                    && pod_name.is_none()
                    && cluster.starts_with("outbound|")) =>
            {
                Some(GATEWAY_NAMESPACE.to_string())
            }
            None => None,
        };
        t
    }

    /// Substitutes `{pod}`, `{ns}`, `{svc_ns}`, `{svc}`, `{host}`, `{port}`, `{cluster}`,
    /// `{since}`; what the log does not say becomes a named placeholder, never an empty one.
    pub fn fill(&self, template: &str) -> String {
        let cluster = match self.cluster.as_str() {
            "" | "-" => "<cluster>",
            c => c,
        };
        let since = self.since.as_deref().map(|s| format!(" --since-time={s}")).unwrap_or_default();
        template
            .replace("{pod}", self.pod.as_deref().unwrap_or("<pod>"))
            .replace("{ns}", self.ns.as_deref().unwrap_or("<namespace of the logging pod>"))
            .replace("{svc_ns}", self.svc_ns.as_deref().unwrap_or("<namespace of the service>"))
            .replace("{svc}", self.svc.as_deref().unwrap_or("<service>"))
            .replace("{host}", self.host.as_deref().unwrap_or("<host>"))
            .replace("{port}", self.port.as_deref().unwrap_or("<port>"))
            .replace("{cluster}", cluster)
            .replace("{since}", &since)
    }
}

/// Istio mTLS SNI names the service exactly: `outbound_.<port>_.<subset>_.<fqdn>` → `fqdn:port`.
pub fn sni_host(sni: &str) -> Option<String> {
    let rest = sni.strip_prefix("outbound_.")?;
    let mut parts = rest.splitn(3, "_.");
    let (port, _subset, fqdn) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{fqdn}:{port}"))
}

/// `host:port`, `[v6]:port` or `host` → (host, port).
fn split_host_port(a: &str) -> (&str, Option<&str>) {
    match a.rsplit_once(':') {
        Some((h, p))
            if !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (!h.contains(':') || h.ends_with(']')) =>
        {
            (h, Some(p))
        }
        _ => (a, None),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn non_empty(b: &Clipped) -> Option<String> {
    (!b.kept().is_empty()).then(|| lossy(b.kept()))
}

/// The `_truncated_from` list of `values`: `None` when none was cut.
fn cut_from(values: impl Iterator<Item = Option<u64>>) -> Option<Vec<Option<u64>>> {
    let v: Vec<Option<u64>> = values.collect();
    v.iter().any(Option::is_some).then_some(v)
}

/// When at least 90% of the durations sit within 2% (or 5 ms) of the median, that value is a
/// cut-off: something stopped the requests at a configured time.
pub fn cutoff(g: &Group) -> Option<(u64, u64)> {
    let h = &g.durations.histogram();
    if h.len() < 3 {
        return None;
    }
    let median = g
        .exact
        .median()
        .unwrap_or_else(|| h.median_equivalent(h.value_at_quantile(0.5)).clamp(h.min(), h.max()));
    if median < 100 {
        return None;
    }
    let tol = (median / 50).max(5);
    let near = h.count_between(median.saturating_sub(tol), median + tol);
    (near * 10 >= h.len() * 9).then_some((median, near))
}

fn round_seconds(ms: u64) -> bool {
    // 15 000 ms with Envoy's few ms of scheduling slack (and histogram rounding) is "15 s".
    let rem = ms % 1000;
    ms >= 1000 && (rem <= 50 || rem >= 950)
}

/// What other findings say about the same requests or endpoints.
struct Context<'a> {
    related: &'a [Related],
    /// `filter_chain_not_found` findings whose listener address is one of this group's
    /// upstream hosts: (address, count).
    strict_servers: Vec<(String, u64)>,
    /// For `filter_chain_not_found`: client findings whose upstream host is this listener.
    plaintext_clients: Vec<(String, u64)>,
}

fn judgement(
    cause: Cause,
    reporter: Reporter,
    g: &Group,
    share: f64,
    ev: &Evidence,
    upstream: &str,
    cx: &Context<'_>,
) -> (String, Domain, Cause) {
    // The playbook to show: the cause's own, unless the judgement moved the finding elsewhere.
    let mut playbook = cause;
    let pct = share * 100.0;
    let n = g.count;
    let cut = cutoff(g);
    let cut_text = cut.map(|(ms, near)| {
        if near == n {
            format!("all {n} at {}", human_ms(ms))
        } else {
            format!("{near} of {n} at {}", human_ms(ms))
        }
    });
    let tf = ev.upstream_transport_failure_reason.as_deref().unwrap_or("");
    let details = ev.response_code_details.as_deref().unwrap_or("");
    let mut domain = g.domain;
    let text = match cause {
        Cause::RouteTimeout => {
            let mut s = format!("{n} requests ({pct:.1}% of {upstream}) hit a route timeout");
            if let Some(c) = &cut_text {
                s += &format!(" — {c}");
            }
            s += ".";
            if let Some((ms, _)) = cut {
                let secs = (ms + 500) / 1000;
                if secs == 15 && round_seconds(ms) {
                    s += " 15 s is Envoy's default route timeout, not Istio's: Istio (≥1.0) sets no route timeout, so an explicit VirtualService `timeout: 15s`, a plain-Envoy route without a timeout (another Envoy-based gateway), or a proxy in front cut these requests.";
                } else if round_seconds(ms) {
                    s += &format!(
                        " A fixed cut-off at {secs} s is a configured timeout (VirtualService `timeout` or a proxy in front), not an Istio default."
                    );
                }
            }
            s += &format!(
                " The {} logged UT: the timeout is on this hop's route.",
                reporter.name().replace('_', " ")
            );
            s
        }
        Cause::PerTryTimeout => {
            let mut s =
                format!("{n} requests ({pct:.1}%) ran out of tries, each try cut by the per-try timeout");
            if let Some(c) = &cut_text {
                s += &format!(" — {c} in total (≈ (attempts + 1) × perTryTimeout plus back-off)");
            }
            s + "."
        }
        Cause::ConnectionRefused => {
            if reporter == Reporter::ServerSidecar && share >= 0.9 {
                format!(
                    "Every request to this inbound port is refused ({n}, {pct:.0}%): the app does not listen on the pod IP at that port — bound to 127.0.0.1 (unreachable since Istio 1.10) or listening on another port."
                )
            } else if share >= 0.9 {
                format!(
                    "Nearly every request to {upstream} is refused ({n}, {pct:.0}%): the endpoints do not listen on the target port (wrong Service targetPort, app down, or bound to 127.0.0.1)."
                )
            } else {
                format!(
                    "{n} connections refused ({pct:.1}% of {upstream}): some endpoints were not listening — pods restarting or stale endpoints during a rollout."
                )
            }
        }
        Cause::ConnectTimeout => {
            let mut s = format!(
                "{n} connection attempts to {upstream} timed out or found the endpoint unreachable ({pct:.1}%)"
            );
            if let Some(c) = &cut_text {
                s += &format!(" — {c}, the connect timeout");
            }
            s + ": the endpoint is unreachable (NetworkPolicy, node or pod network, stale endpoint)."
        }
        Cause::TlsFailure => {
            if details == "filter_chain_not_found" {
                let mut s = format!(
                    "{n} plaintext connections hit a listener that only accepts mTLS: the server is STRICT (PeerAuthentication) and the client has no sidecar or a DestinationRule with `tls.mode: DISABLE`."
                );
                for (up, count) in &cx.plaintext_clients {
                    s += &format!(" Clients see this as {count} × 503 UC at {up}.");
                }
                s
            } else if tf.contains("WRONG_VERSION_NUMBER") {
                format!(
                    "{n} TLS handshakes reached a plaintext endpoint (WRONG_VERSION_NUMBER): the client originates mTLS (DestinationRule ISTIO_MUTUAL or auto mTLS) to a pod without a sidecar or a non-TLS port."
                )
            } else if tf.contains("istio_converted_static_strict") {
                format!(
                    "{n} plaintext connections were refused by ztunnel under STRICT mTLS (`istio_converted_static_strict` is ztunnel's form of a STRICT PeerAuthentication, not an AuthorizationPolicy): the client is outside the ambient mesh or its traffic is not captured. Enrol the client, or a port-level PERMISSIVE exception."
                )
            } else if tf.contains("Secret_is_not_supplied") || tf.contains("Secret is not supplied") {
                format!(
                    "{n} handshakes failed because the proxy had no certificate (SDS never delivered it): check that istiod is up and reachable from the pod (`istioctl proxy-config secret`), then restart the pod."
                )
            } else if tf.contains("EXPIRED") || tf.contains("expired") {
                format!(
                    "{n} handshakes failed on an expired certificate: the proxy stopped renewing it (istiod unreachable, or a custom CA certificate expired) — check istiod and the CA, then restart the pod."
                )
            } else if tf.contains("CERTIFICATE_VERIFY_FAILED") || tf.contains("UNKNOWN_CA") {
                format!(
                    "{n} handshakes failed certificate verification: different trust roots / trust domains (unknown CA: a root changed or a cluster joined with its own CA), an expired certificate, or a SAN mismatch."
                )
            } else {
                format!("{n} TLS handshakes failed ({pct:.1}% of {upstream}).")
            }
        }
        Cause::UpstreamReset => {
            let uc = ev.response_flags.contains("UC");
            if let Some((addr, count)) = cx.strict_servers.first().filter(|_| uc) {
                domain = Domain::Security;
                playbook = Cause::TlsFailure;
                format!(
                    "{n} requests to {upstream} failed with {} ({pct:.1}%), and the server at {addr} logged {count} plaintext connections rejected by STRICT mTLS (`0 NR filter_chain_not_found`): this client sends plaintext to a STRICT server — a DestinationRule `tls.mode: DISABLE` or a missing sidecar, not a keep-alive race.",
                    ev.response_flags
                )
            } else if uc && share >= 0.9 && n >= 3 && reporter != Reporter::ServerSidecar {
                domain = Domain::Security;
                playbook = Cause::TlsFailure;
                format!(
                    "Nearly every request to {upstream} fails with {} ({pct:.0}%): not a keep-alive race. The server closes every connection — typically an mTLS mismatch (a DestinationRule `tls.mode: DISABLE` sending plaintext to a STRICT server, which logs `0 NR filter_chain_not_found`) or a wrong port protocol.",
                    ev.response_flags
                )
            } else if let Some(c) = cut_text.filter(|_| cut.is_some_and(|(ms, _)| ms >= 1000)) {
                format!(
                    "{n} upstream connections were closed mid-request — {c}: a server-side request or idle timeout closed them."
                )
            } else if uc && share < 0.1 {
                format!(
                    "A sporadic UC rate ({pct:.2}% of {upstream}) is the keep-alive race: the app closes idle connections the proxy still reuses. Set DestinationRule `connectionPool.http.idleTimeout` below the app's keep-alive timeout."
                )
            } else {
                format!(
                    "{n} requests ({pct:.1}% of {upstream}) lost their upstream connection or stream mid-request."
                )
            }
        }
        Cause::AppError => {
            if reporter == Reporter::ServerSidecar {
                format!(
                    "The application behind {upstream} returned {n} 5xx itself (via_upstream, {pct:.1}% of its traffic): a bug or overload in the app, not the mesh."
                )
            } else {
                let retried = if g.with_retries > 0 {
                    format!(
                        " {} of them were retried until the retries ran out (URX; Istio ≤1.23 retries 503 by default).",
                        g.with_retries
                    )
                } else {
                    String::new()
                };
                let mut s = format!(
                    "{n} 5xx came from the next hop (via_upstream, {pct:.1}% of {upstream}).{retried}"
                );
                match cx.related.iter().find(|r| r.reporter != reporter.name()) {
                    Some(r) => {
                        s += &format!(
                            " The next hop logged {}{} of these requests as {} ({} at {}{}): that is where they failed.",
                            if r.estimated { "≈" } else { "" },
                            r.shared_requests,
                            r.cause,
                            r.reporter.replace('_', " "),
                            r.upstream,
                            r.workload.as_deref().map(|w| format!(" in {w}")).unwrap_or_default()
                        );
                    }
                    None => {
                        s += " The next hop may be the server's sidecar: find the server-side record with the same x-request-id to see the real cause."
                    }
                }
                s
            }
        }
        Cause::DownstreamDisconnect => {
            let mut s = format!("{n} clients gave up before the answer ({pct:.1}% of {upstream})");
            if let Some(c) = &cut_text {
                s += &format!(" — {c}");
            }
            match cx.related.iter().find(|r| r.cause == "route_timeout" || r.cause == "per_try_timeout") {
                Some(r) => {
                    s += &format!(
                        ". {} of them were cut by the {}'s {} at {}: the timeout is there, this hop only saw the caller leave.",
                        r.shared_requests,
                        r.reporter.replace('_', " "),
                        r.cause.replace('_', " "),
                        r.upstream
                    );
                }
                None if cut.is_some() => s += ": the caller's own timeout.",
                None => s += ".",
            }
            s
        }
        Cause::NoHealthyUpstream => {
            format!(
                "{n} requests found no healthy endpoint for {upstream} ({pct:.1}%): no ready pod behind the Service, or all ejected by outlier detection."
            )
        }
        Cause::FaultInjected if ev.response_flags.contains("DI") && !ev.response_flags.contains("FI") => {
            let delay = match (&cut_text, ev.duration_ms.p50) {
                (Some(c), _) => format!(" — {c}, the configured delay"),
                (None, Some(p50)) => format!(" — median {}", human_ms(p50)),
                (None, None) => String::new(),
            };
            format!(
                "{n} requests ({pct:.1}% of {upstream}) were delayed by fault injection (DI){delay}: a VirtualService `fault.delay` (or fault filter) configured on purpose, not an upstream failure."
            )
        }
        Cause::StreamIdleTimeout if ev.response_code == Some(101) => {
            let mut s = format!(
                "{n} WebSocket (101) connections ({pct:.1}% of {upstream}) were closed by an idle timeout"
            );
            if let Some(c) = &cut_text {
                s += &format!(" — {c}");
            }
            s + ": upgrades live as long as the socket, so the HTTP connection manager's `stream_idle_timeout` (5 min by default) or the route `idleTimeout` cuts a quiet one. Raise it (or set 0) for the WebSocket route, or have the client ping."
        }
        Cause::Overflow => format!(
            "{n} requests were rejected by a circuit breaker or overload limit ({pct:.1}% of {upstream})."
        ),
        _ => format!("{n} requests ({pct:.1}% of {upstream}): {}.", cause.info().meaning),
    };
    (text, domain, playbook)
}

/// Builds the findings, largest first, and the pairs of them (by index) that are the same
/// requests seen by two proxies: at least half of the smaller one's request ids shared, or a
/// client's `UC` at the address where the server logged `filter_chain_not_found`.
pub fn build(agg: &Aggregate) -> (Vec<Finding>, Vec<(usize, usize)>) {
    let mut groups: Vec<(Cause, u32, Reporter, &Group)> =
        agg.groups.iter().map(|(&(c, u, r), g)| (c, u, r, g)).collect();
    groups.sort_by(|a, b| {
        b.3.count
            .cmp(&a.3.count)
            .then_with(|| a.0.name().cmp(b.0.name()))
            .then_with(|| agg.upstream(a.1).name.cmp(&agg.upstream(b.1).name))
            .then_with(|| agg.upstream(a.1).workload.cmp(&agg.upstream(b.1).workload))
            .then_with(|| a.2.name().cmp(b.2.name()))
    });
    // Correlation is quadratic in the number of groups: look at the largest ones only.
    const CORRELATE: usize = 200;
    let fcnf: Vec<(usize, Vec<String>)> = groups
        .iter()
        .enumerate()
        .take(CORRELATE)
        .filter(|(_, (c, _, _, g))| {
            *c == Cause::TlsFailure
                && g.signatures.iter().any(|s| s.2.details.kept() == b"filter_chain_not_found")
        })
        .map(|(i, (_, _, _, g))| (i, g.local_addresses.iter().map(|(_, a)| lossy(a.kept())).collect()))
        .collect();
    // Folded once here: `saturated()` is read per related pair below.
    let sketches: Vec<std::borrow::Cow<'_, crate::aggregate::BottomK>> =
        groups.iter().take(CORRELATE).map(|g| g.3.ids.normalized()).collect();
    let shared_by_pair =
        crate::aggregate::BottomK::common_pairs(&sketches.iter().map(|s| &**s).collect::<Vec<_>>());
    let total_records = agg.records;
    let since = agg.start_range().map(|(first, _)| super::values::format_epoch_ms(first));
    let findings: Vec<Finding> = groups
        .iter()
        .enumerate()
        .map(|(i, &(cause, ui, reporter, g))| {
            let up = agg.upstream(ui);
            let upstream = lossy(&up.name);
            let workload = up.workload.as_deref().map(lossy);
            // A record without a cluster has no upstream to compare with: use all records.
            let base = if &*up.name == crate::aggregate::NO_CLUSTER.as_bytes() {
                total_records
            } else {
                up.requests
            };
            let share = if base > 0 { g.count as f64 / base as f64 } else { 0.0 };
            let mut sigs: Vec<_> = g.signatures.iter().collect();
            sigs.sort_by(|a, b| b.3.cmp(&a.3).then(a.1.cmp(&b.1)));
            let top = sigs[0];
            let sample = &top.2;
            let evidence = Evidence {
                response_code: sample.code,
                response_flags: sample.flags.to_string(),
                response_code_details: non_empty(&sample.details),
                upstream_transport_failure_reason: non_empty(&sample.transport_failure),
                connection_termination_details: non_empty(&sample.termination),
                route_name: non_empty(&sample.route),
                response_code_details_truncated_from: sample.details.cut_from(),
                upstream_transport_failure_reason_truncated_from: sample.transport_failure.cut_from(),
                connection_termination_details_truncated_from: sample.termination.cut_from(),
                route_name_truncated_from: sample.route.cut_from(),
                matching: top.3,
                other_signatures: g.count - top.3,
                duration_ms: Percentiles::of(&g.durations.histogram()),
                cutoff_ms: cutoff(g).map(|(ms, _)| ms),
                duration_bins: cutoff(g).map_or_else(Vec::new, |_| duration_bins(&g.durations.histogram())),
                upstream_hosts: g.upstream_hosts.iter().map(|(_, h)| lossy(h.kept())).collect(),
                upstream_hosts_truncated_from: cut_from(g.upstream_hosts.iter().map(|(_, h)| h.cut_from())),
                retried: g.with_retries,
            };
            let mut related: Vec<Related> = if i < CORRELATE && !sketches[i].is_empty() {
                groups
                    .iter()
                    .take(CORRELATE)
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .filter_map(|(j, &(c2, u2, r2, _))| {
                        let shared = shared_by_pair.get(i, j);
                        (shared > 0).then(|| {
                            let up2 = agg.upstream(u2);
                            Related {
                                cause: c2.name(),
                                reporter: r2.name(),
                                upstream: lossy(&up2.name),
                                workload: up2.workload.as_deref().map(lossy),
                                shared_requests: shared,
                                estimated: sketches[i].saturated() || sketches[j].saturated(),
                            }
                        })
                    })
                    .collect()
            } else {
                Vec::new()
            };
            related
                .sort_by(|a, b| b.shared_requests.cmp(&a.shared_requests).then_with(|| a.cause.cmp(b.cause)));
            related.truncate(3);
            let hosts: Vec<String> = evidence.upstream_hosts.clone();
            let strict_servers = if cause == Cause::UpstreamReset {
                fcnf.iter()
                    .filter_map(|(j, addrs)| {
                        addrs.iter().find(|a| hosts.contains(a)).map(|a| (a.clone(), groups[*j].3.count))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let plaintext_clients = match fcnf.iter().find(|(j, _)| *j == i) {
                Some((_, addrs)) => groups
                    .iter()
                    .take(CORRELATE)
                    .filter(|(c2, _, _, g2)| {
                        *c2 == Cause::UpstreamReset
                            && g2.upstream_hosts.iter().any(|(_, h)| addrs.contains(&lossy(h.kept())))
                    })
                    .map(|(_, u2, _, g2)| (lossy(&agg.upstream(*u2).name), g2.count))
                    .collect(),
                None => Vec::new(),
            };
            let cx = Context { related: &related, strict_servers, plaintext_clients };
            // A value cut short names nothing: never put into a command.
            let pod = g
                .pods
                .iter()
                .next()
                .filter(|(_, (ns, p))| !ns.is_cut() && !p.is_cut())
                .map(|(_, (ns, p))| (lossy(ns.kept()), lossy(p.kept())));
            let sni_host = g
                .server_names
                .iter()
                .next()
                .filter(|(_, s)| !s.is_cut())
                .and_then(|(_, s)| sni_host(&lossy(s.kept())));
            let authority = sni_host.or_else(|| {
                g.authorities.iter().next().filter(|(_, a)| !a.is_cut()).map(|(_, a)| lossy(a.kept()))
            });
            let mut target = Target::new(
                &upstream,
                authority.as_deref(),
                pod.as_ref().map(|(n, p)| (n.as_str(), p.as_str())),
                reporter,
            );
            target.since = since.clone();
            if target.svc.is_none() {
                target.svc = workload.clone();
            }
            let shown = match &workload {
                Some(w) => format!("{upstream} ({w})"),
                // The share was taken of all records (see `base`), and the text must say so.
                None if &*up.name == crate::aggregate::NO_CLUSTER.as_bytes() => "all requests".to_string(),
                None => upstream.clone(),
            };
            let (summary, domain, playbook) = judgement(cause, reporter, g, share, &evidence, &shown, &cx);
            let info = cause.info();
            let steps = playbook.info();
            Finding {
                cause: info.name,
                domain: domain.name(),
                reporter: reporter.name(),
                upstream,
                workload,
                count: g.count,
                share: (share * 10_000.0).round() / 10_000.0,
                upstream_requests: base,
                evidence,
                hint: Hint {
                    summary,
                    look_at: target.fill(steps.look_at),
                    commands: steps.commands.iter().map(|c| target.fill(c)).collect(),
                },
                request_ids: g.request_ids.iter().map(|(_, id)| lossy(id.kept())).collect(),
                request_ids_truncated_from: cut_from(g.request_ids.iter().map(|(_, id)| id.cut_from())),
                pods: g
                    .pods
                    .iter()
                    .map(|(_, (ns, p))| {
                        if ns.kept().is_empty() {
                            lossy(p.kept())
                        } else {
                            format!("{}/{}", lossy(ns.kept()), lossy(p.kept()))
                        }
                    })
                    .collect(),
                pods_truncated_from: cut_from(g.pods.iter().map(|(_, (ns, p))| {
                    (ns.is_cut() || p.is_cut()).then(|| {
                        let (ns, p) = (
                            ns.cut_from().unwrap_or(ns.kept().len() as u64),
                            p.cut_from().unwrap_or(p.kept().len() as u64),
                        );
                        if ns == 0 { p } else { ns + 1 + p }
                    })
                })),
                related,
                impact: 0.0,
                incident: 0,
            }
        })
        .collect();
    let mut links = Vec::new();
    let shown = groups.len().min(CORRELATE);
    for i in 0..shown {
        for j in i + 1..shown {
            let shared = shared_by_pair.get(i, j);
            if shared > 0 && shared * 2 >= groups[i].3.count.min(groups[j].3.count) {
                links.push((i, j));
            }
        }
    }
    for (i, f) in findings.iter().enumerate().take(shown) {
        if f.cause == Cause::UpstreamReset.name() && f.evidence.response_flags.contains("UC") {
            for (j, addrs) in &fcnf {
                if f.evidence.upstream_hosts.iter().any(|h| addrs.contains(h)) {
                    links.push((i.min(*j), i.max(*j)));
                }
            }
        }
    }
    (findings, links)
}

/// True when the finding's own related findings explain it: a client giving up on a request
/// another hop timed out, a 5xx passed on from a hop that logged the real failure. Such a
/// finding never leads its incident (`super::rank`).
pub fn is_symptom(f: &Finding) -> bool {
    match f.cause {
        "downstream_disconnect" => {
            f.related.iter().any(|r| r.cause == "route_timeout" || r.cause == "per_try_timeout")
        }
        "app_error" if f.reporter != "server_sidecar" => f.related.iter().any(|r| {
            r.reporter != f.reporter && r.cause != "app_error" && r.cause != "downstream_disconnect"
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_cluster_names() {
        let t =
            Target::new("outbound|8000||httpbin.foo.svc.cluster.local", None, None, Reporter::ClientSidecar);
        assert_eq!(t.host.as_deref(), Some("httpbin.foo.svc.cluster.local"));
        assert_eq!(
            (t.svc.as_deref(), t.svc_ns.as_deref(), t.port.as_deref()),
            (Some("httpbin"), Some("foo"), Some("8000"))
        );
        let t = Target::new(
            "inbound|8080||",
            Some("internal-api:8080"),
            Some(("shop", "internal-api-7d9f-x")),
            Reporter::ServerSidecar,
        );
        assert_eq!(t.port.as_deref(), Some("8080"));
        assert_eq!(t.svc.as_deref(), Some("internal-api"));
        assert_eq!((t.ns.as_deref(), t.pod.as_deref()), (Some("shop"), Some("internal-api-7d9f-x")));
        assert_eq!(t.fill("{pod} -n {ns}"), "internal-api-7d9f-x -n shop");
        let t = Target::new("-", None, None, Reporter::Unknown);
        assert_eq!(
            t.fill("{pod} -n {ns} --cluster '{cluster}'"),
            "<pod> -n <namespace of the logging pod> --cluster '<cluster>'"
        );
    }

    /// `-n` goes with the pod it names: the logging pod's namespace, never the destination's.
    #[test]
    fn the_namespace_is_the_logging_pods() {
        let cluster = "outbound|8000||httpbin.foo.svc.cluster.local";
        // A client sidecar whose namespace the input did not give (`kubectl logs --prefix`).
        let t = Target::new(cluster, None, Some(("", "sleep-7656cf8794-9v2gq")), Reporter::ClientSidecar);
        assert_eq!(t.fill("{pod} -n {ns}"), "sleep-7656cf8794-9v2gq -n <namespace of the logging pod>");
        assert_eq!(t.fill("svc {svc} -n {svc_ns}"), "svc httpbin -n foo");
        // An Istio gateway pod: where Istio installs it.
        let t =
            Target::new(cluster, None, Some(("", "istio-ingressgateway-7d4f8b9c6-x2x9z")), Reporter::Gateway);
        assert_eq!(t.fill("-n {ns}"), "-n istio-system");
        // A server sidecar: its inbound cluster names its own Service, in its own namespace.
        let t = Target::new(
            "inbound|8000||httpbin.foo.svc.cluster.local",
            None,
            Some(("", "httpbin-8cb97b8f4-9dk9p")),
            Reporter::ServerSidecar,
        );
        assert_eq!(t.fill("-n {ns}"), "-n foo");
        // A namespace the input gave wins.
        let t = Target::new(cluster, None, Some(("edge", "istio-ingressgateway-1")), Reporter::Gateway);
        assert_eq!(t.fill("-n {ns}"), "-n edge");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_ms(15000), "15.0 s");
        assert_eq!(human_ms(999), "999 ms");
        assert!(
            round_seconds(15003) && round_seconds(14990) && !round_seconds(15500) && !round_seconds(2511)
        );
    }
}
