//! The input is a `--fail-on` expression. Parsing may not panic nor recurse without bound; an
//! error's span lies on character boundaries of the expression and its rendering (message,
//! expression, carets) holds no control character; a parsed expression evaluates and explains
//! itself, with and without records, without panicking.
#![no_main]

use envoy_triage::aggregate::Aggregate;
use envoy_triage::failon::Expr;
use envoy_triage::summary::Summary;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Expr::parse(text) {
        Ok(expr) => {
            let empty = Summary::build(&Aggregate::new(100), &[]);
            let mut some = empty.clone();
            some.totals.lines = 3;
            some.totals.records = 3;
            some.totals.failed = 1;
            for s in [&empty, &some] {
                let _ = expr.eval(s);
                let _ = expr.undecided(s);
                let _ = expr.explain(s);
            }
        }
        Err(e) => {
            assert!(e.start <= e.end && e.end <= text.len(), "{e:?}");
            assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end), "{e:?}");
            let shown = e.to_string();
            assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "{shown:?}");
            assert_eq!(shown.lines().count(), 3, "{shown:?}");
        }
    }
});
