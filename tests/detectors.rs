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
