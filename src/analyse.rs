//! Analysis: extraction, labels and detections of one document, apart from
//! judgement. An [`Analysis`] depends only on the document, the tool version,
//! the detector definitions and the detection-relevant parts of the policy
//! (scheme names, label settings, detector tuning, keywords, patterns), all
//! of which [`Analyser::fingerprint`] hashes, so that a stored analysis can be
//! reused while its fingerprint holds and judged again at no cost.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::detect::DetectorSet;
use crate::labels::find_labels;
use crate::model::hash::hex_sha256;
use crate::model::{Analysis, ExtractError, Extracted, Format, ANALYSIS_VERSION};
use crate::policy::Policy;

/// What analysing a document needs, shared read-only by all workers.
pub struct Analyser {
    pub detectors: DetectorSet,
    pub show_values: bool,
    fingerprint: String,
}

impl Analyser {
    pub fn new(policy: &Policy, detectors: DetectorSet, show_values: bool) -> Analyser {
        let fingerprint = fingerprint(policy, show_values);
        Analyser {
            detectors,
            show_values,
            fingerprint,
        }
    }

    /// SHA-256 over everything an analysis depends on besides the file:
    /// the tool and analysis versions, the built-in detector definitions, the
    /// detection-relevant policy and whether values are shown. Two runs with
    /// the same fingerprint analyse the same bytes identically.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Labels and detections of one extracted document. A panic in a stage
    /// becomes an `internal` error on the analysis, never a silent empty
    /// result: a document whose detectors failed must not come out `OK`.
    pub fn analyse(
        &self,
        policy: &Policy,
        format: Format,
        size: u64,
        sha256: String,
        extracted: &Extracted,
    ) -> Analysis {
        let mut error = extracted.error.clone();
        let labels = catch_unwind(AssertUnwindSafe(|| find_labels(extracted, policy)))
            .unwrap_or_else(|_| {
                error.get_or_insert_with(|| ExtractError::internal("the labels stage"));
                Default::default()
            });
        let detections = if error.is_none() {
            catch_unwind(AssertUnwindSafe(|| {
                self.detectors.scan(&extracted.parts, self.show_values)
            }))
            .unwrap_or_else(|_| {
                error = Some(ExtractError::internal("the detectors"));
                Vec::new()
            })
        } else {
            Vec::new()
        };
        Analysis {
            version: ANALYSIS_VERSION,
            format,
            size,
            sha256,
            labels,
            detections,
            error,
            parts_read: extracted.parts_read.len(),
            text_chars: extracted.text_len(),
        }
    }
}

/// SHA-256 of the built-in detector definitions (`detectors/*.toml`), for
/// `summary.json` and the analysis fingerprint.
pub fn detector_definitions_sha256() -> String {
    let mut all = String::new();
    for (name, text) in crate::detect::builtin_sources() {
        let _ = write!(all, "{name}\n{}\n{text}\n", text.len());
    }
    hex_sha256(all.as_bytes())
}

fn fingerprint(policy: &Policy, show_values: bool) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "labelscan {}", crate::VERSION);
    let _ = writeln!(text, "analysis {ANALYSIS_VERSION}");
    let _ = writeln!(text, "definitions {}", detector_definitions_sha256());
    let _ = writeln!(text, "show_values {show_values}");
    let _ = writeln!(text, "{}", policy.detection_relevant());
    hex_sha256(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::judge_analysis;
    use crate::model::{Part, PartKind};

    fn analyse(policy: &Policy, text: &str) -> Analysis {
        let detectors = DetectorSet::compile(policy).unwrap();
        let analyser = Analyser::new(policy, detectors, false);
        let mut extracted = Extracted::default();
        extracted
            .parts
            .push(Part::new(PartKind::Body, "body", text.to_string()));
        analyser.analyse(policy, Format::Text, 10, "ab".into(), &extracted)
    }

    #[test]
    fn a_stored_analysis_is_judged_as_the_fresh_one() {
        let policy = Policy::default_policy();
        let fresh = analyse(
            &policy,
            "INTERNAL\nCard 4111 1111 1111 1111, mail a.b@example.com",
        );
        assert!(!fresh.detections.is_empty() && !fresh.labels.sources.is_empty());
        let stored = serde_json::to_string(&fresh).unwrap();
        let back: Analysis = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, fresh);
        assert!(!stored.contains("4111 1111 1111 1111"), "values are masked");
        let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        assert_eq!(
            judge_analysis(&back, "/a.txt", &policy, as_of),
            judge_analysis(&fresh, "/a.txt", &policy, as_of)
        );
    }

    #[test]
    fn the_fingerprint_follows_detection_relevant_policy_only() {
        let base = "[scheme]\nlevels = [\"PUBLIC\", \"INTERNAL\", \"CONFIDENTIAL\"]\n";
        let print = |text: &str, show: bool| {
            let p = Policy::parse(text, "t").unwrap();
            let d = DetectorSet::compile(&p).unwrap();
            Analyser::new(&p, d, show).fingerprint().to_string()
        };
        let partner = format!("{base}[[partners]]\nname = \"P\"\nmax_level = \"INTERNAL\"\n");
        let keyword =
            format!("{base}[[keywords]]\nid = \"k\"\nterms = [\"Helios\"]\nlevel = \"INTERNAL\"\n");
        assert_eq!(print(base, false), print(&partner, false));
        assert_ne!(print(base, false), print(&keyword, false));
        assert_ne!(print(base, false), print(base, true));
    }
}
