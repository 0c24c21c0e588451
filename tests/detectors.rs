//! Runs every built-in detector definition against its own examples:
//! positives must be detected by that detector, negatives must not, and a
//! definition without either kind of example fails.

use labelscan::detect::{builtin_definitions, DetectorSet};
use labelscan::extract::{Part, PartKind};
use labelscan::policy::Policy;

#[test]
fn every_definition_passes_its_examples() {
    let defs = builtin_definitions().expect("definitions parse");
    let set = DetectorSet::compile(&Policy::default_policy()).expect("compile");
    let mut failures = Vec::new();
    for d in &defs {
        if d.examples.positive.is_empty() || d.examples.negative.is_empty() {
            failures.push(format!("{}: needs positive and negative examples", d.id));
            continue;
        }
        for (expected, list) in [(true, &d.examples.positive), (false, &d.examples.negative)] {
            for text in list {
                let found = set
                    .scan(&[Part::new(PartKind::Body, "", text.as_str())], true)
                    .into_iter()
                    .any(|x| x.detector == d.id && x.count > 0);
                if found != expected {
                    failures.push(format!(
                        "{}: {} example not {}: {:?}",
                        d.id,
                        if expected { "positive" } else { "negative" },
                        if expected { "detected" } else { "rejected" },
                        text
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn contract_detectors_fire_on_one_instance() {
    let set = DetectorSet::compile(&Policy::default_policy()).unwrap();
    for (id, text) in [
        ("email", "anna.schmidt@apex-dynamics.example"),
        ("credit_card", "4111 1111 1111 1111"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("aws_access_key", "AKIAQYLPMN5HHHFPZAM2"),
        ("phone", "+49 261 555 0142"),
        ("us_ssn", "SSN: 078-05-1120"),
        ("de_tax_id", "65929970489"),
        ("uk_nino", "AA 12 34 56 B"),
    ] {
        let d = set.scan(&[Part::new(PartKind::Body, "", text)], false);
        let hit = d.iter().find(|x| x.detector == id);
        assert!(
            hit.is_some_and(|h| h.fired && h.min_count == 1),
            "{id} on {text:?}: {d:?}"
        );
    }
}

/// Rows of real spreadsheets full of numbers (decimals, parcel and document
/// numbers, barcodes, scientific notation; `tests/fixtures/numeric_noise/`)
/// fire no detector at default settings, row by row and all together.
#[test]
fn numeric_noise_fires_no_detector() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/numeric_noise/numeric_noise.tsv"
    );
    let data = std::fs::read_to_string(path).expect("the numeric-noise set is in the repository");
    let rows: Vec<&str> = data
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(rows.len() >= 20, "the set lost rows: {}", rows.len());
    let set = DetectorSet::compile(&Policy::default_policy()).unwrap();
    let all = rows.join("\n");
    let mut fired = Vec::new();
    for text in rows.iter().copied().chain([all.as_str()]) {
        for d in set.scan(&[Part::new(PartKind::Sheet, "sheet", text)], true) {
            if d.fired {
                fired.push(format!("{} {:?} in {:.60}", d.detector, d.samples, text));
            }
        }
    }
    assert!(fired.is_empty(), "{}", fired.join("\n"));
}

/// The policy tunes precision: `min_confidence` drops hits below it, and
/// `allow` drops listed values (however they are spaced).
#[test]
fn min_confidence_and_allow_tune_a_detector() {
    let count = |policy: &str, text: &str| {
        let source =
            format!("[scheme]\nlevels = [\"PUBLIC\", \"INTERNAL\", \"CONFIDENTIAL\"]\n{policy}");
        let policy = Policy::parse(&source, "p.toml").expect("policy parses");
        let set = DetectorSet::compile(&policy).unwrap();
        set.scan(&[Part::new(PartKind::Body, "", text)], false)
            .iter()
            .find(|d| d.detector == "credit_card")
            .map_or(0, |d| d.count)
    };
    let text = "4111 1111 1111 1111 and 4012888888881881 and 5019717010103742";
    assert_eq!(count("", text), 3);
    // The two test values are low confidence.
    assert_eq!(
        count(
            "[detectors.credit_card]\nmin_confidence = \"medium\"\n",
            text
        ),
        1
    );
    assert_eq!(
        count(
            "[detectors.credit_card]\nallow = [\"4111-1111-1111-1111\", \"5019 7170 1010 3742\"]\n",
            text
        ),
        1
    );
}
