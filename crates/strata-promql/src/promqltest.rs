//! A runner for Prometheus' promqltest scripts (`*.test`), over the in-memory [`MemStore`].
//!
//! Supported: `load <interval>`, `load_with_nhcb`, `clear`, `eval instant at <t> <expr>`,
//! `eval range from <t0> to <t1> step <s> <expr>`, the `expect fail|ordered|warn|no_warn|info|
//! no_info [msg:|regex:]` lines, the legacy `eval_fail`/`eval_ordered`/`eval_warn`/`eval_info`
//! forms with `expected_fail_message`/`expected_fail_regexp`, the expanding value notation and
//! native histogram literals. As the reference runner does, every successful instant eval is
//! also checked in range mode (one step either side) unless its order matters.

mod at_modifier;
mod compare;
mod script;
mod values;

pub use crate::parse::parse_duration_ms;
pub use script::{Command, EvalCmd, Expect, parse_script};
pub use values::{SeqValue, parse_float, parse_histogram, parse_labels, parse_values};

use crate::engine::{Engine, EngineConfig};
use crate::memstore::MemStore;
use crate::{Point, PointValue};

/// Outcome of one script.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// Evals that passed.
    pub passed: usize,
    /// Evals in the script.
    pub total: usize,
    /// One line per failed eval: line number, query and why.
    pub failures: Vec<String>,
}

/// Returns the engine configuration the reference runner uses.
pub fn test_engine_config() -> EngineConfig {
    EngineConfig {
        enable_experimental_functions: true,
        max_samples: 50_000_000,
        ..EngineConfig::default()
    }
}

/// Runs a whole script and reports per-eval outcomes; parse errors count as failures.
pub fn run_script(content: &str) -> FileReport {
    let mut report = FileReport::default();
    let cmds = match parse_script(content) {
        Ok(c) => c,
        Err(e) => {
            report.failures.push(format!("script does not parse: {e}"));
            return report;
        }
    };
    let engine = Engine::new(test_engine_config());
    let mut store = MemStore::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => store.clear(),
            Command::Load {
                interval_ms,
                with_nhcb,
                series,
            } => {
                for (labels, vals) in &series {
                    load_series(&mut store, labels, vals, interval_ms);
                }
                if with_nhcb {
                    compare::load_nhcb(&mut store, &series, interval_ms);
                }
            }
            Command::Eval(ev) => {
                report.total += 1;
                match compare::run_eval(&engine, &store, &ev) {
                    Ok(()) => report.passed += 1,
                    Err(e) => report
                        .failures
                        .push(format!("line {}: {}: {}", ev.line, ev.expr, e)),
                }
            }
            Command::Invalid { line, error } => {
                report.total += 1;
                report.failures.push(format!("line {line}: {error}"));
            }
        }
    }
    report
}

fn load_series(
    store: &mut MemStore,
    labels: &strata_model::Labels,
    vals: &[SeqValue],
    interval_ms: i64,
) {
    for (i, v) in vals.iter().enumerate() {
        let t = i as i64 * interval_ms;
        let pv = match v {
            SeqValue::Omitted => continue,
            SeqValue::Float(f) => PointValue::Float(*f),
            SeqValue::Histogram(h, _) => PointValue::Histogram(h.clone()),
        };
        store.append(labels.clone(), Point { t, v: pv });
    }
}
