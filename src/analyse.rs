//! Analysis: extraction, labels and detections of one document, apart from
//! judgement. An [`Analysis`] depends only on the document, the tool version,
//! the detector definitions and the detection-relevant parts of the policy
//! (scheme names, label settings, detector tuning, keywords, patterns), all
//! of which [`Analyser::fingerprint`] hashes, so that a stored analysis can be
//! reused while its fingerprint holds and judged again at no cost.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::detect::DetectorSet;
use crate::labels::{find_labels, mask_label_values};
use crate::model::hash::hex_sha256;
use crate::model::{Analysis, ExtractError, Extracted, Format, ANALYSIS_VERSION};
use crate::policy::Policy;

/// What analysing a document needs, shared read-only by all workers.
pub struct Analyser {
    /// Compiled when the first document is analysed (see [`Analyser::lazy`]),
    /// or given compiled; `Err` holds why compiling failed.
    detectors: OnceLock<Result<DetectorSet, String>>,
    pub show_values: bool,
    fingerprint: String,
}

impl Analyser {
    pub fn new(policy: &Policy, detectors: DetectorSet, show_values: bool) -> Analyser {
        let analyser = Analyser::lazy(policy, show_values);
        let _ = analyser.detectors.set(Ok(detectors));
        analyser
    }

    /// An analyser whose detectors are compiled from the policy passed to
    /// [`Analyser::analyse`] when the first document needs them: a rescan
    /// that reads no file never pays for compiling them. The policy must
    /// have been loaded with its checks (patterns, detector ids), so that
    /// compiling cannot fail on the policy's account.
    pub fn lazy(policy: &Policy, show_values: bool) -> Analyser {
        Analyser {
            detectors: OnceLock::new(),
            show_values,
            fingerprint: fingerprint(policy, show_values),
        }
    }

    /// The compiled detectors, compiled now if need be with `policy`.
    fn detectors(&self, policy: &Policy) -> Result<&DetectorSet, &str> {
        self.detectors
            .get_or_init(|| DetectorSet::compile(policy).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// SHA-256 over everything an analysis depends on besides the file:
    /// the tool and analysis versions, the built-in detector definitions, the
    /// detection-relevant policy and whether values are shown (and, when
    /// they are masked, the partners' names, which masking keeps). Two runs with
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
        let labels = catch_unwind(AssertUnwindSafe(|| {
            let mut labels = find_labels(extracted, policy);
            if !self.show_values {
                mask_label_values(&mut labels, policy);
            }
            labels
        }))
        .unwrap_or_else(|_| {
            error.get_or_insert_with(|| ExtractError::internal("the labels stage"));
            Default::default()
        });
        // A document cut by a limit is scanned as far as it was read: a
        // card number in its first 16 MiB is evidence whatever follows.
        let scanned = error.is_none()
            || crate::model::analysis::partly_read(error.as_ref(), extracted.content_chars());
        let detections = if scanned {
            catch_unwind(AssertUnwindSafe(|| {
                self.detectors(policy)
                    .map(|d| d.scan(&extracted.parts, self.show_values))
            }))
            .unwrap_or(Err("a panic"))
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
            text_chars: extracted.content_chars(),
            no_text_cause: extracted.no_text_cause.clone(),
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
