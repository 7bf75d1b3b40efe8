//! The batch pipeline: one reader thread cuts inputs into ~1 MiB chunks of whole lines and sends
//! them over a bounded `crossbeam-channel`; N workers each own a [`Decoder`] and an
//! [`Aggregate`]; aggregates merge when the input ends. Records never cross threads, only
//! byte buffers do, and those are recycled through a second channel. Output does not depend on
//! the thread count (see `crate::aggregate` on determinism).

use std::io::{self, Read};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::aggregate::{Aggregate, Position, SourceMeta};
use crate::format::{Decoder, FormatChoice, Outcome, wrapper};
use crate::source::Input;
use crate::summary::InputInfo;

/// Default chunk size.
pub const CHUNK_SIZE: usize = 1 << 20;
/// A run of fragments (or one line) longer than this is cut anyway.
pub const MAX_CHUNK: usize = 64 << 20;

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub threads: usize,
    pub format: FormatChoice,
    pub max_clusters: usize,
    pub chunk_size: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            format: FormatChoice::Auto,
            max_clusters: 10_000,
            chunk_size: CHUNK_SIZE,
        }
    }
}

/// Whole lines of one input.
pub struct Chunk {
    pub data: Vec<u8>,
    pub seq: u64,
    pub source: u32,
}

/// Decodes and aggregates one chunk. Shared by batch workers and follow mode.
pub fn process_chunk(decoder: &mut Decoder, agg: &mut Aggregate, chunk: &Chunk, meta: &SourceMeta) {
    let data = chunk.data.as_slice();
    let mut start = 0;
    let mut line_no: u32 = 0;
    let mut handle = |line: &[u8], line_no: u32| {
        let pos = Position { chunk: chunk.seq, line: line_no };
        match decoder.decode(line) {
            Outcome::Record(rec) => agg.add_record(&rec, pos, meta),
            Outcome::Skipped(reason) => agg.add_skipped(reason),
            Outcome::Malformed(err) => agg.add_malformed(err, line, pos, chunk.source),
        }
    };
    for nl in memchr::memchr_iter(b'\n', data) {
        handle(&data[start..nl], line_no);
        line_no += 1;
        start = nl + 1;
    }
    if start < data.len() {
        handle(&data[start..], line_no);
        line_no += 1;
    }
    let dangling = decoder.discard_pending();
    if dangling > 0 {
        agg.unterminated_fragments(dangling);
    }
    agg.chunk_lines.push((chunk.seq, chunk.source, line_no as u64));
}

/// Reads every input, analyses it with `cfg.threads` workers and returns the merged state.
pub fn run(inputs: &[Input], cfg: &PipelineConfig) -> (Aggregate, Vec<InputInfo>) {
    let threads = cfg.threads.max(1);
    let metas: Arc<Vec<SourceMeta>> = Arc::new(inputs.iter().map(Input::meta).collect());
    let (tx, rx) = bounded::<Chunk>(threads * 2);
    let (pool_tx, pool_rx) = bounded::<Vec<u8>>(threads * 4);

    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let rx: Receiver<Chunk> = rx.clone();
                let pool_tx = pool_tx.clone();
                let metas = Arc::clone(&metas);
                let format = cfg.format.clone();
                let max_clusters = cfg.max_clusters;
                scope.spawn(move || {
                    let mut decoder = Decoder::new(format);
                    let mut agg = Aggregate::new(max_clusters);
                    for chunk in rx {
                        process_chunk(&mut decoder, &mut agg, &chunk, &metas[chunk.source as usize]);
                        let mut buf = chunk.data;
                        buf.clear();
                        let _ = pool_tx.try_send(buf);
                    }
                    agg
                })
            })
            .collect();
        drop(rx);
        drop(pool_tx);

        let mut infos: Vec<InputInfo> = Vec::with_capacity(inputs.len());
        let mut seq = 0u64;
        for (i, input) in inputs.iter().enumerate() {
            let error = match input.open() {
                Ok(reader) => read_chunks(reader, i as u32, &mut seq, cfg.chunk_size, &tx, &pool_rx).err(),
                Err(e) => Some(e),
            };
            infos.push(InputInfo { meta: metas[i].clone(), error: error.map(|e| describe(&e)) });
        }
        drop(tx);

        let mut merged: Option<Aggregate> = None;
        for w in workers {
            let agg = w.join().expect("worker thread panicked");
            match merged.as_mut() {
                None => merged = Some(agg),
                Some(m) => m.merge(agg),
            }
        }
        (merged.unwrap_or_else(|| Aggregate::new(cfg.max_clusters)), infos)
    })
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => "unexpected end of file (truncated input?)".to_string(),
        _ => e.to_string(),
    }
}

/// Cuts one input into chunks of whole lines. On a read error the data read so far is still
/// sent (the last partial line included) before the error is returned.
fn read_chunks(
    mut reader: Box<dyn Read + Send>,
    source: u32,
    seq: &mut u64,
    chunk_size: usize,
    tx: &Sender<Chunk>,
    pool: &Receiver<Vec<u8>>,
) -> io::Result<()> {
    let fresh = |pool: &Receiver<Vec<u8>>| {
        let mut b = pool.try_recv().unwrap_or_default();
        b.reserve(chunk_size);
        b
    };
    let send = |data: Vec<u8>, seq: &mut u64| {
        let chunk = Chunk { data, seq: *seq, source };
        *seq += 1;
        // Workers only stop when the channel closes, so a send cannot fail while we hold `tx`.
        let _ = tx.send(chunk);
    };
    let mut buf = fresh(pool);
    let mut want = chunk_size;
    loop {
        let result = fill(&mut reader, &mut buf, want);
        let eof = match result {
            Ok(eof) => eof,
            Err(e) => {
                if !buf.is_empty() {
                    send(buf, seq);
                }
                return Err(e);
            }
        };
        if eof {
            if !buf.is_empty() {
                send(buf, seq);
            }
            return Ok(());
        }
        match wrapper::safe_cut(&buf).filter(|_| true) {
            Some(cut) => {
                let mut next = fresh(pool);
                next.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                send(std::mem::replace(&mut buf, next), seq);
                want = chunk_size;
            }
            None if buf.len() >= MAX_CHUNK => {
                // One enormous line (or fragment run): pass it on whole rather than grow forever.
                let next = fresh(pool);
                send(std::mem::replace(&mut buf, next), seq);
                want = chunk_size;
            }
            None => want = buf.len() + chunk_size,
        }
    }
}

/// Reads until `buf` holds at least `want` bytes; returns true at end of input.
///
/// `read_to_end` on a `Take` reads into the vector's spare capacity without zeroing it first
/// (readers such as `File` and `Stdin` fill uninitialised memory directly).
fn fill(reader: &mut dyn Read, buf: &mut Vec<u8>, want: usize) -> io::Result<bool> {
    while buf.len() < want {
        let need = want - buf.len();
        buf.reserve(need);
        match reader.take(need as u64).read_to_end(buf) {
            Ok(0) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::Summary;

    fn run_on(data: &[u8], threads: usize, chunk_size: usize) -> Summary {
        let dir = std::env::temp_dir().join(format!("envoy-triage-pipeline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("x-{}.log", data.len()));
        std::fs::write(&path, data).unwrap();
        let cfg = PipelineConfig { threads, chunk_size, ..PipelineConfig::default() };
        let inputs = vec![Input::Path(path.clone())];
        let (agg, infos) = run(&inputs, &cfg);
        let _ = std::fs::remove_file(&path);
        Summary::build(&agg, &infos)
    }

    const LINE: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 503 UF upstream_reset_before_response_started{connection_failure} - "-" 0 135 4 - "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local - 10.0.45.184:8000 10.44.1.23:46520 - default"#;

    #[test]
    fn small_chunks_and_a_last_line_without_newline() {
        let mut data = Vec::new();
        for i in 0..1000 {
            data.extend_from_slice(LINE.as_bytes());
            data.push(b'\n');
            if i % 7 == 0 {
                data.extend_from_slice(b"garbage line\n\n");
            }
        }
        data.extend_from_slice(LINE.as_bytes());
        let one = run_on(&data, 1, 1000);
        let four = run_on(&data, 4, 777);
        assert_eq!(one.totals.records, 1001);
        assert_eq!(one.totals.malformed, 143);
        assert_eq!(one.totals.skipped, 143);
        assert_eq!(one.totals.lines, 1001 + 286);
        assert_eq!(serde_json::to_string(&one).unwrap(), serde_json::to_string(&four).unwrap());
        assert_eq!(one.malformed_samples[0].line, 2);
    }

    #[test]
    fn fragment_runs_stay_in_one_chunk() {
        let mut data = Vec::new();
        for _ in 0..200 {
            let (a, b) = LINE.split_at(100);
            data.extend_from_slice(format!("2024-05-16T10:06:02.1Z stdout P {a}\n").as_bytes());
            data.extend_from_slice(format!("2024-05-16T10:06:02.2Z stdout F {b}\n").as_bytes());
        }
        let s = run_on(&data, 3, 500);
        assert_eq!(s.totals.records, 200);
        assert_eq!(s.totals.skipped, 200);
        assert_eq!(s.totals.malformed, 0);
    }

    #[test]
    fn an_unfinished_fragment_at_the_end_is_malformed_not_lost() {
        let data = b"2024-05-16T10:06:02.1Z stdout P [2020-11-25T21:26:18.409Z] \"GET /x";
        let s = run_on(data, 1, 1 << 20);
        assert_eq!((s.totals.lines, s.totals.malformed, s.totals.skipped), (1, 1, 0));
    }
}
