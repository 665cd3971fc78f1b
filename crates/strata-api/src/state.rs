//! The shared state of every handler and the router that serves them.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::routing::{get, post};
use prometheus_client::registry::Registry;
use strata_model::WriteSink;
use strata_promql::{Engine, EngineConfig, Queryable};
use tokio::sync::Semaphore;

use crate::config::ApiLimits;
use crate::error::Result;
use crate::metadata::MetadataStore;
use crate::metrics::Metrics;
use crate::{ops, query, read, write};

/// Answers whether this node is ready to serve traffic (`GET /-/ready`).
pub type ReadinessProbe = Arc<dyn Fn() -> bool + Send + Sync>;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) sink: Arc<dyn WriteSink>,
    pub(crate) queryable: Arc<dyn Queryable>,
    pub(crate) readiness: ReadinessProbe,
    pub(crate) limits: Arc<ApiLimits>,
    pub(crate) metrics: Metrics,
    pub(crate) registry: Arc<Registry>,
    pub(crate) read_slots: Arc<Semaphore>,
    pub(crate) engine: Arc<Engine>,
    pub(crate) query_slots: Arc<Semaphore>,
    pub(crate) metadata: Arc<MetadataStore>,
    pub(crate) started_at: SystemTime,
}

impl fmt::Debug for ApiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiState")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl ApiState {
    /// Returns the state after validating `limits`.
    ///
    /// The PromQL engine is configured from `limits` (`query-timeout`, `max-query-samples`,
    /// `lookback-delta`); [`ApiState::with_engine_config`] replaces it.
    ///
    /// `metrics` must have been registered ([`Metrics::register`]) in `registry`, which
    /// `GET /metrics` exposes; the binary creates the registry, lets every crate register its
    /// metrics, then freezes it in an `Arc`.
    pub fn new(
        sink: Arc<dyn WriteSink>,
        queryable: Arc<dyn Queryable>,
        readiness: ReadinessProbe,
        limits: ApiLimits,
        metrics: Metrics,
        registry: Arc<Registry>,
    ) -> Result<Self> {
        limits.validate()?;
        let slots = usize::try_from(limits.max_concurrent_reads).unwrap_or(usize::MAX);
        let query_slots = usize::try_from(limits.max_concurrent_queries).unwrap_or(usize::MAX);
        let engine = Engine::new(EngineConfig {
            lookback_delta: limits.lookback_delta,
            timeout: limits.query_timeout,
            max_samples: usize::try_from(limits.max_query_samples).unwrap_or(usize::MAX),
            ..EngineConfig::default()
        });
        Ok(ApiState {
            sink,
            queryable,
            readiness,
            limits: Arc::new(limits),
            metrics,
            registry,
            read_slots: Arc::new(Semaphore::new(slots)),
            engine: Arc::new(engine),
            query_slots: Arc::new(Semaphore::new(query_slots)),
            metadata: Arc::new(MetadataStore::new()),
            started_at: SystemTime::now(),
        })
    }

    /// Replaces the PromQL engine's settings (e.g. to enable experimental functions); the
    /// query timeout and sample limit then come from `config`, not from the limits.
    pub fn with_engine_config(mut self, config: EngineConfig) -> Result<Self> {
        config
            .validate()
            .map_err(|e| crate::error::Error::InvalidConfig(e.to_string()))?;
        self.engine = Arc::new(Engine::new(config));
        Ok(self)
    }

    /// Returns the metric metadata table fed by remote write.
    pub fn metadata(&self) -> &Arc<MetadataStore> {
        &self.metadata
    }

    /// Returns the limits in force.
    pub fn limits(&self) -> &ApiLimits {
        &self.limits
    }

    /// Returns the queryable, for handlers added by other modules (the query API).
    pub fn queryable(&self) -> &Arc<dyn Queryable> {
        &self.queryable
    }
}

/// Returns the router of every endpoint: the ingest and operations endpoints
/// (`POST /api/v1/write`, `POST /api/v1/read`, `/-/healthy`, `/-/ready`, `GET /metrics`) and
/// the Prometheus query API (`/api/v1/query`, `/api/v1/series`, … see [`crate::query`]), whose
/// answers are gzip- or deflate-compressed when the client accepts it.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .merge(query::routes())
        .route("/api/v1/write", post(write::remote_write))
        .route("/api/v1/read", post(read::remote_read))
        .route("/-/healthy", get(ops::healthy).head(ops::healthy))
        .route("/-/ready", get(ops::ready).head(ops::ready))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}
