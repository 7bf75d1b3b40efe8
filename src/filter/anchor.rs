//! The time a relative `--since`/`--until` counts back from in batch mode: the log's own last
//! record, not now (an archive read today is not "now"). Only asked when a time is relative.
//!
//! A plain regular file is read backwards: its last [`TAIL`] bytes are parsed and their latest
//! start time taken (records are written when they end, so the last line is not always the
//! latest start: a slow request logged last started earlier); only when that stretch holds no
//! record with a time is the whole file read. A compressed file has no end to seek to: it is
//! read whole, through the same pipeline as the run (`crate::source::batch`), first. A stream
//! (stdin from a pipe, a FIFO) cannot be read twice and is refused with what to do instead;
//! stdin redirected from a regular file is read backwards like any file.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::format::{Decoded, Decoder, FormatChoice};
use crate::pipeline::PipelineConfig;
use crate::record::Record;
use crate::source::{Compression, Input};

/// Bytes read back from the end of a plain file: thousands of records of any real layout.
pub const TAIL: u64 = 4 << 20;

/// Why no anchor could be had: the run stops (exit 2) with this said.
#[derive(Debug, thiserror::Error)]
#[error(
    "{flag} counts back from the log's last record, which {what} cannot tell before it has been \
     read to its end; give an absolute time (--{flag_name} 2026-11-25T02:30:00Z), or save the \
     log to a file first"
)]
pub struct NeedsAFile {
    flag: String,
    flag_name: &'static str,
    what: String,
}

/// The latest start time among the inputs' last records (epoch ms); `None` when no record has
/// a time. `flag` (`--since 10m`) is what a refusal names.
pub fn last_record_ms(
    inputs: &[Input],
    cfg: &PipelineConfig,
    flag: (&'static str, &str),
) -> Result<Option<i64>, NeedsAFile> {
    let refuse =
        |what: String| NeedsAFile { flag: format!("--{} {}", flag.0, flag.1), flag_name: flag.0, what };
    let mut latest: Option<i64> = None;
    let mut whole = Vec::new();
    for input in inputs {
        let file = match input {
            Input::Stdin => {
                use std::os::fd::AsFd;
                let file = io::stdin().as_fd().try_clone_to_owned().map(File::from);
                match file {
                    Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => f,
                    _ => return Err(refuse("stdin from a pipe".into())),
                }
            }
            Input::Path(p) => match File::open(p) {
                Ok(f) => f,
                // Said by the run itself.
                Err(_) => continue,
            },
        };
        let Ok(meta) = file.metadata() else { continue };
        if !meta.is_file() {
            return Err(refuse(format!("{} (not a regular file)", input.name())));
        }
        let mut magic = [0u8; 6];
        let n = file.read_at(&mut magic, 0).unwrap_or(0);
        if Compression::of(&magic[..n]) != Compression::None {
            if *input == Input::Stdin {
                return Err(refuse("compressed stdin".into()));
            }
            whole.push(input.clone());
            continue;
        }
        match tail_latest(&file, meta.len(), TAIL, &cfg.format) {
            Some(t) => latest = latest.max(Some(t)),
            // Nothing in the tail, or a size that says 0 (`/proc` files have content all the
            // same): read it whole.
            None if meta.len() > TAIL || meta.len() == 0 => whole.push(input.clone()),
            None => {}
        }
    }
    if !whole.is_empty() {
        let cfg = PipelineConfig { filter: None, windows: false, ..cfg.clone() };
        if let Ok((agg, _)) = crate::source::batch::run(&whole, &cfg) {
            latest = latest.max(agg.start_range().map(|r| r.1));
        }
    }
    Ok(latest)
}

/// The latest start time among the records of the last `window` bytes of a `len`-byte file
/// (from the first whole line in them).
fn tail_latest(file: &File, len: u64, window: u64, format: &FormatChoice) -> Option<i64> {
    let start = len.saturating_sub(window);
    let mut buf = vec![0u8; (len - start) as usize];
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], start + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    buf.truncate(done);
    let mut data = &buf[..];
    if start > 0 {
        // The first line is likely cut: start after it.
        data = &data[memchr::memchr(b'\n', data)? + 1..];
    }
    latest_in(data, format)
}

/// The latest start time among the records of `data` (whole lines).
fn latest_in(data: &[u8], format: &FormatChoice) -> Option<i64> {
    let mut decoder = Decoder::new(format.clone());
    let mut latest = None;
    for line in data.split(|&b| b == b'\n') {
        let mut rec = Record::default();
        if let Decoded::Record = decoder.decode_into(line, &mut rec) {
            latest = latest.max(rec.start_epoch_ms());
        }
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"[2026-11-25T02:30:26.681Z] "GET /x HTTP/1.1" 200 - via_upstream - "-" 0 24 10 9 "-" "curl" "id-1" "httpbin:8000" "127.0.0.30:8080" outbound|8000||httpbin.foo.svc.cluster.local 127.0.0.1:5000 127.0.0.10:8000 127.0.0.1:4000 - default"#;

    fn line_at(t: &str) -> String {
        A.replace("2026-11-25T02:30:26.681Z", t)
    }

    fn file_of(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn ms(t: &str) -> i64 {
        crate::record::parse_rfc3339_ms(t.as_bytes()).unwrap()
    }

    #[test]
    fn the_latest_start_among_the_last_records_not_the_last_line() {
        // The last line is a slow request that started earliest.
        let text = format!(
            "{}\n{}\n{}\n",
            line_at("2026-11-25T02:30:00.000Z"),
            line_at("2026-11-25T02:31:00.000Z"),
            line_at("2026-11-25T02:29:00.000Z")
        );
        let (_dir, path) = file_of(&text);
        let got = last_record_ms(&[Input::Path(path)], &PipelineConfig::default(), ("since", "10m")).unwrap();
        assert_eq!(got, Some(ms("2026-11-25T02:31:00Z")));
    }

    #[test]
    fn a_cut_first_line_in_the_tail_is_left_out_and_noise_at_the_end_is_passed_over() {
        let text = format!(
            "{}\n{}\nwarning envoy main some proxy chatter\n",
            line_at("2026-11-25T02:30:00.000Z"),
            line_at("2026-11-25T02:31:00.000Z")
        );
        let (_dir, path) = file_of(&text);
        let file = File::open(&path).unwrap();
        let len = text.len() as u64;
        // A window that starts inside the first record, on a digit of its time: not read as one.
        let window = len - 5;
        assert_eq!(tail_latest(&file, len, window, &FormatChoice::Auto), Some(ms("2026-11-25T02:31:00Z")));
        // A window holding no whole record: none, so the caller reads the whole file.
        assert_eq!(tail_latest(&file, len, 40, &FormatChoice::Auto), None);
    }

    #[test]
    fn a_compressed_file_is_read_whole_first() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        write!(gz, "{}\n{}\n", line_at("2026-11-25T02:31:00.000Z"), line_at("2026-11-25T02:30:00.000Z"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log.gz");
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let cfg = PipelineConfig { threads: 2, ..PipelineConfig::default() };
        let got = last_record_ms(&[Input::Path(path)], &cfg, ("since", "10m")).unwrap();
        assert_eq!(got, Some(ms("2026-11-25T02:31:00Z")));
    }
}
