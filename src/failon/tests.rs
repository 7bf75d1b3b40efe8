use super::*;
use crate::summary::Counts;

fn counts(entries: &[(&str, u64)]) -> Counts {
    Counts(entries.iter().map(|(k, n)| (k.to_string(), *n)).collect())
}

fn percentiles(p50: u64, p90: u64, p99: u64, max: u64) -> Percentiles {
    Percentiles { count: 10, p50: Some(p50), p90: Some(p90), p99: Some(p99), max: Some(max) }
}

fn upstream(cluster: &str, workload: Option<&str>, p99: u64) -> UpstreamSummary {
    UpstreamSummary {
        cluster: cluster.into(),
        workload: workload.map(Into::into),
        requests: 5,
        failed: 0,
        by_code: Counts::default(),
        by_flag: Counts::default(),
        by_cause: Counts::default(),
        duration_ms: percentiles(10, 20, p99, p99),
        upstream_service_time_ms: Percentiles::default(),
        windows: None,
    }
}

fn empty() -> Summary {
    Summary::build(&crate::aggregate::Aggregate::new(100), &[])
}

/// 11 records, 4 of them 503 (36.3636…%, printed 36.364%), with latencies.
fn summary() -> Summary {
    let mut s = empty();
    s.totals.lines = 12;
    s.totals.records = 11;
    s.totals.analysed = 11;
    s.totals.malformed = 1;
    s.totals.failed = 4;
    s.by_code = counts(&[("200", 7), ("503", 4)]);
    s.by_cause = counts(&[("connection_refused", 4)]);
    s.duration_ms = percentiles(30, 900, 2100, 2500);
    s.upstreams = vec![
        upstream("outbound|8080||orders.shop.svc.cluster.local", None, 1200),
        upstream("inbound|8080||", Some("a"), 40),
        upstream("inbound|8080||", Some("b"), 70),
    ];
    s
}

#[test]
fn parses_the_documented_forms() {
    for e in [
        "rate(5xx) > 1%",
        "cause(tls_failure) > 0",
        "count(cause:tls_failure) > 0",
        "rate(flag:UF) >= 0.5%",
        "count(malformed) > 0 or rate(503) > 2%",
        "(rate(failed) > 2% and count(records) > 100) || code(504) != 0",
        "domain(security)>0",
        "rate(5xx) > 1 %",
        "p99(duration) > 2s",
        "p50(duration) >= 250ms and p90(upstream_service_time) < 1.5s",
        "max(duration, upstream:outbound|8080||orders.shop.svc.cluster.local) > 1s",
        "p99( duration , upstream:inbound|8080|| , workload:httpbin ) > 100ms",
        "rate(5xx) > rate(4xx)",
    ] {
        Expr::parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
    }
    assert_eq!(
        Expr::parse("rate(5xx) > 1%").unwrap(),
        Expr::Cmp(Operand::Rate(Selector::Class(5)), Op::Gt, Operand::Percent(1.0))
    );
    assert_eq!(
        Expr::parse("p99(duration, upstream:x|1) > 2s").unwrap(),
        Expr::Cmp(
            Operand::Latency(Latency {
                stat: Stat::P99,
                measure: Measure::Duration,
                upstream: Some(Upstream { cluster: "x|1".into(), workload: None }),
            }),
            Op::Gt,
            Operand::Duration(2000.0)
        )
    );
}

#[test]
fn bad_expressions_say_what_is_wrong() {
    let e = Expr::parse("rate(5xx) >").unwrap_err().to_string();
    assert!(e.contains("column"), "{e}");
    let e = Expr::parse("cause(tls_fail) > 0").unwrap_err().to_string();
    assert!(e.contains("unknown cause 'tls_fail'") && e.contains("tls_failure"), "{e}");
    let e = Expr::parse("ratio(5xx) > 1").unwrap_err().to_string();
    assert!(e.contains("unknown function 'ratio'"), "{e}");
    let e = Expr::parse("rate(6xx) > 1").unwrap_err().to_string();
    assert!(e.contains("unknown selector '6xx'"), "{e}");
    assert!(Expr::parse("").is_err());
    assert!(Expr::parse("rate(5xx) > 1% and").is_err());
}

/// Each mistake: the message, and the token the carets are under (its last occurrence).
#[test]
fn errors_point_at_the_offending_token() {
    for (text, token, message) in [
        // A threshold of the wrong kind would silently never (or always) fire.
        ("rate(5xx) > 1", "1", "rate(5xx) is a percentage: write '1%' (a bare 1 is ambiguous)"),
        ("rate(5xx) > 0.05", "0.05", "write '0.05%', or '5%' if 0.05 is a fraction"),
        ("rate(5xx) > 1 or count(503) > 0", "1", "write '1%' (a bare 1 is ambiguous)"),
        ("p99(duration) > 2  and count(503) > 0", "2", "give '2' a unit, '2ms' or '2s'"),
        ("count(5xx) > 10%", "10%", "count(5xx) is a number of requests, not a percentage"),
        ("p99(duration) > 2", "2", "p99(duration) is a duration: give '2' a unit, '2ms' or '2s'"),
        ("p99(duration) > 10%", "10%", "p99(duration) is a duration: '10%' is a percentage"),
        ("count(503) < 2s", "2s", "count(503) is a count: '2s' is a duration"),
        ("rate(5xx) > 150%", "150%", "a rate is at most 100%"),
        ("rate(5xx) > count(503)", "rate(5xx) > count(503)", "cannot be compared: a rate with a count"),
        // Nothing from the logs.
        ("1 > 0", "1 > 0", "reads no counts from the logs"),
        ("count(503) > 0 or 2% < 1%", "2% < 1%", "reads no counts from the logs"),
        // Not finite, or signed: never met.
        ("rate(5xx) > nan", "nan", "'nan' is not a threshold: write a finite number"),
        ("count(503) > inf", "inf", "'inf' is not a threshold"),
        ("count(503) > -inf", "-inf", "'-inf' is not a threshold"),
        ("count(503) > NaN", "NaN", "'NaN' is not a threshold"),
        ("count(503) > -1", "-1", "written without a sign"),
        ("count(503) > 1.2.3", "1.2.3", "'1.2.3' is not a number"),
        ("p99(duration) > 2sec", "sec", "unknown unit 'sec'"),
        // Names.
        (
            "rate(cause:tls_failur) > 1%",
            "cause:tls_failur",
            "unknown cause 'tls_failur' (did you mean tls_failure?)",
        ),
        ("cause(tls_fail) > 0", "tls_fail", "unknown cause 'tls_fail' (did you mean tls_failure?)"),
        ("ratee(5xx) > 1%", "ratee", "unknown function 'ratee' (did you mean rate?)"),
        ("count(records) > 0 and rate(6xx) > 1%", "6xx", "unknown selector '6xx'"),
        ("p99(durations) > 1s", "durations", "unknown measure 'durations' (did you mean duration?)"),
        ("p99(duration, upstrem:x) > 1s", "upstrem:x", "expected upstream:CLUSTER or workload:NAME"),
        ("p99(duration, workload:x) > 1s", "p99(duration, workload:x)", "give upstream:CLUSTER too"),
        ("rate(5xx, 4xx) > 1%", "rate(5xx, 4xx)", "rate() takes one argument"),
        // Syntax: the token that could not be read.
        ("rate(5xx) >> 1", ">", "expected a number or a function such as rate(5xx) at column 12, found '>'"),
        ("rate(5xx) 1%", "1%", "expected a comparison"),
        ("rate(5xx) = 1%", "=", "`=` is not a comparison: write `==`"),
        ("rate(5xx) > 1% count(503) > 0", "count", "expected `and`, `or` or the end at column 16"),
        ("rate(5xx > 1%", ">", "expected `,` or `)` at column 10, found '>'"),
        ("rate() > 1%", ")", "expected an argument"),
        ("rate > 1%", "rate", "'rate' takes an argument in parentheses, e.g. rate(…)"),
        (
            "count(503) > 0 or tls_failure > 0",
            "tls_failure",
            "expected a number or a function such as rate(5xx) at column 19, found 'tls_failure'",
        ),
        ("(rate(5xx) > 1%", "", "expected `)` closing the `(` of column 1 at column 16, found the end"),
        ("rate(5xx) > 1% and", "", "found the end"),
    ] {
        let e = Expr::parse(text).expect_err(text);
        assert!(e.message.contains(message), "{text}: {}", e.message);
        let start = if token.is_empty() { text.len() } else { text.rfind(token).unwrap() };
        assert_eq!((e.start, e.end), (start, start + token.len()), "{text}: {}", e.message);
    }
}

#[test]
fn errors_show_the_expression_escaped_with_carets() {
    let e = Expr::parse("rate(cause:tls_failur) > 1%").unwrap_err();
    assert_eq!(
        e.to_string(),
        "--fail-on: unknown cause 'tls_failur' (did you mean tls_failure?)\n  rate(cause:tls_failur) > 1%\n       ^^^^^^^^^^^^^^^^"
    );
    // A terminal escape in the argument reaches stderr as text, and the carets stay under it.
    let e = Expr::parse("rate(x\x1b[2J) > 1%").unwrap_err().to_string();
    assert!(!e.contains('\x1b'), "{e:?}");
    assert!(e.ends_with("  rate(x\\x1b[2J) > 1%\n       ^^^^^^^^"), "{e}");
    // At the end: one caret after the last character.
    let e = Expr::parse("rate(5xx) >").unwrap_err().to_string();
    assert!(e.ends_with("  rate(5xx) >\n             ^"), "{e}");
}

#[test]
fn nesting_is_bounded() {
    let nested = |n: usize| format!("{}count(records) > 0{}", "(".repeat(n), ")".repeat(n));
    assert!(Expr::parse(&nested(MAX_DEPTH)).is_ok());
    for n in [MAX_DEPTH + 1, 7_200, 100_000] {
        let e = Expr::parse(&nested(n)).unwrap_err();
        assert!(e.message.contains("parentheses nest deeper than 64"), "{}", e.message);
        assert_eq!((e.start, e.end), (MAX_DEPTH, MAX_DEPTH + 1));
    }
}

/// (expression, met, explanation) on `summary()`.
#[test]
fn evaluates_against_the_summary() {
    let s = summary();
    for (text, met, explained) in [
        ("rate(5xx) > 1%", true, "rate(5xx) = 36.364%"),
        ("rate(5xx) > 40%", false, "rate(5xx) = 36.364%"),
        // Compared as printed: the rate is 36.3636…%.
        ("rate(5xx) == 36.364%", true, "rate(5xx) = 36.364%"),
        ("rate(5xx) != 36.364%", false, "rate(5xx) = 36.364%"),
        ("rate(5xx) <= 36.364%", true, "rate(5xx) = 36.364%"),
        ("rate(5xx) > 36.364%", false, "rate(5xx) = 36.364%"),
        ("rate(5xx) >= 36.3636%", true, "rate(5xx) = 36.364%"),
        ("rate(malformed) == 8.333%", true, "rate(malformed) = 8.333%"),
        (
            "count(503) >= 4 and count(cause:connection_refused) == 4",
            true,
            "count(503) = 4, count(cause:connection_refused) = 4",
        ),
        ("rate(5xx) > rate(2xx)", false, "rate(5xx) = 36.364%, rate(2xx) = 63.636%"),
        ("p99(duration) > 2s", true, "p99(duration) = 2100 ms"),
        ("p99(duration) > 2.1s", false, "p99(duration) = 2100 ms"),
        (
            "p50(duration) == 30ms and p90(duration) < 1s and max(duration) >= 2.5s",
            true,
            "p50(duration) = 30 ms, p90(duration) = 900 ms, max(duration) = 2500 ms",
        ),
        (
            "p99(duration, upstream:outbound|8080||orders.shop.svc.cluster.local) > 1s",
            true,
            "p99(duration, upstream:outbound|8080||orders.shop.svc.cluster.local) = 1200 ms",
        ),
        (
            "p99(duration, upstream:inbound|8080||, workload:b) > 50ms",
            true,
            "p99(duration, upstream:inbound|8080||, workload:b) = 70 ms",
        ),
        // Values the logs cannot give: not met, and the explanation says why.
        (
            "p99(duration, upstream:inbound|8080||) > 0ms",
            false,
            "= n/a (2 upstreams are named inbound|8080||, of workloads a, b: add workload:NAME)",
        ),
        (
            "p99(duration, upstream:nope) < 1s",
            false,
            "p99(duration, upstream:nope) = n/a (no upstream nope in the logs)",
        ),
        (
            "p99(upstream_service_time) < 1s",
            false,
            "p99(upstream_service_time) = n/a (no upstream service times in the logs)",
        ),
        (
            "p99(upstream_service_time) < 1s or count(503) > 0",
            true,
            "n/a (no upstream service times in the logs), count(503) = 4",
        ),
    ] {
        let e = Expr::parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.eval(&s), met, "{text}");
        let explanation = e.explain(&s).join(", ");
        assert!(explanation.contains(explained), "{text}: {explanation}");
    }
}

/// With no records a rate is undefined, not 0%: `rate(5xx) < 1%` must not pass on an empty
/// input (a log source that stopped sending), and saying why beats a silent exit code 0.
#[test]
fn rates_without_records_are_not_met() {
    let s = empty();
    for (text, met, undecided, explained) in [
        ("rate(5xx) < 1%", false, true, "rate(5xx) = n/a (no records)"),
        ("rate(5xx) >= 0%", false, true, "rate(5xx) = n/a (no records)"),
        ("rate(5xx) != 1%", false, true, "rate(5xx) = n/a (no records)"),
        ("rate(malformed) < 1%", false, true, "rate(malformed) = n/a (no lines)"),
        ("p99(duration) < 1s", false, true, "p99(duration) = n/a (no durations in the logs)"),
        ("count(records) == 0", true, false, "count(records) = 0"),
        (
            "count(records) == 0 or rate(5xx) > 1%",
            true,
            true,
            "count(records) = 0, rate(5xx) = n/a (no records)",
        ),
    ] {
        let e = Expr::parse(text).unwrap();
        assert_eq!((e.eval(&s), e.undecided(&s)), (met, undecided), "{text}");
        assert_eq!(e.explain(&s).join(", "), explained, "{text}");
    }
}
