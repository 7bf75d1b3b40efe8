//! Parser throughput on ~4 MiB of realistic lines per layout, built by `envoy_triage_synth`
//! (`crates/synth`).
//!
//! For each input: `split` counts lines with `memchr` only (the floor any line parser pays), and
//! `decode` splits and runs every line through one [`Decoder`] with auto-detection, as a
//! pipeline worker does. `custom` measures a user `--format` compiled by [`CompiledFormat`].
//! Run with `cargo bench --bench parse`; throughput is reported in bytes per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use envoy_triage::format::builtin::ISTIO_1_9;
use envoy_triage::format::{CompiledFormat, Decoded, Decoder, FormatChoice, Outcome};
use envoy_triage::record::FormatKind;
use envoy_triage::record::Record;
use envoy_triage_synth::{self as synth, Limit, Style, SynthConfig, Wrapper};

const INPUT_BYTES: u64 = 4 << 20;

/// A user format with a different field order, literal text around operators and a free-text
/// header in the middle. It starts with `[` because a bare leading `%START_TIME%` is currently
/// mistaken for a `kubectl --timestamps` prefix by the decoder (see the report of this bench).
const CUSTOM_FORMAT: &str = "[%START_TIME%] %RESPONSE_CODE% %RESPONSE_FLAGS% %DURATION%ms upstream=%UPSTREAM_CLUSTER% \"%REQ(USER-AGENT)%\" %RESPONSE_CODE_DETAILS% id=%REQ(X-REQUEST-ID)%\n";

fn input(style: Style, wrapper: Wrapper) -> Vec<u8> {
    let cfg = SynthConfig { limit: Limit::Bytes(INPUT_BYTES), style, wrapper, ..SynthConfig::default() };
    synth::generate(&cfg).0
}

/// Every line of `buf` without its newline.
fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', buf).map(move |end| {
        let line = &buf[start..end];
        start = end + 1;
        line
    })
}

fn decode_all(choice: &FormatChoice, buf: &[u8]) -> u64 {
    let mut decoder = Decoder::new(choice.clone());
    let mut sum = 0u64;
    for line in lines(buf) {
        // As the pipeline's workers do: the record is built in place.
        let mut r = Record::default();
        match decoder.decode_into(line, &mut r) {
            Decoded::Record => sum += u64::from(r.response_code.unwrap_or(0)) + 1,
            Decoded::Skipped(_) => {}
            Decoded::Malformed(e) => panic!("{e:?} in {}", String::from_utf8_lossy(line)),
        }
    }
    sum
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, bytes: usize) {
    group
        .throughput(Throughput::Bytes(bytes as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn builtin_layouts(c: &mut Criterion) {
    let inputs = [
        ("istio_text", input(Style::IstioText, Wrapper::None)),
        ("istio_json", input(Style::IstioJson, Wrapper::None)),
        ("envoy_default", input(Style::EnvoyDefault, Wrapper::None)),
        ("istio_kubectl_prefix_timestamps", input(Style::IstioText, Wrapper::KubectlPrefixTimestamps)),
        ("istio_cri", input(Style::IstioText, Wrapper::Cri)),
    ];
    for (name, buf) in &inputs {
        let mut group = c.benchmark_group(*name);
        configure(&mut group, buf.len());
        group.bench_function("split", |b| b.iter(|| black_box(memchr::memchr_iter(b'\n', buf).count())));
        group.bench_function("decode", |b| b.iter(|| black_box(decode_all(&FormatChoice::Auto, buf))));
        group.finish();
    }
}

/// Re-renders Istio text records in [`CUSTOM_FORMAT`].
fn custom_input(istio: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(istio.len() / 2);
    let mut decoder = Decoder::new(FormatChoice::Auto);
    let field = |v: Option<&[u8]>| v.unwrap_or(b"-").to_vec();
    for line in lines(istio) {
        let Outcome::Record(r) = decoder.decode(line) else { continue };
        let num = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
        out.push(b'[');
        out.extend_from_slice(&field(r.start_time));
        out.extend_from_slice(
            format!(
                "] {} {} {}ms upstream=",
                num(r.response_code.map(u64::from)),
                r.response_flags,
                num(r.duration_ms)
            )
            .as_bytes(),
        );
        out.extend_from_slice(&field(r.upstream_cluster));
        out.extend_from_slice(b" \"");
        out.extend_from_slice(&field(r.user_agent));
        out.extend_from_slice(b"\" ");
        out.extend_from_slice(&field(r.response_code_details));
        out.extend_from_slice(b" id=");
        out.extend_from_slice(&field(r.request_id));
        out.push(b'\n');
    }
    out
}

fn custom_formats(c: &mut Criterion) {
    let istio = synth::generate(&SynthConfig {
        limit: Limit::Bytes(INPUT_BYTES),
        noise_ratio: 0.0,
        ..SynthConfig::default()
    })
    .0;
    let custom = custom_input(&istio);
    let compiled =
        CompiledFormat::compile(CUSTOM_FORMAT, FormatKind::Custom).expect("custom format compiles");
    let unparsed = lines(&custom).filter(|line| compiled.parse(line).is_err()).count();
    assert_eq!(unparsed, 0, "every re-rendered line matches the custom format");
    let istio_as_custom =
        CompiledFormat::compile(ISTIO_1_9, FormatKind::Custom).expect("Istio format compiles");

    let mut group = c.benchmark_group("custom_format");
    configure(&mut group, custom.len());
    group.bench_function("parse", |b| {
        b.iter(|| black_box(lines(&custom).filter(|line| compiled.parse(line).is_ok()).count()))
    });
    group.bench_function("decode", |b| {
        b.iter(|| black_box(decode_all(&FormatChoice::Custom(compiled.clone()), &custom)))
    });
    group.finish();

    let mut group = c.benchmark_group("custom_format_istio_string");
    configure(&mut group, istio.len());
    group.bench_function("decode", |b| {
        b.iter(|| black_box(decode_all(&FormatChoice::Custom(istio_as_custom.clone()), &istio)))
    });
    group.finish();

    let mut group = c.benchmark_group("compile");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    for (name, format) in [("custom", CUSTOM_FORMAT), ("istio_1_9", ISTIO_1_9)] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(CompiledFormat::compile(black_box(format), FormatKind::Custom).is_ok()))
        });
    }
    group.finish();
}

criterion_group!(benches, builtin_layouts, custom_formats);
criterion_main!(benches);
