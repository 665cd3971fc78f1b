//! Temporary perf probe.
#![allow(clippy::unwrap_used, missing_docs)]
use std::time::Instant;
use strata_model::Labels;
use strata_promql::{Engine, EngineConfig, MemStore, Point, PointValue, QueryOpts};

fn main() {
    let mut s = MemStore::new();
    let series = 1000;
    let points = 5760; // 1 day at 15s
    for n in 0..series {
        let l = Labels::from_pairs([
            ("__name__".to_string(), "http_requests_total".to_string()),
            ("instance".to_string(), format!("i{n}")),
            ("job".to_string(), format!("j{}", n % 10)),
        ])
        .unwrap();
        for i in 0..points {
            s.append(
                l.clone(),
                Point {
                    t: i as i64 * 15_000,
                    v: PointValue::Float(i as f64),
                },
            );
        }
    }
    let e = Engine::new(EngineConfig::default());
    for q in [
        "http_requests_total",
        "rate(http_requests_total[5m])",
        "sum by (job) (rate(http_requests_total[5m]))",
        "http_requests_total / on(instance) http_requests_total",
        "max_over_time(http_requests_total[1h])",
    ] {
        let t = Instant::now();
        let r = e
            .range_query(
                &s,
                q,
                0,
                (points as i64 - 1) * 15_000,
                60_000,
                &QueryOpts::default(),
            )
            .unwrap();
        let n = match r.value {
            strata_promql::Value::Matrix(m) => m.iter().map(|x| x.floats.len()).sum::<usize>(),
            _ => 0,
        };
        println!("{q}: {:?} ({n} points)", t.elapsed());
    }
}
