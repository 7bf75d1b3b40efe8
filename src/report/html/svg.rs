//! The HTML report's charts, drawn as inline SVG from Rust (no chart library, nothing fetched):
//! failures by cause over time, stacked, with the requests line; a duration histogram with its
//! cut-off marked; a fail-rate bar. Sizes are in the viewBox's units and scale with the page.
//! Every label goes through [`super::esc`]. `super` places them.

use std::fmt::Write;

use super::esc;
use crate::summary::{TimeBucket, TimelineOut};

/// A colour per cause, fixed so a cause looks the same in every chart and no two causes
/// share one in a stack (the legend says which).
pub fn cause_colour(cause: &str) -> &'static str {
    match cause {
        "route_timeout" => "#e8590c",
        "per_try_timeout" => "#f59f00",
        "stream_idle_timeout" => "#ffd43b",
        "connection_refused" => "#c2255c",
        "connect_timeout" => "#f783ac",
        "tls_failure" => "#7048e8",
        "authz_denied" => "#b197fc",
        "upstream_reset" => "#1c7ed6",
        "protocol_error" => "#74c0fc",
        "overflow" => "#a61e4d",
        "rate_limited" => "#ff8787",
        "no_healthy_upstream" => "#c92a2a",
        "no_route" => "#5c940d",
        "no_cluster" => "#94d82d",
        "blocked_egress" => "#364fc7",
        "downstream_disconnect" => "#adb5bd",
        "app_error" => "#2b8a3e",
        "fault_injected" => "#0b7285",
        _ => "#495057",
    }
}

const W: f64 = 960.0;
const H: f64 = 260.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 56.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A round axis maximum at or above `v`: 1, 2 or 5 times a power of ten.
fn nice(v: u64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            if m * p >= v.max(1) {
                return m * p;
            }
        }
        p = p.saturating_mul(10);
    }
}

/// `UTC` times on the axis, shortened to what changes across the chart.
fn time_label(ms: i64, span_ms: i64) -> String {
    let full = crate::record::format_epoch_ms(ms);
    // 2026-11-25T02:30:26.681Z
    if span_ms <= 2 * 86_400_000 { full[11..19].to_string() } else { full[5..16].replace('T', " ") }
}

/// Failures per bucket stacked by cause (bars on the left axis), requests per bucket as a line
/// (right axis). Each bar carries its counts in a `<title>` (shown on hover) and `data-` attributes.
pub fn timeline(t: &TimelineOut) -> String {
    let mut s = String::new();
    let Some((first, last)) = t.buckets.first().zip(t.buckets.last()) else {
        return "<p class=\"none\">No record had a start time that could be read.</p>".to_string();
    };
    let step = t.width_s * 1000;
    let (t0, t1) = (first.start_ms, last.start_ms + step);
    let span = (t1 - t0).max(1) as f64;
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |ms: i64| LEFT + (ms - t0) as f64 / span * plot_w;
    let fail_of = |b: &TimeBucket| b.failed.iter().map(|(_, n)| n).sum::<u64>();
    let max_failed = nice(t.buckets.iter().map(fail_of).max().unwrap_or(0));
    let max_requests = nice(t.buckets.iter().map(|b| b.requests).max().unwrap_or(0));
    let bar_w = (step as f64 / span * plot_w).max(1.0);
    let _ = write!(
        s,
        "<svg class=\"chart timeline\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Failed requests by cause \
         over time, with all requests\" data-buckets=\"{}\" data-width-s=\"{}\">",
        t.buckets.len(),
        t.width_s
    );
    // Axes and gridlines: 0, half and the top of each scale.
    for frac in [0.0, 0.5, 1.0] {
        let y = TOP + plot_h * (1.0 - frac);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <text class=\"axis req\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            (max_failed as f64 * frac).round() as u64,
            W - RIGHT + 6.0,
            y + 4.0,
            (max_requests as f64 * frac).round() as u64,
        );
    }
    for b in &t.buckets {
        let mut y = TOP + plot_h;
        let bx = x(b.start_ms);
        let total = fail_of(b);
        let _ = write!(
            s,
            "<g class=\"bucket\" data-start=\"{}\" data-requests=\"{}\" data-failed=\"{}\"><title>{} · {} requests · {} failed",
            esc(&crate::record::format_epoch_ms(b.start_ms)),
            b.requests,
            total,
            esc(&crate::record::format_epoch_ms(b.start_ms)),
            b.requests,
            total
        );
        for (cause, n) in &b.failed {
            let _ = write!(s, "\n{} {}", esc(cause), n);
        }
        s.push_str("</title>");
        for (cause, n) in &b.failed {
            let h = *n as f64 / max_failed as f64 * plot_h;
            y -= h;
            // The colour says the cause (the legend, and the bucket's title, name it).
            let _ = write!(
                s,
                "<rect x=\"{bx:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                (bar_w - 0.5).max(0.6),
                cause_colour(cause)
            );
        }
        s.push_str("</g>");
    }
    // The requests line: a point per bucket's middle, and 0 where no record fell (a gap is
    // quiet, not a straight line between its ends), unless the gaps are too many to draw.
    let slots = (t1 - t0) / step;
    let mut counts: Vec<(i64, u64)> = t.buckets.iter().map(|b| (b.start_ms, b.requests)).collect();
    if slots <= 4 * crate::aggregate::timeline::MAX_BUCKETS as i64 {
        let mut dense = Vec::with_capacity(slots as usize);
        let mut it = counts.iter().peekable();
        for k in 0..slots {
            let start = t0 + k * step;
            let n = match it.peek() {
                Some(&&(s, n)) if s == start => {
                    it.next();
                    n
                }
                _ => 0,
            };
            dense.push((start, n));
        }
        counts = dense;
    }
    let points: Vec<String> = counts
        .iter()
        .map(|&(start, n)| {
            let px = x(start) + bar_w / 2.0;
            let py = TOP + plot_h * (1.0 - n as f64 / max_requests as f64);
            format!("{px:.1},{py:.1}")
        })
        .collect();
    let _ = write!(s, "<polyline class=\"requests\" points=\"{}\"/>", points.join(" "));
    // Time labels: start, middle, end.
    for (ms, anchor) in [(t0, "start"), (t0 + (t1 - t0) / 2, "middle"), (t1, "end")] {
        let _ = write!(
            s,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(ms),
            H - 8.0,
            esc(&time_label(ms, t1 - t0))
        );
    }
    s.push_str("</svg>");
    s
}

/// The durations of a finding cut at `cutoff_ms`, in equal bins, the cut-off marked: a wall
/// of bars at one place is a configured timeout.
pub fn durations(bins: &[(u64, u64)], cutoff_ms: u64) -> String {
    let mut s = String::new();
    let (w, h, left, bottom, top) = (480.0, 150.0, 40.0, 24.0, 10.0);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - top;
    let max_ms = bins.last().map_or(1, |b| b.0).max(1) as f64;
    let max_n = nice(bins.iter().map(|b| b.1).max().unwrap_or(0));
    let bw = plot_w / bins.len().max(1) as f64;
    let _ = write!(
        s,
        "<svg class=\"chart durations\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Durations, cut-off at {} ms\" \
         data-cutoff-ms=\"{cutoff_ms}\">",
        cutoff_ms
    );
    let _ = write!(
        s,
        "<line class=\"grid\" x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text class=\"axis\" x=\"{:.1}\" \
         y=\"{:.1}\" text-anchor=\"end\">{max_n}</text>",
        w - 10.0,
        top,
        top,
        left - 4.0,
        top + 4.0
    );
    let mut lo = 0u64;
    for (i, &(hi, n)) in bins.iter().enumerate() {
        if n == 0 {
            lo = hi;
            continue;
        }
        let bh = n as f64 / max_n as f64 * plot_h;
        let _ = write!(
            s,
            "<rect class=\"bin\" x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{bh:.2}\" data-count=\"{n}\"><title>{}–{} ms: {n}</title></rect>",
            left + i as f64 * bw,
            top + plot_h - bh,
            (bw - 1.0).max(0.5),
            lo,
            hi
        );
        lo = hi;
    }
    let cx = left + cutoff_ms as f64 / max_ms * plot_w;
    let _ = write!(
        s,
        "<line class=\"cutoff\" x1=\"{cx:.1}\" x2=\"{cx:.1}\" y1=\"{top}\" y2=\"{:.1}\"/>\
         <text class=\"cutoff-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">cut-off {}</text>\
         <text class=\"axis\" x=\"{left}\" y=\"{:.1}\">0</text>\
         <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></svg>",
        top + plot_h,
        cx - 4.0,
        top + 12.0,
        esc(&crate::summary::human_ms(cutoff_ms)),
        h - 6.0,
        w - 10.0,
        h - 6.0,
        esc(&crate::summary::human_ms(max_ms as u64)),
    );
    s
}

/// p50 and p99 per upstream as horizontal bars on a log scale (a 15 s p99 beside 20 ms p50s
/// would flatten them on a linear one), one row per `(name, p50, p99)`.
pub fn latency(rows: &[(String, Option<u64>, Option<u64>)]) -> String {
    let rows: Vec<_> = rows.iter().filter(|r| r.2.is_some()).collect();
    if rows.is_empty() {
        return String::new();
    }
    let (w, row_h, label_w) = (800.0, 22.0, 250.0);
    let h = rows.len() as f64 * row_h + 26.0;
    let max = rows.iter().filter_map(|r| r.2).max().unwrap_or(1).max(1) as f64;
    let plot_w = w - label_w - 80.0;
    let scale = |v: u64| ((1.0 + v as f64).ln() / (1.0 + max).ln() * plot_w).max(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart latency\" viewBox=\"0 0 {w} {h:.0}\" role=\"img\" aria-label=\"p50 and p99 per upstream\">"
    );
    for (i, (name, p50, p99)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let (p50, p99) = (p50.unwrap_or(0), p99.unwrap_or(0));
        let label: String = if name.chars().count() > 36 {
            name.chars().take(35).chain(['…']).collect()
        } else {
            name.clone()
        };
        let _ = write!(
            s,
            "<g data-p50=\"{p50}\" data-p99=\"{p99}\"><title>{} · p50 {} · p99 {}</title>\
             <text class=\"axis name\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"p99\" x=\"{label_w}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"16\"/>\
             <rect class=\"p50\" x=\"{label_w}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            esc(name),
            esc(&crate::summary::human_ms(p50)),
            esc(&crate::summary::human_ms(p99)),
            label_w - 6.0,
            y + 12.0,
            esc(&label),
            scale(p99),
            y + 4.0,
            scale(p50),
            label_w + scale(p99) + 4.0,
            y + 12.0,
            esc(&crate::summary::human_ms(p99)),
        );
    }
    let _ = write!(
        s,
        "<text class=\"axis\" x=\"{label_w}\" y=\"{:.1}\"><tspan class=\"k50\">■ p50</tspan> <tspan class=\"k99\">■ p99</tspan> \
         (log scale)</text></svg>",
        h - 4.0
    );
    s
}

/// A small horizontal bar for a share from 0 to 1.
pub fn bar(share: f64) -> String {
    let pct = (share * 100.0).clamp(0.0, 100.0);
    format!(
        "<svg class=\"bar\" viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" aria-hidden=\"true\">\
         <rect width=\"100\" height=\"8\" class=\"track\"/><rect width=\"{pct:.1}\" height=\"8\" class=\"fill\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_axis_tops() {
        assert_eq!(nice(0), 1);
        assert_eq!(nice(7), 10);
        assert_eq!(nice(11), 20);
        assert_eq!(nice(200), 200);
        assert_eq!(nice(201), 500);
    }

    #[test]
    fn a_bucket_per_stack_with_its_counts() {
        let t = TimelineOut {
            width_s: 60,
            buckets: vec![
                TimeBucket {
                    start_ms: 60_000,
                    requests: 10,
                    failed: vec![("route_timeout", 4), ("app_error", 1)],
                },
                TimeBucket { start_ms: 180_000, requests: 3, failed: vec![] },
            ],
            untimed: 0,
        };
        let svg = timeline(&t);
        assert_eq!(svg.matches("<g class=\"bucket\"").count(), 2);
        assert_eq!(svg.matches("<rect ").count(), 2);
        assert!(svg.contains("data-requests=\"10\" data-failed=\"5\""));
        assert!(svg.contains("<polyline class=\"requests\""));
    }
}
