//! `info(v, [data-label-selector])`: enriches series with the data labels of info metrics
//! (default `target_info`) that share their identifying labels `instance` and `job`, with
//! Prometheus 3.5's rules: the newest info sample wins, equal timestamps are an error, data
//! labels never override the series' own labels, and a selector on data labels restricts both
//! the labels added and (unless its matchers accept empty values) the series kept.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use promql_parser::label::{MatchOp, Matcher as PMatcher};
use promql_parser::parser::{Expr, VectorSelector};
use strata_model::{Labels, METRIC_NAME};

use super::unwrap_parens;
use crate::error::{Error, Result};
use crate::eval::{Elem, Evaluator, Val};

const IDENTIFYING: [&str; 2] = ["instance", "job"];
const DEFAULT_INFO_METRIC: &str = "target_info";

/// Join key (metric name and identifying labels) → (sample timestamp, info series labels).
type InfoIndex = HashMap<Vec<(String, String)>, (f64, Arc<Labels>)>;

/// The join key of a series with the info metric `name`: the name plus the identifying labels
/// the series has.
fn signature(name: &str, l: &Labels) -> Vec<(String, String)> {
    let mut sig = vec![(METRIC_NAME.to_string(), name.to_string())];
    for n in IDENTIFYING {
        if let Some(v) = l.get(n) {
            sig.push((n.to_string(), v.to_string()));
        }
    }
    sig
}

/// Evaluates `info()` at every step.
pub(crate) fn eval(ev: &mut Evaluator<'_>, args: &[&Expr]) -> Result<Val> {
    let base = ev.eval_vector(args[0])?;
    let (matchers, name_matchers): (Vec<PMatcher>, Vec<PMatcher>) =
        match args.get(1).map(|a| unwrap_parens(a)) {
            Some(Expr::VectorSelector(vs)) => {
                let mut all = vs.matchers.matchers.clone();
                if let Some(n) = &vs.name {
                    all.push(PMatcher::new(MatchOp::Equal, METRIC_NAME, n));
                }
                let names = all
                    .iter()
                    .filter(|m| m.name == METRIC_NAME)
                    .cloned()
                    .collect();
                (all, names)
            }
            Some(_) => {
                return Err(Error::BadData(
                    "info(): the second argument must be a label selector".into(),
                ));
            }
            None => (Vec::new(), Vec::new()),
        };
    // Series that are themselves info metrics pass through unchanged. As in Prometheus, with a
    // selector that names no metric nothing is recognised as an info metric (not even
    // `target_info`, although that is what gets joined).
    let default_info = || {
        vec![PMatcher::new(
            MatchOp::Equal,
            METRIC_NAME,
            DEFAULT_INFO_METRIC,
        )]
    };
    let ignore_matchers = if args.len() > 1 {
        name_matchers.clone()
    } else {
        default_info()
    };
    let name_matchers = if name_matchers.is_empty() {
        default_info()
    } else {
        name_matchers
    };
    let data_matchers: Vec<&PMatcher> = matchers.iter().filter(|m| m.name != METRIC_NAME).collect();
    let data_names: BTreeSet<&str> = data_matchers.iter().map(|m| m.name.as_str()).collect();
    let all_match_empty = data_matchers.iter().all(|m| m.is_match(""));

    // The info series, valued with their sample timestamps so that the newest one wins.
    let mut sel = VectorSelector::default();
    sel.matchers.matchers = matchers
        .iter()
        .filter(|m| m.name != METRIC_NAME)
        .cloned()
        .collect();
    sel.matchers.matchers.extend(name_matchers.iter().cloned());
    let infos = match ev.eval_vector_selector(&sel, true)? {
        Val::Vector(v) => v,
        _ => Vec::new(),
    };
    let info_names: BTreeSet<String> = infos
        .iter()
        .flatten()
        .filter_map(|e| e.labels.metric_name().map(str::to_string))
        .collect();

    let mut out = Vec::with_capacity(base.len());
    for (series, info) in base.into_iter().zip(infos) {
        let mut by_sig: InfoIndex = HashMap::new();
        for e in &info {
            let name = e.labels.metric_name().unwrap_or("").to_string();
            let t = e.v.float().unwrap_or(0.0);
            let sig = signature(&name, &e.labels);
            match by_sig.get(&sig) {
                Some((old, _)) if *old > t => {}
                Some((old, _)) if *old == t => {
                    return Err(Error::Execution(format!(
                        "found duplicate series for info metric {name}"
                    )));
                }
                _ => {
                    by_sig.insert(sig, (t, e.labels.clone()));
                }
            }
        }
        let mut res = Vec::with_capacity(series.len());
        for e in series {
            let own_name = e.labels.metric_name().unwrap_or("");
            if ignore_matchers.iter().any(|m| m.is_match(own_name)) {
                res.push(e);
                continue;
            }
            let mut added: Vec<(String, String)> = Vec::new();
            for name in &info_names {
                let Some((_, il)) = by_sig.get(&signature(name, &e.labels)) else {
                    continue;
                };
                for l in il.iter() {
                    if l.name == METRIC_NAME
                        || (!data_names.is_empty() && !data_names.contains(l.name.as_str()))
                    {
                        continue;
                    }
                    if let Some((_, v)) = added.iter().find(|(n, _)| n == &l.name)
                        && v != &l.value
                    {
                        return Err(Error::Execution(format!("conflicting label: {}", l.name)));
                    }
                    if e.labels.get(&l.name).is_some() || added.iter().any(|(n, _)| n == &l.name) {
                        continue;
                    }
                    added.push((l.name.clone(), l.value.clone()));
                }
            }
            if added.is_empty() && !all_match_empty {
                continue;
            }
            let mut labels = (*e.labels).clone();
            for (n, v) in added {
                labels.set(&n, &v);
            }
            res.push(Elem {
                labels: Arc::new(labels),
                v: e.v.clone(),
                drop_name: false,
            });
        }
        out.push(res);
    }
    Ok(Val::Vector(out))
}
