//! Issue 16, hostile places: a report folder holding links to files
//! elsewhere, a second scan on one `--out`, and `--out` inside the scanned
//! tree. Each scan keeps the bounds of `common::bounds` (exit 0 or 1, 1 to
//! 20,000 rows, under 2 s of CPU, under 100 MB of peak RSS beyond the
//! baseline), and writes nothing outside `--out`.

use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::bin;
use common::bounds::{assert_scan_bounded, baseline_kb, run_measured, CPU_ALLOWANCE};

/// Text files with a label, a card number and an address each.
const FILES: usize = 40;

fn make_tree(root: &Path) -> PathBuf {
    let tree = root.join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    for i in 0..FILES {
        let body = format!(
            "CONFIDENTIAL\nMemo {i}: card 4111 1111 1111 1111, mail jane.doe{i}@example.com.\n"
        );
        std::fs::write(tree.join(format!("memo-{i:03}.txt")), body).unwrap();
    }
    tree
}

fn scan(tree: &Path, out: &Path) -> Command {
    let mut cmd = bin();
    cmd.arg("scan")
        .arg(tree)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--as-of", "2026-11-23"]);
    cmd
}

#[test]
fn report_files_linked_elsewhere_are_replaced_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline_kb(dir.path());
    let tree = make_tree(dir.path());
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let reports = [
        "summary.json",
        "findings.csv",
        "findings.jsonl",
        "skipped.csv",
        "manifest.json",
    ];
    for name in reports {
        std::os::unix::fs::symlink(&victim, out.join(name)).unwrap();
    }
    let m = run_measured(&mut scan(&tree, &out));
    let rows = assert_scan_bounded("linked report files", &m, &out, baseline);
    assert_eq!(rows.len(), FILES);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    for name in reports {
        let meta = std::fs::symlink_metadata(out.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is a report file now, not the link");
    }
}

/// Holds the report folder's lock as a scan would, with this process's pid.
fn hold_lock(out: &Path) -> std::fs::File {
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(out.join(".labelscan.lock"))
        .unwrap();
    std::io::Write::write_all(&mut &lock, std::process::id().to_string().as_bytes()).unwrap();
    // SAFETY: flock on a descriptor this function owns.
    let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(locked, 0, "the lock is free before the test");
    lock
}

#[test]
fn a_second_scan_on_one_out_is_refused_then_runs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline_kb(dir.path());
    let tree = make_tree(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();

    // While another scan holds the folder: a clear refusal, at once.
    let lock = hold_lock(&out);
    let refused = run_measured(&mut scan(&tree, &out));
    assert_eq!(refused.code, 6, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("in use by another labelscan")
            && refused
                .stderr
                .contains(&format!("pid {}", std::process::id())),
        "{}",
        refused.stderr
    );
    assert!(refused.cpu < CPU_ALLOWANCE, "{:?}", refused.cpu);
    assert!(!out.join("findings.csv").exists(), "nothing written");
    drop(lock);

    // One after the other: each set whole, no rows of the other mixed in.
    for run in ["first", "second"] {
        let m = run_measured(&mut scan(&tree, &out));
        let rows = assert_scan_bounded(run, &m, &out, baseline);
        assert_eq!(rows.len(), FILES, "{run}");
    }
}

#[test]
fn an_out_inside_the_scanned_tree_is_not_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline_kb(dir.path());
    // A tree of its own for each place: reports written into a tree by
    // one run are files of that tree for a run into another folder.
    for (i, inside) in ["", "reports"].into_iter().enumerate() {
        let tree = make_tree(&dir.path().join(i.to_string()));
        let out = tree.join(inside);
        for run in ["first", "second"] {
            let name = format!("{run} scan into {}", out.display());
            let m = run_measured(&mut scan(&tree, &out));
            let rows = assert_scan_bounded(&name, &m, &out, baseline);
            assert_eq!(rows.len(), FILES, "{name}: only the tree's own files");
        }
    }
}
