//! Issue 16, leaks: values planted in a document's label places (a custom
//! label property, an MSIP `_Name`, a release property, a release marking)
//! never appear verbatim in any report file, nor in `explain` (text and
//! `--json`), nor on stdout or stderr, while masking is on. With
//! `--show-values` they do appear, so the test can fail. The scan and
//! `explain` of the planted document keep the bounds of `common::bounds`.

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Output;

mod common;
use common::bounds::{
    assert_run_bounded, assert_scan_bounded, baseline_kb, run_measured, Measured,
};
use common::{bin, repo, run, stderr, stdout};

/// Each planted value, one per place a document can carry label text.
const IN_CLASSIFICATION: &str = "4111111111111111";
const IN_MSIP_NAME: &str = "078-05-1120";
const IN_RELEASE_PROPERTY: &str = "mallory.planted@evil.example";
const IN_RELEASE_PROPERTY_NAME: &str = "Shadow Broker Holdings";
const IN_MARKING: &str = "Zyxwvut Quorum Industries";
const IN_MARKING_CARD: &str = "5500000000000004";
const PLANTED: [&str; 6] = [
    IN_CLASSIFICATION,
    IN_MSIP_NAME,
    IN_RELEASE_PROPERTY,
    IN_RELEASE_PROPERTY_NAME,
    IN_MARKING,
    IN_MARKING_CARD,
];
/// A partner the policy lists: policy data, shown as written.
const PARTNER: &str = "Precision Systems";

/// An unlisted MSIP label GUID, so its `_Name` is what the reports would show.
const GUID: &str = "0badc0de-1111-4222-8333-444455556666";

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in members {
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn property(pid: usize, name: &str, value: &str) -> String {
    format!(
        r#"<property fmtid="{{D5CDD505-2E9C-101B-9397-08002B2CF9AE}}" pid="{pid}" name="{name}"><vt:lpwstr>{value}</vt:lpwstr></property>"#
    )
}

/// A docx with a secret in every label place.
fn planted_docx() -> Vec<u8> {
    let rels = br#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/></Relationships>"#;
    let custom = format!(
        r#"<Properties xmlns:vt="vt">{}{}{}{}</Properties>"#,
        property(2, "Classification", IN_CLASSIFICATION),
        property(3, &format!("MSIP_Label_{GUID}_Enabled"), "true"),
        property(4, &format!("MSIP_Label_{GUID}_Name"), IN_MSIP_NAME),
        property(
            5,
            "ReleasedTo",
            &format!("{PARTNER}; {IN_RELEASE_PROPERTY_NAME}; {IN_RELEASE_PROPERTY}")
        ),
    );
    let document = br#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>Quarterly figures.</w:t></w:r></w:p></w:body></w:document>"#;
    let footer = format!(
        r#"<w:ftr xmlns:w="w"><w:p><w:r><w:t>CONFIDENTIAL // RELEASED TO: {IN_MARKING}, {IN_MARKING_CARD} // TLP:AMBER</w:t></w:r></w:p></w:ftr>"#
    );
    zip(&[
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#),
        ("_rels/.rels", rels),
        ("word/document.xml", document),
        ("word/footer1.xml", footer.as_bytes()),
        ("docProps/custom.xml", custom.as_bytes()),
    ])
}

/// The default policy and one partner.
fn policy_with_partner(dir: &Path) -> std::path::PathBuf {
    let default = std::fs::read_to_string(repo().join("policies/default.toml")).unwrap();
    let path = dir.join("policy.toml");
    let partner = format!(
        "\n[[partners]]\nname = \"{PARTNER}\"\nagreement = \"MSA-1\"\nmax_level = \"INTERNAL\"\nvalid_from = 2025-01-01\nvalid_until = 2027-12-31\n"
    );
    std::fs::write(&path, default + &partner).unwrap();
    path
}

struct Setup {
    dir: tempfile::TempDir,
    share: std::path::PathBuf,
    policy: std::path::PathBuf,
    out: std::path::PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(share.join("planted.docx"), planted_docx()).unwrap();
    let policy = policy_with_partner(dir.path());
    let out = dir.path().join("out");
    Setup {
        share,
        policy,
        out,
        dir,
    }
}

/// Every output of a command: stdout, stderr, and each file under `out`.
fn outputs(o: &Measured, out: Option<&Path>) -> Vec<(String, String)> {
    let mut all = vec![
        ("stdout".to_string(), o.stdout.clone()),
        ("stderr".to_string(), o.stderr.clone()),
    ];
    if let Some(out) = out {
        for entry in walkdir::WalkDir::new(out) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let bytes = std::fs::read(entry.path()).unwrap();
                all.push((
                    entry.path().display().to_string(),
                    String::from_utf8_lossy(&bytes).to_string(),
                ));
            }
        }
    }
    all
}

fn leaked(outputs: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, text) in outputs {
        for value in PLANTED {
            if text.contains(value) {
                found.push(format!("{value} in {name}"));
            }
        }
    }
    found
}

fn scan_command(s: &Setup, extra: &[&str]) -> std::process::Command {
    let mut cmd = bin();
    cmd.arg("scan")
        .arg(&s.share)
        .arg("--policy")
        .arg(&s.policy)
        .arg("--out")
        .arg(&s.out)
        .args(["--as-of", "2026-06-01"])
        .args(extra);
    cmd
}

fn scan(s: &Setup, extra: &[&str]) -> Output {
    run(&mut scan_command(s, extra))
}

fn explain_command(s: &Setup, file: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = bin();
    cmd.arg("explain")
        .arg(file)
        .arg("--policy")
        .arg(&s.policy)
        .args(["--as-of", "2026-06-01"])
        .args(extra);
    cmd
}

fn explain(s: &Setup, extra: &[&str]) -> Output {
    run(&mut explain_command(
        s,
        &s.share.join("planted.docx"),
        extra,
    ))
}

#[test]
fn planted_label_values_are_masked_everywhere() {
    let s = setup();
    let baseline = baseline_kb(s.dir.path());
    let o = run_measured(&mut scan_command(&s, &[]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_scan_bounded("planted.docx", &o, &s.out, baseline);
    let all = outputs(&o, Some(&s.out));
    assert!(all.len() > 3, "the scan wrote reports");
    assert_eq!(leaked(&all), Vec::<String>::new());
    // The scan did see every planted place (so masking, not blindness, hides them).
    let jsonl = std::fs::read_to_string(s.out.join("findings.jsonl")).unwrap();
    for code in [
        "UNKNOWN_LABEL",
        "RELEASE_UNAUTHORIZED",
        "RELEASE_EXCEEDS_AGREEMENT",
    ] {
        assert!(jsonl.contains(code), "{code} in {jsonl}");
    }
    // A listed partner is policy data: shown as written.
    assert!(
        jsonl.contains(&format!("\"partner\":\"{PARTNER}\"")),
        "{jsonl}"
    );

    // (`--text` prints the extracted text itself, on purpose.)
    let small = s.dir.path().join("small.txt");
    std::fs::write(&small, "INTERNAL\nhello\n").unwrap();
    for extra in [&[][..], &["--json"][..]] {
        let baseline = run_measured(&mut explain_command(&s, &small, extra));
        let planted = s.share.join("planted.docx");
        let o = run_measured(&mut explain_command(&s, &planted, extra));
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_run_bounded(&format!("explain {extra:?}"), &o, &baseline);
        assert_eq!(
            leaked(&outputs(&o, None)),
            Vec::<String>::new(),
            "{extra:?}"
        );
        assert!(o.stdout.contains(PARTNER));
    }
}

#[test]
fn show_values_shows_the_planted_values() {
    let s = setup();
    let o = scan(&s, &["--show-values"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let jsonl = std::fs::read_to_string(s.out.join("findings.jsonl")).unwrap();
    for value in PLANTED {
        assert!(jsonl.contains(value), "{value} shown with --show-values");
    }
}

#[test]
fn masking_does_not_change_verdicts() {
    let s = setup();
    let verdicts = |extra: &[&str]| {
        let o = explain(&s, &[&["--json"][..], extra].concat());
        let record: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
        record["verdicts"].clone()
    };
    let masked = verdicts(&[]);
    assert!(masked.as_array().is_some_and(|v| v.len() > 2), "{masked}");
    assert_eq!(masked, verdicts(&["--show-values"]));
}
