//! A scan with a state store (SPEC "Scheduled scans"): files unchanged
//! since the last completed run are not read again but their stored
//! analyses are judged afresh; every document's outcome is recorded; the
//! changes since the baseline run become `changes.csv` / `changes.jsonl`;
//! and the run is committed to the store only after its reports.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::judge::judge_analysis;
use crate::model::job::location_path;
use crate::model::{
    Analysis, Change, ChangeKind, DocumentRecord, DocumentState, ErrorKind, ExtractError, FileJob,
    Skip,
};
use crate::pipeline::{inspect_file, unreadable_outcome, Context, EarlyRows, FileOutcome, Pace};
use crate::report::changes::ChangesWriter;
use crate::report::summary::EarlierRun;
use crate::report::{RecordSink, ReportSet, Summary, CHANGES_CSV_FILE, CHANGES_JSONL_FILE};
use crate::scan::Inspector;
use crate::store::{
    FileIdentity, RunRecord, StatePair, Store, StoreError, StoredFile, StoredOutcome,
};
use crate::walk::Shard;

type SharedStore = Arc<RwLock<Box<dyn Store>>>;

fn read(store: &SharedStore) -> RwLockReadGuard<'_, Box<dyn Store>> {
    store.read().unwrap_or_else(|e| e.into_inner())
}

fn write(store: &SharedStore) -> RwLockWriteGuard<'_, Box<dyn Store>> {
    store.write().unwrap_or_else(|e| e.into_inner())
}

/// A run being written to a state store.
pub struct StateRun {
    store: SharedStore,
    /// Where the store lives, for the summary and messages.
    location: String,
    run: RunRecord,
    baseline: Option<RunRecord>,
    /// The walked PATHs as absolute paths: stored files below them that
    /// this run did not see are dropped when it commits.
    roots: Vec<String>,
    reused: Arc<AtomicU64>,
}

impl StateRun {
    /// Finds the baseline of the run's scope and starts writing the run;
    /// refuses while another scan writes to the store.
    pub fn begin(
        mut store: Box<dyn Store>,
        location: &str,
        ctx: &Context,
        summary: &Summary,
        roots: &[PathBuf],
    ) -> Result<StateRun, StoreError> {
        let run = RunRecord {
            seq: 0,
            run_id: summary.run_id.clone(),
            scope: scope_of(&summary.paths_resolved, summary.shard),
            paths: serde_json::to_string(&summary.paths).unwrap_or_default(),
            options: serde_json::to_string(&summary.options).unwrap_or_default(),
            policy_sha256: summary.policy_sha256.clone(),
            tool_version: summary.version.to_string(),
            detectors_sha256: summary.detectors_sha256.clone(),
            analysis_fingerprint: ctx.analyser.fingerprint().to_string(),
            as_of: summary.as_of.clone(),
            started_at: summary.started_at.clone(),
            finished_at: String::new(),
            complete: summary.complete,
            show_values: summary.show_values,
            counts: String::new(),
        };
        let baseline = store.baseline(&run.scope)?;
        store.begin_run(&run)?;
        Ok(StateRun {
            store: Arc::new(RwLock::new(store)),
            location: location.to_string(),
            run,
            baseline,
            roots: roots.iter().map(|r| location_path(r)).collect(),
            reused: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The per-file work of the run: reuse where the store allows, else the
    /// pipeline, whose results are stored. With `full`, every file is read.
    pub fn inspector(&self, ctx: Arc<Context>, full: bool) -> Arc<dyn Inspector> {
        Arc::new(Incremental {
            fingerprint: ctx.analyser.fingerprint().to_string(),
            ctx,
            store: Arc::clone(&self.store),
            full,
            reused: Arc::clone(&self.reused),
        })
    }

    /// The sink that records each document's outcome and, at the end,
    /// writes the change reports into `set`.
    pub fn sink(&self, set: &ReportSet) -> Box<dyn RecordSink> {
        Box::new(StateSink {
            store: Arc::clone(&self.store),
            location: self.location.clone(),
            run: self.run.clone(),
            baseline: self.baseline.clone(),
            reused: Arc::clone(&self.reused),
            csv: set.path_of(CHANGES_CSV_FILE),
            jsonl: set.path_of(CHANGES_JSONL_FILE),
        })
    }

    /// What committing the run involves that may be done before its reports
    /// are committed (see [`Store::prepare_commit`]): call once every sink
    /// has finished, beside the reports' last steps.
    pub fn prepare_commit(&self) -> Result<(), StoreError> {
        write(&self.store).prepare_commit(&self.roots)
    }

    /// Files whose stored analyses the run's workers judged again on other
    /// hosts (a multi-host run): counted as reused, not read.
    pub fn add_reused(&self, files: u64) {
        self.reused.fetch_add(files, Ordering::Relaxed);
    }

    /// Writes what other hosts' workers made of the run's files (a
    /// multi-host run), as this run's own inspection would have written it.
    pub fn take_in(
        &self,
        files: Vec<StoredFile>,
        seen: Vec<String>,
        documents: Vec<DocumentState>,
    ) {
        let store = read(&self.store);
        for file in files {
            store.save_file(file);
        }
        for key in &seen {
            store.file_seen(key);
        }
        for state in documents {
            store.save_document(state);
        }
    }

    /// Makes the run the baseline of its scope. Call only after the run's
    /// reports are committed.
    pub fn commit(mut self, summary: &Summary) -> Result<(), StoreError> {
        self.run.finished_at = summary.finished_at.clone();
        self.run.complete = summary.complete;
        self.run.counts = counts_json(summary);
        write(&self.store).commit_run(&self.run, &self.roots)
    }
}

/// The per-file work of one work unit of a multi-host run: reuse through
/// `store`'s lookups, else the pipeline, whose results go to `store`'s
/// writes. Returns the inspector and its count of files reused.
pub fn unit_inspector(
    ctx: Arc<Context>,
    store: Box<dyn Store>,
    full: bool,
) -> (Arc<dyn Inspector>, Arc<AtomicU64>) {
    let reused = Arc::new(AtomicU64::new(0));
    let inspector = Arc::new(Incremental {
        fingerprint: ctx.analyser.fingerprint().to_string(),
        ctx,
        store: Arc::new(RwLock::new(store)),
        full,
        reused: Arc::clone(&reused),
    });
    (inspector, reused)
}

/// Runs compare with earlier runs over the same resolved PATHs (and the
/// same shard of them: a shard's baseline is the same shard's last run).
pub fn scope_of(resolved: &[String], shard: Option<Shard>) -> String {
    let mut paths = resolved.to_vec();
    paths.sort();
    let paths = paths.join("\n");
    match shard {
        Some(s) => format!("{paths}\n--shard {}/{}", s.index, s.count),
        None => paths,
    }
}

/// How many earlier runs `summary.json` lists for the report's trend.
const EARLIER_RUNS: usize = 30;

/// The last completed runs over `scope`, oldest first, with their counts;
/// none when the store cannot tell (the trend is then left out).
fn earlier_runs(store: &dyn Store, scope: &str) -> Vec<EarlierRun> {
    let Ok(runs) = store.runs() else {
        return Vec::new();
    };
    let over_scope: Vec<_> = runs.into_iter().filter(|r| r.scope == scope).collect();
    let skip = over_scope.len().saturating_sub(EARLIER_RUNS);
    over_scope
        .into_iter()
        .skip(skip)
        .map(|r| {
            let counts: serde_json::Value = serde_json::from_str(&r.counts).unwrap_or_default();
            EarlierRun {
                run_id: r.run_id,
                finished_at: r.finished_at,
                documents: counts["documents"].as_u64().unwrap_or(0),
                verdicts: serde_json::from_value(counts["verdicts"].clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// The counts `history` shows.
fn counts_json(s: &Summary) -> String {
    serde_json::json!({
        "files": s.files_scanned,
        "documents": s.documents,
        "read": s.read,
        "reused": s.reused,
        "documents_failing": s.documents_failing,
        "verdicts": s.verdicts,
        "changes": s.changes,
    })
    .to_string()
}

/// The inspector of a run with a state store.
struct Incremental {
    ctx: Arc<Context>,
    store: SharedStore,
    fingerprint: String,
    full: bool,
    reused: Arc<AtomicU64>,
}

/// Passes rows written early on, and notes that some were: the outcome
/// then lacks them, so the file is not stored (its next run reads it again).
struct Noting<'a> {
    early: &'a mut dyn EarlyRows,
    handed: bool,
}

impl EarlyRows for Noting<'_> {
    fn rows(&mut self, records: Vec<DocumentRecord>, skipped: Vec<Skip>) -> Pace {
        self.handed = true;
        self.early.rows(records, skipped)
    }
    fn waited(&mut self, more: std::time::Duration) {
        self.early.waited(more)
    }
}

impl Inspector for Incremental {
    fn inspect(&self, job: &FileJob, early: &mut dyn EarlyRows) -> FileOutcome {
        let identity = job.origin.identity;
        if let (false, Some(identity)) = (self.full, identity) {
            if let Some(outcome) = self.reuse(job, identity) {
                self.reused.fetch_add(1, Ordering::Relaxed);
                return outcome;
            }
        }
        let mut noting = Noting {
            early,
            handed: false,
        };
        let outcome = inspect_file(job, &self.ctx, &mut noting);
        if noting.handed {
            return outcome;
        }
        if let (Some(identity), Some(stored)) = (identity, stored_outcome(job, &outcome)) {
            read(&self.store).save_file(StoredFile {
                key: job.location_path.clone(),
                identity,
                fingerprint: self.fingerprint.clone(),
                outcome: stored,
            });
        }
        outcome
    }

    fn failed(&self, job: &FileJob, error: ExtractError) -> FileOutcome {
        unreadable_outcome(job, error, &self.ctx)
    }
}

impl Incremental {
    /// The file's outcome from its stored analysis, if that is still valid:
    /// same identity, made with the same fingerprint. A store that cannot
    /// be read costs a re-read, never the file.
    fn reuse(&self, job: &FileJob, identity: FileIdentity) -> Option<FileOutcome> {
        let store = read(&self.store);
        let stored = store.stored_file(&job.location_path).ok()??;
        if stored.identity != identity || stored.fingerprint != self.fingerprint {
            return None;
        }
        store.file_seen(&job.location_path);
        Some(rejudged(job, stored.outcome, &self.ctx))
    }
}

/// Errors that say something about the machine or this run's options
/// rather than the file: their results are not kept, so the next run
/// tries again.
fn worth_storing(analysis: &Analysis) -> bool {
    !matches!(
        analysis.error.as_ref().map(|e| e.kind),
        Some(
            ErrorKind::Timeout
                | ErrorKind::Io
                | ErrorKind::Internal
                | ErrorKind::PermissionDenied
                | ErrorKind::TooLarge
        )
    )
}

/// The member part of a document path (`a.zip!/dir/m.docx` -> `dir/m.docx`),
/// empty for the file itself.
fn member_of(path: &str, file: &str) -> String {
    path.strip_prefix(file)
        .and_then(|rest| rest.strip_prefix("!/"))
        .unwrap_or_default()
        .to_string()
}

fn with_member(file: &str, member: &str) -> String {
    if member.is_empty() {
        file.to_string()
    } else {
        format!("{file}!/{member}")
    }
}

/// What to store of a fresh outcome: every document of the file (archive
/// members too), without paths, which the next run takes from its walk.
fn stored_outcome(job: &FileJob, outcome: &FileOutcome) -> Option<StoredOutcome> {
    match outcome {
        FileOutcome::Skipped(skip) => Some(StoredOutcome {
            skipped: Some(skip.reason.clone()),
            ..Default::default()
        }),
        FileOutcome::Records {
            records, skipped, ..
        } => {
            if !records.iter().all(|r| worth_storing(&r.analysis)) {
                return None;
            }
            Some(StoredOutcome {
                documents: records
                    .iter()
                    .map(|r| (member_of(&r.path, &job.display_path), r.analysis.clone()))
                    .collect(),
                skipped_members: skipped
                    .iter()
                    .map(|s| (member_of(&s.path, &job.display_path), s.reason.clone()))
                    .collect(),
                skipped: None,
            })
        }
    }
}

/// A stored outcome judged with this run's policy and date, as the
/// pipeline would have judged a fresh one.
fn rejudged(job: &FileJob, stored: StoredOutcome, ctx: &Context) -> FileOutcome {
    if let Some(reason) = stored.skipped {
        return FileOutcome::Skipped(Skip {
            path: job.display_path.clone(),
            reason,
        });
    }
    let records = stored
        .documents
        .into_iter()
        .map(|(member, analysis)| {
            let location = with_member(&job.location_path, &member);
            let judgement = judge_analysis(&analysis, &location, &ctx.policy, ctx.as_of);
            let path = with_member(&job.display_path, &member);
            DocumentRecord::new(path, analysis, judgement, ctx.levels.clone())
                .with_origin(job.origin.clone())
        })
        .collect();
    let skipped = stored
        .skipped_members
        .into_iter()
        .map(|(member, reason)| Skip {
            path: with_member(&job.display_path, &member),
            reason,
        })
        .collect();
    FileOutcome::Records {
        size: job.size,
        records,
        skipped,
    }
}

/// A document's outcome as the store keeps it.
pub fn document_state(r: &DocumentRecord) -> DocumentState {
    let codes: Vec<&str> = r
        .judgement
        .verdicts
        .iter()
        .map(|v| v.code.as_str())
        .collect();
    DocumentState {
        path: r.path.clone(),
        level: r.level().unwrap_or_default().to_string(),
        suggested: r.suggested_level().to_string(),
        verdicts: codes.join(";"),
        sha256: r.analysis.sha256.clone(),
        excepted: r.judgement.excepted().join(";"),
    }
}

/// Records each document's outcome; at the end, compares with the baseline.
struct StateSink {
    store: SharedStore,
    location: String,
    run: RunRecord,
    baseline: Option<RunRecord>,
    reused: Arc<AtomicU64>,
    csv: PathBuf,
    jsonl: PathBuf,
}

impl RecordSink for StateSink {
    fn record(&mut self, record: &DocumentRecord) -> std::io::Result<()> {
        read(&self.store).save_document(document_state(record));
        Ok(())
    }

    fn conclude(&mut self, summary: &mut Summary) -> std::io::Result<()> {
        let reused = self.reused.load(Ordering::Relaxed);
        summary.reused = reused;
        summary.read = summary.read.saturating_sub(reused);
        summary.state = Some(self.location.clone());
        summary.baseline_run_id = self.baseline.as_ref().map(|b| b.run_id.clone());
        summary.earlier_runs = earlier_runs(&**read(&self.store), &self.run.scope);
        let mut counts: BTreeMap<String, u64> = ChangeKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), 0))
            .collect();
        let mut writer = ChangesWriter::create(&self.csv, &self.jsonl)?;
        let (baseline, run) = (self.baseline.as_ref(), &self.run);
        write(&self.store)
            .compare(&mut |pair| {
                let change = change_of(pair, baseline, run);
                *counts.entry(change.kind.as_str().to_string()).or_default() += 1;
                writer.write(&change)
            })
            .map_err(std::io::Error::other)?;
        writer.finish()?;
        summary.changes = counts;
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
        Ok(())
    }
}

/// A document's change since the baseline, and its most likely cause.
fn change_of(pair: StatePair, baseline: Option<&RunRecord>, run: &RunRecord) -> Change {
    let (before, after) = pair;
    let (kind, cause) = match (&before, &after, baseline) {
        (None, _, None) => (ChangeKind::New, "first_run"),
        (None, _, Some(_)) => (ChangeKind::New, "new"),
        (Some(_), None, _) => (ChangeKind::Removed, "removed"),
        (Some(b), Some(a), base) => (ChangeKind::Changed, cause_of(b, a, base, run)),
    };
    Change {
        kind,
        before,
        after,
        cause: cause.to_string(),
    }
}

fn cause_of(
    before: &DocumentState,
    after: &DocumentState,
    baseline: Option<&RunRecord>,
    run: &RunRecord,
) -> &'static str {
    let has = |s: &DocumentState, code: &str| s.verdicts.split(';').any(|c| c == code);
    if before.sha256 != after.sha256 {
        return "content_changed";
    }
    let Some(base) = baseline else {
        return "other";
    };
    if base.tool_version != run.tool_version || base.detectors_sha256 != run.detectors_sha256 {
        return "tool_changed";
    }
    if base.policy_sha256 != run.policy_sha256 {
        return "policy_changed";
    }
    if base.as_of != run.as_of {
        let expired = "RELEASE_AGREEMENT_EXPIRED";
        if has(after, expired) && !has(before, expired) {
            return "agreement_expired";
        }
        if after.excepted.len() < before.excepted.len() {
            return "exception_expired";
        }
        return "as_of_changed";
    }
    if has(before, "UNREADABLE") || has(after, "UNREADABLE") {
        return "readability_changed";
    }
    "other"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(sha: &str, verdicts: &str) -> DocumentState {
        DocumentState {
            path: "a".into(),
            sha256: sha.into(),
            verdicts: verdicts.into(),
            ..Default::default()
        }
    }

    #[test]
    fn causes_name_what_differs_first() {
        let base = RunRecord {
            as_of: "2026-01-01".into(),
            ..Default::default()
        };
        let later = RunRecord {
            as_of: "2028-01-01".into(),
            ..Default::default()
        };
        let (ok, expired) = (state("x", "OK"), state("x", "RELEASE_AGREEMENT_EXPIRED"));
        assert_eq!(
            cause_of(&ok, &state("y", "UNLABELED"), Some(&base), &later),
            "content_changed"
        );
        assert_eq!(
            cause_of(&ok, &expired, Some(&base), &later),
            "agreement_expired"
        );
        let policy = RunRecord {
            policy_sha256: "p2".into(),
            ..base.clone()
        };
        assert_eq!(
            cause_of(&ok, &expired, Some(&base), &policy),
            "policy_changed"
        );
    }

    #[test]
    fn members_round_trip() {
        assert_eq!(member_of("a.zip!/d/m.docx", "a.zip"), "d/m.docx");
        assert_eq!(member_of("a.txt", "a.txt"), "");
        assert_eq!(with_member("a.zip", "d/m.docx"), "a.zip!/d/m.docx");
        assert_eq!(with_member("a.txt", ""), "a.txt");
    }
}
