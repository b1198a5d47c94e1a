//! The page's two charts, as data its template draws in inline SVG: how long
//! the open findings have been open (from their "since"), and the open drift
//! per Kustomization, each bar stacked by severity.

use super::*;

#[derive(Serialize)]
pub(super) struct Chart {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) bars: Vec<Bar>,
    /// Severity colours, in order, for the legend.
    pub(super) legend: Vec<Legend>,
    pub(super) note: Option<String>,
}

#[derive(Serialize)]
pub(super) struct Legend {
    pub(super) class: &'static str,
    pub(super) label: &'static str,
}

#[derive(Serialize)]
pub(super) struct Bar {
    pub(super) label: String,
    pub(super) title: String,
    pub(super) y: u32,
    pub(super) total: usize,
    pub(super) segments: Vec<Segment>,
    pub(super) end: u32,
}

#[derive(Serialize)]
pub(super) struct Segment {
    pub(super) x: u32,
    pub(super) width: u32,
    pub(super) class: &'static str,
    pub(super) count: usize,
}

/// How long ago, roughly: `3 d`, `5 h`, `under 1 h`.
pub(super) fn age(since: Option<&str>, now: Option<DateTime<FixedOffset>>) -> String {
    match age_hours(since, now) {
        None => "unknown".into(),
        Some(h) if h < 1 => "under 1 h".into(),
        Some(h) if h < 48 => format!("{h} h"),
        Some(h) => format!("{} d", h / 24),
    }
}

fn age_hours(since: Option<&str>, now: Option<DateTime<FixedOffset>>) -> Option<i64> {
    let since = parse_time(since?)?;
    Some((now? - since).num_hours().max(0))
}

const AGE_BUCKETS: [(&str, i64); 5] = [
    ("under a day", 24),
    ("1–7 days", 7 * 24),
    ("1–4 weeks", 28 * 24),
    ("1–3 months", 90 * 24),
    ("over 3 months", i64::MAX),
];

const CHART_WIDTH: u32 = 720;
const LABEL_WIDTH: u32 = 230;
const BAR_AREA: u32 = 400;
const BAR_HEIGHT: u32 = 22;

fn legend() -> Vec<Legend> {
    Severity::ALL
        .iter()
        .map(|s| Legend {
            class: class(*s),
            label: s.counted(),
        })
        .collect()
}

/// Bars of counts per severity, scaled to the largest total.
fn bars(rows: Vec<(String, String, [usize; 4])>) -> (Vec<Bar>, u32) {
    let max = rows
        .iter()
        .map(|(_, _, c)| c.iter().sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let bars: Vec<Bar> = rows
        .into_iter()
        .enumerate()
        .map(|(i, (label, title, counts))| {
            let mut x = LABEL_WIDTH;
            let mut segments = Vec::new();
            for (s, n) in Severity::ALL.iter().zip(counts) {
                if n == 0 {
                    continue;
                }
                let width = ((n as u64 * BAR_AREA as u64) / max as u64).max(2) as u32;
                segments.push(Segment {
                    x,
                    width,
                    class: class(*s),
                    count: n,
                });
                x += width;
            }
            Bar {
                label,
                title,
                y: i as u32 * BAR_HEIGHT,
                total: counts.iter().sum(),
                segments,
                end: x + 6,
            }
        })
        .collect();
    let height = bars.len() as u32 * BAR_HEIGHT;
    (bars, height)
}

fn index(s: Severity) -> usize {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

/// Open findings by how long they have been open.
pub(super) fn age_chart(
    open: &[(&Finding, Severity, Option<String>)],
    now: Option<DateTime<FixedOffset>>,
) -> Chart {
    let mut counts = [[0usize; 4]; AGE_BUCKETS.len() + 1];
    for (_, s, since) in open {
        let bucket = match age_hours(since.as_deref(), now) {
            Some(h) => AGE_BUCKETS
                .iter()
                .position(|(_, max)| h < *max)
                .unwrap_or(AGE_BUCKETS.len() - 1),
            None => AGE_BUCKETS.len(),
        };
        counts[bucket][index(*s)] += 1;
    }
    let mut rows: Vec<(String, String, [usize; 4])> = AGE_BUCKETS
        .iter()
        .zip(counts)
        .map(|((label, _), c)| (label.to_string(), format!("open {label}"), c))
        .collect();
    let unknown = counts[AGE_BUCKETS.len()];
    if unknown.iter().sum::<usize>() > 0 {
        rows.push(("since unknown".into(), "no time known".into(), unknown));
    }
    let (bars, height) = bars(rows);
    Chart {
        width: CHART_WIDTH,
        height,
        bars,
        legend: legend(),
        note: None,
    }
}

/// Open findings per Kustomization, the most first.
pub(super) fn kustomization_chart(
    report: &Report,
    open: &[(&Finding, Severity, Option<String>)],
) -> Chart {
    let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for (f, s, _) in open {
        counts
            .entry(f.kustomization.as_deref().unwrap_or(NO_KUSTOMIZATION))
            .or_default()[index(*s)] += 1;
    }
    let mut rows: Vec<(&str, [usize; 4])> = counts.into_iter().collect();
    rows.sort_by(|a, b| {
        b.1.iter()
            .sum::<usize>()
            .cmp(&a.1.iter().sum::<usize>())
            .then(a.0.cmp(b.0))
    });
    let in_sync = report
        .kustomizations
        .iter()
        .filter(|k| k.error.is_none() && k.skipped.is_none())
        .filter(|k| !rows.iter().any(|(id, _)| *id == k.id()))
        .count();
    let rest = rows.split_off(rows.len().min(MAX_BARS));
    let mut note = Vec::new();
    if !rest.is_empty() {
        note.push(format!(
            "{} more {} with {} open findings",
            rest.len(),
            plural(rest.len(), "Kustomization", "Kustomizations"),
            rest.iter()
                .map(|(_, c)| c.iter().sum::<usize>())
                .sum::<usize>()
        ));
    }
    if in_sync > 0 {
        note.push(format!(
            "{in_sync} checked {} with no open drift",
            plural(in_sync, "Kustomization", "Kustomizations")
        ));
    }
    let (bars, height) = bars(
        rows.into_iter()
            .map(|(id, c)| {
                let full = plain(id).into_owned();
                let label = if full.chars().count() > MAX_LABEL_CHARS {
                    let cut: String = full.chars().take(MAX_LABEL_CHARS - 1).collect();
                    format!("{cut}…")
                } else {
                    full.clone()
                };
                (label, full, c)
            })
            .collect(),
    );
    Chart {
        width: CHART_WIDTH,
        height,
        bars,
        legend: legend(),
        note: (!note.is_empty()).then(|| note.join("; ")),
    }
}
