//! Round trips through the synthetic log generator: every line it writes, in every style and
//! wrapper, decodes, and what the decoder reads back (records, skipped lines, codes, flags,
//! failure shapes, request ids) matches what the generator says it wrote. These tests live with
//! the decoder they exercise; the generator's own tests (determinism, golden lines, byte limits,
//! clocks) stay beside it, in `crates/synth`, which does not depend on this crate.

use std::collections::BTreeMap;

use crate::format::{Decoder, FormatChoice, Outcome};
use crate::record::{FormatKind, Record, Stream};
use crate::response_flags::{Flag, ResponseFlags};
use envoy_triage_synth::{Limit, Scenario, Style, SynthConfig, Wrapper, generate};

const STYLES: [Style; 3] = [Style::IstioText, Style::IstioJson, Style::EnvoyDefault];
const WRAPPERS: [Wrapper; 5] = [
    Wrapper::None,
    Wrapper::KubectlPrefix,
    Wrapper::KubectlTimestamps,
    Wrapper::KubectlPrefixTimestamps,
    Wrapper::Cri,
];

fn config(style: Style, wrapper: Wrapper, lines: u64, seed: u64) -> SynthConfig {
    SynthConfig { seed, limit: Limit::Lines(lines), style, wrapper, noise_ratio: 0.05, clusters: 12 }
}

fn lines(log: &[u8]) -> impl Iterator<Item = &[u8]> {
    log.strip_suffix(b"\n").unwrap_or(log).split(|&b| b == b'\n')
}

/// What a parsed record shows, read back the way a classifier would (Istio layouts).
fn scenario_of(r: &Record<'_>) -> Scenario {
    let d = r.details();
    match r.response_code_details {
        None if r.response_flags.contains(Flag::UF) => Scenario::TcpConnectRefused,
        None => Scenario::TcpOk,
        Some(b"via_upstream") if r.response_code == Some(503) => Scenario::AppUnavailable,
        Some(b"via_upstream") => Scenario::Ok,
        Some(b"filter_chain_not_found") => Scenario::FilterChainNotFound,
        Some(b"no_healthy_upstream") => Scenario::NoHealthyUpstream,
        Some(b"response_timeout") => Scenario::RouteTimeout,
        Some(b"upstream_per_try_timeout") => Scenario::PerTryTimeout,
        Some(b"route_not_found") => Scenario::RouteNotFound,
        Some(b"downstream_remote_disconnect") => Scenario::DownstreamDisconnect,
        Some(other) => match d.reset_reason {
            Some(b"remote_connection_failure")
                if d.transport_failure.is_some_and(|t| t.starts_with(b"TLS_error")) =>
            {
                Scenario::TlsError
            }
            Some(b"remote_connection_failure") => Scenario::ConnectRefused,
            Some(b"connection_termination") => Scenario::ConnectionTermination,
            Some(b"overflow") => Scenario::Overflow,
            Some(b"protocol_error") => Scenario::ProtocolError,
            _ => panic!("unexpected details {:?}", String::from_utf8_lossy(other)),
        },
    }
}

#[test]
fn every_line_decodes_and_the_counts_match_the_stats() {
    for style in STYLES {
        for wrapper in WRAPPERS {
            let (log, stats) = generate(&config(style, wrapper, 4_000, 1));
            assert_eq!(stats.lines, 4_000);
            assert_eq!(stats.bytes, log.len() as u64);
            assert_eq!(stats.records + stats.noise_lines, stats.lines);
            assert!(stats.noise_lines > 100, "{style:?} {wrapper:?}: {stats:?}");

            let want_kind = match style {
                Style::IstioText => FormatKind::Istio19,
                Style::IstioJson => FormatKind::Json,
                Style::EnvoyDefault => FormatKind::EnvoyDefault,
            };
            let mut decoder = Decoder::new(FormatChoice::Auto);
            let (mut records, mut skipped) = (0u64, 0u64);
            let mut codes: BTreeMap<u16, u64> = BTreeMap::new();
            let mut scenarios: BTreeMap<Scenario, u64> = BTreeMap::new();
            let mut flags: BTreeMap<String, u64> = BTreeMap::new();
            for line in lines(&log) {
                match decoder.decode(line) {
                    Outcome::Record(r) => {
                        records += 1;
                        assert_eq!(r.format, want_kind, "{}", String::from_utf8_lossy(line));
                        *codes.entry(r.response_code.expect("every record has a code")).or_default() += 1;
                        *flags.entry(r.response_flags.to_string()).or_default() += 1;
                        if style != Style::EnvoyDefault {
                            let s = scenario_of(&r);
                            if s == Scenario::RouteTimeout {
                                assert!((15_000..=15_002).contains(&r.duration_ms.unwrap()));
                            }
                            assert_eq!(
                                r.upstream_transport_failure_reason,
                                s.transport_failure().map(str::as_bytes)
                            );
                            *scenarios.entry(s).or_default() += 1;
                        }
                        assert_eq!(r.is_tcp(), r.method.is_none());
                        match wrapper {
                            Wrapper::None => assert!(r.meta.is_empty()),
                            Wrapper::KubectlPrefix | Wrapper::KubectlPrefixTimestamps => {
                                assert_eq!(r.meta.container, Some(&b"istio-proxy"[..]));
                                assert!(r.meta.pod.is_some());
                            }
                            Wrapper::KubectlTimestamps => assert!(r.meta.log_time.is_some()),
                            Wrapper::Cri => assert_eq!(r.meta.stream, Some(Stream::Stdout)),
                        }
                    }
                    Outcome::Skipped(_) => skipped += 1,
                    Outcome::Malformed(e) => {
                        panic!("{style:?}/{wrapper:?}: {e:?} in {}", String::from_utf8_lossy(line))
                    }
                }
            }
            assert_eq!(records, stats.records, "{style:?} {wrapper:?}");
            assert_eq!(skipped, stats.noise_lines, "{style:?} {wrapper:?}");
            assert_eq!(codes, stats.response_codes, "{style:?} {wrapper:?}");
            if style != Style::EnvoyDefault {
                assert_eq!(scenarios, stats.scenarios, "{style:?} {wrapper:?}");
            }
            let mut want_flags: BTreeMap<String, u64> = BTreeMap::new();
            for (s, n) in &stats.scenarios {
                let f = ResponseFlags::parse(s.flags().as_bytes()).unwrap();
                *want_flags.entry(f.to_string()).or_default() += n;
            }
            assert_eq!(flags, want_flags, "{style:?} {wrapper:?}");
        }
    }
}

#[test]
fn a_client_twin_repeats_the_server_records_request_id() {
    let cfg = SynthConfig { noise_ratio: 0.0, ..config(Style::IstioJson, Wrapper::None, 5_000, 3) };
    let (log, _) = generate(&cfg);
    let mut decoder = Decoder::new(FormatChoice::Auto);
    let mut previous: Option<(Vec<u8>, Vec<u8>, u16)> = None;
    let mut twins = 0;
    for line in lines(&log) {
        let Outcome::Record(r) = decoder.decode(line) else { panic!("not a record") };
        let id = r.request_id.map(<[u8]>::to_vec);
        let cluster = r.upstream_cluster.unwrap_or(b"").to_vec();
        let code = r.response_code.unwrap();
        if let (Some((prev_id, prev_cluster, prev_code)), Some(id)) = (&previous, &id) {
            if prev_id == id {
                assert!(prev_cluster.starts_with(b"inbound|") && cluster.starts_with(b"outbound|"));
                assert_eq!(*prev_code, code);
                twins += 1;
            }
        }
        previous = id.map(|i| (i, cluster, code));
    }
    assert!(twins > 100, "{twins} twins");
}

#[test]
fn the_generators_copy_of_civil_from_days_agrees_with_the_parsers() {
    // The generator keeps its own copy so as not to depend on this crate; the dates it writes
    // are only right if the two agree (±2,700 years around 1970, every day).
    for day in -1_000_000..=1_000_000 {
        assert_eq!(envoy_triage_synth::civil_from_days(day), crate::record::civil_from_days(day), "{day}");
    }
}
