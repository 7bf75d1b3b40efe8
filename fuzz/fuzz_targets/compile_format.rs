//! First line: a `--format` string. If it compiles, every further line is matched against it,
//! directly and through a decoder. Neither compiling nor matching may panic, and matching is
//! bounded (the compiler caps backtracking).
#![no_main]

use envoy_triage::format::{CompiledFormat, Decoder, FormatChoice};
use envoy_triage::record::FormatKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, rest) = match memchr_newline(data) {
        Some(n) => (&data[..n], &data[n + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(format) = std::str::from_utf8(first) else { return };
    let Ok(compiled) = CompiledFormat::compile(format, FormatKind::Custom) else { return };
    let mut decoder = Decoder::new(FormatChoice::Custom(compiled.clone()));
    for line in rest.split(|&b| b == b'\n') {
        if let Ok(record) = compiled.parse(line) {
            let _ = record.details();
            let _ = record.fields();
        }
        let _ = decoder.decode(line);
    }
});

fn memchr_newline(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}
