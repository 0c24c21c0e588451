//! `summary.json`: counts for the whole scan. The only per-scan state kept
//! in memory, and it does not grow with the number of files.

use std::collections::BTreeMap;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RecordSink;
use crate::model::{DocumentRecord, ReleaseStatus, Scope, VerdictCode};
use crate::walk::Shard;

/// Writes `summary.json` when the run ends; the driver keeps the counts.
pub struct SummarySink {
    path: PathBuf,
}

impl SummarySink {
    pub fn new(path: &Path) -> SummarySink {
        SummarySink {
            path: path.to_path_buf(),
        }
    }
}

impl RecordSink for SummarySink {
    fn record(&mut self, _record: &DocumentRecord) -> std::io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(super::create_report_file(&self.path)?);
        serde_json::to_writer_pretty(&mut out, summary)?;
        out.write_all(b"\n")?;
        out.flush()
    }
}

/// Counts per verdict code.
pub type VerdictCounts = BTreeMap<String, u64>;

/// Every option in effect, so that a run can be reproduced and its scope
/// read from the summary alone.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RunOptions {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub max_file_size: u64,
    pub max_inflated: u64,
    pub file_timeout_seconds: f64,
    pub jobs: usize,
    pub show_values: bool,
    pub fail_on: Vec<String>,
    pub out: String,
}

/// A PATH that could not be walked at all, or one walked under another.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct PathNote {
    pub path: String,
    /// `not_found`, `permission_denied`, `io`; or `covered_by`.
    pub reason: String,
    /// The PATH that covers this one, for overlapping PATHs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covered_by: Option<String>,
}

/// A partner exchange location and the files that lie in it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct LocationCount {
    pub path: String,
    pub partner: String,
    pub files: u64,
}

/// An earlier run's counts, as the state store keeps them.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlierRun {
    pub run_id: String,
    pub finished_at: String,
    pub documents: u64,
    pub verdicts: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub tool: String,
    pub version: String,
    /// Unique per run: ties the reports of one run together.
    pub run_id: String,
    pub as_of: String,
    /// The policy file as given (`built-in` for the default policy).
    pub policy: String,
    pub policy_name: Option<String>,
    pub policy_version: Option<String>,
    pub policy_sha256: String,
    /// SHA-256 of the built-in detector definitions.
    pub detectors_sha256: String,
    /// The PATHs as given.
    pub paths: Vec<String>,
    /// The PATHs walked, as given and resolved (absolute, links resolved).
    pub paths_walked: Vec<String>,
    pub paths_resolved: Vec<String>,
    /// PATHs not walked: missing, unreadable, or inside another PATH.
    pub paths_not_walked: Vec<PathNote>,
    pub options: RunOptions,
    /// Whether the reports carry matched values unmasked (--show-values).
    pub show_values: bool,
    pub host: String,
    pub user: String,
    pub started_at: String,
    pub finished_at: String,
    /// False when a PATH could not be walked: the run covers less than asked.
    pub complete: bool,
    pub duration_seconds: f64,
    pub files_scanned: u64,
    pub documents: u64,
    pub bytes_scanned: u64,
    pub files_per_second: f64,
    pub megabytes_per_second: f64,
    /// The scan's peak resident memory (VmHWM), 0 where the system does not tell.
    pub peak_rss_kb: u64,
    pub verdicts: VerdictCounts,
    pub formats: BTreeMap<String, u64>,
    pub levels: BTreeMap<String, u64>,
    pub suggested_levels: BTreeMap<String, u64>,
    /// Documents per labelled level (`none`) and, within it, per suggested
    /// level (`unknown`): the report's level matrix.
    pub level_matrix: BTreeMap<String, BTreeMap<String, u64>>,
    pub detectors: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    /// Documents from which no text could be read (no suggested level).
    pub documents_without_text: u64,
    /// Paths listed in skipped.csv, and their count per reason.
    pub files_skipped: u64,
    pub skipped: BTreeMap<String, u64>,
    /// Files left out by --include/--exclude: counted, not listed.
    pub files_filtered_out: u64,
    pub documents_failing: u64,
    pub fail_on: Vec<String>,
    /// Files read in this run, and files whose stored analysis from an
    /// earlier run was judged again instead (SPEC "Scheduled scans").
    pub read: u64,
    pub reused: u64,
    /// The state store, when the run kept one.
    pub state: Option<String>,
    /// The run the changes are against: the previous completed run over
    /// the same PATHs.
    pub baseline_run_id: Option<String>,
    /// Per policy exception in force, the verdicts it accepted (reported,
    /// not counted for --fail-on).
    pub exceptions: BTreeMap<String, u64>,
    /// Documents by change since that run (`NEW`, `REMOVED`, `CHANGED`);
    /// empty without a state store.
    pub changes: BTreeMap<String, u64>,
    /// The earlier completed runs over the same PATHs in the state store
    /// (the last 30, oldest first), for the report's trend; absent without
    /// a store or before a second run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub earlier_runs: Vec<EarlierRun>,
    /// `scan --shard I/N`: which shard of the run this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// `labelscan merge`: the run ids of the shards merged, by index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// Verdict counts per PATH walked.
    pub by_path: BTreeMap<String, VerdictCounts>,
    /// Verdict counts per top-level folder below each PATH (files directly
    /// in a PATH count under the PATH).
    pub by_folder: BTreeMap<String, VerdictCounts>,
    /// Per partner, the named releases by status (covered, exceeds,
    /// expired); parties that are no partner count under `UNKNOWN_PARTNERS`.
    pub releases: BTreeMap<String, BTreeMap<String, u64>>,
    /// Each exchange location of the policy and the files it matched.
    pub locations: Vec<LocationCount>,
    /// What a reader must not miss: empty PATHs, locations that matched
    /// nothing, PATHs not walked.
    pub warnings: Vec<String>,
}

/// The key under which releases to parties that are no partner are
/// counted: their names come from documents and are not keys of ours.
pub const UNKNOWN_PARTNERS: &str = "(not a partner)";

impl Summary {
    /// Counts one document found under `scope`.
    pub fn count(&mut self, r: &DocumentRecord, scope: Option<&Scope>) {
        self.documents += 1;
        for v in &r.judgement.verdicts {
            bump(&mut self.verdicts, v.code.as_str());
            if let Some(id) = &v.excepted {
                *self.exceptions.entry(id.clone()).or_default() += 1;
            }
        }
        if let Some(scope) = scope {
            count_verdicts(&mut self.by_path, &scope.root, r);
            count_verdicts(&mut self.by_folder, &scope.folder, r);
        }
        bump(&mut self.formats, r.format());
        let level = r.level().unwrap_or("none");
        bump(&mut self.levels, level);
        let suggested = match r.suggested_level() {
            "" => "unknown",
            name => name,
        };
        bump(&mut self.suggested_levels, suggested);
        let by_suggested = match self.level_matrix.get_mut(level) {
            Some(counts) => counts,
            None => self.level_matrix.entry(level.to_string()).or_default(),
        };
        match by_suggested.get_mut(suggested) {
            Some(count) => *count += 1,
            None => {
                by_suggested.insert(suggested.to_string(), 1);
            }
        }
        for d in r.analysis.detections.iter().filter(|d| d.fired) {
            bump(&mut self.detectors, &d.detector);
        }
        if let Some(e) = &r.analysis.error {
            bump(&mut self.errors, e.kind.as_str());
        } else if r.analysis.text_chars == 0 {
            self.documents_without_text += 1;
        }
        self.count_releases(r);
        if let Some(location) = &r.judgement.location {
            if let Some(count) = self.locations.get_mut(location.index) {
                count.files += 1;
            }
        }
    }

    fn count_releases(&mut self, r: &DocumentRecord) {
        for release in &r.judgement.releases {
            let partner = release.partner.as_deref().unwrap_or(UNKNOWN_PARTNERS);
            let by_status = match self.releases.get_mut(partner) {
                Some(counts) => counts,
                None => self.releases.entry(partner.to_string()).or_default(),
            };
            *by_status
                .entry(release.status.as_str().to_string())
                .or_default() += 1;
        }
    }

    pub fn skip(&mut self, reason: &str) {
        self.files_skipped += 1;
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }

    /// Makes sure every verdict code appears, so that scripts can read any
    /// count, and adds the warnings only the totals can tell.
    pub fn close_counts(&mut self) {
        for code in VerdictCode::ALL {
            self.verdicts.entry(code.as_str().to_string()).or_default();
        }
        for (partner, counts) in self.releases.iter_mut() {
            if partner == UNKNOWN_PARTNERS {
                continue;
            }
            for status in ReleaseStatus::ALL {
                if status != ReleaseStatus::UnknownPartner {
                    counts.entry(status.as_str().to_string()).or_default();
                }
            }
        }
        let warnings = self.warnings_of_totals();
        self.warnings.extend(warnings);
    }

    /// The warnings only the totals can tell: PATHs without documents,
    /// exchange locations that matched nothing, exceptions never used.
    pub fn warnings_of_totals(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self
            .paths_walked
            .iter()
            .filter(|p| !self.by_path.contains_key(p.as_str()))
            .map(|path| {
                format!(
                    "no documents found under {path} (an empty folder, or a share that failed to mount?)"
                )
            })
            .collect();
        warnings.extend(self.locations.iter().filter(|l| l.files == 0).map(|l| {
            format!(
                "exchange location {} ({}) matched no file",
                l.path, l.partner
            )
        }));
        warnings.extend(
            self.exceptions
                .iter()
                .filter(|(_, n)| **n == 0)
                .map(|(id, _)| format!("exception {id} accepted no verdict (unused?)")),
        );
        warnings
    }
}

/// Adds one to `counts[key]`, copying the key only the first time.
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

fn count_verdicts(counts: &mut BTreeMap<String, VerdictCounts>, key: &str, r: &DocumentRecord) {
    let by_code = match counts.get_mut(key) {
        Some(by_code) => by_code,
        None => counts.entry(key.to_string()).or_default(),
    };
    for v in &r.judgement.verdicts {
        match by_code.get_mut(v.code.as_str()) {
            Some(n) => *n += 1,
            None => {
                by_code.insert(v.code.as_str().to_string(), 1);
            }
        }
    }
}
