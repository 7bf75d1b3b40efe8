use super::*;
use crate::record::parse_rfc3339_ms;

fn at(s: &str) -> i64 {
    parse_rfc3339_ms(s.as_bytes()).unwrap()
}

#[test]
fn absolute_times_with_or_without_a_zone() {
    let t = |v| parse_time("since", v);
    assert_eq!(t("2026-11-25T02:30:00Z"), Ok(TimeSpec::At(at("2026-11-25T02:30:00.000Z"))));
    // No zone is UTC; seconds and the time of day may be left out.
    assert_eq!(t("2026-11-25T02:30:00"), Ok(TimeSpec::At(at("2026-11-25T02:30:00Z"))));
    assert_eq!(t("2026-11-25 02:30"), Ok(TimeSpec::At(at("2026-11-25T02:30:00Z"))));
    assert_eq!(t("2026-11-25T02:30Z"), Ok(TimeSpec::At(at("2026-11-25T02:30:00Z"))));
    assert_eq!(t("2026-11-25"), Ok(TimeSpec::At(at("2026-11-25T00:00:00Z"))));
    assert_eq!(t("2026-11-25T03:30:00.250+01:00"), Ok(TimeSpec::At(at("2026-11-25T02:30:00.250Z"))));
    for bad in ["2026-11-25T25:00:00Z", "2026-13-01", "2026-11-25T02:30:00Zjunk", "2026-11-2", "yesterday"] {
        let e = t(bad).unwrap_err().to_string();
        assert!(e.starts_with(&format!("--since: cannot read '{bad}'")), "{e}");
        assert!(e.contains("1h30m"), "says what is accepted: {e}");
    }
}

#[test]
fn spans_add_their_parts_and_need_a_unit() {
    let t = |v| parse_time("until", v);
    assert_eq!(t("10m"), Ok(TimeSpec::Ago(600_000)));
    assert_eq!(t("1h30m"), Ok(TimeSpec::Ago(5_400_000)));
    assert_eq!(t("2d"), Ok(TimeSpec::Ago(172_800_000)));
    assert_eq!(t("90s"), Ok(TimeSpec::Ago(90_000)));
    assert_eq!(t("1H"), Ok(TimeSpec::Ago(3_600_000)));
    for bad in ["10", "m", "", "-5m", "1.5h", "10 m", "99999999999999999999d"] {
        assert!(t(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn a_range_that_cannot_hold_a_record_is_refused() {
    let args = |s: &str, u: &str| FilterArgs {
        since: Some(s.to_string()),
        until: Some(u.to_string()),
        ..FilterArgs::default()
    };
    let e = FilterSpec::parse(&args("2026-11-25T03:00:00Z", "2026-11-25T02:00:00Z")).unwrap_err();
    assert!(e.to_string().contains("is not before --until"), "{e}");
    assert!(FilterSpec::parse(&args("5m", "10m")).is_err());
    assert!(FilterSpec::parse(&args("10m", "5m")).unwrap().is_some());
    // Mixed: only the log can tell.
    assert!(FilterSpec::parse(&args("10m", "2026-11-25T02:00:00Z")).unwrap().is_some());
}

#[test]
fn codes_are_statuses_classes_or_zero() {
    let mut s = CodeSet::default();
    s.add("5xx").unwrap();
    s.add("0").unwrap();
    s.add("404").unwrap();
    assert!(s.contains(500) && s.contains(503) && s.contains(599) && s.contains(0) && s.contains(404));
    assert!(!s.contains(499) && !s.contains(600) && !s.contains(200) && !s.contains(4040));
    for bad in ["5x", "0xx", "abc", "5000", "", "-1"] {
        assert!(CodeSet::default().add(bad).is_none(), "{bad:?}");
    }
    let spec =
        FilterSpec::parse(&FilterArgs { code: vec!["503,4XX".into(), "0".into()], ..Default::default() })
            .unwrap()
            .unwrap();
    assert_eq!(spec.codes, ["503", "4XX", "0"]);
    let e = FilterSpec::parse(&FilterArgs { code: vec!["503,5x".into()], ..Default::default() }).unwrap_err();
    assert!(e.to_string().starts_with("--code: cannot read '5x'"), "{e}");
}

#[test]
fn causes_and_reporters_are_checked_with_a_suggestion() {
    let parse = |cause: &str, reporter: &str| {
        FilterSpec::parse(&FilterArgs {
            cause: vec![cause.into()],
            reporter: vec![reporter.into()],
            ..FilterArgs::default()
        })
    };
    let spec = parse("route_timeout", "client_sidecar").unwrap().unwrap();
    assert_eq!(spec.causes, [Cause::RouteTimeout]);
    assert_eq!(spec.reporters, [Reporter::ClientSidecar]);
    let e = parse("route-timeout", "gateway").unwrap_err().to_string();
    assert!(e.starts_with("--cause: no cause 'route-timeout' (did you mean 'route_timeout'?)"), "{e}");
    assert!(e.contains("tls_failure"), "lists the causes: {e}");
    let e = parse("tls_failure", "sidecar").unwrap_err().to_string();
    assert!(e.starts_with("--reporter: no reporter 'sidecar'"), "{e}");
    assert!(e.contains("client_sidecar, server_sidecar"), "{e}");
}

#[test]
fn no_flag_no_filter() {
    assert!(FilterSpec::parse(&FilterArgs::default()).unwrap().is_none());
}

#[test]
fn the_service_namespace_from_cluster_names() {
    let ns = |c: &str| service_namespace(c.as_bytes()).map(|n| String::from_utf8(n.to_vec()).unwrap());
    assert_eq!(ns("outbound|9080||reviews.bookinfo.svc.cluster.local").as_deref(), Some("bookinfo"));
    assert_eq!(ns("outbound|9080|v1|reviews.bookinfo.svc.cluster.local").as_deref(), Some("bookinfo"));
    assert_eq!(ns("outbound_.9080_.v1_.reviews.bookinfo.svc.cluster.local").as_deref(), Some("bookinfo"));
    assert_eq!(ns("outbound|443||api.example.com"), None);
    assert_eq!(ns("inbound|9080||"), None);
    assert_eq!(ns("PassthroughCluster"), None);
}

const LINE: &str = r#"[2026-11-25T02:30:26.681Z] "GET /x HTTP/1.1" 504 UT response_timeout - "-" 0 24 15001 - "-" "curl" "c4461b2c" "httpbin:8000" "127.0.0.30:8080" outbound|8000||httpbin.foo.svc.cluster.local 127.0.0.1:5000 127.0.0.10:8000 127.0.0.1:4000 - default"#;

fn with(args: FilterArgs, anchor: Option<i64>) -> Filter {
    FilterSpec::parse(&args).unwrap().unwrap().resolve(anchor)
}

fn check(f: &Filter, meta: &SourceMeta) -> bool {
    let mut d = crate::format::Decoder::new(crate::format::FormatChoice::Auto);
    let mut rec = Record::default();
    assert!(matches!(d.decode_into(LINE.as_bytes(), &mut rec), crate::format::Decoded::Record));
    let reporter = crate::classify::reporter(&rec, meta.pod.as_deref());
    let verdict = crate::classify::classify(&rec, reporter);
    f.admits(&rec, meta) && f.admits_verdict(reporter, verdict.as_ref())
}

#[test]
fn a_record_is_checked_against_every_filter_given() {
    let meta = SourceMeta::default();
    let s = |v: &str| vec![v.to_string()];
    let ok = |a: FilterArgs| check(&with(a, Some(at("2026-11-25T02:40:00Z"))), &meta);
    // Since is inclusive, until exclusive.
    assert!(ok(FilterArgs { since: Some("2026-11-25T02:30:26.681Z".into()), ..Default::default() }));
    assert!(!ok(FilterArgs { until: Some("2026-11-25T02:30:26.681Z".into()), ..Default::default() }));
    // 10m before 02:40:00 is 02:30:00; 9m is 02:31:00.
    assert!(ok(FilterArgs { since: Some("10m".into()), ..Default::default() }));
    assert!(!ok(FilterArgs { since: Some("9m".into()), ..Default::default() }));
    assert!(ok(FilterArgs { code: s("5xx"), ..Default::default() }));
    assert!(!ok(FilterArgs { code: s("503"), ..Default::default() }));
    assert!(ok(FilterArgs { namespace: s("foo"), ..Default::default() }));
    assert!(!ok(FilterArgs { namespace: s("bar"), ..Default::default() }));
    assert!(ok(FilterArgs { upstream: s("*httpbin*"), ..Default::default() }));
    assert!(ok(FilterArgs { upstream: vec!["x".into(), "outbound|8000||*".into()], ..Default::default() }));
    assert!(!ok(FilterArgs { upstream: s("*reviews*"), ..Default::default() }));
    assert!(ok(FilterArgs { cause: s("route_timeout"), ..Default::default() }));
    assert!(!ok(FilterArgs { cause: s("connection_refused"), ..Default::default() }));
    assert!(!ok(FilterArgs { reporter: s("server_sidecar"), ..Default::default() }));
    // Every filter must hold.
    assert!(!ok(FilterArgs { code: s("5xx"), namespace: s("bar"), ..Default::default() }));
    // The logging pod's namespace counts too.
    let meta = SourceMeta { namespace: Some(b"bar".as_slice().into()), ..SourceMeta::default() };
    assert!(check(&with(FilterArgs { namespace: s("bar"), ..Default::default() }, None), &meta));
}

#[test]
fn a_relative_time_without_any_record_time_admits_nothing() {
    let f = with(FilterArgs { since: Some("10m".into()), ..Default::default() }, None);
    assert!(!check(&f, &SourceMeta::default()));
    assert_eq!(f.out().describe(), "--since 10m (no record has a time)");
}

#[test]
fn the_header_line_says_each_filter_and_resolved_times() {
    let f = with(
        FilterArgs {
            since: Some("10m".into()),
            code: vec!["5xx".into(), "0".into()],
            cause: vec!["route_timeout".into()],
            ..Default::default()
        },
        Some(at("2026-11-25T02:31:45Z")),
    );
    assert_eq!(
        f.out().describe(),
        "--since 10m (≥ 2026-11-25T02:21:45.000Z) · --code 5xx,0 · --cause route_timeout"
    );
    assert_eq!(f.out().anchor.as_deref(), Some("2026-11-25T02:31:45.000Z"));
}

#[test]
fn literal_upstream_patterns_match_as_glob_does() {
    // Patterns of text and `*` take the byte matcher; every answer must be glob's. Names around
    // the pieces' edges: empty, overlapping prefix and suffix, repeated pieces, non-ASCII.
    let patterns = [
        "*",
        "**",
        "a",
        "",
        "*a",
        "a*",
        "*a*",
        "a*b",
        "ab*ba",
        "*ab*ab*",
        "a*b*a",
        "outbound|9080||*",
        "*reviews*",
        "*|*|*",
        "x*y*z*",
        "**a",
        "a?b",
        "[ab]*",
        "*é*",
        "aa*aa",
    ];
    let names = [
        "",
        "a",
        "b",
        "ab",
        "ba",
        "aba",
        "abba",
        "abab",
        "ababab",
        "aab",
        "aaa",
        "aaaa",
        "aaaaa",
        "axbxa",
        "outbound|9080||reviews.bookinfo.svc.cluster.local",
        "outbound|9080|v1|reviews",
        "inbound|9080||",
        "xyz",
        "xzy",
        "x-y-z-",
        "é",
        "aé",
        "aéb",
        "a\u{fffd}b",
    ];
    for p in patterns {
        let Some(u) = Upstream::new(p) else {
            assert!(glob::Pattern::new(p).is_err(), "{p:?} refused");
            continue;
        };
        let g = glob::Pattern::new(p).unwrap();
        for n in names {
            assert_eq!(u.matches(n.as_bytes()), g.matches(n), "{p:?} on {n:?}");
        }
        // Not UTF-8: glob on the lossy text, as before.
        let raw = [b"ab".as_slice(), &[0xff], b"ba"].concat();
        assert_eq!(u.matches(&raw), g.matches(&String::from_utf8_lossy(&raw)), "{p:?} on raw bytes");
    }
    assert!(Upstream::new("*reviews*").unwrap().pieces.is_some(), "the byte matcher is used");
}
