//! The parser allocates nothing per line: a counting global allocator watches
//! `Decoder::decode_into` (the pipeline's path; `decode` wraps it) and `Aggregate::add_record`
//! over realistic lines of every format and wrapper, after one warm-up pass (buffers and tables
//! grow once, then are reused).
//!
//! This file stays a test binary of its own, outside tests/integration: a `#[global_allocator]`
//! serves its whole process, so in the shared binary it would count the allocations of every
//! other test running in parallel there too, with only the thread-local `COUNTING` flag keeping
//! them out of the total.

use std::alloc::{GlobalAlloc, Layout, System};

use envoy_triage::aggregate::{Aggregate, Position};
use envoy_triage::format::{Decoded, Decoder, FormatChoice};
use envoy_triage::record::Record;
use envoy_triage::source::SourceMeta;

struct Counting;

thread_local! {
    // Only the test's own thread counts: the harness allocates on other threads, and so does
    // the other test, which runs in parallel with its own count.
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static ALLOCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.with(|a| a.set(a.get() + 1));
    }
}

/// Allocations counted on this thread so far.
fn allocs() -> u64 {
    ALLOCS.with(|a| a.get())
}

// SAFETY: every method forwards to the system allocator with the same arguments; counting
// touches only thread-local cells, never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator, which upholds the contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`/`dealloc`; the caller's contract is passed through.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const LINES: &[&str] = &[
    r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default"#,
    r#"[2025-01-01T10:00:00.000Z] "GET /api HTTP/1.1" 503 URX,UF upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused} - "delayed_connect_error:_Connection_refused" 0 152 45 - "-" "curl/8.0" "0b0c5a3e-a8a3-4b71-9d51-0d6c1e1b1ab1" "api:80" "10.1.0.9:8080" outbound|80||api.shop.svc.cluster.local - 10.0.0.3:80 10.1.0.5:40000 - default"#,
    r#"[2018-11-23T04:51:00.281Z] "GET / HTTP/1.1" 200 - 0 58 4 1 "-" "curl/7.47.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "one.example.com" "172.18.0.4:80""#,
    r#"{"authority":"httpbin.local.kyma.dev","bytes_received":0,"bytes_sent":442,"connection_termination_details":null,"downstream_local_address":"10.42.0.9:8443","downstream_remote_address":"10.42.0.1:22564","duration":15,"method":"GET","path":"/headers","protocol":"HTTP/2","request_id":"b947e4b6-2965-4cca-af90-51e3a1f4673f","requested_server_name":"httpbin.local.kyma.dev","response_code":200,"response_code_details":"via_upstream","response_flags":"-","route_name":null,"start_time":"2026-06-30T09:09:58.374Z","upstream_cluster":"outbound|8000||httpbin.test.svc.cluster.local","upstream_host":"10.42.0.13:80","upstream_local_address":"10.42.0.9:35226","upstream_service_time":"13","upstream_transport_failure_reason":null,"user_agent":"curl/8.7.1","x_forwarded_for":"10.42.0.1"}"#,
    r#"[pod/httpbin-8cb97b8f4-9dk9p/istio-proxy] 2024-05-16T10:06:02.123456789Z [2024-05-16T10:06:02.120Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 3 1 "-" "curl/8.5.0" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" inbound|80|| 127.0.0.6:41854 10.44.1.27:80 10.44.1.23:37652 outbound_.8000_._.httpbin.foo.svc.cluster.local default"#,
    r#"2024-05-16T10:06:02.12345678Z stdout P [2024-05-16T10:06:02.120Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 3 1 "-" "curl/8.5.0" "#,
    r#"2024-05-16T10:06:02.12345679Z stdout F "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" inbound|80|| 127.0.0.6:41854 10.44.1.27:80 10.44.1.23:37652 - default"#,
    r#"{"log":"[2020-11-25T21:26:18.409Z] \"GET /status/418 HTTP/1.1\" 418 - via_upstream - \"-\" 0 135 4 4 \"-\" \"curl/7.73.0-DEV\" \"84961386-6d84-929d-98bd-c5aee93b5c88\" \"httpbin:8000\" \"10.44.1.27:80\" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default\n","stream":"stdout","time":"2020-11-25T21:26:18.41Z"}"#,
    "\x1b[32mshop\x1b[0m \x1b[33mforum-7985546ffb-clxhz\x1b[0m \x1b[34mistio-proxy\x1b[0m [2023-01-07T11:12:51.472Z] \"GET /users HTTP/1.1\" 200 - via_upstream - \"-\" 0 10 3 2 \"-\" \"curl/7.81.0\" \"cb171c15-848a-93d8-88d6-beeadcbb683f\" \"users\" \"10.0.0.9:80\" outbound|80||users.shop.svc.cluster.local 10.0.0.2:1 10.0.0.1:80 10.0.0.2:48708 - default",
    "2021-09-13T06:29:50.786352Z\twarning\tenvoy config\tStreamAggregatedResources gRPC config stream closed: 14",
    "not an access log line at all",
];

#[test]
fn decoding_and_aggregating_allocate_nothing_per_line_once_warm() {
    let mut decoder = Decoder::new(FormatChoice::Auto);
    let mut agg = Aggregate::new(100);
    let meta = SourceMeta::default();
    let mut records = 0;
    let mut run = |decoder: &mut Decoder, agg: &mut Aggregate, round: u32| {
        for (i, line) in LINES.iter().enumerate() {
            let pos = Position { chunk: round as u64, line: i as u32 };
            // The pipeline's path: the record built in place.
            let mut r = Record::default();
            match decoder.decode_into(line.as_bytes(), &mut r) {
                Decoded::Record => {
                    agg.add_record(&r, pos, &meta);
                    records += 1;
                }
                Decoded::Skipped(s) => agg.add_skipped(s),
                Decoded::Malformed(e) => agg.add_malformed(e, line.as_bytes(), pos, 0, 0),
            }
        }
    };
    // Warm-up: tables grow, the first five malformed lines are kept as samples, and each
    // failure group's request-id sketch has folded its pending hashes at least once (every 256
    // failures of the group; the buffers grow until then and are reused after).
    for round in 0..600 {
        run(&mut decoder, &mut agg, round);
    }
    COUNTING.with(|c| c.set(true));
    let before = allocs();
    for round in 600..2600 {
        run(&mut decoder, &mut agg, round);
    }
    let allocs = allocs() - before;
    COUNTING.with(|c| c.set(false));
    assert_eq!(records, 2600 * 8);
    assert_eq!(allocs, 0, "{allocs} allocations in 20,000 lines");
}

/// The filter check (`--since`, `--namespace`, `--upstream`, `--code`, `--cause`,
/// `--reporter`) the workers make per record when a filter is given allocates nothing either.
#[test]
fn checking_a_record_against_filters_allocates_nothing() {
    use envoy_triage::filter::{FilterArgs, FilterSpec};
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let filters: Vec<_> = [
        FilterArgs {
            since: Some("1h".into()),
            until: Some("2025-06-01T00:00:00Z".into()),
            ..FilterArgs::default()
        },
        FilterArgs { namespace: s(&["shop", "foo"]), code: s(&["5xx,418", "0"]), ..FilterArgs::default() },
        FilterArgs { upstream: s(&["*httpbin*", "outbound|80||*", "inbound|*"]), ..FilterArgs::default() },
        FilterArgs {
            cause: s(&["connection_refused", "app_error"]),
            reporter: s(&["client_sidecar"]),
            ..FilterArgs::default()
        },
    ]
    .iter()
    .map(|a| FilterSpec::parse(a).unwrap().unwrap().resolve(Some(1_700_000_000_000)))
    .collect();
    let mut decoder = Decoder::new(FormatChoice::Auto);
    let meta = SourceMeta::default();
    let mut admitted = 0u64;
    let mut run = |decoder: &mut Decoder| {
        for line in LINES {
            let mut r = Record::default();
            if let Decoded::Record = decoder.decode_into(line.as_bytes(), &mut r) {
                for f in &filters {
                    let reporter = envoy_triage::classify::reporter(&r, None);
                    let verdict = envoy_triage::classify::classify(&r, reporter);
                    admitted +=
                        u64::from(f.admits(&r, &meta) && f.admits_verdict(reporter, verdict.as_ref()));
                }
            }
        }
    };
    for _ in 0..100 {
        run(&mut decoder);
    }
    COUNTING.with(|c| c.set(true));
    let before = allocs();
    for _ in 0..1000 {
        run(&mut decoder);
    }
    let allocs = allocs() - before;
    COUNTING.with(|c| c.set(false));
    assert!(
        admitted > 0 && admitted < 1100 * 8 * 4,
        "the filters pass some records and not others: {admitted}"
    );
    assert_eq!(allocs, 0, "{allocs} allocations in 11,000 lines");
}
