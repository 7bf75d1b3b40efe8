//! Istio ambient ztunnel access lines (family reference §10.1, base reference §9.3): L4, not
//! Envoy. The plain layout is
//!
//! ```text
//! <RFC 3339 time>\t<level>\taccess\t<message>\t<key=value …>
//! ```
//!
//! with dotted keys (`src.addr`, `dst.hbone_addr`, `dst.service`, …), bare addresses and
//! integers, and strings quoted Rust-`Debug` style (1.22 wrote the names bare: both are read).
//! Pasted lines may have spaces for tabs or lack the time. `LOG_FORMAT=json` lines are read by
//! [`super::json`].
//!
//! Fields: `src.addr` → `downstream_remote_address`; `dst.hbone_addr` (the inner target) or else
//! `dst.addr` → `upstream_host`; `dst.service` → `authority` (family §13); `src.workload`,
//! `dst.workload`, `direction` → their own fields; `bytes_sent`, `bytes_recv`;
//! `duration="4ms"` → `duration_ms`; `error` → `upstream_transport_failure_reason`, where the
//! classifier reads transport failures. Namespaces and identities are not kept (the namespace
//! is in the workload's service FQDN). There is no response code and no flags: the error text
//! is what failed.

use super::compile::FieldId;
use super::json::{Alias, L4Message, Scratch, alias, finish_l4, store};
use super::keyvalue::Pairs;
use crate::record::{FormatKind, Record};

/// What a ztunnel line is.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // boxing the record would allocate per line
pub enum L4Line<'a> {
    /// `connection complete` or `connection failed`.
    Record(Record<'a>),
    /// `connection opened` (debug): the start of a connection whose `complete` line follows.
    Opened,
}

const LEVELS: [&[u8]; 6] = [b"trace", b"debug", b"info", b"warn", b"warning", b"error"];

/// Reads a ztunnel access line; `None` if the line is not one.
pub fn parse<'a>(line: &'a [u8], scratch: &'a Scratch) -> Option<L4Line<'a>> {
    let mut s = line;
    let mut time = None;
    if s.first()?.is_ascii_digit() {
        let n = crate::record::rfc3339_prefix_len(s)?;
        time = Some(&s[..n]);
        s = &s[n..];
        if !s.first().is_some_and(|b| matches!(b, b' ' | b'\t')) {
            return None;
        }
    }
    let (level, rest) = word(s);
    if !LEVELS.contains(&level) {
        return None;
    }
    let (scope, rest) = word(rest);
    if scope != b"access" {
        return None;
    }
    let rest = rest.trim_ascii_start();
    // The message ends at a tab; pasted with spaces, it is `connection <word>`.
    let msg_end = match memchr::memchr(b'\t', rest) {
        Some(t) => t,
        None => {
            let first = memchr::memchr(b' ', rest)?;
            memchr::memchr(b' ', &rest[first + 1..]).map_or(rest.len(), |n| first + 1 + n)
        }
    };
    match L4Message::of(&rest[..msg_end]) {
        L4Message::Record => {}
        L4Message::Opened => return Some(L4Line::Opened),
        L4Message::Other => return None,
    }
    let mut rec = Record { format: FormatKind::Ztunnel, ..Record::default() };
    rec.start_time = time;
    let mut error = None;
    for pair in Pairs::new(&rest[msg_end..], scratch) {
        let Ok((key, value)) = pair else { break };
        match alias(key) {
            Some(Alias { field: FieldId::L4Error, .. }) => {
                if let super::json::Value::Str(e) = value {
                    error = Some(e).filter(|e| !e.is_empty());
                }
            }
            // A value of the wrong type (a 1.22 oddity, a cut line) is left out, not fatal.
            Some(a) => {
                let _ = store(&mut rec, a.field, value);
            }
            None => {}
        }
    }
    Some(L4Line::Record(finish_l4(rec, error)))
}

/// The next word (after leading spaces or tabs) and what follows it.
fn word(s: &[u8]) -> (&[u8], &[u8]) {
    let s = s.trim_ascii_start();
    let end = s.iter().position(|&b| matches!(b, b' ' | b'\t')).unwrap_or(s.len());
    (&s[..end], &s[end..])
}
