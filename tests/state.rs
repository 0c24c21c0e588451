//! Scheduled scans (SPEC "Scheduled scans"): a state store beside the
//! reports makes a rescan read only what changed, judge everything afresh
//! and say what changed since the last completed run. The real binary,
//! a real SQLite file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::reports::{changes, copy_dir, count, csv_rows, scan, scan_command, summary};
use common::{bin, repo, signal, stderr};

const APEX: &str = "policies/examples/apex-precision.toml";

/// The bundled examples, copied so that the tests may change them.
fn example_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples"), dir.path());
    dir
}

fn text_tree(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..count {
        std::fs::write(
            dir.path().join(format!("memo-{i:03}.txt")),
            format!("INTERNAL\nMemo {i}: contact a.b{i}@example.com.\n"),
        )
        .unwrap();
    }
    dir
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_in(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

#[test]
fn an_unchanged_tree_is_not_read_again_and_gives_the_same_findings() {
    let tree = example_tree();
    let out = tempfile::tempdir().unwrap();
    let apex = ["--policy", APEX, "--as-of", "2026-11-23"];
    scan(tree.path(), out.path(), &apex);
    let files = count(out.path(), "files_scanned");
    assert_eq!(count(out.path(), "read"), files);
    assert_eq!(
        summary(out.path())["changes"]["NEW"],
        count(out.path(), "documents")
    );
    let first_csv = std::fs::read(out.path().join("findings.csv")).unwrap();
    let first_jsonl = std::fs::read(out.path().join("findings.jsonl")).unwrap();
    let before_tree = files_in(tree.path());

    let o = scan_command(
        tree.path(),
        out.path(),
        &["--policy", APEX, "--as-of", "2026-11-23"],
    )
    .output()
    .unwrap();
    assert_eq!(count(out.path(), "read"), 0);
    assert_eq!(count(out.path(), "reused"), files);
    assert_eq!(
        std::fs::read(out.path().join("findings.csv")).unwrap(),
        first_csv
    );
    assert_eq!(
        std::fs::read(out.path().join("findings.jsonl")).unwrap(),
        first_jsonl
    );
    assert!(changes(out.path(), tree.path()).is_empty());
    assert_eq!(summary(out.path())["changes"]["CHANGED"], 0);
    assert!(stderr(&o).is_empty(), "--quiet: {}", stderr(&o));
    assert_eq!(
        files_in(tree.path()),
        before_tree,
        "nothing written into the tree"
    );
    let v = bin().arg("verify").arg(out.path()).output().unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );

    // --full reads everything again, and finds the same.
    scan(
        tree.path(),
        out.path(),
        &["--policy", APEX, "--as-of", "2026-11-23", "--full"],
    );
    assert_eq!(count(out.path(), "read"), files);
    assert_eq!(
        std::fs::read(out.path().join("findings.csv")).unwrap(),
        first_csv
    );
}

#[test]
fn changed_added_and_deleted_files_are_exactly_the_change_rows() {
    let tree = text_tree(20);
    let out = tempfile::tempdir().unwrap();
    scan(tree.path(), out.path(), &[]);
    let t = tree.path();
    std::fs::write(t.join("memo-003.txt"), "No label here.\n").unwrap();
    std::fs::write(t.join("memo-100.txt"), "INTERNAL\nA new memo.\n").unwrap();
    std::fs::remove_file(t.join("memo-007.txt")).unwrap();
    // Touched but judged the same: read again, no change row.
    std::fs::write(
        t.join("memo-009.txt"),
        "INTERNAL\nMemo 9, reworded: mail a.b9@example.com.\n",
    )
    .unwrap();
    let o = scan_command(t, out.path(), &[]).output().unwrap();
    assert_eq!(
        changes(out.path(), t),
        vec![
            (
                "CHANGED".into(),
                "memo-003.txt".into(),
                "content_changed".into()
            ),
            ("REMOVED".into(), "memo-007.txt".into(), "removed".into()),
            ("NEW".into(), "memo-100.txt".into(), "new".into()),
        ]
    );
    let row = &csv_rows(&out.path().join("changes.csv"))[0];
    assert_eq!(
        (
            row["verdicts_before"].as_str(),
            row["verdicts_after"].as_str()
        ),
        ("OK", "UNLABELED")
    );
    assert_eq!(
        (row["level_before"].as_str(), row["level_after"].as_str()),
        ("INTERNAL", "")
    );
    assert_eq!(count(out.path(), "read"), 3);
    assert_eq!(count(out.path(), "reused"), 17);
    let s = summary(out.path());
    assert_eq!(
        (
            s["changes"]["NEW"].as_u64(),
            s["changes"]["REMOVED"].as_u64(),
            s["changes"]["CHANGED"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let jsonl = std::fs::read_to_string(out.path().join("changes.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 3);
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["verdicts_after"], serde_json::json!(["UNLABELED"]));
    assert!(stderr(&o).is_empty());
    let o = scan_command(t, out.path(), &[])
        .arg("--quiet")
        .output()
        .unwrap();
    let _ = o;
    let loud = bin()
        .arg("scan")
        .arg(t)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        stderr(&loud).contains("0 documents changed since run"),
        "{}",
        stderr(&loud)
    );
}

#[test]
fn an_agreement_that_expires_flips_releases_without_reading_any_file() {
    let tree = example_tree();
    let out = tempfile::tempdir().unwrap();
    scan(
        tree.path(),
        out.path(),
        &["--policy", APEX, "--as-of", "2026-11-23"],
    );
    scan(
        tree.path(),
        out.path(),
        &["--policy", APEX, "--as-of", "2027-03-15"],
    );
    assert_eq!(count(out.path(), "read"), 0);
    let rows = csv_rows(&out.path().join("changes.csv"));
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row["change"], "CHANGED");
        assert_eq!(row["cause"], "agreement_expired", "{row:?}");
        assert!(row["verdicts_after"].contains("RELEASE_AGREEMENT_EXPIRED"));
        assert!(
            !row["verdicts_before"].contains("RELEASE_AGREEMENT_EXPIRED")
                || row["verdicts_before"] != row["verdicts_after"]
        );
    }
    let findings = csv_rows(&out.path().join("findings.csv"));
    let flipped = rows.iter().filter(|r| {
        findings
            .iter()
            .any(|f| f["path"] == r["path"] && f["verdicts"].contains("RELEASE_AGREEMENT_EXPIRED"))
    });
    assert_eq!(flipped.count(), rows.len());
}

/// The apex policy with `extra` appended, in a file of its own.
fn policy_with(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(APEX)).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("{text}\n{extra}\n")).unwrap();
    path
}

#[test]
fn a_keyword_change_reads_everything_and_a_partner_change_nothing() {
    let tree = example_tree();
    let out = tempfile::tempdir().unwrap();
    let policies = tempfile::tempdir().unwrap();
    let as_of = ["--as-of", "2026-11-23", "--policy"];
    scan(
        tree.path(),
        out.path(),
        &as_of.iter().copied().chain([APEX]).collect::<Vec<_>>(),
    );
    let files = count(out.path(), "files_scanned");

    let partner = policy_with(
        policies.path(),
        "partner.toml",
        "[[partners]]\nname = \"Gamma Freight\"\nagreement = \"NDA-1\"\nmax_level = \"INTERNAL\"\nvalid_from = 2025-01-01\nvalid_until = 2030-01-01\n",
    );
    let mut args: Vec<&str> = as_of.to_vec();
    args.push(partner.to_str().unwrap());
    scan(tree.path(), out.path(), &args);
    assert_eq!(count(out.path(), "read"), 0, "partners are judgement only");
    assert_eq!(count(out.path(), "reused"), files);

    let keyword = policy_with(
        policies.path(),
        "keyword.toml",
        "[[keywords]]\nid = \"project-zephyr\"\ncategory = \"IP\"\nterms = [\"Zephyr\"]\nlevel = \"CONFIDENTIAL\"\n",
    );
    let mut args: Vec<&str> = as_of.to_vec();
    args.push(keyword.to_str().unwrap());
    scan(tree.path(), out.path(), &args);
    assert_eq!(
        count(out.path(), "read"),
        files,
        "a keyword changes what is detected"
    );
    assert_eq!(count(out.path(), "reused"), 0);
}

#[test]
fn without_a_store_nothing_is_kept_and_history_lists_the_runs() {
    let tree = text_tree(3);
    let out = tempfile::tempdir().unwrap();
    scan(tree.path(), out.path(), &["--no-state"]);
    assert!(!out.path().join("labelscan.sqlite").exists());
    assert!(!out.path().join("changes.csv").exists());
    assert_eq!(count(out.path(), "read"), 3);

    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("nightly.sqlite");
    let state_arg = ["--state", state.to_str().unwrap()];
    scan(tree.path(), out.path(), &state_arg);
    scan(tree.path(), out.path(), &state_arg);
    let h = bin()
        .args(["history", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(h.status.code(), Some(0), "{}", stderr(&h));
    let listing = String::from_utf8_lossy(&h.stdout).to_string();
    assert_eq!(
        listing.lines().filter(|l| l.contains(" yes ")).count(),
        2,
        "{listing}"
    );
    assert!(listing.contains("OK 3"), "{listing}");
    let h = bin()
        .args(["history", "--json", "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let runs: Vec<serde_json::Value> = String::from_utf8_lossy(&h.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["counts"]["reused"], 3);
    assert_eq!(runs[1]["counts"]["read"], 0);

    let missing = bin()
        .args(["history", "--state", "/nonexistent/x.sqlite"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    std::fs::write(
        state_dir.path().join("junk.sqlite"),
        "not a database at all, honestly",
    )
    .unwrap();
    let junk = scan_command(tree.path(), out.path(), &["--state"])
        .arg(state_dir.path().join("junk.sqlite"))
        .output()
        .unwrap();
    assert_eq!(junk.status.code(), Some(2), "{}", stderr(&junk));
    assert!(stderr(&junk).contains("state store"), "{}", stderr(&junk));
}

/// Runs in the store, from `history --json`.
fn runs_in(state: &Path) -> usize {
    run_ids_in(state).len()
}

/// The run ids of the completed runs in a store, oldest first.
fn run_ids_in(state: &Path) -> Vec<String> {
    let h = bin()
        .args(["history", "--json", "--state"])
        .arg(state)
        .output()
        .unwrap();
    String::from_utf8_lossy(&h.stdout)
        .lines()
        .map(|line| {
            let run: serde_json::Value = serde_json::from_str(line).unwrap();
            run["run_id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn memo_tree(root: &Path, batch: &str, count: usize) {
    let dir = root.join(batch);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..count {
        let mut body = format!("CONFIDENTIAL\nMemo {batch}-{i}.\n");
        for line in 0..40 {
            body.push_str(&format!(
                "Line {line}: mail jane{i}@example.com about invoice {i}-{line}.\n"
            ));
        }
        std::fs::write(dir.join(format!("memo-{i:05}.txt")), body).unwrap();
    }
}

#[test]
fn a_killed_scan_leaves_the_store_as_after_the_previous_run() {
    let tree = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    memo_tree(tree.path(), "a", 1500);
    scan(tree.path(), out.path(), &[]);
    let state = out.path().join("labelscan.sqlite");
    assert_eq!(runs_in(&state), 1);
    memo_tree(tree.path(), "b", 1500);

    // The kills are timed against the same rescan (the first run's store,
    // 1,500 files read), not a scan that reads all 3,000: a slow reference
    // would put most kills after the rescan ends.
    let reference = tempfile::tempdir().unwrap();
    copy_dir(out.path(), reference.path());
    let t0 = Instant::now();
    scan(tree.path(), reference.path(), &[]);
    let full = t0.elapsed();

    let mut kills = 0;
    for i in 1..=8 {
        let mut child = scan_command(tree.path(), out.path(), &[])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(i as f64 / 10.0));
        let _ = child.kill();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        if status.signal() != Some(9) {
            break; // finished before its kill: committed
        }
        let runs = run_ids_in(&state);
        if runs.len() == 2 {
            // Killed after the store's commit, on its way out: the store
            // only commits once the run's reports are in place.
            assert_eq!(summary(out.path())["run_id"], runs[1], "kill {i}");
            break;
        }
        kills += 1;
        assert_eq!(runs.len(), 1, "kill {i}: the run was not committed");
    }
    assert!(kills >= 3, "only {kills} kills hit a running scan");
    // The next run compares with the first one: the killed runs left nothing.
    scan(tree.path(), out.path(), &[]);
    let s = summary(out.path());
    if runs_in(&state) == 2 {
        assert_eq!(s["changes"]["NEW"], 1500, "{s}");
        assert_eq!(s["reused"], 1500, "{s}");
    }
}

#[test]
fn a_second_scan_on_the_same_store_is_refused() {
    let tree = tempfile::tempdir().unwrap();
    memo_tree(tree.path(), "a", 4000);
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("s.sqlite");
    let (out1, out2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let state_arg = ["--state", state.to_str().unwrap()];
    let mut first = scan_command(tree.path(), out1.path(), &state_arg)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // The sinks' files are created once the run holds the store.
    let started = out1.path().join(".labelscan-staging").join("findings.csv");
    while !started.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(started.exists(), "the first scan never started writing");
    // Stopped, the first scan holds the store for as long as the second
    // takes: a fast first scan cannot finish before the second starts.
    signal(&first, libc::SIGSTOP);
    let second = scan_command(tree.path(), out2.path(), &state_arg)
        .output()
        .unwrap();
    signal(&first, libc::SIGCONT);
    assert_eq!(first.wait().unwrap().code(), Some(0));
    assert_eq!(second.status.code(), Some(6), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("in use by another labelscan"),
        "{}",
        stderr(&second)
    );
    assert_eq!(runs_in(&state), 1);
}

#[test]
fn an_exception_suppresses_fail_on_until_it_lapses() {
    let tree = tempfile::tempdir().unwrap();
    let legacy = tree.path().join("legacy/scans");
    std::fs::create_dir_all(&legacy).unwrap();
    let card = "INTERNAL\nCard 4111 1111 1111 1111 on file.\n";
    std::fs::write(legacy.join("old.txt"), card).unwrap();
    std::fs::write(
        tree.path().join("current.txt"),
        "INTERNAL\nNothing sensitive.\n",
    )
    .unwrap();
    let policies = tempfile::tempdir().unwrap();
    let policy = policy_with(
        policies.path(),
        "exceptions.toml",
        "[[exceptions]]\nid = \"EX-2026-07\"\npath = \"legacy/scans/**\"\ncodes = [\"UNDER_CLASSIFIED\"]\nreason = \"Scanned archive\"\napproved_by = \"CISO\"\nexpires = 2027-03-31\n",
    );
    let out = tempfile::tempdir().unwrap();
    let run = |as_of: &str| {
        scan_command(
            tree.path(),
            out.path(),
            &[
                "--fail-on",
                "UNDER_CLASSIFIED",
                "--as-of",
                as_of,
                "--policy",
            ],
        )
        .arg(&policy)
        .output()
        .unwrap()
    };
    let o = run("2027-03-31");
    assert_eq!(o.status.code(), Some(0), "excepted: {}", stderr(&o));
    let findings = csv_rows(&out.path().join("findings.csv"));
    let old = findings
        .iter()
        .find(|r| r["path"].ends_with("old.txt"))
        .unwrap();
    assert!(
        old["verdicts"].contains("UNDER_CLASSIFIED"),
        "still reported"
    );
    assert_eq!(old["excepted"], "UNDER_CLASSIFIED=EX-2026-07");
    let s = summary(out.path());
    assert_eq!(s["exceptions"]["EX-2026-07"], 1);
    assert_eq!(s["documents_failing"], 0);

    let o = run("2027-04-01");
    assert_eq!(o.status.code(), Some(1), "lapsed: {}", stderr(&o));
    assert_eq!(count(out.path(), "read"), 0);
    let rows = csv_rows(&out.path().join("changes.csv"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["cause"], "exception_expired");
    assert_eq!(rows[0]["excepted_before"], "UNDER_CLASSIFIED=EX-2026-07");
    assert_eq!(rows[0]["excepted_after"], "");

    let check = bin()
        .args(["policy", "check", "--as-of", "2027-04-01"])
        .arg(&policy)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0));
    assert!(
        stderr(&check).contains("exceptions[0].expires"),
        "{}",
        stderr(&check)
    );
}
