//! Test doubles (an in-memory store that is both a `WriteSink` and a `Queryable`), a server
//! starter and request helpers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;
use strata_api::{ApiLimits, ApiState, Metrics, router};
use strata_model::{
    ErrorKind, Labels, Matcher, RejectReason, Sample, SampleRejection, ShardBatch, ShardId,
    WriteFuture, WriteOutcome, WriteSink, WriteSinkError,
};
use strata_promql::{
    Point, PointValue, Queryable, QueryableError, SampleIterator, SelectHints, Series,
};
use strata_proto::{Label, TimeSeries, WriteRequest};

/// An in-memory store: accepts batches, refuses samples not newer than a series' last one
/// (like an engine's out-of-order check), and serves selects.
#[derive(Debug, Default)]
pub(crate) struct MemStore {
    pub(crate) shard_count: u32,
    pub(crate) series: Mutex<BTreeMap<Labels, Vec<Sample>>>,
    pub(crate) batches: Mutex<Vec<(ShardId, ShardBatch)>>,
    pub(crate) fail_with: Mutex<Option<ErrorKind>>,
}

impl MemStore {
    pub(crate) fn new(shard_count: u32) -> Self {
        MemStore {
            shard_count,
            ..MemStore::default()
        }
    }

    pub(crate) fn samples_of(&self, labels: &Labels) -> Vec<Sample> {
        self.series
            .lock()
            .unwrap()
            .get(labels)
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn fail_next_writes(&self, kind: Option<ErrorKind>) {
        *self.fail_with.lock().unwrap() = kind;
    }

    pub(crate) fn insert(&self, labels: Labels, samples: Vec<Sample>) {
        self.series.lock().unwrap().insert(labels, samples);
    }
}

impl WriteSink for MemStore {
    fn shard_count(&self) -> u32 {
        self.shard_count
    }

    fn write(&self, batches: Vec<(ShardId, ShardBatch)>) -> WriteFuture<'_> {
        Box::pin(async move {
            if let Some(kind) = self.fail_with.lock().unwrap().clone() {
                return Err(WriteSinkError {
                    kind,
                    message: "test sink refuses writes".into(),
                });
            }
            let mut outcome = WriteOutcome::default();
            let mut store = self.series.lock().unwrap();
            for (shard, batch) in &batches {
                for s in batch.series() {
                    assert_eq!(s.id.shard(self.shard_count), *shard, "misrouted series");
                    let labels = Labels::decode_canonical(s.labels).unwrap();
                    assert_eq!(labels.series_id(), s.id);
                    let stored = store.entry(labels.clone()).or_default();
                    for sample in s.samples() {
                        if stored.last().is_some_and(|l| l.t >= sample.t) {
                            outcome.rejected += 1;
                            if outcome.first_rejections.len() < 10 {
                                outcome.first_rejections.push(SampleRejection {
                                    reason: RejectReason::OutOfOrder,
                                    series: labels.to_string(),
                                    timestamp_ms: sample.t,
                                });
                            }
                        } else {
                            stored.push(sample);
                            outcome.appended += 1;
                        }
                    }
                }
            }
            self.batches.lock().unwrap().extend(batches);
            Ok(outcome)
        })
    }
}

#[derive(Debug)]
struct VecIter(std::vec::IntoIter<Sample>);

impl SampleIterator for VecIter {
    fn next_point(&mut self) -> Option<Point> {
        self.0.next().map(|s| Point {
            t: s.t,
            v: PointValue::Float(s.v),
        })
    }
}

impl Queryable for MemStore {
    fn select(
        &self,
        hints: &SelectHints,
        matchers: &[Matcher],
    ) -> Result<Vec<Series>, QueryableError> {
        let store = self.series.lock().unwrap();
        Ok(store
            .iter()
            .filter(|(l, _)| matchers.iter().all(|m| m.matches_labels(l)))
            .filter(|(_, s)| s.iter().any(|s| s.t >= hints.mint && s.t <= hints.maxt))
            .map(|(l, s)| Series {
                labels: l.clone(),
                // Returns every sample, also those outside the range, as a store may.
                samples: Box::new(VecIter(s.clone().into_iter())),
            })
            .collect())
    }

    fn label_names(
        &self,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        let hints = SelectHints {
            mint,
            maxt,
            ..SelectHints::default()
        };
        let mut names: Vec<String> = self
            .select(&hints, matchers)?
            .into_iter()
            .flat_map(|s| s.labels.into_vec().into_iter().map(|l| l.name))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        mint: i64,
        maxt: i64,
        matchers: &[Matcher],
    ) -> Result<Vec<String>, QueryableError> {
        let hints = SelectHints {
            mint,
            maxt,
            ..SelectHints::default()
        };
        let mut values: Vec<String> = self
            .select(&hints, matchers)?
            .into_iter()
            .filter_map(|s| s.labels.get(name).map(str::to_owned))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

/// A running API server on an ephemeral loopback port.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<MemStore>,
    pub(crate) ready: Arc<AtomicBool>,
    pub(crate) client: reqwest::Client,
}

pub(crate) async fn start() -> TestServer {
    start_with(ApiLimits::default()).await
}

pub(crate) async fn start_with(limits: ApiLimits) -> TestServer {
    let store = Arc::new(MemStore::new(4));
    let ready = Arc::new(AtomicBool::new(true));
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let probe_flag = Arc::clone(&ready);
    let state = ApiState::new(
        store.clone(),
        store.clone(),
        Arc::new(move || probe_flag.load(Ordering::SeqCst)),
        limits,
        metrics,
        Arc::new(registry),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router(state)).await.unwrap();
    });
    TestServer {
        addr,
        store,
        ready,
        client: reqwest::Client::new(),
    }
}

impl TestServer {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Posts a remote write body with the standard 1.0 headers.
    pub(crate) async fn write(&self, body: Vec<u8>) -> (u16, String) {
        self.write_with(body, Some("application/x-protobuf"), Some("snappy"))
            .await
    }

    pub(crate) async fn write_with(
        &self,
        body: Vec<u8>,
        content_type: Option<&str>,
        encoding: Option<&str>,
    ) -> (u16, String) {
        let mut req = self
            .client
            .post(self.url("/api/v1/write"))
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        if let Some(enc) = encoding {
            req = req.header("Content-Encoding", enc);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    /// Writes one fresh, valid series and checks it is accepted: the server still serves.
    pub(crate) async fn assert_still_serving(&self) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("alive_{n}");
        let body = write_body(vec![series(&[("__name__", &name)], &[(1, 1.0)])]);
        let (status, text) = self.write(body).await;
        assert_eq!(status, 204, "server stopped serving: {text}");
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.client.get(self.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }
}

pub(crate) fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label::new(n.to_string(), v.to_string()))
            .collect(),
        samples: samples
            .iter()
            .map(|&(t, v)| strata_proto::Sample {
                value: v,
                timestamp: t,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

pub(crate) fn write_body(timeseries: Vec<TimeSeries>) -> Vec<u8> {
    WriteRequest {
        timeseries,
        metadata: Vec::new(),
    }
    .to_snappy_body()
    .unwrap()
}

pub(crate) fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string()))).unwrap()
}
