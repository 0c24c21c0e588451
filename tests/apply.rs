//! `labelscan apply` (issue 21) through the real binary: scan a copy of
//! `examples/` and of the real-world OOXML and ODF files, apply the
//! suggestions, scan the result, and compare the packages member by member.
//! The corpus tests fail, never skip, when the corpus is missing.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::reports::csv_rows as rows;
use common::{bin, repo, run, stderr};

const AS_OF: &str = "2026-11-23";
const GUID_CONFIDENTIAL: &str = "a6a1e5f2-3c1d-4b7e-9f10-2d3c4b5a6e01";
/// Parts a label may change; every other member must stay byte for byte.
const LABEL_PARTS: [&str; 6] = [
    "docProps/custom.xml",
    "docMetadata/LabelInfo.xml",
    "[Content_Types].xml",
    "_rels/.rels",
    "meta.xml",
    "META-INF/manifest.xml",
];

fn policy() -> PathBuf {
    repo().join("policies/examples/apex-purview.toml")
}

fn realworld() -> PathBuf {
    let corpus = repo().join("../shared/corpus/realworld");
    assert!(
        corpus.is_dir(),
        "the real-world corpus is missing ({}); this test never skips",
        corpus.display()
    );
    corpus
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The real-world OOXML and ODF files, flat, named by their corpus path.
fn copy_office_files(from: &Path, to: &Path) -> usize {
    std::fs::create_dir_all(to).unwrap();
    let office = [
        "docx", "docm", "dotx", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods", "odp",
    ];
    let mut n = 0;
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let ext = entry
            .path()
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if entry.file_type().is_file() && office.contains(&ext.as_str()) {
            let name = entry
                .path()
                .strip_prefix(from)
                .unwrap()
                .to_string_lossy()
                .replace('/', "__");
            std::fs::copy(entry.path(), to.join(name)).unwrap();
            n += 1;
        }
    }
    n
}

/// A scanned store: `src/ex` (examples), `src/rw` (real-world office
/// files, unless `examples_only`), and the run's reports in `run`.
struct Store {
    dir: tempfile::TempDir,
}

impl Store {
    fn new(examples_only: bool) -> Store {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("examples"), &dir.path().join("src/ex"));
        if !examples_only {
            let copied = copy_office_files(&realworld(), &dir.path().join("src/rw"));
            assert!(copied > 100, "only {copied} real-world office files");
        }
        let store = Store { dir };
        store.scan("src", "run");
        store
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn scan(&self, what: &str, out: &str) {
        let o = run(bin()
            .current_dir(self.dir.path())
            .args(["scan", what, "--out", out, "--no-state", "--quiet"])
            .args(["--exclude", "apply*.csv", "--as-of", AS_OF, "--policy"])
            .arg(policy()));
        assert!(o.status.code().unwrap() <= 1, "{}", stderr(&o));
    }

    fn apply(&self, args: &[&str]) -> std::process::Output {
        run(bin()
            .current_dir(self.dir.path())
            .args(["apply", "run"])
            .args(args))
    }

    /// `findings.jsonl` of a run folder by path.
    fn findings(&self, out: &str) -> BTreeMap<String, serde_json::Value> {
        std::fs::read_to_string(self.path(out).join("findings.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["path"].as_str().unwrap().to_string(), v)
            })
            .collect()
    }
}

fn applied(rows: &[BTreeMap<String, String>]) -> Vec<&BTreeMap<String, String>> {
    rows.iter().filter(|r| r["status"] == "applied").collect()
}

#[test]
fn applied_documents_read_back_with_the_written_level() {
    let store = Store::new(false);
    let o = store.apply(&["--to", "dest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = rows(&store.path("dest/apply.csv"));
    let before = store.findings("run");
    assert_eq!(rows.len(), before.len(), "every document has a row");
    let applied = applied(&rows);
    assert!(applied.len() > 100, "only {} applied", applied.len());
    store.scan("dest", "run2");
    let after = store.findings("run2");
    let mut raised = 0;
    for row in &applied {
        // DEST as given, here relative to the store: the path a scan of it reports.
        let record = &after[&row["dest"]];
        assert_eq!(record["level"], row["level_written"].as_str(), "{row:?}");
        let verdicts: Vec<&str> = record["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for gone in [
            "UNLABELED",
            "UNDER_CLASSIFIED",
            "LABEL_CONFLICT",
            "UNKNOWN_LABEL",
        ] {
            assert!(!verdicts.contains(&gone), "{gone} in {row:?}");
        }
        assert_eq!(verdicts.join(";"), row["verdicts_after"], "{row:?}");
        let msip = record["label_sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == "msip" && s["level"] == row["level_written"].as_str());
        assert!(msip, "no Purview label read back: {row:?}");
        if row["verdicts_before"].contains("UNLABELED")
            || row["verdicts_before"].contains("UNDER_CLASSIFIED")
        {
            raised += 1;
        }
    }
    assert!(
        raised > 20,
        "only {raised} unlabelled or under-classified documents labelled"
    );
    let confidential = applied
        .iter()
        .find(|r| r["level_written"] == "CONFIDENTIAL")
        .expect("a CONFIDENTIAL document");
    assert_eq!(confidential["label_guid"], GUID_CONFIDENTIAL);
    let reasons: Vec<&str> = rows.iter().map(|r| r["reason"].as_str()).collect();
    for expected in [
        "signed document",
        "UNKNOWN_LABEL",
        "LABEL_CONFLICT",
        "UNREADABLE",
        "archive member",
        "format pdf",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "no document left alone for {expected}"
        );
    }
    assert!(rows
        .iter()
        .filter(|r| r["reason"].contains("signed document"))
        .all(|r| !store
            .path(&format!("dest/rw/{}", file_name(&r["path"])))
            .exists()));
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

/// Every member of `original` that is not a label part is in `labelled`
/// with the same compressed bytes, method, CRC, time and extra field, in
/// the same order; the archive comment is kept.
fn assert_members_unchanged(original: &Path, labelled: &Path) {
    assert_members_unchanged_but(original, labelled, |_| false)
}

/// The parts a visual marking may change besides the label parts.
fn marking_part(name: &str) -> bool {
    // Part names are case-insensitive (`xl/worksheets/Sheet2.xml`).
    let name = name.to_ascii_lowercase();
    let name = name.as_str();
    let file = name.rsplit('/').next().unwrap_or(name);
    name == "word/document.xml"
        || name == "word/_rels/document.xml.rels"
        || name.starts_with("word/") && (file.starts_with("header") || file.starts_with("footer"))
        || name.starts_with("xl/worksheets/sheet")
        || name.starts_with("ppt/slidemasters/slidemaster")
        || name.starts_with("ppt/slidelayouts/slidelayout")
}

/// As [`assert_members_unchanged`], with the members `also` names left out.
fn assert_members_unchanged_but(original: &Path, labelled: &Path, also: impl Fn(&str) -> bool) {
    let open = |p: &Path| zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
    let (mut a, mut b) = (open(original), open(labelled));
    assert_eq!(a.comment(), b.comment(), "{}", labelled.display());
    // By the names as stored, in central directory order: a Unicode-path
    // extra field may give a member another name in the zip crate.
    let stored_names = |p: &Path| -> Vec<String> {
        let bytes = std::fs::read(p).unwrap();
        let zip = labelscan::apply::zipraw::RawZip::parse(&bytes).unwrap();
        zip.entries()
            .iter()
            .map(|e| e.name_str().to_string())
            .collect()
    };
    let kept = |z: &mut zip::ZipArchive<std::fs::File>, path: &Path| {
        let stored = stored_names(path);
        let mut members = Vec::new();
        for (i, name) in stored.into_iter().enumerate() {
            let mut f = z.by_index_raw(i).unwrap();
            if LABEL_PARTS.contains(&name.as_str()) || also(&name) {
                continue;
            }
            let facts = (
                f.compression(),
                f.crc32(),
                f.compressed_size(),
                f.last_modified(),
                f.extra_data().map(|e| e.to_vec()),
            );
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            members.push((name, facts, bytes));
        }
        members
    };
    let (before, after) = (kept(&mut a, original), kept(&mut b, labelled));
    let names =
        |m: &[(String, _, Vec<u8>)]| m.iter().map(|(n, _, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&before),
        names(&after),
        "member order of {}",
        labelled.display()
    );
    for (x, y) in before.iter().zip(&after) {
        assert!(x == y, "{} differs in {}", x.0, labelled.display());
    }
}

/// Every XML part of the package parses (a reader's check in place of
/// an office suite, which CI does not have), and spreadsheets read alike.
fn assert_opens(original: &Path, labelled: &Path) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(labelled).unwrap()).unwrap();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        if name.ends_with(".xml") || name.ends_with(".rels") {
            let text = String::from_utf8_lossy(&bytes);
            let text = text.trim_start_matches('\u{feff}');
            if LABEL_PARTS.contains(&name.as_str()) {
                roxmltree::Document::parse(text)
                    .unwrap_or_else(|e| panic!("{name} of {}: {e}", labelled.display()));
            }
        }
    }
    let ext = labelled
        .extension()
        .unwrap()
        .to_string_lossy()
        .to_lowercase();
    if ["xlsx", "xlsm", "ods"].contains(&ext.as_str()) {
        use calamine::Reader;
        let sheets = |p: &Path| {
            calamine::open_workbook_auto(p).ok().map(|mut wb| {
                let names = wb.sheet_names().to_vec();
                names
                    .iter()
                    .map(|n| format!("{:?}", wb.worksheet_range(n).ok()))
                    .collect::<Vec<_>>()
            })
        };
        let before = sheets(original);
        if before.is_some() {
            assert_eq!(before, sheets(labelled), "{}", labelled.display());
        }
    }
}

#[test]
fn members_other_than_the_label_parts_are_unchanged() {
    let store = Store::new(false);
    let o = store.apply(&["--to", "dest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = rows(&store.path("dest/apply.csv"));
    let applied = applied(&rows);
    assert!(applied.len() > 100);
    for row in applied {
        let original = store.path(&row["path"]);
        let labelled = store.path(&row["dest"]);
        assert_members_unchanged(&original, &labelled);
        assert_opens(&original, &labelled);
        let times = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(times(&original), times(&labelled), "mtime kept");
    }
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn tree_digest(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut all: Vec<(PathBuf, String)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), sha256(e.path())))
        .collect();
    all.sort();
    all
}

#[test]
fn in_place_without_backup_is_refused_and_nothing_is_touched() {
    let store = Store::new(true);
    let before = tree_digest(&store.path("src"));
    let o = store.apply(&["--in-place"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--in-place needs --backup DIR"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree_digest(&store.path("src")), before);
}

#[test]
fn in_place_keeps_a_backup_of_every_original_it_rewrites() {
    let store = Store::new(true);
    let before: BTreeMap<PathBuf, String> = tree_digest(&store.path("src")).into_iter().collect();
    let o = store.apply(&["--in-place", "--backup", "backup"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = rows(&store.path("backup/apply.csv"));
    let applied = applied(&rows);
    assert!(applied.len() >= 5, "{rows:?}");
    for row in &applied {
        let original = store.path(&row["path"]);
        assert_eq!(sha256(&store.path(&row["backup"])), before[&original]);
        assert_eq!(sha256(&original), row["sha256_after"]);
    }
    for (path, digest) in &before {
        let rewritten = applied.iter().any(|r| store.path(&r["path"]) == *path);
        if !rewritten {
            assert_eq!(&sha256(path), digest, "{} changed", path.display());
        }
    }
    store.scan("src", "run2");
    let after = store.findings("run2");
    for row in &applied {
        assert_eq!(after[&row["path"]]["level"], row["level_written"].as_str());
    }
}

#[test]
fn a_file_changed_after_the_scan_is_skipped() {
    let store = Store::new(true);
    let docx = store.path("src/ex/hr/onboarding-checklist.docx");
    let pptx = store.path("src/ex/sales/gamma-pitch.pptx");
    let odt = store.path("src/ex/sales/beta-rates.odt");
    // Content changed, size and time as the scan saw them.
    let mtime = std::fs::metadata(&docx).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&docx).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x20;
    std::fs::write(&docx, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&docx)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    // Touched only.
    let later = mtime + std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&pptx)
        .unwrap()
        .set_modified(later)
        .unwrap();
    // Grown.
    let mut grown = std::fs::read(&odt).unwrap();
    grown.push(0);
    std::fs::write(&odt, grown).unwrap();
    let o = store.apply(&["--to", "dest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = rows(&store.path("dest/apply.csv"));
    let reason = |name: &str| {
        let row = rows.iter().find(|r| r["path"].ends_with(name)).unwrap();
        assert_eq!(row["status"], "skipped", "{row:?}");
        row["reason"].clone()
    };
    assert!(reason("onboarding-checklist.docx").contains("SHA-256 differs"));
    assert!(reason("gamma-pitch.pptx").contains("modification time differs"));
    assert!(reason("beta-rates.odt").contains("size differs"));
    for name in [
        "hr/onboarding-checklist.docx",
        "sales/gamma-pitch.pptx",
        "sales/beta-rates.odt",
    ] {
        assert!(!store.path(&format!("dest/ex/{name}")).exists());
        assert!(!store.path(&format!("dest/{name}")).exists());
    }
}

#[test]
fn a_dry_run_writes_nothing_and_says_what_it_would_do() {
    let store = Store::new(true);
    let before = tree_digest(&store.path("src"));
    let o = store.apply(&["--to", "dest", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!store.path("dest").exists());
    assert_eq!(tree_digest(&store.path("src")), before);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains(",would_apply,"), "{text}");
    assert!(!text.contains(",applied,"));
}

#[test]
fn an_altered_or_unfinished_run_is_refused() {
    let store = Store::new(true);
    let jsonl = store.path("run/findings.jsonl");
    let mut text = std::fs::read_to_string(&jsonl).unwrap();
    text = text.replace(
        "\"suggested_level\":\"PUBLIC\"",
        "\"suggested_level\":\"CONFIDENTIAL\"",
    );
    std::fs::write(&jsonl, &text).unwrap();
    let o = store.apply(&["--to", "dest"]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("do not match manifest.json"),
        "{}",
        stderr(&o)
    );
    assert!(!store.path("dest").exists());
    std::fs::remove_file(store.path("run/manifest.json")).unwrap();
    let o = store.apply(&["--to", "dest"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn dest_inside_the_scanned_tree_is_refused() {
    let store = Store::new(true);
    let o = store.apply(&["--to", "src/ex/labelled"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("overlaps the scanned PATH"),
        "{}",
        stderr(&o)
    );
    assert!(!store.path("src/ex/labelled").exists());
}

/// The label sources of a record of kind `kind`, as `(level, location)`.
fn sources_of(record: &serde_json::Value, kind: &str) -> Vec<(String, String)> {
    record["label_sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .map(|s| {
            (
                s["level"].as_str().unwrap_or("").to_string(),
                s["location"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn marked_documents_show_the_level_in_headers_and_footers_and_read_back() {
    let store = Store::new(false);
    let o = store.apply(&["--to", "dest", "--mark"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = rows(&store.path("dest/apply.csv"));
    let applied = applied(&rows);
    assert!(applied.len() > 100, "only {} applied", applied.len());
    store.scan("dest", "run2");
    let after = store.findings("run2");
    let mut kinds = BTreeMap::new();
    for row in &applied {
        let ooxml = ["docx", "xlsx", "pptx"].contains(&row["format"].as_str());
        assert!(ooxml, "only OOXML is marked: {row:?}");
        assert_eq!(row["marked"], "yes", "{row:?}");
        let record = &after[&row["dest"]];
        assert_eq!(record["level"], row["level_written"].as_str(), "{row:?}");
        let markings = sources_of(record, "marking");
        let ours: Vec<&(String, String)> = markings
            .iter()
            .filter(|(level, _)| *level == row["level_written"])
            .collect();
        assert!(!ours.is_empty(), "no visible marking read back: {row:?}");
        for (_, location) in &ours {
            *kinds.entry(location_kind(location)).or_insert(0) += 1;
        }
        let verdicts = record["verdicts"].to_string();
        assert!(!verdicts.contains("LABEL_CONFLICT"), "{row:?}: {verdicts}");
        assert_eq!(verdicts_of(record), row["verdicts_after"], "{row:?}");
        let original = store.path(&row["path"]);
        assert_members_unchanged_but(&original, &store.path(&row["dest"]), marking_part);
        if row["format"] == "docx" {
            let footers =
                word_parts_holding(&store.path(&row["dest"]), "footer", &row["level_written"]);
            assert!(footers > 0, "no footer holds the marking: {row:?}");
        }
    }
    // One marking source per level is kept, so a footer's repeats its header's.
    for kind in ["header", "sheet header", "master"] {
        assert!(
            kinds.contains_key(kind),
            "no marking read back from a {kind}: {kinds:?}"
        );
    }
    for row in rows.iter().filter(|r| r["status"] != "applied") {
        assert_eq!(row["marked"], "no", "{row:?}");
    }
    let odf = rows
        .iter()
        .find(|r| r["format"] == "odt")
        .expect("an odt document");
    assert_eq!(odf["status"], "skipped");
    assert!(odf["reason"].contains("--mark"), "{odf:?}");
}

/// How many Word header (or footer) parts of a package hold `text`.
fn word_parts_holding(path: &Path, kind: &str, text: &str) -> usize {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let names: Vec<String> = z.file_names().map(|n| n.unwrap().into_owned()).collect();
    names
        .iter()
        .filter(|n| n.to_ascii_lowercase().starts_with(&format!("word/{kind}")))
        .filter(|n| {
            let mut xml = String::new();
            z.by_name(n).unwrap().read_to_string(&mut xml).unwrap();
            xml.contains(&format!(">{text}<"))
        })
        .count()
}

/// Where a marking was read: a Word header or footer part, a worksheet's
/// header or footer, or a slide master.
fn location_kind(location: &str) -> &'static str {
    if location.contains("oddHeader") || location.contains("oddFooter") {
        "sheet header"
    } else if location.contains("slideMaster") || location.contains("slideLayout") {
        "master"
    } else if location.contains("header") {
        "header"
    } else if location.contains("footer") {
        "footer"
    } else {
        "elsewhere"
    }
}

fn verdicts_of(record: &serde_json::Value) -> String {
    record["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(";")
}

#[test]
fn release_to_writes_the_dual_marking_only_where_an_agreement_covers_the_level() {
    let store = Store::new(true);
    // On 2027-03-01 Precision Systems' NDA (CONFIDENTIAL) has ended and its
    // MSA (INTERNAL) holds: CONFIDENTIAL documents may not be released.
    let o = store.apply(&[
        "--to",
        "dest",
        "--mark",
        "--release-to",
        "PrecSys",
        "--as-of",
        "2027-03-01",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = rows(&store.path("dest/apply.csv"));
    let applied = applied(&rows);
    assert!(!applied.is_empty(), "{rows:?}");
    assert!(applied.iter().all(|r| r["level_written"] != "CONFIDENTIAL"));
    let refused: Vec<_> = rows
        .iter()
        .filter(|r| {
            r["reason"].contains("--release-to Precision Systems: RELEASE_AGREEMENT_EXPIRED")
        })
        .collect();
    assert!(!refused.is_empty(), "{rows:?}");
    for row in &refused {
        assert_eq!(row["status"], "skipped");
        assert_eq!(row["level_written"], "CONFIDENTIAL");
        assert!(!store.path(&row["dest"]).exists() || row["dest"].is_empty());
    }
    let scan = run(bin()
        .current_dir(store.path(""))
        .args(["scan", "dest", "--out", "run2", "--no-state", "--quiet"])
        .args([
            "--exclude",
            "apply*.csv",
            "--as-of",
            "2027-03-01",
            "--policy",
        ])
        .arg(policy()));
    assert!(scan.status.code().unwrap() <= 1, "{}", stderr(&scan));
    let after = store.findings("run2");
    for row in &applied {
        let record = &after[&row["dest"]];
        let released = record["released_to"].as_array().unwrap();
        assert!(released.contains(&"Precision Systems".into()), "{row:?}");
        let check = record["release_checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["partner"] == "Precision Systems")
            .unwrap_or_else(|| panic!("no release check: {row:?}"));
        assert_eq!(check["status"], "covered", "{row:?}");
        // A release verdict only where the document had it before (an
        // earlier marking to another partner).
        for code in verdicts_of(record)
            .split(';')
            .filter(|c| c.starts_with("RELEASE_"))
        {
            assert!(row["verdicts_before"].contains(code), "{row:?}: {code}");
        }
    }
}

#[test]
fn release_to_refuses_unknown_partners_and_lapsed_agreements_up_front() {
    let store = Store::new(true);
    for (args, expected) in [
        (
            vec!["--mark", "--release-to", "Nobody Ltd"],
            "not a partner in the policy",
        ),
        (
            vec!["--mark", "--release-to", "Beta Logistics"],
            "RELEASE_AGREEMENT_EXPIRED",
        ),
        (vec!["--release-to", "Precision Systems"], "--mark"),
    ] {
        let mut all = vec!["--to", "dest"];
        all.extend(args);
        let o = store.apply(&all);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{all:?}: {}", stderr(&o));
        assert!(!store.path("dest").exists());
    }
}

fn undo(store: &Store, args: &[&str]) -> std::process::Output {
    run(bin().current_dir(store.path("")).arg("undo").args(args))
}

#[test]
fn undo_puts_back_every_original_still_as_apply_wrote_it() {
    let store = Store::new(true);
    let before: BTreeMap<PathBuf, String> = tree_digest(&store.path("src")).into_iter().collect();
    let o = store.apply(&["--in-place", "--backup", "backup", "--mark"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let applied_rows = rows(&store.path("backup/apply.csv"));
    let applied = applied(&applied_rows);
    assert!(applied.len() >= 5, "{applied_rows:?}");
    // A dry run changes nothing.
    let o = undo(&store, &["backup/apply.csv", "--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(",would_undo,"));
    for row in &applied {
        assert_eq!(sha256(&store.path(&row["path"])), row["sha256_after"]);
    }
    // Someone edits one labelled file after apply: undo leaves it alone.
    let edited = store.path(&applied[0]["path"]);
    std::fs::write(&edited, b"edited after apply").unwrap();
    let o = undo(&store, &["backup/apply.csv"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let record = rows(&store.path("backup/undo.csv"));
    assert_eq!(record.len(), applied.len());
    for (row, done) in applied.iter().zip(&record) {
        let original = store.path(&row["path"]);
        assert_eq!(done["action"], "restore");
        if original == edited {
            assert_eq!(done["status"], "skipped", "{done:?}");
            assert!(done["reason"].contains("changed since apply"));
            assert_eq!(std::fs::read(&original).unwrap(), b"edited after apply");
        } else {
            assert_eq!(done["status"], "restored", "{done:?}");
            assert_eq!(sha256(&original), before[&original]);
        }
        assert!(store.path(&row["backup"]).exists(), "backups are kept");
    }
    // Again: nothing left to do but the edited file; an earlier undo.csv stays.
    let o = undo(&store, &["backup/apply.csv", "--out", "again"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let again = rows(&store.path("again/undo.csv"));
    assert_eq!(
        again
            .iter()
            .filter(|r| r["status"] == "already_undone")
            .count(),
        applied.len() - 1
    );
}

#[test]
fn undo_removes_unchanged_copies_and_refuses_a_file_that_is_no_apply_csv() {
    let store = Store::new(true);
    let o = store.apply(&["--to", "dest"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let applied_rows = rows(&store.path("dest/apply.csv"));
    let applied = applied(&applied_rows);
    let o = undo(&store, &["dest/apply.csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for row in &applied {
        assert!(!store.path(&row["dest"]).exists(), "{row:?}");
    }
    let record = rows(&store.path("dest/undo.csv"));
    assert!(record
        .iter()
        .all(|r| r["status"] == "removed" && r["action"] == "remove"));
    let o = undo(&store, &["run/findings.csv"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not an apply.csv"), "{}", stderr(&o));
}
