//! `envoy-triage explain`: one line (or lines on stdin) explained for a person who has never seen
//! an Envoy log — every field named, every flag and detail token in plain words (reset reason,
//! transport failure, termination details), who logged it, the cause and domain with the
//! evidence, and the next step with the command that confirms it. Reads the parser
//! ([`crate::format`]), the knowledge base ([`crate::classify`]) and the playbook filling of
//! [`crate::summary::findings::Target`]. Output is plain text; log content is escaped.

use std::fmt::Write as _;
use std::io;

use crate::aggregate::{SAMPLE_VALUE_BYTES, clip_point};
use crate::classify::{self, Cause, Reporter};
use crate::escape::{escape_controls as esc, escape_sample};
use crate::format::{Decoder, FormatChoice, Outcome};
use crate::record::{Details, Record};
use crate::response_flags::Flag;
use crate::summary::findings::Target;

/// Plain words for what a field is.
const FIELD_MEANINGS: &[(&str, &str)] = &[
    ("start_time", "when the request started (the line is written when it ends)"),
    ("method", "HTTP method"),
    ("path", "request path, query string included"),
    ("protocol", "HTTP version the client spoke"),
    ("response_code", "status this proxy sent back to its client (0: no response, or a TCP connection)"),
    ("response_flags", "what went wrong, as Envoy's short codes (explained below)"),
    ("response_code_details", "what produced the status (explained below)"),
    ("connection_termination_details", "why the connection was closed"),
    ("upstream_transport_failure_reason", "why the connection to the upstream failed"),
    ("bytes_received", "request body bytes from the client"),
    ("bytes_sent", "response body bytes to the client"),
    ("duration_ms", "total time of the request in this proxy"),
    ("upstream_service_time_ms", "time the upstream took to send response headers"),
    ("x_forwarded_for", "client addresses the request passed through"),
    ("user_agent", "the client program"),
    ("request_id", "x-request-id: the same id appears at every proxy the request crossed"),
    ("authority", "Host / :authority the client asked for"),
    ("upstream_host", "the endpoint (pod IP:port) this proxy sent the request to"),
    ("upstream_cluster", "the Envoy cluster: which service and port (explained below)"),
    ("upstream_local_address", "this proxy's address on the upstream connection"),
    ("downstream_local_address", "the address the client connected to"),
    ("downstream_remote_address", "the client's address"),
    ("requested_server_name", "TLS SNI the client sent"),
    ("route_name", "the route that matched"),
    ("policy_status", "Istio 1.1–1.7 Mixer policy status"),
    ("log_time", "when the line was written (kubelet / container runtime)"),
    ("namespace", "Kubernetes namespace (from the line prefix or file path)"),
    ("pod", "pod that logged the line"),
    ("container", "container that logged the line"),
    ("stream", "stdout or stderr"),
];

/// `%RESPONSE_CODE_DETAILS%` values and heads (reference §4.3).
const DETAILS: &[(&str, &str)] = &[
    ("via_upstream", "the status came from the upstream (the next hop answered it)"),
    (
        "upstream_reset_before_response_started",
        "the upstream connection failed or was reset before any response header arrived",
    ),
    (
        "upstream_reset_after_response_started",
        "the upstream reset after the response had started (headers already sent on)",
    ),
    ("response_timeout", "the route timeout fired before the upstream answered"),
    ("upstream_response_timeout", "the route timeout fired before the upstream answered (Envoy ≤1.22 name)"),
    ("upstream_per_try_timeout", "the last try hit the per-try timeout"),
    ("upstream_per_try_idle_timeout", "a try was idle longer than the per-try idle timeout"),
    ("route_not_found", "no route matched the Host and path"),
    ("route_configuration_not_found", "the proxy has no route configuration for this listener"),
    ("cluster_not_found", "the route points at a cluster the proxy does not have"),
    ("no_healthy_upstream", "the cluster has no healthy endpoint"),
    ("maintenance_mode", "the cluster is in maintenance mode"),
    (
        "direct_response",
        "the route answered directly (in Istio, block_all means egress blocked by REGISTRY_ONLY)",
    ),
    (
        "filter_chain_not_found",
        "the listener had no filter chain for this connection — in Istio usually plaintext hitting a STRICT mTLS port",
    ),
    ("downstream_remote_disconnect", "the client closed the connection before the response"),
    ("stream_idle_timeout", "nothing moved on the stream for the idle timeout"),
    ("request_overall_timeout", "the connection manager's request timeout fired"),
    ("request_header_timeout", "the client took too long to send the request headers"),
    ("fault_filter_abort", "fault injection aborted the request"),
    ("local_rate_limited", "a local rate limit rejected the request"),
    ("request_rate_limited", "the global rate-limit service rejected the request"),
    ("ext_authz_denied", "the external authorizer denied the request"),
    ("ext_authz_error", "the external authorizer failed"),
    ("overload", "the overload manager rejected the request"),
    ("drop_overload", "dropped by EDS drop_overloads"),
    ("upstream_max_stream_duration_reached", "the upstream stream hit its maximum duration"),
    (
        "http1.codec_error",
        "the client sent HTTP/1 the proxy could not parse (often the wrong protocol for the port)",
    ),
    ("http2.remote_reset", "the client reset the HTTP/2 stream"),
];

/// Reset reasons inside `{…}` (reference §4.2).
const RESET_REASONS: &[(&str, &str)] = &[
    (
        "connection_failure",
        "the connection to the upstream failed (refused, timed out or TLS handshake failed; Envoy ≤1.26 does not say which)",
    ),
    ("connection failure", "the connection to the upstream failed (Envoy ≤1.16 spelling)"),
    (
        "remote_connection_failure",
        "the upstream refused or closed the connection while it was being set up (refused, or TLS handshake failed)",
    ),
    ("local_connection_failure", "the proxy could not set up the upstream connection locally"),
    ("connection_timeout", "the upstream connection was not established within the connect timeout"),
    (
        "connection_termination",
        "the upstream closed a connection that was in use (keep-alive race, server closing, or a protocol/mTLS mismatch)",
    ),
    ("local_reset", "the proxy reset the stream itself"),
    ("local_refused_stream_reset", "the proxy refused the stream"),
    ("overflow", "a circuit breaker (connection pool limit) rejected the request"),
    ("remote_reset", "the upstream reset the stream"),
    ("remote_refused_stream_reset", "the upstream refused the stream (HTTP/2 REFUSED_STREAM)"),
    ("protocol_error", "the upstream's response was not valid HTTP"),
    ("overload_manager_reset", "the overload manager reset the stream"),
];

/// Transport failure texts, matched by substring, most specific first (reference §5).
const TRANSPORT: &[(&str, &str)] = &[
    (
        "Connection_refused",
        "the upstream host refused the TCP connection: nothing listens on that address and port",
    ),
    (
        "Connection refused",
        "the upstream host refused the TCP connection: nothing listens on that address and port",
    ),
    ("connect_error:_111", "the upstream host refused the TCP connection (errno 111): nothing listens there"),
    ("connect error: 111", "the upstream host refused the TCP connection (errno 111): nothing listens there"),
    ("No_route_to_host", "no network route to the upstream host"),
    ("Network_is_unreachable", "the upstream network is unreachable"),
    (
        "WRONG_VERSION_NUMBER",
        "TLS was spoken to something that is not TLS (a plaintext port or a pod without a sidecar)",
    ),
    (
        "CERTIFICATE_VERIFY_FAILED",
        "the upstream's certificate could not be verified (trust roots, trust domain, expiry or name)",
    ),
    ("UNKNOWN_CA", "the peer does not trust the certificate authority of our certificate"),
    ("CERTIFICATE_EXPIRED", "the peer says our certificate has expired"),
    ("HANDSHAKE_FAILURE", "the peer rejected the handshake (e.g. it requires a client certificate)"),
    ("PROTOCOL_VERSION", "no common TLS version"),
    ("Secret_is_not_supplied_by_SDS", "the proxy had no certificate yet (SDS had not delivered it)"),
    ("Secret is not supplied by SDS", "the proxy had no certificate yet (SDS had not delivered it)"),
    ("TLS", "the TLS handshake with the upstream failed"),
];

fn lookup<'a>(table: &'a [(&str, &str)], key: &str) -> Option<&'a str> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn cluster_words(cluster: &str) -> String {
    if let Some(rest) = cluster.strip_prefix("outbound|") {
        let p: Vec<&str> = rest.split('|').collect();
        if p.len() == 3 {
            let subset = if p[1].is_empty() { String::new() } else { format!(", subset {}", p[1]) };
            return format!(
                "the service {} port {}{subset}, seen from the caller's side (outbound)",
                p[2], p[0]
            );
        }
    }
    if let Some(rest) = cluster.strip_prefix("inbound|") {
        let port = rest.split('|').next().unwrap_or("");
        return format!("the application in this pod, port {port} (inbound: the server's own sidecar)");
    }
    match cluster {
        "PassthroughCluster" => {
            "a destination outside the mesh registry, let through (ALLOW_ANY)".to_string()
        }
        "BlackHoleCluster" => "a destination outside the registry, blocked (REGISTRY_ONLY)".to_string(),
        c if c.starts_with("InboundPassthroughCluster") => "an inbound port no Service declares".to_string(),
        _ => String::new(),
    }
}

fn reporter_words(r: Reporter) -> &'static str {
    match r {
        Reporter::Gateway => "an ingress/egress gateway (the edge of the mesh)",
        Reporter::ClientSidecar => {
            "the caller's own sidecar (outbound): it sent the request on to the upstream"
        }
        Reporter::ServerSidecar => {
            "the server's sidecar (inbound): it received the request for its application"
        }
        Reporter::Unknown => "not known from this line alone (no cluster name or pod name tells)",
    }
}

/// A field value as shown: escaped, and cut to its first `SAMPLE_VALUE_BYTES` like the
/// report's samples, with the length it had.
fn shown(v: &str) -> std::borrow::Cow<'_, str> {
    // A `str` is UTF-8, so the cut is at a character boundary.
    let cut = clip_point(v.as_bytes(), SAMPLE_VALUE_BYTES);
    escape_sample(&v[..cut], (cut < v.len()).then_some(v.len() as u64))
}

/// Explains one record.
pub fn explain_record(rec: &Record<'_>, out: &mut String) {
    let _ = writeln!(out, "Format: {}", rec.format.name());
    let fields = rec.fields();
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (name, value) in &fields {
        let meaning = lookup(FIELD_MEANINGS, name).unwrap_or("");
        let _ = writeln!(out, "  {name:<width$}  {}", shown(value));
        if !meaning.is_empty() {
            let _ = writeln!(out, "  {:<width$}    ↳ {meaning}", "");
        }
        match *name {
            "response_flags" => {
                for f in rec.response_flags.iter() {
                    let _ =
                        writeln!(out, "  {:<width$}    {} ({}): {}", "", f.short(), f.long(), f.meaning());
                }
                if rec.response_flags.unknown() > 0 {
                    let _ = writeln!(
                        out,
                        "  {:<width$}    plus {} flag(s) not in Envoy's list (an extension's own)",
                        "",
                        rec.response_flags.unknown()
                    );
                }
            }
            "response_code_details" => {
                let d = Details::split(value.as_bytes());
                let head = String::from_utf8_lossy(d.head);
                let text = lookup(DETAILS, &head).map(str::to_string).or_else(|| {
                    head.starts_with("rbac_access_denied")
                        .then(|| "an AuthorizationPolicy (RBAC) denied the request; the policy is named in brackets".to_string())
                });
                if let Some(t) = text {
                    let _ = writeln!(out, "  {:<width$}    {}: {t}", "", esc(&head));
                }
                if let Some(r) = d.reset_reason {
                    let r = String::from_utf8_lossy(r);
                    let _ = writeln!(
                        out,
                        "  {:<width$}    reset reason {}: {}",
                        "",
                        esc(&r),
                        lookup(RESET_REASONS, &r).unwrap_or("(not a documented reason)")
                    );
                }
                if let Some(t) = d.transport_failure {
                    let t = String::from_utf8_lossy(t);
                    if let Some((_, m)) = TRANSPORT.iter().find(|(k, _)| t.contains(k)) {
                        let _ = writeln!(out, "  {:<width$}    transport failure: {m}", "");
                    }
                }
            }
            "upstream_transport_failure_reason" => {
                if let Some((_, m)) = TRANSPORT.iter().find(|(k, _)| value.contains(k)) {
                    let _ = writeln!(out, "  {:<width$}    {m}", "");
                }
            }
            "connection_termination_details" if value.starts_with("rbac_access_denied") => {
                let _ = writeln!(
                    out,
                    "  {:<width$}    an AuthorizationPolicy denied this TCP connection (the policy is named in brackets)",
                    ""
                );
            }
            "upstream_cluster" => {
                // The words quote the cluster's service, subset and port.
                let w = cluster_words(value);
                if !w.is_empty() {
                    let _ = writeln!(out, "  {:<width$}    {}", "", shown(&w));
                }
            }
            _ => {}
        }
    }
    let reporter = classify::reporter(rec, None);
    let _ = writeln!(out, "Logged by: {} — {}", reporter.name(), reporter_words(reporter));
    match classify::classify(rec, reporter) {
        None => {
            let _ = writeln!(out, "Verdict: not a failure.");
        }
        Some(c) => {
            let info = c.cause.info();
            let _ = writeln!(out, "Verdict: {} ({} domain) — {}.", info.name, c.domain.name(), info.meaning);
            let all = rec.fields();
            let evidence: Vec<String> = c
                .evidence
                .iter()
                .filter_map(|e| {
                    let key = match e {
                        classify::Ev::Code => "response_code",
                        classify::Ev::Flags => "response_flags",
                        classify::Ev::Details => "response_code_details",
                        classify::Ev::TransportFailure => "upstream_transport_failure_reason",
                        classify::Ev::TerminationDetails => "connection_termination_details",
                        classify::Ev::Duration => "duration_ms",
                        classify::Ev::Route => "route_name",
                        classify::Ev::Cluster => "upstream_cluster",
                    };
                    all.iter().find(|(k, _)| *k == key).map(|(k, v)| format!("{k}={}", shown(v)))
                })
                .collect();
            let _ = writeln!(out, "Evidence: {}", evidence.join(" "));
            if let Some(why) = undecided(rec, c.cause) {
                let _ = writeln!(out, "Uncertain: {why}");
            }
            let cluster = rec.upstream_cluster.map(String::from_utf8_lossy).unwrap_or_default();
            let sni = rec.requested_server_name.map(String::from_utf8_lossy);
            let authority = sni
                .as_deref()
                .and_then(crate::summary::findings::sni_host)
                .or_else(|| rec.authority.map(|a| String::from_utf8_lossy(a).into_owned()));
            let pod = rec.meta.pod.map(String::from_utf8_lossy);
            let ns = rec.meta.namespace.map(String::from_utf8_lossy).unwrap_or_default();
            let mut target =
                Target::new(&cluster, authority.as_deref(), pod.as_deref().map(|p| (&*ns, p)), reporter);
            target.since = rec.start_epoch_ms().map(crate::summary::format_epoch_ms);
            let _ = writeln!(out, "Look at: {}", esc(&target.fill(info.look_at)));
            for (i, cmd) in info.commands.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{}{}",
                    if i == 0 { "Confirm: " } else { "         " },
                    esc(&target.fill(cmd))
                );
            }
        }
    }
}

/// Why the verdict is a guess, when the record cannot decide it: `UF` says only that the
/// upstream connection failed; the reset reason in the details, the transport failure reason
/// or the duration say how (failure-semantics §3: refusal, connect timeout, TLS handshake).
fn undecided(rec: &Record<'_>, cause: Cause) -> Option<&'static str> {
    if !matches!(cause, Cause::ConnectionRefused | Cause::ConnectTimeout)
        || !rec.response_flags.contains(Flag::UF)
        || rec.details().reset_reason.is_some()
        || rec.upstream_transport_failure_reason.is_some()
    {
        return None;
    }
    Some(match rec.duration_ms {
        None => {
            "UF alone says the upstream connection failed, not how: refused, connect timeout or TLS handshake. The line holds no details, transport failure reason or duration to tell them apart."
        }
        Some(_) => {
            "UF without details or a transport failure reason: refused or timed out is guessed from the duration; a TLS handshake failure would look the same."
        }
    })
}

/// Explains lines one at a time, numbering them across everything it is given (arguments, or
/// files and stdin one after the other): what [`explain_lines`] and [`explain_reader`] share.
pub struct Explainer {
    decoder: Decoder,
    /// Lines seen so far.
    lines: u64,
}

impl Explainer {
    pub fn new(choice: FormatChoice) -> Explainer {
        Explainer { decoder: Decoder::new(choice), lines: 0 }
    }

    /// Lines seen so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Explains the next line (without its newline) into `out`. Empty lines are numbered but
    /// not explained, except a first one (an empty input says what it is).
    pub fn line(&mut self, line: &[u8], out: &mut String) {
        self.lines += 1;
        if line.is_empty() && self.lines > 1 {
            return;
        }
        if self.lines > 1 {
            out.push('\n');
        }
        let _ = writeln!(out, "Line {}:", self.lines);
        match self.decoder.decode(line) {
            Outcome::Record(rec) => explain_record(&rec, out),
            Outcome::Skipped(reason) => {
                let _ = writeln!(
                    out,
                    "Not an access-log record: {} (counted as skipped).",
                    reason.as_str().replace('_', " ")
                );
            }
            Outcome::Malformed(e) => {
                let _ = writeln!(out, "Not readable as an access-log record: {e}.");
            }
        }
    }
}

/// Explains every line of `input` (each separated by a blank line). Lines that are not
/// records say what they are instead.
pub fn explain_lines(input: &[u8], choice: FormatChoice) -> String {
    let mut out = String::new();
    let mut ex = Explainer::new(choice);
    let mut pieces = input.split(|&b| b == b'\n').peekable();
    while let Some(line) = pieces.next() {
        // A last newline ends the last line, it does not start an empty one.
        if line.is_empty() && pieces.peek().is_none() && ex.lines > 0 {
            break;
        }
        ex.line(line, &mut out);
    }
    out
}

/// The longest line [`explain_reader`] keeps: a line is explained from its first
/// `MAX_LINE` bytes (no Envoy access line comes near), the rest is read past.
pub const MAX_LINE: usize = 1 << 20;

/// Explains the lines of `input` as they are read, writing each explanation to `out` before
/// reading on: memory holds one line (at most [`MAX_LINE`] bytes of it), not the input.
/// Errors are `input`'s (`Err(Ok(e))`) or `out`'s (`Err(Err(e))`), so the caller can name them.
pub fn explain_reader(
    ex: &mut Explainer,
    input: &mut dyn io::BufRead,
    out: &mut dyn io::Write,
) -> Result<(), Result<io::Error, io::Error>> {
    let mut line = Vec::new();
    let mut text = String::new();
    loop {
        line.clear();
        let Some(full) = read_line_capped(input, &mut line, MAX_LINE).map_err(Ok)? else {
            return Ok(());
        };
        text.clear();
        ex.line(&line, &mut text);
        if full > line.len() {
            let _ = writeln!(
                text,
                "(line {} is {full} bytes long: only its first {} were read)",
                ex.lines,
                line.len()
            );
        }
        out.write_all(text.as_bytes()).map_err(Err)?;
    }
}

/// Reads one line into `buf` without its newline, keeping at most `max` bytes of it, and
/// returns its whole length; `None` at the end of the input.
fn read_line_capped(r: &mut dyn io::BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<usize>> {
    let mut len = 0;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok((len > 0).then_some(len));
        }
        let (piece, done) = match memchr::memchr(b'\n', avail) {
            Some(n) => (&avail[..n], Some(n + 1)),
            None => (avail, None),
        };
        let keep = piece.len().min(max - buf.len().min(max));
        buf.extend_from_slice(&piece[..keep]);
        len += piece.len();
        let used = done.unwrap_or(avail.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Some(len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_kept_to_its_first_max_bytes_and_read_past() {
        let data = b"abcdef\n\nxyz";
        let mut r = io::BufReader::with_capacity(2, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), Some(6));
        assert_eq!(buf, b"abcd");
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), Some(0));
        buf.clear();
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), Some(3));
        assert_eq!(buf, b"xyz");
        assert_eq!(read_line_capped(&mut r, &mut buf, 4).unwrap(), None);
    }

    #[test]
    fn read_lines_are_explained_like_given_ones() {
        let input = b"hello\n\nnot a record either\n";
        let mut out = Vec::new();
        let mut ex = Explainer::new(FormatChoice::Auto);
        explain_reader(&mut ex, &mut &input[..], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), explain_lines(input, FormatChoice::Auto));
        assert!(explain_lines(b"", FormatChoice::Auto).starts_with("Line 1:"));
    }
}
