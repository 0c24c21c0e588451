//! A run is an audit record (SPEC): the report folder holds the previous
//! complete report set or the new complete one, whenever the scan is killed;
//! `labelscan verify` checks a set against its manifest; report files are
//! never written through links; one scan at a time writes to a folder; a
//! full disk fails the run and keeps the previous set. The real binary, on
//! generated trees.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, repo, signal};

const STAGING: &str = ".labelscan-staging";
const JOURNAL: &str = ".labelscan-commit";

fn scan_command(path: &Path, out: &Path) -> Command {
    let mut cmd = bin();
    cmd.arg("scan")
        .arg(path)
        .args(["--quiet", "--jobs", "2", "--as-of", "2026-11-23", "--out"])
        .arg(out);
    cmd
}

fn scan(path: &Path, out: &Path) -> Output {
    scan_command(path, out).output().expect("labelscan runs")
}

fn verify(out: &Path) -> Output {
    bin()
        .arg("verify")
        .arg(out)
        .output()
        .expect("labelscan runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `count` text files with a little of everything the detectors look for,
/// plus the bundled examples' Word documents, under `root/batch`.
fn make_tree(root: &Path, batch: &str, count: usize) {
    let dir = root.join(batch);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..count {
        let mut body = format!("CONFIDENTIAL\nMemo {batch}-{i} for the project team.\n");
        for line in 0..40 {
            body.push_str(&format!(
                "Line {line}: contact jane.doe{i}@example.com about invoice {i}-{line}; the quarterly figures are attached.\n"
            ));
        }
        std::fs::write(dir.join(format!("memo-{i:05}.txt")), body).unwrap();
    }
    for entry in walk_examples() {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(&entry, dir.join(name)).unwrap();
    }
}

fn walk_examples() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![repo().join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "docx") {
                found.push(path);
            }
        }
    }
    found
}

fn summary_documents(out: &Path) -> u64 {
    let text = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
    summary["documents"].as_u64().expect("documents count")
}

/// Asserts that `out` holds one complete report set that verifies, and
/// returns its number of documents. `verify` first completes or discards
/// whatever an interrupted run left.
fn assert_complete_set(out: &Path) -> (u64, String) {
    let v = verify(out);
    assert_eq!(
        v.status.code(),
        Some(0),
        "verify: {}{}",
        text(&v.stdout),
        text(&v.stderr)
    );
    assert!(!out.join(STAGING).exists(), "staging left after verify");
    assert!(!out.join(JOURNAL).exists(), "journal left after verify");
    let documents = summary_documents(out);
    let csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    let jsonl = std::fs::read_to_string(out.join("findings.jsonl")).unwrap();
    assert!(
        csv.ends_with('\n') && jsonl.ends_with('\n'),
        "a cut-off line"
    );
    let rows = csv::Reader::from_reader(csv.as_bytes()).records().count() as u64;
    assert_eq!(rows, documents, "findings.csv rows vs summary.json");
    assert_eq!(
        jsonl.lines().count() as u64,
        documents,
        "findings.jsonl lines"
    );
    for line in jsonl.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("whole JSON lines");
    }
    (documents, text(&v.stderr))
}

/// When to kill a scan.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    After(Duration),
    /// As soon as the staged manifest exists: the commit has begun.
    ManifestStaged,
    /// As soon as the commit journal exists: renames in progress.
    JournalWritten,
}

fn wait_for(child: &mut Child, point: KillPoint, out: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = || match point {
        KillPoint::After(_) => true,
        KillPoint::ManifestStaged => out.join(STAGING).join("manifest.json").exists(),
        KillPoint::JournalWritten => out.join(JOURNAL).exists(),
    };
    if let KillPoint::After(delay) = point {
        std::thread::sleep(delay);
        return;
    }
    while !ready() && Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::hint::spin_loop();
    }
}

fn killed(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(9)
}

#[test]
fn a_scan_killed_at_any_moment_leaves_a_complete_report_set() {
    let started = Instant::now();
    let tree = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    make_tree(tree.path(), "a", 2500);

    let o = scan(tree.path(), out.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let (previous, _) = assert_complete_set(out.path());

    // The tree grows, so that a new set is told from the previous one; a
    // scan of it from a copy of the folder (reports and state store, so
    // the same rescan as the killed ones: 2,500 files reused, 300 read)
    // gives the new set's count and duration.
    make_tree(tree.path(), "b", 300);
    let reference = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), reference.path().join(entry.file_name())).unwrap();
        }
    }
    let t0 = Instant::now();
    let o = scan(tree.path(), reference.path());
    let full = t0.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let (new, _) = assert_complete_set(reference.path());
    assert!(new > previous);

    // Timed kills spread over the run (the sinks write throughout it), then
    // kills at the moments the commit begins and the journal appears. A run
    // that finishes before its kill (the machine got faster) does not
    // count: the estimate shrinks to it and another timed point is added.
    let mut points: std::collections::VecDeque<KillPoint> = (1..=16)
        .map(|i| KillPoint::After(full.mul_f64(i as f64 / 17.0)))
        .collect();
    points.extend([KillPoint::ManifestStaged; 4]);
    points.extend([KillPoint::JournalWritten; 4]);
    let mut estimate = full;
    let mut extra_points = 0;
    // A commit moment can pass between two looks (a descheduled test
    // thread, a file system whose fsync is free): such a point is tried
    // again, up to 16 times in all.
    let mut moments_again = 0;
    let (mut kills, mut kept, mut replaced, mut completed_by_verify, mut finished) =
        (0, 0, 0, 0, 0);
    while let Some(point) = points.pop_front() {
        let before = std::fs::read(out.path().join("manifest.json")).unwrap();
        let spawned = Instant::now();
        let mut child = scan_command(tree.path(), out.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(&mut child, point, out.path());
        let _ = child.kill();
        let status = child.wait().unwrap();
        if killed(status) {
            kills += 1;
        } else {
            assert_eq!(status.code(), Some(0), "{point:?}");
            finished += 1;
            if matches!(point, KillPoint::After(_)) && extra_points < 8 {
                estimate = spawned.elapsed().mul_f64(0.9).min(estimate);
                extra_points += 1;
                points.push_front(KillPoint::After(
                    estimate.mul_f64(0.5 + extra_points as f64 / 18.0),
                ));
            } else if !matches!(point, KillPoint::After(_)) && moments_again < 16 {
                moments_again += 1;
                points.push_back(point);
            }
        }
        let (documents, notes) = assert_complete_set(out.path());
        if notes.contains("completed the interrupted commit") {
            completed_by_verify += 1;
        }
        // Verified against an unchanged manifest: exactly the previous set.
        if std::fs::read(out.path().join("manifest.json")).unwrap() == before {
            assert!(documents == previous || documents == new);
            kept += 1;
        } else {
            assert_eq!(
                documents, new,
                "{point:?}: neither the previous set nor the new one"
            );
            replaced += 1;
        }
    }
    eprintln!(
        "kill test: reference rescan {:.2}s; {kills} scans killed, {finished} finished before their kill; \
         previous set kept {kept}, new set {replaced} ({completed_by_verify} completed by verify \
         from the journal); total {:.1}s",
        full.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 20, "at least 20 kill points hit a running scan");
    assert!(kept > 0, "some kills land before the commit");
}

#[test]
fn links_planted_in_the_report_folder_are_not_followed() {
    let victims = tempfile::tempdir().unwrap();
    let victim = victims.path().join("victim");
    let victim_dir = victims.path().join("victim-dir");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::create_dir(&victim_dir).unwrap();
    std::fs::write(victim_dir.join("keep.txt"), "keep\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = out.path();
    std::os::unix::fs::symlink(&victim, o.join("summary.json")).unwrap();
    std::os::unix::fs::symlink(&victim, o.join("findings.csv")).unwrap();
    std::os::unix::fs::symlink(&victim_dir, o.join(STAGING)).unwrap();

    let result = scan(&repo().join("examples"), o);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let left: Vec<_> = std::fs::read_dir(&victim_dir).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing written into the linked folder");
    for name in ["summary.json", "findings.csv"] {
        let meta = std::fs::symlink_metadata(o.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is now a report file, not the link");
    }
    assert_complete_set(o);
}

#[test]
fn a_linked_lock_file_is_refused() {
    let victims = tempfile::tempdir().unwrap();
    let victim = victims.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&victim, out.path().join(".labelscan.lock")).unwrap();
    let result = scan(&repo().join("examples"), out.path());
    assert_eq!(result.status.code(), Some(5), "{}", text(&result.stderr));
    assert!(
        text(&result.stderr).contains("symbolic link"),
        "{}",
        text(&result.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn a_second_scan_on_the_same_folder_is_refused() {
    let tree = tempfile::tempdir().unwrap();
    make_tree(tree.path(), "a", 1500);
    let out = tempfile::tempdir().unwrap();
    let mut first = scan_command(tree.path(), out.path()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !out.path().join(STAGING).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        out.path().join(STAGING).exists(),
        "the first scan never began"
    );
    // Stopped, the first scan holds the folder for as long as the second
    // takes: a fast first scan cannot finish before the second starts.
    signal(&first, libc::SIGSTOP);
    let second = scan(&repo().join("examples"), out.path());
    signal(&first, libc::SIGCONT);
    let first_status = first.wait().unwrap();
    assert_eq!(second.status.code(), Some(6), "{}", text(&second.stderr));
    let message = text(&second.stderr);
    assert!(
        message.contains("in use by another labelscan")
            && message.contains(&format!("pid {}", first.id())),
        "{message}"
    );
    assert_eq!(first_status.code(), Some(0));
    let (documents, _) = assert_complete_set(out.path());
    assert!(documents >= 1500, "the first scan's reports, not a mix");
}

/// A report folder holding a complete set (and that set's summary.json),
/// and a tree of 400 files to scan into it.
fn a_set_and_a_tree_to_scan() -> (tempfile::TempDir, Vec<u8>, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let o = scan(&repo().join("examples"), out.path());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let before = std::fs::read(out.path().join("summary.json")).unwrap();
    let tree = tempfile::tempdir().unwrap();
    make_tree(tree.path(), "a", 400);
    (out, before, tree)
}

#[test]
fn a_full_disk_fails_the_run_and_keeps_the_previous_set() {
    let (out, before, tree) = a_set_and_a_tree_to_scan();
    // A file-size limit of 16 blocks stands in for a full disk: writes
    // beyond it fail (EFBIG) as they would with ENOSPC.
    let full = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 16 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_labelscan"))
        .args(scan_command(tree.path(), out.path()).get_args())
        // The report set's full disk; a state store on a full disk fails
        // earlier (see the next test).
        .arg("--no-state")
        .output()
        .unwrap();
    let message = text(&full.stderr);
    assert_eq!(full.status.code(), Some(5), "{message}");
    assert!(
        message.contains(&format!("writing reports to {}", out.path().display()))
            && message.contains("File too large"),
        "{message}"
    );
    assert!(!out.path().join(STAGING).exists(), "staging removed");
    assert_eq!(
        std::fs::read(out.path().join("summary.json")).unwrap(),
        before
    );
    assert_complete_set(out.path());
}

#[test]
fn a_full_disk_under_the_state_store_is_a_write_failure() {
    let (out, before, tree) = a_set_and_a_tree_to_scan();
    let state = out.path().join("new-store.sqlite");
    let full = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 2 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_labelscan"))
        .args(scan_command(tree.path(), out.path()).get_args())
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    let message = text(&full.stderr);
    // Exit 5 as for the reports (not 2, which says the store is no store).
    assert_eq!(full.status.code(), Some(5), "{message}");
    assert!(message.contains("state store"), "{message}");
    assert_eq!(
        std::fs::read(out.path().join("summary.json")).unwrap(),
        before
    );
    assert_complete_set(out.path());
}

#[test]
fn verify_finds_a_changed_byte_a_missing_file_and_a_stray_report() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path();
    let result = scan(&repo().join("examples"), o);
    assert_eq!(result.status.code(), Some(0), "{}", text(&result.stderr));
    assert_complete_set(o);

    let csv = o.join("findings.csv");
    let mut bytes = std::fs::read(&csv).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&csv, &bytes).unwrap();
    let v = verify(o);
    assert_eq!(v.status.code(), Some(4));
    assert!(
        text(&v.stdout).contains("MISMATCH  findings.csv"),
        "{}",
        text(&v.stdout)
    );

    std::fs::remove_file(o.join("findings.jsonl")).unwrap();
    let v = verify(o);
    assert_eq!(v.status.code(), Some(4));
    assert!(
        text(&v.stdout).contains("MISSING   findings.jsonl"),
        "{}",
        text(&v.stdout)
    );

    let manifest_path = o.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    manifest["files"]
        .as_object_mut()
        .unwrap()
        .remove("summary.json");
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let v = verify(o);
    assert_eq!(v.status.code(), Some(4));
    assert!(
        text(&v.stdout).contains("EXTRA     summary.json"),
        "{}",
        text(&v.stdout)
    );

    let no_manifest = tempfile::tempdir().unwrap();
    assert_eq!(verify(no_manifest.path()).status.code(), Some(2));
    assert!(!no_manifest.path().join(".labelscan.lock").exists());
}

#[test]
fn a_report_folder_inside_the_scanned_folder_is_not_scanned() {
    let tree = tempfile::tempdir().unwrap();
    make_tree(tree.path(), "a", 20);
    for _ in 0..2 {
        let o = scan(tree.path(), tree.path());
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let csv = std::fs::read_to_string(tree.path().join("findings.csv")).unwrap();
    assert!(!csv.contains(STAGING), "the staging folder was scanned");
    for own in [
        "findings.csv",
        "findings.jsonl",
        "summary.json",
        "skipped.csv",
        "manifest.json",
    ] {
        assert!(
            !csv.contains(&format!("/{own},")),
            "the previous run's {own} was scanned"
        );
    }
    assert_complete_set(tree.path());

    let out = tree.path().join("reports");
    for _ in 0..2 {
        let o = scan(tree.path(), &out);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    let csv = std::fs::read_to_string(out.join("findings.csv")).unwrap();
    assert!(!csv.contains("reports/"), "the report folder was scanned");
}
