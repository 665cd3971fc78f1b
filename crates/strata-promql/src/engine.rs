//! The public entry points: [`Engine`], its [`EngineConfig`] and per-query [`QueryOpts`].

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use promql_parser::parser::Expr;

use crate::error::{Error, Result};
use crate::eval::{Evaluator, Limits};
use crate::value::QueryResult;
use crate::{Queryable, parse};

/// Engine-wide settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct EngineConfig {
    /// How far back an instant selector looks for a sample (`"5m"`). Default 5 minutes.
    #[serde(with = "human_duration")]
    pub lookback_delta: Duration,
    /// Longest a query may run (`"2m"`). Default 2 minutes.
    #[serde(with = "human_duration")]
    pub timeout: Duration,
    /// Most samples a query may hold in memory at once. Default 50,000,000.
    pub max_samples: usize,
    /// Whether experimental functions (e.g. `double_exponential_smoothing`, `mad_over_time`,
    /// `limitk`, `info`, `sort_by_label`) are allowed. Default false.
    pub enable_experimental_functions: bool,
    /// Step of a subquery without an explicit step (`"1m"`). Default 1 minute.
    #[serde(with = "human_duration")]
    pub default_subquery_step: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            lookback_delta: Duration::from_secs(300),
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            enable_experimental_functions: false,
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

impl EngineConfig {
    /// Checks that every setting is usable.
    pub fn validate(&self) -> Result<()> {
        if self.lookback_delta.as_millis() == 0 {
            return Err(Error::BadData("lookback-delta must be positive".into()));
        }
        if self.default_subquery_step.as_millis() == 0 {
            return Err(Error::BadData(
                "default-subquery-step must be positive".into(),
            ));
        }
        if self.max_samples == 0 {
            return Err(Error::BadData("max-samples must be positive".into()));
        }
        Ok(())
    }

    pub(crate) fn lookback_delta_ms(&self) -> i64 {
        self.lookback_delta.as_millis() as i64
    }

    pub(crate) fn default_subquery_step_ms(&self) -> i64 {
        self.default_subquery_step.as_millis() as i64
    }
}

/// Serde for durations written in PromQL units (`"90s"`, `"1h30m"`).
mod human_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        match crate::parse::parse_duration_ms(&s) {
            Some(ms) if ms >= 0 => Ok(Duration::from_millis(ms as u64)),
            _ => Err(serde::de::Error::custom(format!("invalid duration {s:?}"))),
        }
    }
}

/// Per-query settings.
#[derive(Debug, Clone, Default)]
pub struct QueryOpts {
    /// Overrides the engine's lookback delta for this query, in milliseconds.
    pub lookback_delta_ms: Option<i64>,
    /// Overrides the engine's timeout for this query.
    pub timeout: Option<Duration>,
    /// Set to true from another thread to cancel the query.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Evaluates PromQL queries; cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    config: EngineConfig,
}

impl Engine {
    /// Returns an engine with the given settings.
    pub fn new(config: EngineConfig) -> Self {
        Engine { config }
    }

    /// Returns the engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Parses `query` with this engine's feature flags, so that a disabled experimental
    /// function fails at parse time with Prometheus' message and position.
    pub fn parse(&self, query: &str) -> Result<Expr> {
        parse::parse_with_options(
            query,
            parse::ParseOptions {
                experimental_functions: self.config.enable_experimental_functions,
                duration_expressions: true,
            },
        )
    }

    /// Evaluates `query` at one instant (`time_ms`).
    pub fn instant_query(
        &self,
        store: &dyn Queryable,
        query: &str,
        time_ms: i64,
        opts: &QueryOpts,
    ) -> Result<QueryResult> {
        let expr = self.parse(query)?;
        let mut result = self.run(store, &expr, time_ms, time_ms, 0, opts)?;
        result.annotations.resolve_positions(query, &expr);
        Ok(result)
    }

    /// Evaluates an already parsed expression at one instant (`time_ms`).
    pub fn instant_query_expr(
        &self,
        store: &dyn Queryable,
        expr: &Expr,
        time_ms: i64,
        opts: &QueryOpts,
    ) -> Result<QueryResult> {
        self.run(store, expr, time_ms, time_ms, 0, opts)
    }

    /// Evaluates an already parsed expression at every step from `start_ms` to `end_ms`.
    pub fn range_query_expr(
        &self,
        store: &dyn Queryable,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        opts: &QueryOpts,
    ) -> Result<QueryResult> {
        if step_ms <= 0 {
            return Err(Error::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        self.run(store, expr, start_ms, end_ms, step_ms, opts)
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` inclusive.
    pub fn range_query(
        &self,
        store: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        opts: &QueryOpts,
    ) -> Result<QueryResult> {
        if step_ms <= 0 {
            return Err(Error::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(Error::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        let expr = self.parse(query)?;
        let mut result = self.run(store, &expr, start_ms, end_ms, step_ms, opts)?;
        result.annotations.resolve_positions(query, &expr);
        Ok(result)
    }

    fn run(
        &self,
        store: &dyn Queryable,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
        opts: &QueryOpts,
    ) -> Result<QueryResult> {
        let timeout = opts.timeout.unwrap_or(self.config.timeout);
        let limits = Limits {
            deadline: Instant::now().checked_add(timeout),
            cancel: opts.cancel.clone(),
            max_samples: self.config.max_samples,
        };
        let lookback = opts
            .lookback_delta_ms
            .filter(|l| *l > 0)
            .unwrap_or(self.config.lookback_delta_ms());
        let mut ev = Evaluator::new(store, &self.config, limits, start, end, step, lookback);
        ev.run_top(expr)
    }
}
