//! `Record<'a>`: a borrowed view of one access-log record, and the small value types around it.
//!
//! Produced by [`crate::format`] (text formats, JSON lines) and read by the classifier and the
//! aggregates. Every value is borrowed: from the input line, or, for a JSON or `key=value` value
//! with escapes, from the decoder's scratch buffer that the value was unescaped into (see
//! `format::json::Scratch`), so a record costs no allocation and has nothing to drop. Envoy's
//! `-` (and JSON `null`, or a missing key) is `None`.
//!
//! Besides Envoy's own fields a record carries the few that Istio ambient's ztunnel (an L4
//! proxy, not Envoy) and Kuma log about the peers: the source and destination workload and the
//! direction. (The record is returned by value on every line, so it only grows by what the
//! classifier and reports use.) A record read from a line
//! as people paste it (cut at either end, quotes escaped) is marked [`Record::partial`].

use crate::response_flags::ResponseFlags;

/// A field's bytes: borrowed from the line, or from the decoder's scratch buffer when an escaped
/// value had to be unescaped.
pub type Bytes<'a> = &'a [u8];

/// Which layout a record was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatKind {
    /// Envoy's built-in default format (also Istio 1.0.0–1.0.2).
    EnvoyDefault,
    /// Istio 1.0.3–1.0.9 HTTP format (no space between path and protocol).
    Istio10Http,
    /// Istio 1.0.3–1.0.9 TCP format (no request, no response code).
    Istio10Tcp,
    /// Istio 1.1 pre-release format (Envoy default plus cluster/address tail and SNI).
    Istio11Pre,
    /// Istio 1.1: with the quoted mixer status.
    Istio11,
    /// Istio 1.2: mixer status and upstream transport failure reason.
    Istio12,
    /// Istio 1.3–1.7: as 1.2 plus route name.
    Istio13,
    /// Istio 1.8: mixer status removed.
    Istio18,
    /// Istio 1.9 and later (the current default).
    Istio19,
    /// JSON lines (Istio JSON encoding or any JSON with conventional keys).
    Json,
    /// A user-supplied `--format` string.
    Custom,
    /// Emissary-ingress / Ambassador: Envoy's default behind a literal `ACCESS ` (family §3).
    Emissary,
    /// Kuma / Kong Mesh HTTP default, ≥1.3.1 (mesh name, trace id, source/destination service).
    KumaHttp,
    /// Kuma HTTP default up to 1.3.0 (no trace-id field).
    KumaHttpPre131,
    /// Kuma / Kong Mesh TCP default (`src(svc)->host(svc) took Nms, sent …`).
    KumaTcp,
    /// Amazon ECS Service Connect HTTP text: Envoy's default without the flags (family §8.2).
    EcsHttp,
    /// ECS Service Connect HTTP/2 text: `EcsHttp` plus a quoted stream id.
    EcsHttp2,
    /// ECS Service Connect gRPC text: `EcsHttp2` plus the gRPC status after the code.
    EcsGrpc,
    /// ECS Service Connect TCP text.
    EcsTcp,
    /// Envoy Gateway v0.6–v1.3.0: JSON-shaped text whose values are not escaped, read as text
    /// when it is not valid JSON (family §1.2). Valid lines read as [`FormatKind::Json`].
    EnvoyGatewayText,
    /// `key=value` (logfmt-style) lines with conventional keys (family §14).
    KeyValue,
    /// Istio ambient ztunnel L4 access lines, text or JSON (family §10.1). Not Envoy: no
    /// response code or flags; the error text is in `upstream_transport_failure_reason`.
    Ztunnel,
}

impl FormatKind {
    pub fn name(self) -> &'static str {
        match self {
            FormatKind::EnvoyDefault => "envoy_default",
            FormatKind::Istio10Http => "istio_1_0_http",
            FormatKind::Istio10Tcp => "istio_1_0_tcp",
            FormatKind::Istio11Pre => "istio_1_1_pre",
            FormatKind::Istio11 => "istio_1_1",
            FormatKind::Istio12 => "istio_1_2",
            FormatKind::Istio13 => "istio_1_3",
            FormatKind::Istio18 => "istio_1_8",
            FormatKind::Istio19 => "istio",
            FormatKind::Json => "json",
            FormatKind::Custom => "custom",
            FormatKind::Emissary => "emissary",
            FormatKind::KumaHttp => "kuma_http",
            FormatKind::KumaHttpPre131 => "kuma_http_pre_1_3_1",
            FormatKind::KumaTcp => "kuma_tcp",
            FormatKind::EcsHttp => "ecs_http",
            FormatKind::EcsHttp2 => "ecs_http2",
            FormatKind::EcsGrpc => "ecs_grpc",
            FormatKind::EcsTcp => "ecs_tcp",
            FormatKind::EnvoyGatewayText => "envoy_gateway_text",
            FormatKind::KeyValue => "key_value",
            FormatKind::Ztunnel => "ztunnel",
        }
    }

    /// Istio's own layouts (sidecars, gateways, waypoints, ztunnel): what `--format istio` reads.
    pub fn is_istio(self) -> bool {
        matches!(
            self,
            FormatKind::Istio10Http
                | FormatKind::Istio10Tcp
                | FormatKind::Istio11Pre
                | FormatKind::Istio11
                | FormatKind::Istio12
                | FormatKind::Istio13
                | FormatKind::Istio18
                | FormatKind::Istio19
                | FormatKind::Ztunnel
        )
    }
}

/// Which way a connection went, as the proxy that logged it saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Logged at the destination (ztunnel `direction="inbound"`, Kuma `INBOUND`).
    Inbound,
    /// Logged at the source (ztunnel `direction="outbound"`, Kuma `OUTBOUND`).
    Outbound,
}

impl Direction {
    /// `inbound` / `outbound` in any case; anything else (Kuma's `UNSPECIFIED`) is `None`.
    pub fn parse(v: &[u8]) -> Option<Direction> {
        if v.eq_ignore_ascii_case(b"inbound") {
            Some(Direction::Inbound)
        } else if v.eq_ignore_ascii_case(b"outbound") {
            Some(Direction::Outbound)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// The output stream a wrapper said the line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What the transport wrapper (kubectl, stern, CRI file, docker json-file) told us.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta<'a> {
    /// The kubelet / container-runtime timestamp in front of the line.
    pub log_time: Option<Bytes<'a>>,
    pub namespace: Option<Bytes<'a>>,
    pub pod: Option<Bytes<'a>>,
    pub container: Option<Bytes<'a>>,
    pub stream: Option<Stream>,
}

impl Meta<'_> {
    pub fn is_empty(&self) -> bool {
        self.log_time.is_none()
            && self.namespace.is_none()
            && self.pod.is_none()
            && self.container.is_none()
            && self.stream.is_none()
    }
}

/// One access-log record. Every field the Envoy/Istio formats carry; absent or `-` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    pub format: FormatKind,
    pub start_time: Option<Bytes<'a>>,
    pub method: Option<Bytes<'a>>,
    pub path: Option<Bytes<'a>>,
    pub protocol: Option<Bytes<'a>>,
    /// `0` is a real value (no response sent, TCP); `None` only when the field is absent.
    pub response_code: Option<u16>,
    pub response_flags: ResponseFlags,
    pub response_code_details: Option<Bytes<'a>>,
    pub connection_termination_details: Option<Bytes<'a>>,
    pub upstream_transport_failure_reason: Option<Bytes<'a>>,
    pub bytes_received: Option<u64>,
    pub bytes_sent: Option<u64>,
    pub duration_ms: Option<u64>,
    pub upstream_service_time_ms: Option<u64>,
    pub x_forwarded_for: Option<Bytes<'a>>,
    pub user_agent: Option<Bytes<'a>>,
    pub request_id: Option<Bytes<'a>>,
    pub authority: Option<Bytes<'a>>,
    pub upstream_host: Option<Bytes<'a>>,
    /// With the Istio ≥1.23 `alt_stat_name` trailing `;` removed.
    pub upstream_cluster: Option<Bytes<'a>>,
    pub upstream_local_address: Option<Bytes<'a>>,
    pub downstream_local_address: Option<Bytes<'a>>,
    pub downstream_remote_address: Option<Bytes<'a>>,
    pub requested_server_name: Option<Bytes<'a>>,
    pub route_name: Option<Bytes<'a>>,
    /// Istio 1.1–1.7 `%DYNAMIC_METADATA(istio.mixer:status)%`.
    pub policy_status: Option<Bytes<'a>>,
    /// The calling workload: ztunnel `src.workload`; Kuma `%KUMA_SOURCE_SERVICE%` (a
    /// `kuma.io/service` tag, `unknown` on inbound records).
    pub source_workload: Option<Bytes<'a>>,
    /// ztunnel `dst.workload`. (ztunnel's `dst.service` is the `authority`; Kuma's destination
    /// service, which Kuma names its outbound clusters after, the `upstream_cluster`.)
    pub destination_workload: Option<Bytes<'a>>,
    /// ztunnel `direction`, Kuma `%KUMA_TRAFFIC_DIRECTION%` (when a format logs it).
    pub direction: Option<Direction>,
    /// Read from a line as people paste it, not as the proxy wrote it: cut at the start or the
    /// end, elided (`...`), or with its quotes escaped (`\"`, `""`). A cut record keeps the fields
    /// it has (a value the cut may have shortened is dropped); it always has a response code and
    /// either the flags or the request line.
    pub partial: bool,
    pub meta: Meta<'a>,
}

impl Default for Record<'_> {
    fn default() -> Self {
        Record {
            format: FormatKind::Custom,
            start_time: None,
            method: None,
            path: None,
            protocol: None,
            response_code: None,
            response_flags: ResponseFlags::NONE,
            response_code_details: None,
            connection_termination_details: None,
            upstream_transport_failure_reason: None,
            bytes_received: None,
            bytes_sent: None,
            duration_ms: None,
            upstream_service_time_ms: None,
            x_forwarded_for: None,
            user_agent: None,
            request_id: None,
            authority: None,
            upstream_host: None,
            upstream_cluster: None,
            upstream_local_address: None,
            downstream_local_address: None,
            downstream_remote_address: None,
            requested_server_name: None,
            route_name: None,
            policy_status: None,
            source_workload: None,
            destination_workload: None,
            direction: None,
            partial: false,
            meta: Meta::default(),
        }
    }
}

impl<'a> Record<'a> {
    /// Response-code details split into their parts (reference §4.1).
    pub fn details(&self) -> Details<'_> {
        Details::split(self.response_code_details.unwrap_or(b""))
    }

    /// True for a TCP-proxy record (`"- - -"`: no method, no protocol).
    pub fn is_tcp(&self) -> bool {
        self.method.is_none() && self.protocol.is_none() && self.path.is_none()
    }

    /// Every field with a value, under its stable snake_case name, in the documented order.
    /// Byte values are shown lossily as UTF-8 (callers escape them before printing).
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let t = |v: &Option<Bytes<'_>>| v.as_deref().map(|b| String::from_utf8_lossy(b).into_owned());
        let n = |v: Option<u64>| v.map(|x| x.to_string());
        let flags = (!self.response_flags.is_empty()).then(|| self.response_flags.to_string());
        let stream = self.meta.stream.map(|s| match s {
            Stream::Stdout => "stdout".to_string(),
            Stream::Stderr => "stderr".to_string(),
        });
        let all = [
            ("start_time", t(&self.start_time)),
            ("method", t(&self.method)),
            ("path", t(&self.path)),
            ("protocol", t(&self.protocol)),
            ("response_code", n(self.response_code.map(u64::from))),
            ("response_flags", flags),
            ("response_code_details", t(&self.response_code_details)),
            ("connection_termination_details", t(&self.connection_termination_details)),
            ("upstream_transport_failure_reason", t(&self.upstream_transport_failure_reason)),
            ("bytes_received", n(self.bytes_received)),
            ("bytes_sent", n(self.bytes_sent)),
            ("duration_ms", n(self.duration_ms)),
            ("upstream_service_time_ms", n(self.upstream_service_time_ms)),
            ("x_forwarded_for", t(&self.x_forwarded_for)),
            ("user_agent", t(&self.user_agent)),
            ("request_id", t(&self.request_id)),
            ("authority", t(&self.authority)),
            ("upstream_host", t(&self.upstream_host)),
            ("upstream_cluster", t(&self.upstream_cluster)),
            ("upstream_local_address", t(&self.upstream_local_address)),
            ("downstream_local_address", t(&self.downstream_local_address)),
            ("downstream_remote_address", t(&self.downstream_remote_address)),
            ("requested_server_name", t(&self.requested_server_name)),
            ("route_name", t(&self.route_name)),
            ("policy_status", t(&self.policy_status)),
            ("source_workload", t(&self.source_workload)),
            ("destination_workload", t(&self.destination_workload)),
            ("direction", self.direction.map(|d| d.as_str().to_string())),
            ("partial", self.partial.then(|| "true".to_string())),
            ("log_time", t(&self.meta.log_time)),
            ("namespace", t(&self.meta.namespace)),
            ("pod", t(&self.meta.pod)),
            ("container", t(&self.meta.container)),
            ("stream", stream),
        ];
        all.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect()
    }

    /// The record's own start time in milliseconds since the Unix epoch, if it has one.
    pub fn start_epoch_ms(&self) -> Option<i64> {
        self.start_time.and_then(parse_rfc3339_ms)
    }
}

/// `%RESPONSE_CODE_DETAILS%` split at the first `{` and the first separator inside it.
///
/// `upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}`
/// → head `upstream_reset_before_response_started`, reset reason `remote_connection_failure`,
/// transport failure `delayed_connect_error:_Connection_refused`. The separator is `,` up to
/// Envoy 1.30 and `|` from 1.31; a TLS reason itself contains `|`, so only the first one splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Details<'a> {
    pub raw: &'a [u8],
    pub head: &'a [u8],
    pub reset_reason: Option<&'a [u8]>,
    pub transport_failure: Option<&'a [u8]>,
}

impl<'a> Details<'a> {
    pub fn split(raw: &'a [u8]) -> Details<'a> {
        // Details are short (`via_upstream`, `response_timeout`): `scan`'s searches cost a
        // few instructions where `memchr`'s dispatch and set-up cost dozens.
        let Some(open) = crate::scan::find1(b'{', raw) else {
            return Details { raw, head: raw, reset_reason: None, transport_failure: None };
        };
        let head = &raw[..open];
        let mut inner = &raw[open + 1..];
        if inner.last() == Some(&b'}') {
            inner = &inner[..inner.len() - 1];
        }
        match crate::scan::find2(b',', b'|', inner) {
            Some(sep) => Details {
                raw,
                head,
                reset_reason: Some(&inner[..sep]),
                transport_failure: Some(&inner[sep + 1..]).filter(|t| !t.is_empty()),
            },
            None => Details { raw, head, reset_reason: Some(inner), transport_failure: None },
        }
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±hh:mm|±hhmm)` (also with a space instead of `T`)
/// into milliseconds since the epoch. Returns `None` on anything else.
pub fn parse_rfc3339_ms(s: &[u8]) -> Option<i64> {
    let (ms, _) = parse_rfc3339_prefix(s)?;
    Some(ms)
}

/// Like [`parse_rfc3339_ms`] but reads only a prefix; returns the value and the bytes used.
pub fn parse_rfc3339_prefix(s: &[u8]) -> Option<(i64, usize)> {
    if let Some(ms) = canonical_ms(s) {
        return Some((ms, 24));
    }
    if let Some(ms) = micros_ms(s) {
        return Some((ms, 27));
    }
    parse_rfc3339_general(s)
}

/// [`parse_rfc3339_prefix`]'s length alone: the callers that look for a timestamp before a
/// line (a kubectl `--timestamps` prefix, an agent's log line) skip the arithmetic. Accepts
/// what it accepts (`canonical_times_read_as_the_general_parser_reads_them`).
pub fn rfc3339_prefix_len(s: &[u8]) -> Option<usize> {
    if canonical_shape(s).is_some_and(|t| shaped_fields(t).is_some()) {
        return Some(24);
    }
    if micros_shape(s).is_some_and(|t| shaped_fields(t).is_some()) {
        return Some(27);
    }
    parse_rfc3339_general(s).map(|(_, n)| n)
}

/// [`parse_rfc3339_prefix`] for what Envoy's `%START_TIME%` writes, `YYYY-MM-DDTHH:MM:SS.mmmZ`
/// (24 bytes, UTC, milliseconds): asked per record by `--since`/`--until`. Three words say
/// where the non-digits are and what they hold (`scan::non_digits`) instead of a test per
/// byte; `None` for any other shape, which the general parser reads. The same ranges are
/// checked and the same arithmetic done, so the answer is the general parser's
/// (`canonical_times_read_as_the_general_parser_reads_them`).
#[inline]
fn canonical_ms(s: &[u8]) -> Option<i64> {
    shaped_ms(canonical_shape(s)?)
}

/// [`canonical_ms`] for `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 bytes, microseconds): what
/// pilot-agent, Envoy's own log and ztunnel write before each line.
#[inline]
fn micros_ms(s: &[u8]) -> Option<i64> {
    shaped_ms(micros_shape(s)?)
}

/// `s` starts with `YYYY-MM-DDTHH:MM:SS.mmmZ`, digit by separator.
#[inline]
fn canonical_shape(s: &[u8]) -> Option<&[u8; 24]> {
    // (offset, separator bytes, their values: little-endian, byte 0 lowest)
    const SHAPE: [(usize, u64, u64); 3] = [
        (0, 0xff00_00ff_0000_0000, 0x2d00_002d_0000_0000), // `-` at 4 and 7
        (8, 0x0000_ff00_00ff_0000, 0x0000_3a00_0054_0000), // `T` at 10, `:` at 13
        (16, 0xff00_0000_ff00_00ff, 0x5a00_0000_2e00_003a), // `:` at 16, `.` at 19, `Z` at 23
    ];
    let t: &[u8; 24] = s.get(..24)?.try_into().ok()?;
    SHAPE.into_iter().all(|shape| fits(t, shape)).then_some(t)
}

/// `s` starts with `YYYY-MM-DDTHH:MM:SS.ffffffZ`, digit by separator.
#[inline]
fn micros_shape(s: &[u8]) -> Option<&[u8; 27]> {
    const SHAPE: [(usize, u64, u64); 4] = [
        (0, 0xff00_00ff_0000_0000, 0x2d00_002d_0000_0000), // `-` at 4 and 7
        (8, 0x0000_ff00_00ff_0000, 0x0000_3a00_0054_0000), // `T` at 10, `:` at 13
        (16, 0x0000_0000_ff00_00ff, 0x0000_0000_2e00_003a), // `:` at 16, `.` at 19
        (19, 0xff00_0000_0000_00ff, 0x5a00_0000_0000_002e), // `.` at 19, `Z` at 26
    ];
    let t: &[u8; 27] = s.get(..27)?.try_into().ok()?;
    SHAPE.into_iter().all(|shape| fits(t, shape)).then_some(t)
}

/// Whether the 8 bytes of `t` at `at` hold digits except where `seps` has a byte, and there
/// the byte of `values` (little-endian: byte 0 lowest).
#[inline(always)]
fn fits(t: &[u8], (at, seps, values): (usize, u64, u64)) -> bool {
    let w = u64::from_le_bytes(t[at..at + 8].try_into().expect("8 bytes"));
    crate::scan::non_digits(w) == seps & 0x8080_8080_8080_8080 && w & seps == values
}

/// The time of a start already checked to be `YYYY-MM-DDTHH:MM:SS.fff` (UTC) digit by
/// separator, with the general parser's ranges.
#[inline(always)]
fn shaped_ms(t: &[u8]) -> Option<i64> {
    let (year, month, day, hour, min, sec) = shaped_fields(t)?;
    let millis = (t[20] - b'0') as i64 * 100 + (t[21] - b'0') as i64 * 10 + (t[22] - b'0') as i64;
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
    Some(secs * 1000 + millis)
}

/// The date and time of [`shaped_ms`], if in the general parser's ranges.
#[inline(always)]
fn shaped_fields(t: &[u8]) -> Option<(i64, i64, i64, i64, i64, i64)> {
    let n = |i: usize| (t[i] - b'0') as i64;
    let n2 = |i: usize| n(i) * 10 + n(i + 1);
    let year = n2(0) * 100 + n2(2);
    let (month, day, hour, min, sec) = (n2(5), n2(8), n2(11), n2(14), n2(17));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    Some((year, month, day, hour, min, sec))
}

/// [`parse_rfc3339_prefix`] for every shape it reads.
fn parse_rfc3339_general(s: &[u8]) -> Option<(i64, usize)> {
    if s.len() < 19 {
        return None;
    }
    let d = |i: usize| -> Option<i64> {
        let b = s[i];
        b.is_ascii_digit().then(|| (b - b'0') as i64)
    };
    let n2 = |i: usize| -> Option<i64> { Some(d(i)? * 10 + d(i + 1)?) };
    let year = n2(0)? * 100 + n2(2)?;
    if s[4] != b'-' || s[7] != b'-' || !(s[10] == b'T' || s[10] == b' ') || s[13] != b':' || s[16] != b':' {
        return None;
    }
    let (month, day, hour, min, sec) = (n2(5)?, n2(8)?, n2(11)?, n2(14)?, n2(17)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + (s[i] - b'0') as i64;
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let mut offset_min = 0i64;
    match s.get(i) {
        Some(b'Z') | Some(b'z') => i += 1,
        Some(&sign @ (b'+' | b'-')) => {
            let hh = s.get(i + 1..i + 3)?;
            let (h, m, used) = if s.get(i + 3) == Some(&b':') {
                (hh, s.get(i + 4..i + 6)?, 6)
            } else {
                (hh, s.get(i + 3..i + 5)?, 5)
            };
            let num = |x: &[u8]| -> Option<i64> {
                (x[0].is_ascii_digit() && x[1].is_ascii_digit())
                    .then(|| ((x[0] - b'0') * 10 + (x[1] - b'0')) as i64)
            };
            offset_min = num(h)? * 60 + num(m)?;
            if sign == b'-' {
                offset_min = -offset_min;
            }
            i += used;
        }
        _ => {}
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    Some((secs * 1000 + millis, i))
}

/// (year, month, day) of a day number since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_epoch_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", sod / 3600, sod % 3600 / 60, sod % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_times_read_as_the_general_parser_reads_them() {
        // Every byte of Envoy's `%START_TIME%` (and of the agents' microsecond form) replaced
        // by each of a few telling values, with and without bytes after it; then dates across
        // the calendar's edges.
        let bases: [&[u8]; 6] = [
            b"2026-11-20T10:00:00.003Z",
            b"2024-02-29T23:59:60.999Z x",
            b"1970-01-01T00:00:00.000Z",
            b"2026-11-20T10:00:00.048533Z",
            b"2024-02-29T23:59:60.999999Z\tinfo",
            b"1970-01-01T00:00:00.000000Z",
        ];
        let (mut fast, mut micros) = (0, 0);
        for base in bases {
            for pos in 0..base.len() {
                for b in [
                    b'0', b'1', b'2', b'3', b'9', b'-', b':', b'.', b'T', b' ', b'Z', b'z', b'+', b'x', 0x80,
                    b'/',
                ] {
                    let mut t = base.to_vec();
                    t[pos] = b;
                    fast += canonical_ms(&t).is_some() as u32;
                    micros += micros_ms(&t).is_some() as u32;
                    assert_eq!(rfc3339_prefix_len(&t), parse_rfc3339_prefix(&t).map(|(_, n)| n));
                    assert_eq!(
                        parse_rfc3339_prefix(&t),
                        parse_rfc3339_general(&t),
                        "{}",
                        String::from_utf8_lossy(&t)
                    );
                }
            }
        }
        assert!(fast > 100, "the shortcut was taken {fast} times");
        assert!(micros > 100, "the microsecond shortcut was taken {micros} times");
        for year in [0, 1, 1969, 1970, 2000, 2024, 2100, 9999] {
            for (month, day) in
                [(1, 1), (2, 28), (2, 29), (2, 31), (12, 31), (0, 1), (13, 1), (1, 0), (1, 32)]
            {
                for (h, m, sec, ms) in
                    [(0, 0, 0, 0), (23, 59, 60, 999), (24, 0, 0, 0), (0, 60, 0, 0), (0, 0, 61, 5)]
                {
                    for t in [
                        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}.{ms:03}Z"),
                        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}.{ms:03}456Z"),
                    ] {
                        assert_eq!(
                            parse_rfc3339_prefix(t.as_bytes()),
                            parse_rfc3339_general(t.as_bytes()),
                            "{t}"
                        );
                        let len = parse_rfc3339_prefix(t.as_bytes()).map(|(_, n)| n);
                        assert_eq!(rfc3339_prefix_len(t.as_bytes()), len, "{t}");
                    }
                }
            }
        }
    }

    #[test]
    fn details_split_by_version() {
        let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            ("via_upstream", "via_upstream", None, None),
            (
                "upstream_reset_before_response_started{connection_failure}",
                "upstream_reset_before_response_started",
                Some("connection_failure"),
                None,
            ),
            (
                "upstream_reset_before_response_started{connection_failure,delayed_connect_error:_111}",
                "upstream_reset_before_response_started",
                Some("connection_failure"),
                Some("delayed_connect_error:_111"),
            ),
            (
                "upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}",
                "upstream_reset_before_response_started",
                Some("remote_connection_failure"),
                Some("delayed_connect_error:_Connection_refused"),
            ),
            (
                "upstream_reset_before_response_started{remote_connection_failure|TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end}",
                "upstream_reset_before_response_started",
                Some("remote_connection_failure"),
                Some(
                    "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end",
                ),
            ),
            (
                "upstream_reset_before_response_started{connection_failure,TLS_error:_268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED}",
                "upstream_reset_before_response_started",
                Some("connection_failure"),
                Some("TLS_error:_268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"),
            ),
        ];
        for (raw, head, reason, tf) in cases {
            let d = Details::split(raw.as_bytes());
            assert_eq!(d.head, head.as_bytes(), "{raw}");
            assert_eq!(d.reset_reason, reason.map(str::as_bytes), "{raw}");
            assert_eq!(d.transport_failure, tf.map(str::as_bytes), "{raw}");
        }
    }

    #[test]
    fn rfc3339_variants() {
        let base = parse_rfc3339_ms(b"2020-11-25T21:26:18.409Z").unwrap();
        assert_eq!(base, 1_606_339_578_409);
        assert_eq!(parse_rfc3339_ms(b"2020-11-25T21:26:18.409123456Z"), Some(base));
        assert_eq!(parse_rfc3339_ms(b"2020-11-25T22:26:18.409+01:00"), Some(base));
        assert_eq!(parse_rfc3339_ms(b"2020-11-25T22:26:18.409+0100"), Some(base));
        assert_eq!(parse_rfc3339_ms(b"2020-11-25T21:26:18.4Z"), Some(base - 9));
        assert_eq!(parse_rfc3339_ms(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms(b"2020-13-25T21:26:18Z"), None);
        assert_eq!(parse_rfc3339_ms(b"not a time at all!!"), None);
    }

    #[test]
    fn civil_from_days_of_known_dates() {
        // The synthetic generator's golden test checked these while it called this function;
        // it now has its own copy (see `synth_roundtrip` in format for the two agreeing).
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_777), (2026, 11, 20));
    }
}
