//! Snapshot of what extraction reads from every bundled document: the files
//! under `examples/` and `tests/fixtures/` (generator scripts left out), one
//! snapshot each in `tests/snapshots/extract/`, named after the file's path
//! (`examples/legal/settlement.docx` -> `examples__legal__settlement.docx.snap`).
//!
//! Only the public extraction API is used: `labelscan::extract::extract` with
//! a default budget. After checking a change, accept it with
//! `INSTA_UPDATE=always cargo test --release --test snapshots_extract`
//! (or `cargo insta review`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use labelscan::budget::{Budget, Limits};
use labelscan::extract::{extract, Extracted, LabelInfoEntry, Outcome, Part, PartKind, Property};

/// Texts longer than this (in characters) are cut in the snapshot.
const MAX_TEXT_CHARS: usize = 2_000;

/// The folders whose files are snapshotted, relative to the crate root.
const FOLDERS: [&str; 2] = ["examples", "tests/fixtures"];

/// Scripts that generate the fixtures: not documents.
fn is_generator(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("py" | "sh" | "java")
    )
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every document under the folders, as `/`-separated paths relative to the
/// crate root, sorted.
fn documents() -> Vec<String> {
    let mut out = Vec::new();
    for folder in FOLDERS {
        let dir = repo().join(folder);
        assert!(
            dir.is_dir(),
            "{} is missing: the extraction snapshots need it",
            dir.display()
        );
        let before = out.len();
        for e in walkdir::WalkDir::new(&dir).sort_by_file_name() {
            let e = e.unwrap_or_else(|e| panic!("walking {}: {e}", dir.display()));
            if !e.file_type().is_file() || is_generator(e.path()) {
                continue;
            }
            let rel = e.path().strip_prefix(repo()).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
        assert!(
            out.len() > before,
            "{} holds no documents: the extraction snapshots need some",
            dir.display()
        );
    }
    out.sort();
    out
}

/// A snapshot's file name for a document path.
fn snapshot_name(path: &str) -> String {
    path.replace('/', "__")
}

/// A text with control characters other than tab and newline made visible
/// (`\r`, `\u{b}`), so that the snapshot file holds exactly what was read.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' => out.push(c),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn render_part(out: &mut String, indent: &str, i: usize, p: &Part) {
    let chars = p.text.chars().count();
    let _ = writeln!(
        out,
        "{indent}[{i}] {} {:?} ({chars} chars)",
        p.kind.as_str(),
        p.location
    );
    let shown: String = p.text.chars().take(MAX_TEXT_CHARS).collect();
    for line in visible(&shown).split('\n') {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}    |");
        } else {
            let _ = writeln!(out, "{indent}    | {line}");
        }
    }
    if chars > MAX_TEXT_CHARS {
        let _ = writeln!(
            out,
            "{indent}    [... truncated: first {MAX_TEXT_CHARS} of {chars} chars shown]"
        );
    }
}

fn render_property(out: &mut String, indent: &str, p: &Property) {
    let _ = writeln!(
        out,
        "{indent}{:?} = {:?} at {:?}",
        p.name, p.value, p.location
    );
}

fn render_label_info(out: &mut String, indent: &str, l: &LabelInfoEntry) {
    let _ = writeln!(
        out,
        "{indent}id={} site_id={} enabled={} removed={} method={:?} at {:?}",
        l.id, l.site_id, l.enabled, l.removed, l.method, l.location
    );
}

fn render_extracted(out: &mut String, indent: &str, x: &Extracted) {
    match &x.error {
        Some(e) => {
            let _ = writeln!(out, "{indent}error: {} ({:?})", e.kind.as_str(), e.detail);
        }
        None => {
            let _ = writeln!(out, "{indent}error: none");
        }
    }
    let _ = writeln!(out, "{indent}parts: {}", x.parts.len());
    for (i, p) in x.parts.iter().enumerate() {
        render_part(out, &format!("{indent}  "), i, p);
    }
    let _ = writeln!(out, "{indent}properties: {}", x.properties.len());
    for p in &x.properties {
        render_property(out, &format!("{indent}  "), p);
    }
    let _ = writeln!(out, "{indent}label_info: {}", x.label_info.len());
    for l in &x.label_info {
        render_label_info(out, &format!("{indent}  "), l);
    }
}

/// The text rendering that is snapshotted.
fn render(outcome: &Outcome) -> String {
    let mut out = String::new();
    match outcome {
        Outcome::Document(format, x) => {
            let _ = writeln!(out, "format: {}", format.as_str());
            render_extracted(&mut out, "", x);
        }
        Outcome::Archive(members) => {
            let _ = writeln!(out, "format: zip");
            let _ = writeln!(out, "members: {}", members.len());
            for m in members {
                let _ = writeln!(
                    out,
                    "- member {:?}: format {}, {} bytes, sha256 {}",
                    m.path,
                    m.format.as_str(),
                    m.size,
                    m.sha256
                );
                render_extracted(&mut out, "    ", &m.extracted);
            }
        }
        Outcome::Unsupported(why) => {
            let _ = writeln!(out, "unsupported: {why:?}");
        }
    }
    out
}

#[test]
fn extraction_of_every_bundled_document() {
    let docs = documents();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/extract");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut failed = Vec::new();
    for path in &docs {
        let bytes = std::fs::read(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let name = path.rsplit('/').next().unwrap();
        let budget = Budget::new(Limits::default());
        let rendered = render(&extract(&bytes, name, &budget));
        settings.set_description(path.as_str());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(snapshot_name(path), rendered));
        }));
        if result.is_err() {
            failed.push(path.as_str());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} extraction snapshots differ: {failed:?}",
        failed.len(),
        docs.len()
    );
    assert_no_stale_snapshot(&docs);
    eprintln!("{} extraction snapshots match", docs.len());
}

/// A snapshot whose document is gone is an error: it would never be checked.
/// (Called after the snapshots are written, so that a first run passes.)
fn assert_no_stale_snapshot(docs: &[String]) {
    let wanted: std::collections::BTreeSet<String> = docs
        .iter()
        .map(|p| format!("{}.snap", snapshot_name(p)))
        .collect();
    let dir = repo().join("tests/snapshots/extract");
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snap") && !wanted.contains(n))
        .collect();
    assert!(
        stale.is_empty(),
        "snapshots without a document in {}: {stale:?}",
        dir.display()
    );
}

#[test]
fn long_texts_are_cut_with_their_length() {
    let text = format!("{}\r\u{7}", "x".repeat(MAX_TEXT_CHARS));
    let mut out = String::new();
    render_part(&mut out, "", 0, &Part::new(PartKind::Body, "here", text));
    assert!(
        out.starts_with("[0] body \"here\" (2002 chars)\n    | xxx"),
        "{out}"
    );
    assert!(
        !out.contains("\\r"),
        "the cut text is shown, not what follows: {out}"
    );
    assert!(
        out.ends_with("    [... truncated: first 2000 of 2002 chars shown]\n"),
        "{out}"
    );
    let mut out = String::new();
    render_part(
        &mut out,
        "",
        1,
        &Part::new(PartKind::Body, "", "a\rb\u{7}\n"),
    );
    assert_eq!(out, "[1] body \"\" (5 chars)\n    | a\\rb\\u{7}\n    |\n");
}
