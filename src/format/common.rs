//! The record of the common line, kept by a worker from one line to the next
//! ([`Decoder::read_common`]): a line in the layout of the line before, without a wrapper, is
//! read into it by that layout's written-out reading (`compile`'s `direct_layout!`), which
//! writes every slot of its layout and no other, so the record is emptied only when the layout
//! changes or a reading declines. The pipeline (`crate::pipeline::process_chunk`) holds it;
//! every other line goes to [`Decoder::decode_uncommon`], as [`Decoder::decode_into`] would.

use super::compile::WrittenOut;
use super::{Decoder, last_layout_first, may_be_unwrapped_text, without_cr};
use crate::record::Record;

impl Decoder {
    /// The pipeline's common line, a record in the previous line's layout with no wrapper, read
    /// by the layout's written-out reading into `common`, which is kept from line to line: a
    /// record is several hundred bytes, and emptying it for each line cost about 2 % of the
    /// line's instructions. `None` when that reading does not read the line: then
    /// [`decode_uncommon`](Self::decode_uncommon) does, into an empty record, and the two
    /// give what [`decode_into`](Self::decode_into) gives.
    #[inline(always)]
    pub fn read_common<'a, 'r>(&self, line: &'a [u8], common: &'r mut Common<'a>) -> Option<&'r Record<'a>> {
        let line = without_cr(line);
        let last = self.last_layout;
        let fits = line.len() <= u32::MAX as usize;
        match common.filled_by {
            // The layout read the previous line: it may read this one first, if the line may
            // be in it (as `last_layout_first` decides, without asking of the layout again).
            Some((l, reading)) if l == last => {
                if !may_be_unwrapped_text(line) {
                    return None;
                }
                if fits && reading.read(line, &mut common.rec) {
                    return Some(&common.rec);
                }
            }
            filled_by => {
                let layout = last_layout_first(&self.choice, last, line)?;
                // A record filled by another layout holds slots this one does not write.
                if filled_by.is_some() {
                    common.empty();
                }
                let reading = layout.written_out()?;
                if fits && reading.read(line, &mut common.rec) {
                    common.filled_by = Some((last, reading));
                    return Some(&common.rec);
                }
            }
        }
        common.empty();
        None
    }
}

/// The record [`Decoder::read_common`] reads lines into, kept by its caller from one line to
/// the next.
#[derive(Debug, Default)]
pub struct Common<'a> {
    rec: Record<'a>,
    /// The built-in layout (with its index in `builtin::text_layouts`) whose written-out
    /// reading filled `rec`: every slot of the layout, so the next line it reads overwrites
    /// them all, and no other. `None`: `rec` is empty.
    filled_by: Option<(usize, WrittenOut)>,
}

impl Common<'_> {
    #[cold]
    fn empty(&mut self) {
        self.rec = Record::default();
        self.filled_by = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Decoded, FormatChoice, SkipReason};
    use crate::record::{FormatKind, Meta};

    #[test]
    fn a_kept_record_reads_every_line_as_an_empty_one() {
        // The pipeline keeps the common line's record from line to line (`read_common`); whatever
        // the previous line left in it (another layout's slots, a declined reading's leftovers,
        // a wrapper's or JSON's record), each line must decode exactly as `decode_into` decodes it
        // into an empty record. Runs of one layout, switches between layouts, wrappers, JSON,
        // noise, and lines cut or missing a byte at every position.
        use envoy_triage_synth::{Limit, Style, SynthConfig, Wrapper, generate};
        let mut groups: Vec<Vec<Vec<u8>>> = Vec::new();
        for style in [Style::IstioText, Style::EnvoyDefault, Style::IstioJson] {
            for wrapper in [Wrapper::None, Wrapper::KubectlPrefix, Wrapper::KubectlTimestamps] {
                let cfg = SynthConfig {
                    limit: Limit::Lines(300),
                    style,
                    wrapper,
                    noise_ratio: 0.05,
                    ..SynthConfig::default()
                };
                groups.push(generate(&cfg).0.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect());
            }
        }
        let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-logs");
        for entry in std::fs::read_dir(samples).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                groups
                    .push(std::fs::read(path).unwrap().split(|&b| b == b'\n').map(<[u8]>::to_vec).collect());
            }
        }
        let mut edited = Vec::new();
        for l in groups.iter().flat_map(|g| g.iter().take(2)) {
            for i in (0..l.len()).step_by(3) {
                edited.push(l[..i].to_vec());
                edited.push([&l[..i], &l[i + 1..]].concat());
                let mut q = l.clone();
                q[i] = b'"';
                edited.push(q);
            }
        }
        // Runs of each group in turn, then the edited lines, then every line interleaved with
        // lines of the other groups, then the groups' first lines in pairs.
        let mut lines: Vec<&[u8]> = groups.iter().flatten().map(Vec::as_slice).collect();
        lines.extend(edited.iter().map(Vec::as_slice));
        let n = lines.len();
        let mixed: Vec<&[u8]> = (0..n).map(|i| lines[(i * 7919) % n]).collect();
        lines.extend(mixed);
        // Each group's first lines after each other's: a wrapped line in another layout is read
        // without the kept record, and changes the layout the next line is tried in first.
        for a in &groups {
            for b in &groups {
                lines.extend(a.iter().take(3).chain(b.iter().take(3)).map(Vec::as_slice));
            }
        }
        let (mut kept, mut fresh) = (Decoder::new(FormatChoice::Auto), Decoder::new(FormatChoice::Auto));
        let mut common = Common::default();
        let (mut read_common, mut plain_text) = (0, 0);
        let mut previous = None;
        let runs = groups.iter().map(Vec::len).sum();
        for (i, line) in lines.iter().enumerate() {
            let text = String::from_utf8_lossy(line);
            let mut want = Record::default();
            let want_outcome = fresh.decode_into(line, &mut want);
            let mut other = Record::default();
            let (got, got_outcome) = match kept.read_common(line, &mut common) {
                Some(rec) => {
                    read_common += (i < runs) as usize;
                    (rec.clone(), Decoded::Record)
                }
                None => {
                    let d = kept.decode_uncommon(line, &mut other);
                    (other.clone(), d)
                }
            };
            assert_eq!(format!("{got_outcome:?}"), format!("{want_outcome:?}"), "{text}");
            if matches!(want_outcome, Decoded::Record) {
                assert_eq!(got, want, "{text}");
                let plain = matches!(want.format, FormatKind::Istio19 | FormatKind::EnvoyDefault)
                    && want.meta == Meta::default();
                plain_text += (i < runs && plain && previous == Some(want.format)) as usize;
                previous = Some(want.format);
            }
        }
        // In the runs, the kept record read nearly every unwrapped line of the two text layouts
        // that follows a record of the same layout (the others are read by the general matcher).
        assert!(read_common * 10 >= plain_text * 9, "{read_common} of {plain_text}");
    }

    #[test]
    fn a_carriage_return_before_the_newline_is_not_part_of_the_line() {
        // Logs copied from Windows hosts end lines with CRLF: the `\r` is dropped by every path
        // (the kept record's, and decode_into's), so the record is the one without it.
        let line = b"[2026-11-20T10:00:00.003Z] \"GET /x HTTP/1.1\" 503 UF - - \"-\" 0 0 1 - \"-\" \"curl\" \"id\" \"a:80\" \"10.0.0.1:80\" outbound|80||a.ns.svc.cluster.local - 10.0.0.2:80 10.0.0.3:5 - default";
        let crlf = [&line[..], b"\r"].concat();
        let decode = |l: &[u8]| {
            let mut d = Decoder::new(FormatChoice::Auto);
            let mut rec = Record::default();
            let decoded = format!("{:?}", d.decode_into(l, &mut rec));
            (decoded, format!("{rec:?}"))
        };
        let want = decode(line);
        // The last field is `default`, without the `\r`.
        assert!(want.1.contains("route_name: Some([100, 101, 102, 97, 117, 108, 116])"), "{want:?}");
        assert_eq!(decode(&crlf), want);
        let mut d = Decoder::new(FormatChoice::Auto);
        let mut first = Record::default();
        assert!(matches!(d.decode_into(line, &mut first), Decoded::Record));
        let mut common = Common::default();
        for _ in 0..2 {
            assert_eq!(d.read_common(&crlf, &mut common).map(|r| format!("{r:?}")), Some(want.1.clone()));
        }
        assert_eq!(decode(b"\r").0, format!("{:?}", Decoded::Skipped(SkipReason::Blank)));
    }
}
