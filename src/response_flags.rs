//! Envoy response flags (`%RESPONSE_FLAGS%` / `%RESPONSE_FLAGS_LONG%`) as a bitset.
//!
//! The parser ([`crate::format`]) hands the raw token to [`ResponseFlags::parse`]; the
//! classifier and the aggregates read the bitset. Order in the log does not matter: Envoy ≤1.29
//! prints a fixed order (`UF,URX`), ≥1.30 the order flags were set (`URX,UF`), so both are the
//! same set here. Unknown upper-case tokens (custom flags registered by extensions, Envoy ≥1.30)
//! are counted, not rejected.

use std::fmt;

listed_enum! {
/// One documented flag: its short and long spelling (reference §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Flag {
    LH,
    UH,
    UT,
    LR,
    UR,
    UF,
    UC,
    UO,
    NR,
    DI,
    FI,
    RL,
    UAEX,
    RLSE,
    DC,
    URX,
    SI,
    IH,
    DPE,
    UMSDR,
    RFCF,
    NFCF,
    DT,
    UPE,
    NC,
    OM,
    DF,
    DO,
    DR,
    UDO,
}
}

/// `(flag, short, long, meaning)` in Envoy's `CoreResponseFlag` order.
pub const FLAG_TABLE: [(Flag, &str, &str, &str); Flag::COUNT] = [
    (Flag::LH, "LH", "FailedLocalHealthCheck", "local service failed its health check"),
    (Flag::UH, "UH", "NoHealthyUpstream", "no healthy host in the upstream cluster"),
    (Flag::UT, "UT", "UpstreamRequestTimeout", "upstream request timeout (route or per-try timeout)"),
    (Flag::LR, "LR", "LocalReset", "connection reset locally by Envoy"),
    (Flag::UR, "UR", "UpstreamRemoteReset", "upstream reset the stream"),
    (
        Flag::UF,
        "UF",
        "UpstreamConnectionFailure",
        "could not establish the upstream connection (refused, connect timeout or TLS handshake failure)",
    ),
    (
        Flag::UC,
        "UC",
        "UpstreamConnectionTermination",
        "upstream connection terminated while the stream was active",
    ),
    (
        Flag::UO,
        "UO",
        "UpstreamOverflow",
        "upstream overflow: circuit breaker, retry overflow or maintenance mode",
    ),
    (Flag::NR, "NR", "NoRouteFound", "no route (HTTP) or no matching filter chain (listener)"),
    (Flag::DI, "DI", "DelayInjected", "fault injection added a delay"),
    (Flag::FI, "FI", "FaultInjected", "fault injection aborted the request"),
    (Flag::RL, "RL", "RateLimited", "rate limited locally"),
    (Flag::UAEX, "UAEX", "UnauthorizedExternalService", "denied (or errored) by external authorization"),
    (Flag::RLSE, "RLSE", "RateLimitServiceError", "error talking to the rate-limit service"),
    (Flag::DC, "DC", "DownstreamConnectionTermination", "the downstream (client) connection was terminated"),
    (
        Flag::URX,
        "URX",
        "UpstreamRetryLimitExceeded",
        "retry limit (HTTP) or max connect attempts (TCP) reached",
    ),
    (Flag::SI, "SI", "StreamIdleTimeout", "stream idle timeout"),
    (Flag::IH, "IH", "InvalidEnvoyRequestHeaders", "invalid value in a strictly checked x-envoy-* header"),
    (Flag::DPE, "DPE", "DownstreamProtocolError", "downstream HTTP protocol error"),
    (
        Flag::UMSDR,
        "UMSDR",
        "UpstreamMaxStreamDurationReached",
        "upstream request reached its max stream duration",
    ),
    (Flag::RFCF, "RFCF", "ResponseFromCacheFilter", "response served by the cache filter"),
    (Flag::NFCF, "NFCF", "NoFilterConfigFound", "filter config not received in time (ECDS)"),
    (Flag::DT, "DT", "DurationTimeout", "max connection or stream duration exceeded"),
    (Flag::UPE, "UPE", "UpstreamProtocolError", "upstream sent a response with an HTTP protocol error"),
    (Flag::NC, "NC", "NoClusterFound", "upstream cluster not found"),
    (Flag::OM, "OM", "OverloadManagerTerminated", "overload manager terminated the request"),
    (Flag::DF, "DF", "DnsResolutionFailed", "DNS resolution failed"),
    (Flag::DO, "DO", "DropOverload", "dropped by EDS drop_overloads"),
    (Flag::DR, "DR", "DownstreamRemoteReset", "downstream reset the stream (codec level)"),
    (Flag::UDO, "UDO", "UnconditionalDropOverload", "dropped by drop_overloads at 100%"),
];

// `Flag::short` and friends index the table by the variant: a row out of place fails the build.
const _: () = {
    let mut i = 0;
    while i < Flag::COUNT {
        assert!(FLAG_TABLE[i].0 as usize == i, "FLAG_TABLE rows must follow the order of Flag");
        i += 1;
    }
};

impl Flag {
    pub fn short(self) -> &'static str {
        FLAG_TABLE[self as usize].1
    }

    pub fn long(self) -> &'static str {
        FLAG_TABLE[self as usize].2
    }

    pub fn meaning(self) -> &'static str {
        FLAG_TABLE[self as usize].3
    }

    /// Looks a token up by short or long name.
    pub fn from_name(token: &[u8]) -> Option<Flag> {
        // Short names are 2–5 upper-case bytes; long names start upper-case and are longer.
        let by_short = match token {
            b"LH" => Flag::LH,
            b"UH" => Flag::UH,
            b"UT" => Flag::UT,
            b"LR" => Flag::LR,
            b"UR" => Flag::UR,
            b"UF" => Flag::UF,
            b"UC" => Flag::UC,
            b"UO" => Flag::UO,
            b"NR" => Flag::NR,
            b"DI" => Flag::DI,
            b"FI" => Flag::FI,
            b"RL" => Flag::RL,
            b"UAEX" => Flag::UAEX,
            b"RLSE" => Flag::RLSE,
            b"DC" => Flag::DC,
            b"URX" => Flag::URX,
            b"SI" => Flag::SI,
            b"IH" => Flag::IH,
            b"DPE" => Flag::DPE,
            b"UMSDR" => Flag::UMSDR,
            b"RFCF" => Flag::RFCF,
            b"NFCF" => Flag::NFCF,
            b"DT" => Flag::DT,
            b"UPE" => Flag::UPE,
            b"NC" => Flag::NC,
            b"OM" => Flag::OM,
            b"DF" => Flag::DF,
            b"DO" => Flag::DO,
            b"DR" => Flag::DR,
            b"UDO" => Flag::UDO,
            _ => {
                return FLAG_TABLE.iter().find(|(_, _, long, _)| long.as_bytes() == token).map(|(f, ..)| *f);
            }
        };
        Some(by_short)
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// The set of flags on one record. `unknown` counts tokens that are not documented flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ResponseFlags {
    bits: u32,
    unknown: u8,
}

/// Why a flags token was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFlags {
    /// Byte offset of the offending token inside the field.
    pub offset: usize,
}

impl ResponseFlags {
    pub const NONE: ResponseFlags = ResponseFlags { bits: 0, unknown: 0 };

    /// Parses `-`, `UF`, `UF,URX`, `UpstreamConnectionFailure,UpstreamRetryLimitExceeded`.
    /// An empty field (`omit_empty_values`) is no flags. Tokens must be ASCII letters or digits
    /// and start with an upper-case letter; anything else is rejected so that a misaligned
    /// field is noticed rather than silently read as flags.
    ///
    /// Inlined for the usual `-` (no call per record); a list is read out of line.
    #[inline(always)]
    pub fn parse(raw: &[u8]) -> Result<ResponseFlags, BadFlags> {
        if raw.len() < 2 && raw.first().is_none_or(|&b| b == b'-') {
            return Ok(ResponseFlags::NONE);
        }
        Self::parse_list(raw)
    }

    /// [`parse`](Self::parse) for a field that is not `-` or empty.
    #[inline(never)]
    fn parse_list(raw: &[u8]) -> Result<ResponseFlags, BadFlags> {
        let mut flags = ResponseFlags::NONE;
        let mut offset = 0;
        for token in raw.split(|&b| b == b',') {
            let ok = token.first().is_some_and(u8::is_ascii_uppercase)
                && token.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
            if !ok {
                return Err(BadFlags { offset });
            }
            match Flag::from_name(token) {
                Some(f) => flags.bits |= 1 << f as u32,
                None => flags.unknown = flags.unknown.saturating_add(1),
            }
            offset += token.len() + 1;
        }
        Ok(flags)
    }

    pub fn contains(self, flag: Flag) -> bool {
        self.bits & (1 << flag as u32) != 0
    }

    pub fn insert(&mut self, flag: Flag) {
        self.bits |= 1 << flag as u32;
    }

    pub fn is_empty(self) -> bool {
        self.bits == 0 && self.unknown == 0
    }

    /// Number of tokens that were not documented flags.
    pub fn unknown(self) -> u8 {
        self.unknown
    }

    pub fn bits(self) -> u32 {
        self.bits
    }

    /// Documented flags in Envoy's enum order (deterministic output).
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// The set holding `flag` alone.
    pub const fn only(flag: Flag) -> ResponseFlags {
        ResponseFlags { bits: 1 << flag as u32, unknown: 0 }
    }

    /// True when any flag but `RFCF` is set: a failure, or a fault the user injected (`DI`,
    /// see `crate::classify::is_failure`). One mask, like [`Self::has_failure_flag`].
    pub fn has_failure_or_fault_flag(self) -> bool {
        self.bits & !(1 << Flag::RFCF as u32) != 0 || self.unknown > 0
    }

    /// True when any flag other than the informational ones (`DI`, `RFCF`) is set.
    pub fn has_failure_flag(self) -> bool {
        let informational = (1 << Flag::DI as u32) | (1 << Flag::RFCF as u32);
        self.bits & !informational != 0 || self.unknown > 0
    }
}

impl fmt::Display for ResponseFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        for flag in self.iter() {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(flag.short())?;
            first = false;
        }
        if self.unknown > 0 {
            if !first {
                f.write_str(",")?;
            }
            write!(f, "?{}", self.unknown)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter() {
        assert_eq!(ResponseFlags::parse(b"UF,URX"), ResponseFlags::parse(b"URX,UF"));
        let f = ResponseFlags::parse(b"URX,UF").unwrap();
        assert!(f.contains(Flag::UF) && f.contains(Flag::URX));
        assert_eq!(f.to_string(), "UF,URX");
    }

    #[test]
    fn long_names_equal_short_names() {
        assert_eq!(
            ResponseFlags::parse(b"UpstreamConnectionFailure,UpstreamRetryLimitExceeded"),
            ResponseFlags::parse(b"UF,URX")
        );
    }

    #[test]
    fn every_documented_flag_round_trips_by_both_names() {
        for (flag, short, long, _) in FLAG_TABLE {
            assert_eq!(Flag::from_name(short.as_bytes()), Some(flag), "{short}");
            assert_eq!(Flag::from_name(long.as_bytes()), Some(flag), "{long}");
            assert_eq!(flag.short(), short);
        }
    }

    #[test]
    fn dash_and_empty_are_no_flags() {
        assert!(ResponseFlags::parse(b"-").unwrap().is_empty());
        assert!(ResponseFlags::parse(b"").unwrap().is_empty());
    }

    #[test]
    fn unknown_upper_case_tokens_are_kept_and_counted() {
        let f = ResponseFlags::parse(b"UF,XCUSTOM").unwrap();
        assert!(f.contains(Flag::UF));
        assert_eq!(f.unknown(), 1);
        assert!(f.has_failure_flag());
    }

    #[test]
    fn garbage_is_rejected_with_offset() {
        assert_eq!(ResponseFlags::parse(b"UF,\"x"), Err(BadFlags { offset: 3 }));
        assert!(ResponseFlags::parse(b"via_upstream").is_err());
        assert!(ResponseFlags::parse(b"UF,,URX").is_err());
    }

    #[test]
    fn informational_flags_are_not_failures() {
        assert!(!ResponseFlags::parse(b"DI").unwrap().has_failure_flag());
        assert!(!ResponseFlags::parse(b"RFCF").unwrap().has_failure_flag());
        assert!(ResponseFlags::parse(b"DI,UT").unwrap().has_failure_flag());
    }
}
