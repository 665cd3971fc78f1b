//! Binary operators: arithmetic, comparison, set operators, vector matching.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use promql_parser::parser::token::{self, TokenType};
use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};
use strata_model::{Labels, METRIC_NAME};

use super::{Elem, Evaluator, V, Val};
use crate::error::{Error, Result};

/// How series are matched.
struct Matching {
    card: VectorMatchCardinality,
    on: bool,
    names: Vec<String>,
    include: Vec<String>,
    return_bool: bool,
}

fn matching_of(m: &Option<BinModifier>) -> Matching {
    match m {
        None => Matching {
            card: VectorMatchCardinality::OneToOne,
            on: false,
            names: vec![],
            include: vec![],
            return_bool: false,
        },
        Some(m) => {
            let (on, names) = match &m.matching {
                Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
                Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
                None => (false, vec![]),
            };
            let include = m
                .card
                .labels()
                .map(|l| l.labels.clone())
                .unwrap_or_default();
            Matching {
                card: m.card.clone(),
                on,
                names,
                include,
                return_bool: m.return_bool,
            }
        }
    }
}

/// Returns the matching signature of a label set.
fn signature(l: &Labels, on: bool, names: &[String]) -> Vec<u8> {
    let mut b = Vec::new();
    for lab in l.iter() {
        let listed = names.iter().any(|n| n == &lab.name);
        let keep = if on {
            listed
        } else {
            !listed && lab.name != METRIC_NAME
        };
        if keep {
            b.extend_from_slice(lab.name.as_bytes());
            b.push(0xff);
            b.extend_from_slice(lab.value.as_bytes());
            b.push(0xff);
        }
    }
    b
}

/// Returns the labels used for matching, for error messages.
fn match_labels(l: &Labels, on: bool, names: &[String]) -> Labels {
    let mut out = l.clone();
    out.retain(|lab| {
        let listed = names.iter().any(|n| n == &lab.name);
        if on {
            listed
        } else {
            !listed && lab.name != METRIC_NAME
        }
    });
    out
}

/// Formats a label set as Prometheus' `labels.Labels.String()` does in error messages:
/// `{__name__="up", job="a"}`, names quoted only when they are not legacy-valid.
fn go_labels(l: &Labels) -> String {
    use crate::parse::quote::go_quote;
    let legacy = |n: &str| {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut out = String::from("{");
    for (i, lab) in l.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if legacy(&lab.name) {
            out.push_str(&lab.name);
        } else {
            out.push_str(&go_quote(&lab.name));
        }
        out.push('=');
        out.push_str(&go_quote(&lab.value));
    }
    out.push('}');
    out
}

pub(crate) fn is_comparison(op: TokenType) -> bool {
    op.is_comparison_operator()
}

/// Whether the operator removes the metric name from its result.
fn drops_name(op: TokenType) -> bool {
    !op.is_comparison_operator() && !op.is_set_operator()
}

/// Applies a float operator; returns the value and whether to keep it (comparisons).
pub(crate) fn float_op(op: TokenType, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op.id() {
        token::T_ADD => (l + r, true),
        token::T_SUB => (l - r, true),
        token::T_MUL => (l * r, true),
        token::T_DIV => (l / r, true),
        token::T_POW => (l.powf(r), true),
        token::T_MOD => (l % r, true),
        token::T_ATAN2 => (l.atan2(r), true),
        token::T_EQLC => (l, l == r),
        token::T_NEQ => (l, l != r),
        token::T_GTR => (l, l > r),
        token::T_LSS => (l, l < r),
        token::T_GTE => (l, l >= r),
        token::T_LTE => (l, l <= r),
        _ => {
            return Err(Error::BadData(format!(
                "operator {op} not allowed for scalar operations"
            )));
        }
    })
}

/// Per-node memo across steps: a series usually keeps its `Arc<Labels>` from step to step, so
/// its matching signature and the labels of its results are computed once, and results share
/// one `Arc` across steps (which in turn keeps building the output matrix cheap). The `Arc`s are
/// held in the maps, so their addresses cannot be reused while the cache lives.
/// The two input label sets (kept alive) and the labels of their result.
type ResultEntry = (Arc<Labels>, Arc<Labels>, Arc<Labels>);

#[derive(Default)]
struct MatchCache {
    sigs: HashMap<usize, (Arc<Labels>, Arc<[u8]>)>,
    results: HashMap<(usize, usize), ResultEntry>,
}

impl MatchCache {
    fn signature(&mut self, l: &Arc<Labels>, m: &Matching) -> Arc<[u8]> {
        let key = Arc::as_ptr(l) as usize;
        if let Some((_, sig)) = self.sigs.get(&key) {
            return sig.clone();
        }
        let sig: Arc<[u8]> = signature(l, m.on, &m.names).into();
        self.sigs.insert(key, (l.clone(), sig.clone()));
        sig
    }

    fn result_labels(
        &mut self,
        lhs: &Arc<Labels>,
        rhs: &Arc<Labels>,
        op: TokenType,
        m: &Matching,
    ) -> Arc<Labels> {
        let key = (Arc::as_ptr(lhs) as usize, Arc::as_ptr(rhs) as usize);
        if let Some((_, _, r)) = self.results.get(&key) {
            return r.clone();
        }
        let r = Arc::new(result_labels(lhs, rhs, op, m));
        self.results
            .insert(key, (lhs.clone(), rhs.clone(), r.clone()));
        r
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&mut self, b: &BinaryExpr) -> Result<Val> {
        self.annos.enter(crate::annotations::Context::binary(b));
        let r = self.eval_binary_inner(b);
        self.annos.leave();
        r
    }

    fn eval_binary_inner(&mut self, b: &BinaryExpr) -> Result<Val> {
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        let op = b.op;
        let m = matching_of(&b.modifier);
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => {
                let mut out = Vec::with_capacity(l.len());
                for (a, c) in l.iter().zip(r.iter()) {
                    let (v, keep) = float_op(op, *a, *c)?;
                    out.push(if is_comparison(op) {
                        if keep { 1.0 } else { 0.0 }
                    } else {
                        v
                    });
                }
                Ok(Val::Scalar(out))
            }
            (Val::Vector(l), Val::Scalar(r)) => self.vector_scalar(op, &m, l, r, false),
            (Val::Scalar(l), Val::Vector(r)) => self.vector_scalar(op, &m, r, l, true),
            (Val::Vector(l), Val::Vector(r)) => {
                let mut out = Vec::with_capacity(l.len());
                let mut cache = MatchCache::default();
                for (a, c) in l.into_iter().zip(r) {
                    self.check("query execution")?;
                    out.push(self.vector_vector(op, &m, a, c, &mut cache)?);
                }
                Ok(Val::Vector(out))
            }
            _ => Err(Error::BadData(
                "binary expression must contain only scalar and instant vector types".into(),
            )),
        }
    }

    fn vector_scalar(
        &mut self,
        op: TokenType,
        m: &Matching,
        vecs: Vec<Vec<Elem>>,
        sc: Vec<f64>,
        swap: bool,
    ) -> Result<Val> {
        let mut out = Vec::with_capacity(vecs.len());
        for (v, s) in vecs.into_iter().zip(sc) {
            let mut step = Vec::with_capacity(v.len());
            for mut e in v {
                let res = match &e.v {
                    V::F(f) => {
                        let (l, r) = if swap { (s, *f) } else { (*f, s) };
                        let (mut val, keep) = float_op(op, l, r)?;
                        if is_comparison(op) && swap {
                            val = *f;
                        }
                        Some((V::F(val), keep))
                    }
                    V::H(h) => self.hist_scalar_op(op, h, s, swap),
                };
                let Some((val, keep)) = res else { continue };
                if m.return_bool {
                    e.v = V::F(if keep { 1.0 } else { 0.0 });
                    e.drop_name = true;
                } else {
                    if !keep {
                        continue;
                    }
                    e.v = val;
                    if drops_name(op) {
                        e.drop_name = true;
                    }
                }
                step.push(e);
            }
            out.push(step);
        }
        Ok(Val::Vector(out))
    }

    fn vector_vector(
        &mut self,
        op: TokenType,
        m: &Matching,
        lhs: Vec<Elem>,
        rhs: Vec<Elem>,
        cache: &mut MatchCache,
    ) -> Result<Vec<Elem>> {
        match op.id() {
            token::T_LAND | token::T_LUNLESS => {
                let sigs: HashSet<Arc<[u8]>> =
                    rhs.iter().map(|e| cache.signature(&e.labels, m)).collect();
                let keep_matching = op.id() == token::T_LAND;
                return Ok(lhs
                    .into_iter()
                    .filter(|e| sigs.contains(&cache.signature(&e.labels, m)) == keep_matching)
                    .collect());
            }
            token::T_LOR => {
                let sigs: HashSet<Arc<[u8]>> =
                    lhs.iter().map(|e| cache.signature(&e.labels, m)).collect();
                let mut out = lhs;
                out.extend(
                    rhs.into_iter()
                        .filter(|e| !sigs.contains(&cache.signature(&e.labels, m))),
                );
                return Ok(out);
            }
            _ => {}
        }
        if lhs.is_empty() || rhs.is_empty() {
            return Ok(vec![]);
        }
        let one_to_many = matches!(m.card, VectorMatchCardinality::OneToMany(_));
        let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
        let mut right: HashMap<Arc<[u8]>, usize> = HashMap::with_capacity(one.len());
        for (i, e) in one.iter().enumerate() {
            let sig = cache.signature(&e.labels, m);
            if let Some(&j) = right.get(&sig) {
                let side = if one_to_many { "left" } else { "right" };
                return Err(Error::Execution(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    go_labels(&match_labels(&e.labels, m.on, &m.names)),
                    go_labels(&e.labels),
                    go_labels(&one[j].labels)
                )));
            }
            right.insert(sig, i);
        }
        let one_to_one = matches!(m.card, VectorMatchCardinality::OneToOne);
        let mut matched: HashMap<Arc<[u8]>, HashSet<Arc<Labels>>> = HashMap::new();
        let mut out = Vec::new();
        for ls in many {
            let sig = cache.signature(&ls.labels, m);
            let Some(&ri) = right.get(&sig) else { continue };
            let rs = &one[ri];
            let (l, r) = if one_to_many {
                (&rs.v, &ls.v)
            } else {
                (&ls.v, &rs.v)
            };
            let Some((val, keep)) = self.elem_op(op, l, r)? else {
                continue;
            };
            let val = if m.return_bool {
                V::F(if keep { 1.0 } else { 0.0 })
            } else {
                if !keep {
                    continue;
                }
                val
            };
            let labels = cache.result_labels(&ls.labels, &rs.labels, op, m);
            if one_to_one {
                if matched.contains_key(&sig) {
                    return Err(Error::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
                matched.insert(sig, HashSet::new());
            } else {
                let set = matched.entry(sig).or_default();
                if !set.insert(labels.clone()) {
                    return Err(Error::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
            }
            // As Prometheus 3.5: arithmetic strips the metric name at once (in `result_labels`),
            // `bool` defers it, and a filtering comparison keeps the left side's name.
            let drop_name = m.return_bool;
            out.push(Elem {
                labels,
                v: val,
                drop_name,
            });
        }
        Ok(out)
    }

    /// Applies an operator to two sample values. `None` drops the pair (with an annotation).
    fn elem_op(&mut self, op: TokenType, l: &V, r: &V) -> Result<Option<(V, bool)>> {
        match (l, r) {
            (V::F(a), V::F(b)) => {
                let (v, keep) = float_op(op, *a, *b)?;
                Ok(Some((V::F(v), keep)))
            }
            (V::H(h), V::F(f)) => Ok(self.hist_scalar_op(op, h, *f, false)),
            (V::F(f), V::H(h)) => Ok(self.hist_scalar_op(op, h, *f, true)),
            (V::H(a), V::H(b)) => Ok(self.hist_hist_op(op, a, b)),
        }
    }

    /// Histogram with float: `*` and `/` scale; everything else is dropped with an info.
    pub(crate) fn hist_scalar_op(
        &mut self,
        op: TokenType,
        h: &Arc<crate::FloatHistogram>,
        f: f64,
        swap: bool,
    ) -> Option<(V, bool)> {
        match op.id() {
            token::T_MUL => Some((V::H(Arc::new(h.scaled(f).compacted())), true)),
            token::T_DIV if !swap => Some((V::H(Arc::new(h.divided(f).compacted())), true)),
            _ => {
                let (l, r) = if swap {
                    ("float", "histogram")
                } else {
                    ("histogram", "float")
                };
                self.annos.info_opt(self.annos.node(), format!(
                    "incompatible sample types encountered for binary operator \"{op}\": {l} {op} {r}"
                ));
                None
            }
        }
    }

    fn hist_hist_op(
        &mut self,
        op: TokenType,
        a: &Arc<crate::FloatHistogram>,
        b: &Arc<crate::FloatHistogram>,
    ) -> Option<(V, bool)> {
        match op.id() {
            token::T_ADD | token::T_SUB => {
                let r = if op.id() == token::T_ADD {
                    a.add(b)
                } else {
                    a.sub(b)
                };
                match r {
                    Ok(h) => Some((V::H(Arc::new(h.compacted())), true)),
                    Err(_) => {
                        self.annos.warn_opt(
                            self.annos.node(),
                            format!(
                                "incompatible bucket layout encountered for binary operator {op}"
                            ),
                        );
                        None
                    }
                }
            }
            token::T_EQLC => Some((V::H(a.clone()), a.equals(b))),
            token::T_NEQ => Some((V::H(a.clone()), !a.equals(b))),
            _ => {
                self.annos.info_opt(self.annos.node(), format!(
                    "incompatible sample types encountered for binary operator \"{op}\": histogram {op} histogram"
                ));
                None
            }
        }
    }
}

/// Returns the label set of a vector-vector result.
fn result_labels(lhs: &Labels, rhs: &Labels, op: TokenType, m: &Matching) -> Labels {
    let mut out = if drops_name(op) {
        super::drop_metric_name(lhs)
    } else {
        lhs.clone()
    };
    if matches!(m.card, VectorMatchCardinality::OneToOne) {
        if m.on {
            out.retain(|l| m.names.iter().any(|n| n == &l.name));
        } else {
            out.retain(|l| !m.names.iter().any(|n| n == &l.name));
        }
    }
    for name in &m.include {
        match rhs.get(name) {
            Some(v) => out.set(name, v),
            None => out.remove(name),
        }
    }
    out
}
