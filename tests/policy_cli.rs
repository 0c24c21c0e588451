//! `labelscan policy check`, `policy show` and `detectors`: the real binary on
//! policy files written here.

use std::path::{Path, PathBuf};

mod common;
use common::{bin, run, stderr, stdout};

/// Writes `text` as `p.toml` in a fresh folder.
fn policy_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

const AS_OF: &str = "2026-11-23";

/// Ten planted mistakes, five errors and five warnings, several in repeated
/// sections; the comment on each line says which.
const TEN_MISTAKES: &str = r#"name = "Ten mistakes"
version = "1"

[scheme]
levels = ["OPEN", "RESTRICTED", "SECRET"]
default_suggestion = "OPEN"

[scheme.aliases]
"Secret" = "OPEN"                     # warning: shadows a level
"Eyes Only" = "TOP SECRET"            # error: unknown level

[labels.msip]
"not-a-guid" = "SECRET"               # warning: not a GUID

[[partners]]
name = "Alpha"
agreement = "NDA-1"
max_level = "SECRET"
valid_from = 2025-01-01
valid_until = 2027-12-31

[[partners]]
name = "Beta"
agreement = "MSA-2"
max_level = "RESTRICTED"
valid_from = 2024-01-01
valid_until = 2025-12-31              # warning: expired on the as-of date

[[partners]]
name = "Gamma"
agreement = "MSA-3"
max_level = "RESTRICTED"
valid_from = 2026-06-01
valid_until = 2026-01-01              # warning: before valid_from
region = "EU"                         # error: unknown key

[[locations]]
path = "exchange/alpha/**"
partner = "Alpha"

[[locations]]
path = "/srv//exchange/beta/**"       # warning: can never match
partner = "Delta"                     # error: no such partner

[detectors.credit_cards]              # error: unknown detector id
level = "SECRET"

[[patterns]]
id = "drawing"
regex = 'APX-(\d{6}'                  # error: invalid regex
level = "RESTRICTED"
"#;

/// (line, severity, key) of each diagnostic line `p.toml:LINE: SEVERITY: KEY: ...`.
fn diagnostics(text: &str, file: &Path) -> Vec<(usize, String, String)> {
    let prefix = format!("{}:", file.display());
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let mut fields = rest.splitn(4, ": ");
            let line = fields.next().unwrap().parse().expect("a line number");
            let severity = fields.next().unwrap().to_string();
            let key = fields.next().unwrap().to_string();
            (line, severity, key)
        })
        .collect()
}

#[test]
fn check_reports_every_planted_mistake_at_its_line() {
    let (_dir, path) = policy_file(TEN_MISTAKES);
    let o = run(bin().args(["policy", "check", "--as-of", AS_OF]).arg(&path));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let found = diagnostics(&stderr(&o), &path);
    let expected = [
        (9, "warning", "scheme.aliases.Secret"),
        (10, "error", "scheme.aliases.\"Eyes Only\""),
        (13, "warning", "labels.msip.not-a-guid"),
        (27, "warning", "partners[1].valid_until"),
        (34, "warning", "partners[2].valid_until"),
        (35, "error", "partners[2].region"),
        (42, "warning", "locations[1].path"),
        (43, "error", "locations[1].partner"),
        (45, "error", "detectors.credit_cards"),
        (50, "error", "patterns[0].regex"),
    ];
    let expected: Vec<(usize, String, String)> = expected
        .iter()
        .map(|(l, s, k)| (*l, s.to_string(), k.to_string()))
        .collect();
    assert_eq!(found, expected, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid policy: 5 errors, 5 warnings"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("no partner named \"Delta\""),
        "{}",
        stderr(&o)
    );
    // The regex message is whole, not its first line.
    assert!(stderr(&o).contains("unclosed group"), "{}", stderr(&o));
}

#[test]
fn scan_refuses_the_policy_listing_every_error() {
    let (dir, path) = policy_file(TEN_MISTAKES);
    let out = dir.path().join("out");
    let o = run(bin()
        .args(["scan"])
        .arg(dir.path())
        .args(["--as-of", AS_OF, "--policy"])
        .arg(&path)
        .arg("--out")
        .arg(&out));
    assert_eq!(o.status.code(), Some(2));
    let errors = diagnostics(&stderr(&o), &path);
    assert_eq!(errors.len(), 5, "{}", stderr(&o));
    assert!(errors.iter().all(|(_, s, _)| s == "error"));
    assert!(!out.exists(), "nothing is scanned with an invalid policy");
}

const FOREIGN_SCHEME: &str = r#"name = "Agency policy"
version = "2026-11"

[scheme]
levels = ["OPEN", "RESTRICTED", "SECRET"]

[scheme.aliases]
"Eyes Only" = "SECRET"

[[partners]]
name = "Alpha"
agreement = "NDA-1"
max_level = "SECRET"
valid_from = 2025-01-01
valid_until = 2027-12-31

[[partners]]
name = "Beta"
agreement = "MSA-2"
max_level = "RESTRICTED"
valid_from = 2024-01-01
valid_until = 2025-12-31

[[locations]]
path = "exchange/alpha/**"
partner = "Alpha"

[detectors.phone]
enabled = false

[detectors.email]
min_count = 3

[[keywords]]
id = "helios"
terms = ["Project Helios"]
level = "SECRET"
"#;

const CONTRACT_IDS: &[&str] = &[
    "email",
    "credit_card",
    "iban",
    "aws_access_key",
    "private_key",
    "phone",
    "us_ssn",
    "de_tax_id",
    "uk_nino",
];

/// The whitespace-separated cells of the table line that starts with `id`.
fn table_row<'a>(text: &'a str, id: &str) -> Vec<&'a str> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&id))
        .unwrap_or_else(|| panic!("no row for {id} in:\n{text}"))
}

#[test]
fn show_maps_every_detector_onto_the_policys_levels() {
    let (_dir, path) = policy_file(FOREIGN_SCHEME);
    let o = run(bin().args(["policy", "show", "--as-of", AS_OF]).arg(&path));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("name:      Agency policy"), "{text}");
    assert!(text.contains("version:   2026-11"), "{text}");
    assert!(
        text.contains("levels:    OPEN < RESTRICTED < SECRET"),
        "{text}"
    );
    assert!(text.contains("\"eyes only\" -> SECRET"), "{text}");
    // Default levels map by rank: CONFIDENTIAL to the highest, INTERNAL to
    // the second.
    for (id, level) in [
        ("credit_card", "SECRET"),
        ("private_key", "SECRET"),
        ("email", "RESTRICTED"),
    ] {
        assert_eq!(table_row(&text, id)[3], level, "{id}");
    }
    assert_eq!(table_row(&text, "email")[4], "3");
    assert_eq!(table_row(&text, "phone")[5], "no");
    assert_eq!(
        table_row(&text, "helios")[1..4],
        ["keywords", "IP", "SECRET"]
    );
    assert!(
        text.contains("NDA-1, up to SECRET, 2025-01-01 .. 2027-12-31: valid"),
        "{text}"
    );
    assert!(text.contains("expired on 2025-12-31"), "{text}");
    assert!(text.contains("exchange/alpha/** -> Alpha"), "{text}");
    // The expired agreement is also a warning.
    assert!(
        stderr(&o).contains("warning: partners[1].valid_until"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn show_json_carries_levels_and_agreement_status() {
    let (_dir, path) = policy_file(FOREIGN_SCHEME);
    let o = run(bin()
        .args(["policy", "show", "--json", "--as-of", "2024-06-01"])
        .arg(&path));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["name"], "Agency policy");
    let detectors = json["detectors"].as_array().unwrap();
    let iban = detectors.iter().find(|d| d["id"] == "iban").unwrap();
    assert_eq!(iban["level"], "SECRET");
    assert_eq!(
        json["partners"][0]["status"],
        "not yet valid (from 2025-01-01)"
    );
    assert_eq!(json["partners"][1]["status"], "valid");
}

#[test]
fn detectors_lists_the_contract_ids() {
    let o = run(bin().arg("detectors"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for id in CONTRACT_IDS {
        let row = table_row(&text, id);
        assert_eq!(row[1], "built-in", "{id}");
        assert_eq!(row[5], "yes", "{id}");
    }
    assert_eq!(
        table_row(&text, "credit_card")[2..4],
        ["PII", "CONFIDENTIAL"]
    );
}

/// Issue 17: `labelscan detectors` shows each detector's effective
/// `min_confidence` and its confidence rule, in the table and in JSON.
#[test]
fn detectors_show_min_confidence_and_the_confidence_rule() {
    let o = run(bin().arg("detectors"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(table_row(&text, "phone")[6], "medium");
    let after_card = text
        .lines()
        .skip_while(|l| !l.starts_with("credit_card "))
        .nth(1)
        .unwrap();
    assert!(
        after_card
            .trim_start()
            .starts_with("confidence: credit_card check passed: medium"),
        "{after_card}"
    );
    let o = run(bin().args(["detectors", "--json"]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    for row in &rows {
        assert!(row["min_confidence"].is_string(), "{}", row["id"]);
        if row["kind"] == "built-in" {
            assert!(
                row["confidence_rule"]
                    .as_str()
                    .is_some_and(|r| !r.is_empty()),
                "{}",
                row["id"]
            );
        }
    }
}

#[test]
fn detectors_under_a_policy_use_its_levels() {
    let (_dir, path) = policy_file(FOREIGN_SCHEME);
    let o = run(bin().args(["detectors", "--json", "--policy"]).arg(&path));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let level = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap()["level"].clone();
    assert_eq!(level("us_ssn"), "SECRET");
    assert_eq!(level("email"), "RESTRICTED");
    assert_eq!(level("helios"), "SECRET");
    for id in CONTRACT_IDS {
        assert!(rows.iter().any(|r| r["id"] == *id), "{id}");
    }
}

#[test]
fn a_valid_policy_passes_with_its_warnings() {
    let (_dir, path) = policy_file(FOREIGN_SCHEME);
    let o = run(bin().args(["policy", "check", "--as-of", AS_OF]).arg(&path));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("valid, 1 warning"), "{}", stdout(&o));
    assert_eq!(diagnostics(&stderr(&o), &path).len(), 1, "{}", stderr(&o));
}

#[test]
fn scan_prints_policy_warnings_once_unless_quiet() {
    let (dir, path) = policy_file(FOREIGN_SCHEME);
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("note.txt"), "nothing to see").unwrap();
    let scan = |quiet: bool| {
        let mut cmd = bin();
        cmd.arg("scan")
            .arg(&tree)
            .args(["--as-of", AS_OF, "--policy"])
            .arg(&path)
            .arg("--out")
            .arg(dir.path().join("out"));
        if quiet {
            cmd.arg("--quiet");
        }
        run(&mut cmd)
    };
    let o = scan(false);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let warnings = stderr(&o).matches("labelscan: policy warning: ").count();
    assert_eq!(warnings, 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("partners[1].valid_until"),
        "{}",
        stderr(&o)
    );
    let o = scan(true);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn syntax_errors_and_missing_files_name_the_place() {
    let (_dir, path) = policy_file("[scheme]\nlevels = [\"A\"\n\n[labels]\n");
    let o = run(bin().args(["policy", "check"]).arg(&path));
    assert_eq!(o.status.code(), Some(2));
    let found = diagnostics(&stderr(&o), &path);
    assert!(!found.is_empty(), "{}", stderr(&o));
    assert!(found.iter().all(|(line, s, _)| *line >= 2 && s == "error"));
    let o = run(bin().args(["policy", "show", "/no/such/policy.toml"]));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the policy file"),
        "{}",
        stderr(&o)
    );
}
