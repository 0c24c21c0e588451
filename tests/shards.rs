//! `scan --shard I/N` and `labelscan merge`: N shards of a scan, merged,
//! give the reports a single scan of the same tree writes, byte for byte
//! (run provenance aside); merge refuses an incomplete or mixed set.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::reports::{assert_same_reports, copy_dir};
use common::{bin, repo, stderr, write_memos};

const APEX: &str = "policies/examples/apex-precision.toml";
const AS_OF: [&str; 2] = ["--as-of", "2026-11-23"];
/// The bundled examples, plus folders of memos, names that CSV must
/// quote (a comma, quotes, a line break), a link and an Office lock file.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("examples"), &dir.path().join("examples"));
    for folder in ["alpha", "beta/deep", "gamma"] {
        write_memos(&dir.path().join(folder), 15, |i| {
            format!("Memo {i}: mail a.b{i}@example.com, card 4111 1111 1111 1111.\n")
        });
    }
    let odd = dir.path().join("alpha");
    std::fs::write(odd.join("a \"quoted\", name.txt"), "INTERNAL\nplain\n").unwrap();
    std::fs::write(odd.join("line\nbreak.txt"), "CONFIDENTIAL\nplain\n").unwrap();
    std::fs::write(odd.join("=formula.txt"), "nothing\n").unwrap();
    std::fs::write(odd.join("~$lock.docx"), "lock").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", odd.join("link.txt")).unwrap();
    dir
}

fn scan_command(tree: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.current_dir(repo())
        .arg("scan")
        .arg(tree)
        .args(["--quiet", "--jobs", "2", "--policy", APEX])
        .args(AS_OF)
        .arg("--out")
        .arg(out)
        .args(extra);
    cmd
}

fn ok(o: Output) -> Output {
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "failed: {}",
        stderr(&o)
    );
    o
}

/// Runs the N shards of a scan of `tree` into `root/shard-I`, taking the
/// index from the flag, JOB_COMPLETION_INDEX and SLURM_ARRAY_TASK_ID in turn.
fn run_shards(tree: &Path, root: &Path, n: u32) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let out = root.join(format!("shard-{i}"));
            // Neither variable is inherited (a CI runner may itself be an
            // indexed job): each shard has only the one it is given.
            let auto = || {
                let mut c = scan_command(tree, &out, &["--shard", &format!("auto/{n}")]);
                c.env_remove("JOB_COMPLETION_INDEX")
                    .env_remove("SLURM_ARRAY_TASK_ID");
                c
            };
            let mut cmd = match i % 3 {
                0 => scan_command(tree, &out, &["--shard", &format!("{i}/{n}")]),
                1 => {
                    let mut c = auto();
                    c.env("JOB_COMPLETION_INDEX", i.to_string());
                    c
                }
                _ => {
                    let mut c = auto();
                    c.env("SLURM_ARRAY_TASK_ID", i.to_string());
                    c
                }
            };
            ok(cmd.output().unwrap());
            out
        })
        .collect()
}

fn merge(dirs: &[PathBuf], out: &Path) -> Output {
    bin()
        .current_dir(repo())
        .arg("merge")
        .args(dirs)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn shards_merged_give_the_single_scans_reports_also_on_a_rescan() {
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    let single = work.path().join("single");
    ok(scan_command(tree.path(), &single, &[]).output().unwrap());
    let shards = run_shards(tree.path(), work.path(), 3);
    for shard in &shards {
        let rows = std::fs::read_to_string(shard.join("findings.jsonl")).unwrap();
        assert!(rows.lines().count() > 5, "every shard gets a share");
    }
    let merged = work.path().join("merged");
    let o = merge(&shards, &merged);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_same_reports(&single, &merged);

    // A rescan after changes: each shard reads only its changed files, and
    // the merged changes are the single scan's.
    let t = tree.path();
    std::fs::write(t.join("alpha/memo-03.txt"), "No label, no data.\n").unwrap();
    std::fs::write(t.join("gamma/new.txt"), "CONFIDENTIAL\nnew\n").unwrap();
    std::fs::remove_file(t.join("beta/deep/memo-07.txt")).unwrap();
    ok(scan_command(t, &single, &[]).output().unwrap());
    let shards = run_shards(t, work.path(), 3);
    let read: u64 = shards
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(s.join("summary.json")).unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()["read"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(read, 2, "only the changed and the new file are read");
    let o = merge(&shards, &merged);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_same_reports(&single, &merged);
    let changes = std::fs::read_to_string(merged.join("changes.jsonl")).unwrap();
    assert_eq!(changes.lines().count(), 3, "{changes}");
}

#[test]
fn merge_refuses_a_missing_shard_a_shard_twice_and_shards_of_other_runs() {
    let tree = tree();
    let work = tempfile::tempdir().unwrap();
    let shards = run_shards(tree.path(), work.path(), 3);
    let out = work.path().join("merged");

    let o = merge(&shards[..2], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("shard 2/3 is missing"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join("findings.csv").exists(), "nothing is written");

    let twice = [shards[0].clone(), shards[1].clone(), shards[1].clone()];
    let o = merge(&twice, &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("given twice"), "{}", stderr(&o));

    // Another policy: a shard of another run.
    let other = work.path().join("other");
    ok(bin()
        .current_dir(repo())
        .arg("scan")
        .arg(tree.path())
        .args(["--quiet", "--shard", "2/3"])
        .args(AS_OF)
        .arg("--out")
        .arg(&other)
        .output()
        .unwrap());
    let o = merge(&[shards[0].clone(), shards[1].clone(), other], &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("policy differ"), "{}", stderr(&o));

    // A tool version differs: a summary edited to say so no longer
    // matches its manifest, which merge checks first; a shard whose
    // findings were edited is refused the same way.
    let findings = shards[1].join("findings.jsonl");
    let mut text = std::fs::read(&findings).unwrap();
    text.extend_from_slice(b"{}\n");
    std::fs::write(&findings, text).unwrap();
    let o = merge(&shards, &out);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("manifest"), "{}", stderr(&o));

    // Not shards at all.
    let single = work.path().join("single");
    ok(scan_command(tree.path(), &single, &[]).output().unwrap());
    let o = merge(std::slice::from_ref(&single), &out);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not the reports of a scan --shard"),
        "{}",
        stderr(&o)
    );

    let o = scan_command(tree.path(), &out, &["--shard", "auto/3"])
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
