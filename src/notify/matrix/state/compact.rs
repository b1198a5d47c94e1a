//! The compact form of a state, as the ConfigMap keeps it (`binaryData`):
//! gzip of one JSON document in which the findings are grouped by what they
//! share — Kustomization, drift kind, severity, since, content hash, the
//! message that announced them (an index into a table of event ids), the
//! reminder period — each group listing its objects, sorted. Identities are
//! not stored: they are the hash of (Kustomization, object, drift kind),
//! computed again when read. 100,000 findings of a platform take a few
//! hundred KiB.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use super::{OpenFinding, OpenProblem, SeenChange, State, Thread, VERSION, identity};

/// Largest state read: a gzip bomb is refused (100,000 findings decode to
/// about 10 MiB).
const MAX_DECODED_BYTES: u64 = 256 << 20;

/// The document inside the gzip.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Compact {
    /// [`VERSION`] of the state it holds.
    version: u32,
    posted_at: Option<String>,
    #[serde(default)]
    problems: BTreeMap<String, OpenProblem>,
    #[serde(default)]
    groups: Vec<Group>,
    /// The messages that announced findings: `[event id, posted at]`,
    /// indexed by the groups' `e` (absent in states written before threads).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<(String, String)>,
    /// The changes as posted, by identity (small states only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    changes: BTreeMap<String, Vec<SeenChange>>,
}

/// Findings that share everything but their object.
#[derive(Debug, Serialize, Deserialize)]
struct Group {
    #[serde(rename = "k")]
    kustomization: Option<String>,
    #[serde(rename = "d")]
    drift: String,
    #[serde(rename = "s")]
    severity: String,
    #[serde(rename = "t")]
    since: String,
    #[serde(rename = "c")]
    content: String,
    #[serde(rename = "p", default, skip_serializing_if = "std::ops::Not::not")]
    paused: bool,
    /// Index of the announcing message in `events`.
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    event: Option<usize>,
    /// [`OpenFinding::reminded`].
    #[serde(rename = "r", default, skip_serializing_if = "is_zero")]
    reminded: u32,
    #[serde(rename = "o")]
    objects: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The state, compact and gzipped.
pub fn encode(state: &State) -> Vec<u8> {
    type Key<'a> = (
        &'a Option<String>,
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        bool,
        Option<usize>,
        u32,
    );
    let mut groups: BTreeMap<Key, Vec<&str>> = BTreeMap::new();
    let mut changes = BTreeMap::new();
    let mut events: Vec<(String, String)> = Vec::new();
    let mut event_index: std::collections::HashMap<&std::sync::Arc<Thread>, usize> =
        std::collections::HashMap::new();
    for (id, f) in &state.findings {
        let event = f.thread.as_ref().map(|t| {
            *event_index.entry(t).or_insert_with(|| {
                events.push((t.event.clone(), t.at.clone()));
                events.len() - 1
            })
        });
        groups
            .entry((
                &f.kustomization,
                &f.drift,
                &f.severity,
                &f.since,
                &f.content,
                f.paused,
                event,
                f.reminded,
            ))
            .or_default()
            .push(&f.object);
        if !f.changes.is_empty() {
            changes.insert(id.clone(), f.changes.clone());
        }
    }
    let compact = Compact {
        version: VERSION,
        posted_at: state.posted_at.clone(),
        problems: state.problems.clone(),
        groups: groups
            .into_iter()
            .map(|((k, d, s, t, c, p, e, r), mut objects)| {
                objects.sort_unstable();
                Group {
                    kustomization: k.clone(),
                    drift: d.into(),
                    severity: s.into(),
                    since: t.into(),
                    content: c.into(),
                    paused: p,
                    event: e,
                    reminded: r,
                    objects: objects.into_iter().map(String::from).collect(),
                }
            })
            .collect(),
        events,
        changes,
    };
    // flate2's backend is zlib-rs (the `pgp` crate asks for it, and Cargo
    // unifies features): at the default level it writes ~5% more than
    // miniz_oxide did; at the best level, less, in about the same time.
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    serde_json::to_writer(&mut gz, &compact).expect("state serializes");
    gz.flush().expect("writes to memory");
    gz.finish().expect("writes to memory")
}

/// Why a compact state cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not gzip, or cut short")]
    Gzip(#[source] std::io::Error),
    #[error("larger than {} MiB once unpacked", MAX_DECODED_BYTES >> 20)]
    TooLarge,
    #[error("not a state")]
    Json(#[source] serde_json::Error),
    #[error("a group names message {0} of a table of {1}")]
    Event(usize, usize),
}

/// The state of [`encode`]'s bytes.
pub fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
    let mut json = Vec::new();
    GzDecoder::new(bytes)
        .take(MAX_DECODED_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(DecodeError::Gzip)?;
    if json.len() as u64 > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge);
    }
    let mut compact: Compact = serde_json::from_slice(&json).map_err(DecodeError::Json)?;
    let mut state = State {
        version: compact.version,
        posted_at: compact.posted_at,
        problems: compact.problems,
        ..State::default()
    };
    let threads: Vec<std::sync::Arc<Thread>> = compact
        .events
        .into_iter()
        .map(|(event, at)| std::sync::Arc::new(Thread { event, at }))
        .collect();
    for g in compact.groups {
        let thread = match g.event {
            None => None,
            Some(i) => Some(
                threads
                    .get(i)
                    .cloned()
                    .ok_or(DecodeError::Event(i, threads.len()))?,
            ),
        };
        for object in g.objects {
            let id = identity(g.kustomization.as_deref(), &object, &g.drift);
            let changes = compact.changes.remove(&id).unwrap_or_default();
            state.findings.insert(
                id,
                OpenFinding {
                    since: g.since.clone(),
                    kustomization: g.kustomization.clone(),
                    object,
                    drift: g.drift.clone(),
                    severity: g.severity.clone(),
                    content: g.content.clone(),
                    changes,
                    paused: g.paused,
                    thread: thread.clone(),
                    reminded: g.reminded,
                },
            );
        }
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::super::hex;
    use super::*;

    fn finding(ks: &str, object: &str, since: &str, changes: Vec<SeenChange>) -> OpenFinding {
        OpenFinding {
            since: since.into(),
            kustomization: Some(ks.into()),
            object: object.into(),
            drift: "modified".into(),
            severity: "added".into(),
            content: "0a1b2c3d".into(),
            changes,
            paused: false,
            thread: None,
            reminded: 0,
        }
    }

    #[test]
    fn a_state_round_trips_with_its_identities_problems_and_changes() {
        let mut state = State {
            version: VERSION,
            posted_at: Some("2026-12-07T02:00:00Z".into()),
            ..State::default()
        };
        let seen = vec![SeenChange {
            path: "metadata.labels[team]".into(),
            live: "x".into(),
            manager: Some("kubectl-label".into()),
            time: Some("2026-12-06T10:00:00Z".into()),
        }];
        for (ks, object, since, changes) in [
            (
                "flux-system/apps",
                "Deployment/apps/web",
                "2026-12-06T10:00:00Z",
                seen.clone(),
            ),
            (
                "flux-system/apps",
                "Deployment/apps/api",
                "2026-12-06T10:00:00Z",
                vec![],
            ),
            (
                "flux-system/db",
                "StatefulSet/db/pg",
                "2026-12-01T00:00:00Z",
                vec![],
            ),
        ] {
            let mut f = finding(ks, object, since, changes);
            // Announced by one message (web, api) or before threads (pg).
            if ks == "flux-system/apps" {
                f.thread = Some(std::sync::Arc::new(Thread {
                    event: "$announce:example.org".into(),
                    at: "2026-12-06T02:00:00Z".into(),
                }));
            } else {
                f.reminded = 2;
            }
            state
                .findings
                .insert(identity(Some(ks), object, "modified"), f);
        }
        state.problems.insert(
            "suspended Kustomization flux-system/db".into(),
            OpenProblem {
                since: "2026-12-01T00:00:00Z".into(),
                kustomization: Some("flux-system/db".into()),
                detail: "resume it".into(),
            },
        );
        assert_eq!(decode(&encode(&state)).unwrap(), state);
    }

    /// One event id in the table, however many findings it announced.
    #[test]
    fn findings_of_one_message_share_one_entry_of_the_event_table() {
        let mut state = synthetic(1_000, |i| i / 50);
        state.version = VERSION;
        for f in state.findings.values_mut() {
            f.thread = Some(std::sync::Arc::new(Thread {
                event: "$announce:example.org".into(),
                at: "2026-12-06T02:00:00Z".into(),
            }));
        }
        let bytes = encode(&state);
        let mut json = String::new();
        GzDecoder::new(&bytes[..])
            .read_to_string(&mut json)
            .unwrap();
        assert_eq!(json.matches("$announce:example.org").count(), 1);
        assert_eq!(decode(&bytes).unwrap(), state);
    }

    #[test]
    fn a_state_written_before_threads_loads_with_no_thread_and_no_reminder() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(
            br#"{"version":2,"posted_at":"2026-12-01T02:00:00Z","groups":[{"k":"flux-system/apps","d":"modified","s":"edited","t":"2026-11-30T10:00:00Z","c":"0a1b2c3d","o":["Deployment/apps/web"]}]}"#,
        )
        .unwrap();
        let state = decode(&gz.finish().unwrap()).unwrap();
        let f =
            &state.findings[&identity(Some("flux-system/apps"), "Deployment/apps/web", "modified")];
        assert_eq!(
            (&f.thread, f.reminded, f.since.as_str()),
            (&None, 0, "2026-11-30T10:00:00Z")
        );
    }

    #[test]
    fn a_group_naming_a_message_outside_the_table_is_an_error() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(
            br#"{"version":2,"posted_at":null,"groups":[{"k":null,"d":"modified","s":"","t":"","c":"","e":3,"o":["Deployment/a/b"]}],"events":[["$x","t"]]}"#,
        )
        .unwrap();
        assert_eq!(
            decode(&gz.finish().unwrap()).unwrap_err().to_string(),
            "a group names message 3 of a table of 1"
        );
    }

    /// 100,000 findings of 2,000 Kustomizations, a label added by hand to
    /// 50 objects at once in each: one part, a few hundred KiB.
    #[test]
    fn a_state_of_100_000_findings_of_mass_edits_fits_one_config_map() {
        let bytes = encode(&synthetic(100_000, |i| i / 50));
        assert!(bytes.len() < 256 << 10, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap().findings.len(), 100_000);
    }

    /// The worst case: each of 100,000 findings at its own time with its own
    /// content: some 12 bytes each, two parts.
    #[test]
    fn a_state_of_100_000_distinct_findings_takes_about_12_bytes_each() {
        let bytes = encode(&synthetic(100_000, |i| i));
        assert!(bytes.len() < 1_300_000, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap().findings.len(), 100_000);
    }

    /// `n` findings in Kustomizations of 50; those with the same `edit(i)`
    /// were made at the same time with the same content.
    fn synthetic(n: u32, edit: impl Fn(u32) -> u32) -> State {
        let mut state = State::default();
        for i in 0..n {
            let ks = format!("flux-system/app-{:04}", i / 50);
            let object = format!("Deployment/app-{:04}/web-{:05}", i / 50, i);
            let e = edit(i);
            let since = format!(
                "2026-12-06T{:02}:{:02}:{:02}Z",
                (e / 3600) % 24,
                (e / 60) % 60,
                e % 60
            );
            let mut f = finding(&ks, &object, &since, vec![]);
            f.content = hex(&e.wrapping_mul(2_654_435_761).to_be_bytes());
            state
                .findings
                .insert(identity(Some(&ks), &object, "modified"), f);
        }
        state
    }

    #[test]
    fn bytes_that_are_not_a_state_are_an_error_not_a_panic() {
        assert!(matches!(decode(b"{}"), Err(DecodeError::Gzip(_))));
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(b"[1, 2]").unwrap();
        assert!(matches!(
            decode(&gz.finish().unwrap()),
            Err(DecodeError::Json(_))
        ));
    }
}
