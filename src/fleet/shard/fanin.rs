//! The fan-in of a sharded run, on the cluster the Job runs in (the hub),
//! in the Job's namespace, every object owned by the Job (deleted with it):
//!
//! - ConfigMap `<job>-shard-<i>`: shard i's result (`binaryData`
//!   `result.json.gz`), written before the shard records that it reported;
//! - Lease `<job>-fanin` (coordination.k8s.io): which shards reported
//!   (annotation `drift-check/reported`, `0,2,3`) and, once decided, the
//!   merger (`spec.holderIdentity`, `shard-<k>`).
//!
//! Every change to the Lease is a compare-and-swap: a replace carrying the
//! `resourceVersion` read (409 Conflict when another shard wrote since) or
//! a create (409 AlreadyExists when another shard created it first); on a
//! 409 the Lease is read again and the decision made again. The shard whose
//! write completes the set names itself merger in the same write. A shard
//! that finds the set incomplete waits; at the deadline (the Lease's
//! creation, i.e. the first report, plus `--shard-wait`) a waiting shard
//! names itself merger the same way, so exactly one shard merges, over
//! exactly the shards listed when it was named. A shard that reports after
//! that is late: its result is not in the run's report.
//!
//! RBAC (job/sharded): get the Job; create, get, delete ConfigMaps; create,
//! get, update Leases — in the Job's namespace.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use tracing::{debug, info};

use super::payload::{ShardResult, decode};
use super::{Shard, ShardSettings};
use crate::k8s::client::{ClientError, ClusterOptions};

/// The `binaryData` key of a result.
const RESULT_KEY: &str = "result.json.gz";
/// The Lease's annotation listing the shards that reported.
pub const REPORTED: &str = "drift-check/reported";
/// Compare-and-swap attempts before giving up (each after another shard's write).
const ATTEMPTS: usize = 50;

/// What this shard does once its result is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// It merges the results of these shards and notifies.
    Merger { reported: BTreeSet<u32> },
    /// It reported; shard `merger` merges.
    Done { merger: u32 },
    /// It reported after shard `merger` was named: its result is left out.
    Late { merger: u32 },
}

/// The fan-in cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FaninError {
    #[error("cannot reach the cluster the job runs in")]
    Hub(#[source] ClientError),
    #[error(
        "cannot read the Job {namespace}/{name} the shards are pods of (--shard-job, DRIFT_CHECK_SHARD_JOB)"
    )]
    Job {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the Job {namespace}/{name} has {completions:?} completions, not --shards {count} (DRIFT_CHECK_SHARDS): set both to the same N"
    )]
    Completions {
        namespace: String,
        name: String,
        completions: Option<i32>,
        count: u32,
    },
    #[error("cannot write this shard's result, ConfigMap {namespace}/{name}")]
    Write {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read or update the shards' Lease {namespace}/{name}")]
    Lease {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error(
        "the shards' Lease {namespace}/{name} was written by another shard before each of {ATTEMPTS} attempts"
    )]
    Contended { namespace: String, name: String },
}

/// The fan-in objects of one Job, seen from one shard.
pub struct Fanin {
    leases: Api<Lease>,
    config_maps: Api<ConfigMap>,
    namespace: String,
    job: String,
    owner: OwnerReference,
    shard: Shard,
    wait: Duration,
}

impl Fanin {
    /// Connects to the hub (the kubeconfig or the pod's service account, in
    /// its namespace) and reads the Job, the owner of what the shards write.
    pub async fn connect(
        hub: &ClusterOptions,
        settings: &ShardSettings,
    ) -> Result<Self, FaninError> {
        let client = crate::k8s::client::client(hub)
            .await
            .map_err(FaninError::Hub)?;
        let namespace = client.default_namespace().to_string();
        let job = Api::<Job>::namespaced(client.clone(), &namespace)
            .get(&settings.job)
            .await
            .map_err(|source| FaninError::Job {
                namespace: namespace.clone(),
                name: settings.job.clone(),
                source,
            })?;
        let completions = job.spec.as_ref().and_then(|s| s.completions);
        if completions.and_then(|c| u32::try_from(c).ok()) != Some(settings.shard.count) {
            return Err(FaninError::Completions {
                namespace,
                name: settings.job.clone(),
                completions,
                count: settings.shard.count,
            });
        }
        let owner = OwnerReference {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: settings.job.clone(),
            uid: job.metadata.uid.unwrap_or_default(),
            controller: Some(false),
            block_owner_deletion: None,
        };
        Ok(Self {
            leases: Api::namespaced(client.clone(), &namespace),
            config_maps: Api::namespaced(client, &namespace),
            namespace,
            job: settings.job.clone(),
            owner,
            shard: settings.shard,
            wait: settings.wait,
        })
    }

    /// The ConfigMap of shard `index`'s result.
    pub fn result_name(job: &str, index: u32) -> String {
        format!("{job}-shard-{index}")
    }

    /// The Lease of the fan-in.
    pub fn lease_name(job: &str) -> String {
        format!("{job}-fanin")
    }

    fn meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/name".to_string(),
                "drift-check".to_string(),
            )])),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }

    /// Writes this shard's result, then records that it reported: the
    /// merger when that completes the set (or this shard was named before,
    /// a retried pod), `None` when the others are still to be waited for.
    pub async fn report(&self, result: &[u8]) -> Result<Option<Role>, FaninError> {
        self.write_result(result).await?;
        let me = self.shard.index;
        for _ in 0..ATTEMPTS {
            let Some(lease) = self
                .leases
                .get_opt(&self.lease())
                .await
                .map_err(|e| self.lease_err(e))?
            else {
                let reported = BTreeSet::from([me]);
                let holder = self.complete(&reported).then_some(me);
                let lease = self.new_lease(&reported, holder);
                match self.leases.create(&PostParams::default(), &lease).await {
                    Ok(_) => return Ok(self.arrived(reported, holder)),
                    Err(kube::Error::Api(e)) if e.code == 409 => continue,
                    Err(e) => return Err(self.lease_err(e)),
                }
            };
            let mut reported = reported_of(&lease);
            if let Some(merger) = holder_of(&lease) {
                return Ok(Some(match (merger == me, reported.contains(&me)) {
                    (true, _) => Role::Merger { reported },
                    (false, true) => Role::Done { merger },
                    (false, false) => Role::Late { merger },
                }));
            }
            reported.insert(me);
            let holder = self.complete(&reported).then_some(me);
            if self.swap(lease, &reported, holder).await? {
                return Ok(self.arrived(reported, holder));
            }
        }
        Err(self.contended())
    }

    /// Waits for a merger to be named; names this shard at the deadline.
    pub async fn wait(&self) -> Result<Role, FaninError> {
        let me = self.shard.index;
        let poll = (self.wait / 20).clamp(Duration::from_millis(200), Duration::from_secs(2));
        for _ in 0..ATTEMPTS {
            loop {
                let lease = self
                    .leases
                    .get(&self.lease())
                    .await
                    .map_err(|e| self.lease_err(e))?;
                let reported = reported_of(&lease);
                if let Some(merger) = holder_of(&lease) {
                    return Ok(if merger == me {
                        Role::Merger { reported }
                    } else {
                        Role::Done { merger }
                    });
                }
                if self.past_deadline(&lease) {
                    info!(shard = me, reported = ?reported, "The others did not all report in time: this shard merges");
                    if self.swap(lease, &reported, Some(me)).await? {
                        return Ok(Role::Merger { reported });
                    }
                    break;
                }
                debug!(shard = me, reported = ?reported, "Waiting for the other shards");
                tokio::time::sleep(poll).await;
            }
        }
        Err(self.contended())
    }

    /// The results of these shards, each read and decoded (`Err`: why not).
    pub async fn results(
        &self,
        shards: &BTreeSet<u32>,
    ) -> BTreeMap<u32, Result<ShardResult, String>> {
        let mut results = BTreeMap::new();
        for &index in shards {
            results.insert(index, self.result(index).await);
        }
        results
    }

    async fn result(&self, index: u32) -> Result<ShardResult, String> {
        let name = Self::result_name(&self.job, index);
        let cm = self.config_maps.get(&name).await.map_err(|e| {
            format!(
                "ConfigMap {}/{name}: {}",
                self.namespace,
                crate::error::error_chain(&e)
            )
        })?;
        let bytes = cm
            .binary_data
            .and_then(|mut d| d.remove(RESULT_KEY))
            .ok_or_else(|| format!("ConfigMap {}/{name} has no {RESULT_KEY}", self.namespace))?;
        decode(index, &bytes.0).map_err(|e| crate::error::error_chain(&e))
    }

    /// Creates the result ConfigMap; a retried pod replaces its own.
    async fn write_result(&self, bytes: &[u8]) -> Result<(), FaninError> {
        let name = Self::result_name(&self.job, self.shard.index);
        let cm = ConfigMap {
            metadata: self.meta(name.clone()),
            binary_data: Some(BTreeMap::from([(
                RESULT_KEY.to_string(),
                ByteString(bytes.to_vec()),
            )])),
            ..ConfigMap::default()
        };
        let err = |source| FaninError::Write {
            namespace: self.namespace.clone(),
            name: name.clone(),
            source,
        };
        match self.config_maps.create(&PostParams::default(), &cm).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                self.config_maps
                    .delete(&name, &DeleteParams::default())
                    .await
                    .map_err(err)?;
                self.config_maps
                    .create(&PostParams::default(), &cm)
                    .await
                    .map(|_| ())
                    .map_err(err)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Replaces the Lease read with this set and holder; `false` when
    /// another shard wrote it since.
    async fn swap(
        &self,
        mut lease: Lease,
        reported: &BTreeSet<u32>,
        holder: Option<u32>,
    ) -> Result<bool, FaninError> {
        annotate(&mut lease.metadata, reported);
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = holder.map(holder_identity);
        match self
            .leases
            .replace(&self.lease(), &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(self.lease_err(e)),
        }
    }

    fn new_lease(&self, reported: &BTreeSet<u32>, holder: Option<u32>) -> Lease {
        let mut metadata = self.meta(self.lease());
        annotate(&mut metadata, reported);
        Lease {
            metadata,
            spec: Some(LeaseSpec {
                holder_identity: holder.map(holder_identity),
                ..LeaseSpec::default()
            }),
        }
    }

    fn arrived(&self, reported: BTreeSet<u32>, holder: Option<u32>) -> Option<Role> {
        holder.map(|_| Role::Merger { reported })
    }

    fn complete(&self, reported: &BTreeSet<u32>) -> bool {
        (0..self.shard.count).all(|i| reported.contains(&i))
    }

    fn past_deadline(&self, lease: &Lease) -> bool {
        let Some(created) = &lease.metadata.creation_timestamp else {
            return true;
        };
        // `creationTimestamp` has whole seconds: one more, never early.
        let waited = jiff::Timestamp::now().duration_since(created.0);
        !waited.is_negative() && waited.unsigned_abs() >= self.wait + Duration::from_secs(1)
    }

    fn lease(&self) -> String {
        Self::lease_name(&self.job)
    }

    fn lease_err(&self, source: kube::Error) -> FaninError {
        FaninError::Lease {
            namespace: self.namespace.clone(),
            name: self.lease(),
            source,
        }
    }

    fn contended(&self) -> FaninError {
        FaninError::Contended {
            namespace: self.namespace.clone(),
            name: self.lease(),
        }
    }
}

fn holder_identity(index: u32) -> String {
    format!("shard-{index}")
}

/// The merger named on the Lease.
fn holder_of(lease: &Lease) -> Option<u32> {
    let holder = lease.spec.as_ref()?.holder_identity.as_deref()?;
    holder.strip_prefix("shard-")?.parse().ok()
}

/// The shards the Lease lists as reported.
pub fn reported_of(lease: &Lease) -> BTreeSet<u32> {
    lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REPORTED))
        .map(|list| {
            list.split(',')
                .filter_map(|i| i.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn annotate(metadata: &mut ObjectMeta, reported: &BTreeSet<u32>) {
    let list: Vec<String> = reported.iter().map(u32::to_string).collect();
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(REPORTED.to_string(), list.join(","));
}
