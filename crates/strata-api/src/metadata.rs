//! The in-memory metric metadata table behind `GET /api/v1/metadata`, fed by the metadata that
//! remote write 1.0 senders put in `WriteRequest.metadata` (Prometheus sends it every minute by
//! default, in requests of its own).
//!
//! The table lives in this process only: it is neither replicated to other nodes nor persisted,
//! so after a restart it is empty until the senders' next metadata round. Each metric family
//! keeps its most recent distinct `(type, help, unit)` entries, at most
//! [`MAX_ENTRIES_PER_METRIC`], and the table holds at most [`MAX_METRICS`] families; past that,
//! new families are ignored (and counted by the caller).

use std::collections::BTreeMap;
use std::sync::RwLock;

use prost::Message;
use strata_proto::MetricMetadata;

/// Most distinct metadata entries kept per metric family.
pub const MAX_ENTRIES_PER_METRIC: usize = 4;
/// Most metric families the table holds.
pub const MAX_METRICS: usize = 1_000_000;

/// One metadata entry of a metric family, as `/api/v1/metadata` shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetadataEntry {
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`, `info`, `stateset` or
    /// `unknown`.
    pub metric_type: &'static str,
    /// The help text.
    pub help: String,
    /// The unit, often empty.
    pub unit: String,
}

/// Metric family name → its entries, newest last.
#[derive(Debug, Default)]
pub struct MetadataStore {
    table: RwLock<BTreeMap<String, Vec<MetadataEntry>>>,
}

impl MetadataStore {
    /// Returns an empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records entries; returns how many were ignored because the table is full.
    pub fn record(&self, entries: Vec<(String, MetadataEntry)>) -> u64 {
        if entries.is_empty() {
            return 0;
        }
        let Ok(mut table) = self.table.write() else {
            return entries.len() as u64;
        };
        let mut ignored = 0;
        for (name, entry) in entries {
            if !table.contains_key(&name) && table.len() >= MAX_METRICS {
                ignored += 1;
                continue;
            }
            let list = table.entry(name).or_default();
            if let Some(pos) = list.iter().position(|e| *e == entry) {
                let e = list.remove(pos);
                list.push(e);
            } else {
                if list.len() >= MAX_ENTRIES_PER_METRIC {
                    list.remove(0);
                }
                list.push(entry);
            }
        }
        ignored
    }

    /// Calls `f` with each family (in name order) and its entries, for the families selected
    /// by `metric` (all when empty), stopping after `limit` families when `limit` is set.
    pub fn for_each(
        &self,
        metric: &str,
        limit: Option<usize>,
        mut f: impl FnMut(&str, &[MetadataEntry]),
    ) {
        let Ok(table) = self.table.read() else {
            return;
        };
        if !metric.is_empty() {
            if let Some(list) = table.get(metric)
                && limit != Some(0)
            {
                f(metric, list);
            }
            return;
        }
        for (n, (name, list)) in table.iter().enumerate() {
            if limit.is_some_and(|l| n >= l) {
                break;
            }
            f(name, list);
        }
    }

    /// Returns the number of metric families held.
    pub fn len(&self) -> usize {
        self.table.read().map(|t| t.len()).unwrap_or(0)
    }

    /// Returns whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Returns the API name of a remote write metric type.
fn type_name(t: i32) -> &'static str {
    match t {
        1 => "counter",
        2 => "gauge",
        3 => "histogram",
        4 => "gaugehistogram",
        5 => "summary",
        6 => "info",
        7 => "stateset",
        _ => "unknown",
    }
}

/// Extracts the `metadata` field (tag 3) of a decompressed remote write 1.0 `WriteRequest`,
/// hopping over the other top-level fields without decoding them. Malformed entries stop the
/// scan (the series decoder reports a corrupt body on its own).
pub fn scan_write_metadata(raw: &[u8]) -> Vec<(String, MetadataEntry)> {
    let mut out = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let Some((key, n)) = strata_model::labels::get_uvarint(rest) else {
            break;
        };
        rest = &rest[n..];
        let (field, wire) = (key >> 3, key & 7);
        let skip = match wire {
            0 => match strata_model::labels::get_uvarint(rest) {
                Some((_, n)) => n,
                None => break,
            },
            1 => 8,
            5 => 4,
            2 => {
                let Some((len, n)) = strata_model::labels::get_uvarint(rest) else {
                    break;
                };
                let Ok(len) = usize::try_from(len) else {
                    break;
                };
                let Some(msg) = rest.get(n..n.saturating_add(len)) else {
                    break;
                };
                if field == 3
                    && let Ok(m) = MetricMetadata::decode(msg)
                    && !m.metric_family_name.is_empty()
                {
                    out.push((
                        m.metric_family_name,
                        MetadataEntry {
                            metric_type: type_name(m.r#type),
                            help: m.help,
                            unit: m.unit,
                        },
                    ));
                }
                n + len
            }
            _ => break,
        };
        let Some(r) = rest.get(skip..) else {
            break;
        };
        rest = r;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_proto::{Label, Sample, TimeSeries, WriteRequest};

    #[test]
    fn scans_metadata_between_series() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new(b"__name__".to_vec(), b"up".to_vec())],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 5,
                }],
                ..Default::default()
            }],
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "http_requests_total".into(),
                help: "Requests.".into(),
                unit: String::new(),
            }],
        };
        let found = scan_write_metadata(&req.encode_to_vec());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "http_requests_total");
        assert_eq!(found[0].1.metric_type, "counter");

        let store = MetadataStore::new();
        assert_eq!(store.record(found.clone()), 0);
        assert_eq!(store.record(found), 0);
        let mut seen = Vec::new();
        store.for_each("", None, |n, l| seen.push((n.to_owned(), l.len())));
        assert_eq!(seen, vec![("http_requests_total".to_owned(), 1)]);
    }

    #[test]
    fn garbage_never_panics() {
        for body in [
            &b"\x1a\xff\xff\xff\xff\x0f"[..],
            b"\x1a\x05ab",
            b"\x0f",
            b"",
        ] {
            let _ = scan_write_metadata(body);
        }
    }
}
