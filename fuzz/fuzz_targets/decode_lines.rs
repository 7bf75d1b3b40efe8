//! Every line of the input through one auto-detecting decoder (as a pipeline worker reads a
//! chunk, so CRI and docker fragments join across lines) and through the JSON-only and
//! Istio-only decoders. None of them may panic, nor any record's derived views. Each
//! built-in layout must read each line the same with its direct first attempt as with the
//! general matcher alone.
#![no_main]

use envoy_triage::format::{Decoder, FormatChoice, Outcome, builtin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoders = [
        Decoder::new(FormatChoice::Auto),
        Decoder::new(FormatChoice::Json),
        Decoder::new(FormatChoice::Istio),
    ];
    for line in data.split(|&b| b == b'\n') {
        for layout in builtin::text_layouts() {
            // When the direct attempt fails, `parse` runs the general matcher itself; so only
            // a direct success can disagree with it.
            if let Ok(direct) = layout.parse(line) {
                let general = layout.parse_general(line).map(|r| r.fields());
                assert_eq!(Ok(direct.fields()), general, "{:?}", layout.kind());
            }
        }
        for decoder in decoders.iter_mut() {
            if let Outcome::Record(record) = decoder.decode(line) {
                // Touch the derived views too: they parse the borrowed fields again.
                let _ = record.details();
                let _ = record.start_epoch_ms();
                let _ = record.fields();
            }
        }
    }
    for decoder in &decoders {
        let _ = decoder.has_pending_fragments();
    }
});
