//! A shard's result as it travels to the merger: its clusters' entries of
//! the fleet report (each cluster's own `drift-check/v1` report, status,
//! error and check duration), as gzipped JSON (schema
//! `drift-check/shard/v1`) for one ConfigMap's `binaryData`.
//!
//! A ConfigMap holds at most 1 MiB of data. A result over [`LIMIT`] bytes of
//! gzip keeps the reports that fit: the largest reports are dropped one by
//! one, each of those clusters then "could not check: its report (… KiB of
//! JSON) does not fit in shard i's result ConfigMap: run more shards" — so
//! the run says which clusters were not reported and why (exit 2) instead
//! of losing the whole shard. (Some 100,000 findings of gzip fit.)
//!
//! The readable paths of changes (`spec.template.spec.containers[app]…`)
//! are not part of the JSON report but are shown in Matrix messages and the
//! HTML page: they travel beside each report, in the order of its findings
//! and their changes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::report::Report;
use crate::report::fleet::{ClusterEntry, ClusterStatus, FleetReport};

/// The schema of a shard's result.
pub const SCHEMA: &str = "drift-check/shard/v1";

/// Most bytes of gzip in one result (a ConfigMap allows 1 MiB, with its
/// metadata).
pub const LIMIT: usize = 1_000_000;

/// What one shard found.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardResult {
    pub schema: String,
    pub index: u32,
    pub count: u32,
    pub started_at: String,
    /// In the order of the shard's part of the fleet (see `select`).
    pub clusters: Vec<Reported>,
}

/// One cluster of a shard's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reported {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub status: ClusterStatus,
    pub error: Option<String>,
    pub report: Option<Report>,
    pub duration_ms: u64,
    /// Each change's readable path, findings then changes in order.
    pub readable_paths: Vec<Option<String>>,
}

/// A result cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("cannot encode shard {index}'s result")]
    Encode {
        index: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("shard {index}'s result: not gzipped JSON of {SCHEMA}")]
    Decode {
        index: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("shard {index}'s result is of schema {found:?}, not {SCHEMA:?}")]
    Schema { index: u32, found: String },
    #[error("the result in shard {index}'s ConfigMap says it is shard {found} of {count}")]
    Foreign { index: u32, found: u32, count: u32 },
}

impl ShardResult {
    /// The result of shard `index` of `count` from its part of the fleet's report.
    pub fn of(index: u32, count: u32, report: &FleetReport) -> Self {
        Self {
            schema: SCHEMA.into(),
            index,
            count,
            started_at: report.run.started_at.clone(),
            clusters: report.clusters.iter().map(Reported::of).collect(),
        }
    }
}

impl Reported {
    fn of(entry: &ClusterEntry) -> Self {
        let readable_paths = entry
            .report
            .iter()
            .flat_map(|r| &r.findings)
            .flat_map(|f| &f.changes)
            .map(|c| c.readable_path.clone())
            .collect();
        Self {
            name: entry.name.clone(),
            labels: entry.labels.clone(),
            status: entry.status,
            error: entry.error.clone(),
            report: entry.report.clone(),
            duration_ms: entry.duration.as_millis().try_into().unwrap_or(u64::MAX),
            readable_paths,
        }
    }

    /// The fleet report's entry, readable paths restored.
    pub fn into_entry(self) -> ClusterEntry {
        let mut report = self.report;
        if let Some(r) = report.as_mut() {
            let changes = r.findings.iter_mut().flat_map(|f| f.changes.iter_mut());
            for (change, path) in changes.zip(self.readable_paths) {
                change.readable_path = path;
            }
        }
        ClusterEntry {
            name: self.name,
            labels: self.labels,
            status: self.status,
            error: self.error,
            report,
            duration: Duration::from_millis(self.duration_ms),
        }
    }

    /// This cluster, its report left out: it did not fit.
    fn dropped(&mut self, index: u32, json_bytes: usize) {
        self.status = ClusterStatus::CouldNotCheck;
        self.error = Some(format!(
            "its report ({} KiB of JSON) does not fit in shard {index}'s result ConfigMap (1 MiB): run more shards",
            json_bytes >> 10
        ));
        self.report = None;
        self.readable_paths.clear();
    }
}

/// The result as gzipped JSON of at most `limit` bytes: the largest
/// reports dropped (see the module's header) until it fits.
pub fn encode(result: &ShardResult, limit: usize) -> Result<Vec<u8>, PayloadError> {
    let mut result = result.clone();
    loop {
        let bytes = gzip(&result)?;
        if bytes.len() <= limit {
            return Ok(bytes);
        }
        let largest = result
            .clusters
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((json_len(c.report.as_ref()?), i)))
            .max();
        let Some((size, i)) = largest else {
            // Nothing left to drop: names and errors alone do not fit.
            return Err(PayloadError::Encode {
                index: result.index,
                source: std::io::Error::other(format!(
                    "{} bytes of gzip without any report, over {limit}",
                    bytes.len()
                )),
            });
        };
        result.clusters[i].dropped(result.index, size);
    }
}

fn json_len(report: &Report) -> usize {
    serde_json::to_vec(report).map_or(0, |v| v.len())
}

fn gzip(result: &ShardResult) -> Result<Vec<u8>, PayloadError> {
    let err = |source| PayloadError::Encode {
        index: result.index,
        source,
    };
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut gz, result).map_err(|e| err(e.into()))?;
    gz.write_all(b"\n").map_err(err)?;
    gz.finish().map_err(err)
}

/// Shard `index`'s result from its ConfigMap's bytes.
pub fn decode(index: u32, bytes: &[u8]) -> Result<ShardResult, PayloadError> {
    let err = |source| PayloadError::Decode { index, source };
    let mut json = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut json).map_err(err)?;
    let value: serde_json::Value = serde_json::from_slice(&json).map_err(|e| err(e.into()))?;
    let schema = value["schema"].as_str().unwrap_or_default();
    if schema != SCHEMA {
        return Err(PayloadError::Schema {
            index,
            found: schema.into(),
        });
    }
    let result: ShardResult = serde_json::from_value(value).map_err(|e| err(e.into()))?;
    if result.index != index {
        return Err(PayloadError::Foreign {
            index,
            found: result.index,
            count: result.count,
        });
    }
    Ok(result)
}
