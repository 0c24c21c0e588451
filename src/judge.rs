//! Verdicts: compares a document's labels, releases and TLP markings with
//! its content and the policy, and says why for each code.

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::model::label::{release_name_key, ReleaseName};
use crate::model::{
    Analysis, Detection, Judgement, LabelFindings, Level, LocationEvidence, ReleaseEvidence,
    ReleaseStatus, Tlp, Verdict, VerdictCode,
};
use crate::policy::{Partner, Policy};

/// What the judge needs to know about one document.
pub struct Case<'a> {
    pub labels: &'a LabelFindings,
    pub detections: &'a [Detection],
    /// The file's absolute path, `/`-separated, for exchange locations.
    pub location_path: &'a str,
    /// Whether the content could be read (false for `UNREADABLE`).
    pub content_known: bool,
    /// Whether a limit cut the content after part of it was read: the
    /// detections of that part are evidence (a level at least as high as
    /// theirs), and the rest is unknown (no level from what did not fire).
    pub partly_read: bool,
    /// The reason, when unreadable.
    pub unreadable: Option<String>,
    /// Characters of content text read (document properties aside): with
    /// none, the content is unknown and no level is suggested.
    pub text_chars: usize,
    /// Why no text could be read, when the extractor knows.
    pub no_text_cause: Option<&'a str>,
}

impl<'a> Case<'a> {
    pub fn of(analysis: &'a Analysis, location_path: &'a str) -> Case<'a> {
        Case {
            labels: &analysis.labels,
            detections: &analysis.detections,
            location_path,
            content_known: analysis.content_known(),
            partly_read: analysis.content_partly_read(),
            unreadable: analysis.error.as_ref().map(|e| e.to_string()),
            text_chars: analysis.text_chars,
            no_text_cause: analysis.no_text_cause.as_deref(),
        }
    }
}

/// Judges a stored or fresh analysis of the file at `location_path`.
pub fn judge_analysis(
    analysis: &Analysis,
    location_path: &str,
    policy: &Policy,
    as_of: NaiveDate,
) -> Judgement {
    judge(&Case::of(analysis, location_path), policy, as_of)
}

pub fn judge(case: &Case, policy: &Policy, as_of: NaiveDate) -> Judgement {
    let scheme = &policy.scheme;
    let mapped: Vec<Level> = case.labels.sources.iter().filter_map(|s| s.level).collect();
    let level = mapped.iter().copied().max();
    let suggested = suggested_for(case, policy);
    let mut v = Verdicts::default();

    if let Some(reason) = &case.unreadable {
        v.push(VerdictCode::Unreadable, reason.clone());
    }
    let unmapped: Vec<String> = case
        .labels
        .sources
        .iter()
        .filter(|s| s.level.is_none())
        .map(|s| format!("{} label \"{}\" ({})", s.kind.as_str(), s.value, s.location))
        .collect();
    if !unmapped.is_empty() {
        v.push(
            VerdictCode::UnknownLabel,
            format!(
                "{} maps to no level of the scheme ({})",
                unmapped.join(" | "),
                scheme.levels.join(", ")
            ),
        );
    }
    let unlabeled_known = case.content_known || (case.partly_read && suggested.is_some());
    if level.is_none() && unmapped.is_empty() && unlabeled_known {
        let mut reason = "no protection level in metadata, properties or markings".to_string();
        if case.partly_read {
            reason.push_str(PARTLY_READ_NOTE);
        } else if suggested.is_none() {
            match case.no_text_cause.filter(|_| case.text_chars == 0) {
                Some(cause) => {
                    let _ = write!(
                        reason,
                        "; no text could be read ({cause}), so no level is suggested"
                    );
                }
                None => reason.push_str(NO_TEXT_NOTE),
            }
        }
        v.push(VerdictCode::Unlabeled, reason);
    }
    let mut distinct = mapped.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() > 1 {
        let described: Vec<String> = case
            .labels
            .sources
            .iter()
            .filter_map(|s| {
                s.level.map(|l| {
                    format!(
                        "{} says {} ({})",
                        s.kind.as_str(),
                        scheme.name(l),
                        s.location
                    )
                })
            })
            .collect();
        v.push(
            VerdictCode::LabelConflict,
            format!("label sources disagree: {}", described.join(" | ")),
        );
    }
    if let (Some(level), Some(suggested)) = (level, suggested) {
        if level < suggested {
            let evidence = fired_evidence(case.detections, suggested);
            v.push(
                VerdictCode::UnderClassified,
                format!(
                    "labelled {} but content calls for {}: {}",
                    scheme.name(level),
                    scheme.name(suggested),
                    evidence
                ),
            );
        }
    }

    let releases = judge_releases(case, policy, as_of, level, &mut v);
    let released_to = released_names(&releases);
    let location = location_of(case, policy);
    judge_location(&location, policy, level, &released_to, &mut v);
    judge_tlp(case, policy, &location, suggested, &mut v);

    let mut verdicts = v.0;
    if verdicts.is_empty() {
        verdicts.push(Verdict {
            code: VerdictCode::Ok,
            reason: String::new(),
            excepted: None,
        });
    }
    verdicts.sort_by_key(|v| v.code);
    apply_exceptions(&mut verdicts, case.location_path, policy, as_of);
    Judgement {
        level,
        suggested,
        released_to,
        verdicts,
        releases,
        location,
    }
}

/// Marks each verdict that a policy exception in force on `as_of` accepts
/// for the file at `location_path` (the first such exception wins).
fn apply_exceptions(
    verdicts: &mut [Verdict],
    location_path: &str,
    policy: &Policy,
    as_of: NaiveDate,
) {
    if policy.exceptions.is_empty() {
        return;
    }
    for verdict in verdicts.iter_mut().filter(|v| v.code != VerdictCode::Ok) {
        verdict.excepted = policy
            .exceptions
            .iter()
            .find(|e| e.accepts(verdict.code, location_path, as_of))
            .map(|e| e.id.clone());
    }
}

/// Why an unlabeled document has no suggestion, appended to its reason.
const NO_TEXT_NOTE: &str =
    "; no text could be read (an image-only scan?), so no level is suggested";

/// Why an unlabeled document read only in part has the suggestion it has.
const PARTLY_READ_NOTE: &str =
    "; only part of the content was read, so the suggestion is the least the part read calls for";

/// The level the content calls for: the highest fired detector's; the
/// scheme's default when text was read and nothing fired; none when the
/// content is unknown or no text could be read, since an image-only scan
/// is not evidence of PUBLIC content. Of a document read in part, only a
/// fired detector's level: what was not read may call for more.
fn suggested_for(case: &Case, policy: &Policy) -> Option<Level> {
    if !case.content_known && !case.partly_read {
        return None;
    }
    let fired = case
        .detections
        .iter()
        .filter(|d| d.fired)
        .map(|d| d.level)
        .max();
    match fired {
        Some(level) => Some(level),
        None if case.text_chars == 0 || case.partly_read => None,
        None => Some(policy.scheme.default_suggestion),
    }
}

/// Canonical names of the partners released to, then other names as
/// written, each once, in marking order.
fn released_names(releases: &[ReleaseEvidence]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for r in releases {
        let name = r.partner.as_ref().unwrap_or(&r.named);
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

fn location_of(case: &Case, policy: &Policy) -> Option<LocationEvidence> {
    let index = policy.location_index(case.location_path)?;
    let location = &policy.locations[index];
    Some(LocationEvidence {
        index,
        pattern: location.pattern.clone(),
        partner: policy.partners[location.partner].name.clone(),
    })
}

#[derive(Default)]
struct Verdicts(Vec<Verdict>);

impl Verdicts {
    /// Adds a verdict, or appends the reason to an existing one of the same code.
    fn push(&mut self, code: VerdictCode, reason: String) {
        if let Some(existing) = self.0.iter_mut().find(|v| v.code == code) {
            existing.reason.push_str(" | ");
            existing.reason.push_str(&reason);
        } else {
            self.0.push(Verdict {
                code,
                reason,
                excepted: None,
            });
        }
    }
}

fn fired_evidence(detections: &[Detection], at: Level) -> String {
    let items: Vec<String> = detections
        .iter()
        .filter(|d| d.fired && d.level == at)
        .map(|d| format!("{} x{}", d.detector, d.count))
        .collect();
    if items.is_empty() {
        "default suggestion".to_string()
    } else {
        items.join(", ")
    }
}

fn judge_releases(
    case: &Case,
    policy: &Policy,
    as_of: NaiveDate,
    level: Option<Level>,
    v: &mut Verdicts,
) -> Vec<ReleaseEvidence> {
    let names = case.labels.release_names();
    if names.is_empty() {
        return Vec::new();
    }
    if level.is_none() {
        v.push(
            VerdictCode::ReleaseWithoutLevel,
            format!(
                "released to {} but carries no protection level",
                names
                    .iter()
                    .map(|n| shown_name(n, policy))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    names
        .iter()
        .map(|name| judge_release(name, policy, as_of, level, v))
        .collect()
}

/// The verdicts a scan would give a document at `level` released to the
/// party `name` on `as_of` (none when an agreement covers it): the rule
/// `apply --release-to` asks before it writes a release marking.
pub fn release_problems(
    name: &str,
    policy: &Policy,
    as_of: NaiveDate,
    level: Level,
) -> Vec<Verdict> {
    let party = ReleaseName {
        written: name.to_string(),
        key: release_name_key(name),
    };
    let mut v = Verdicts::default();
    judge_release(&party, policy, as_of, Some(level), &mut v);
    v.0
}

/// One named party: the agreement that covers the release, or the verdicts
/// that say why none does.
fn judge_release(
    party: &ReleaseName,
    policy: &Policy,
    as_of: NaiveDate,
    level: Option<Level>,
    v: &mut Verdicts,
) -> ReleaseEvidence {
    let scheme = &policy.scheme;
    let Some((partner, name)) = policy.partner_released_to(party) else {
        let name = &party.written;
        v.push(
            VerdictCode::ReleaseUnauthorized,
            format!("released to \"{name}\", which is not a partner in the policy"),
        );
        return ReleaseEvidence {
            partner: None,
            named: name.to_string(),
            status: ReleaseStatus::UnknownPartner,
            agreement: None,
            max_level: None,
            valid_from: None,
            valid_until: None,
        };
    };
    let agreements = policy.agreements_of(&partner.name);
    // The agreements that cover the document's level (all of them when it has none).
    let covering: Vec<&Partner> = agreements
        .iter()
        .copied()
        .filter(|a| level.is_none_or(|l| a.max_level >= l))
        .collect();
    let exceeds = level.is_some() && covering.is_empty();
    if let (Some(level), true) = (level, exceeds) {
        let covers: Vec<String> = agreements
            .iter()
            .map(|a| format!("{} covers {}", agreement_name(a), scheme.name(a.max_level)))
            .collect();
        v.push(
            VerdictCode::ReleaseExceedsAgreement,
            format!(
                "released to {}, whose {}, document is {}",
                partner.name,
                covers.join(" and "),
                scheme.name(level)
            ),
        );
    }
    let judged: Vec<&Partner> = if exceeds { agreements } else { covering };
    let valid = judged.iter().copied().find(|a| a.is_valid_on(as_of));
    if valid.is_none() {
        let windows: Vec<String> = judged
            .iter()
            .map(|a| format!("{} is {}", agreement_name(a), validity(a)))
            .collect();
        v.push(
            VerdictCode::ReleaseAgreementExpired,
            format!(
                "released to {}, whose {}, not on {as_of}",
                partner.name,
                windows.join(" and ")
            ),
        );
    }
    let status = match (exceeds, valid) {
        (true, _) => ReleaseStatus::Exceeds,
        (false, None) => ReleaseStatus::Expired,
        (false, Some(_)) => ReleaseStatus::Covered,
    };
    // The agreement named as evidence: the valid one, else the newest judged.
    let shown = valid.or_else(|| judged.iter().copied().max_by_key(|a| a.valid_until));
    ReleaseEvidence {
        partner: Some(partner.name.clone()),
        named: name,
        status,
        agreement: shown
            .map(|a| a.agreement.clone())
            .filter(|id| !id.is_empty()),
        max_level: shown.map(|a| a.max_level),
        valid_from: shown.and_then(|a| a.valid_from),
        valid_until: shown.and_then(|a| a.valid_until),
    }
}

/// A named party as reports show it: the partner's name or alias it
/// matched, else as written (masked unless values are shown).
fn shown_name(party: &ReleaseName, policy: &Policy) -> String {
    match policy.partner_released_to(party) {
        Some((_, name)) => name,
        None => party.written.clone(),
    }
}

fn agreement_name(p: &Partner) -> String {
    if p.agreement.is_empty() {
        "agreement".to_string()
    } else {
        format!("agreement {}", p.agreement)
    }
}

fn validity(p: &Partner) -> String {
    match (p.valid_from, p.valid_until) {
        (Some(f), Some(u)) => format!("valid {f} to {u}"),
        (None, Some(u)) => format!("valid until {u}"),
        (Some(f), None) => format!("valid from {f}"),
        (None, None) => "valid".to_string(),
    }
}

fn judge_location(
    location: &Option<LocationEvidence>,
    policy: &Policy,
    level: Option<Level>,
    released_to: &[String],
    v: &mut Verdicts,
) {
    let Some(location) = location else {
        return;
    };
    let lowest = level == Some(policy.scheme.lowest());
    if lowest || released_to.contains(&location.partner) {
        return;
    }
    let level_text = level
        .map(|l| policy.scheme.name(l).to_string())
        .unwrap_or_else(|| "no level".to_string());
    v.push(
        VerdictCode::NotReleasedToLocation,
        format!(
            "in {}'s exchange location ({}) with {} and no release to {}",
            location.partner, location.pattern, level_text, location.partner
        ),
    );
}

fn judge_tlp(
    case: &Case,
    policy: &Policy,
    location: &Option<LocationEvidence>,
    suggested: Option<Level>,
    v: &mut Verdicts,
) {
    if !case.content_known && !case.partly_read {
        return;
    }
    for marking in &case.labels.tlp {
        match (marking.tlp, location) {
            (Tlp::Red | Tlp::AmberStrict, Some(location)) => v.push(
                VerdictCode::TlpViolation,
                format!(
                    "{} ({}) forbids sharing outside the recipient's organisation, but the file is in {}'s exchange location ({})",
                    marking.tlp.as_str(),
                    marking.location,
                    location.partner,
                    location.pattern
                ),
            ),
            (Tlp::Clear, _) => {
                if let Some(s) = suggested.filter(|&s| s > policy.scheme.lowest()) {
                    v.push(
                        VerdictCode::TlpViolation,
                        format!(
                            "{} ({}) allows unlimited disclosure, but content calls for {}: {}",
                            marking.written,
                            marking.location,
                            policy.scheme.name(s),
                            fired_evidence(case.detections, s)
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Confidence, LabelKind, LabelSource, ReleaseMarking, TlpMarking};

    const POLICY: &str = r#"
[scheme]
levels = ["PUBLIC", "INTERNAL", "CONFIDENTIAL"]
[[partners]]
name = "Precision Systems"
agreement = "MSA-2025-014"
max_level = "INTERNAL"
valid_from = 2025-01-01
valid_until = 2027-12-31
[[partners]]
name = "Old Partner"
agreement = "NDA-2020-001"
max_level = "CONFIDENTIAL"
valid_until = 2022-12-31
[[locations]]
path = "exchange/precision/**"
partner = "Precision Systems"
"#;

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn level_of(name: &str) -> Level {
        Policy::parse(POLICY, "t")
            .unwrap()
            .scheme
            .level_of(name)
            .unwrap()
    }

    fn marking(level: &str) -> LabelSource {
        LabelSource {
            kind: LabelKind::Marking,
            value: level.to_string(),
            level: Some(level_of(level)),
            location: "header".to_string(),
        }
    }

    fn detection(level: &str) -> Detection {
        Detection {
            detector: "credit_card".into(),
            category: "PII".into(),
            count: 1,
            min_count: 1,
            fired: true,
            level: level_of(level),
            confidence: Confidence::High,
            samples: vec![],
            locations: vec![],
        }
    }

    fn codes(labels: LabelFindings, detections: &[Detection], path: &str) -> Vec<&'static str> {
        let p = Policy::parse(POLICY, "t").unwrap();
        let case = Case {
            labels: &labels,
            detections,
            location_path: path,
            content_known: true,
            partly_read: false,
            unreadable: None,
            text_chars: 100,
            no_text_cause: None,
        };
        judge(&case, &p, as_of())
            .verdicts
            .iter()
            .map(|v| v.code.as_str())
            .collect()
    }

    #[test]
    fn unlabeled_and_under_classified() {
        assert_eq!(
            codes(LabelFindings::default(), &[], "a.docx"),
            vec!["UNLABELED"]
        );
        let labels = LabelFindings {
            sources: vec![marking("INTERNAL")],
            ..Default::default()
        };
        assert_eq!(
            codes(labels, &[detection("CONFIDENTIAL")], "a.docx"),
            vec!["UNDER_CLASSIFIED"]
        );
    }

    /// A document cut by a limit after part of its text: its verdict codes
    /// and suggested level.
    fn partly_read(
        labels: LabelFindings,
        detections: &[Detection],
    ) -> (Vec<&'static str>, Option<Level>) {
        let p = Policy::parse(POLICY, "t").unwrap();
        let case = Case {
            labels: &labels,
            detections,
            location_path: "big.txt",
            content_known: false,
            partly_read: true,
            unreadable: Some("limit_exceeded: only the first 16 MiB were read".into()),
            text_chars: 100,
            no_text_cause: None,
        };
        let j = judge(&case, &p, as_of());
        (
            j.verdicts.iter().map(|v| v.code.as_str()).collect(),
            j.suggested,
        )
    }

    #[test]
    fn a_document_read_in_part_is_judged_on_what_fired() {
        let (codes, suggested) =
            partly_read(LabelFindings::default(), &[detection("CONFIDENTIAL")]);
        assert_eq!(codes, ["UNLABELED", "UNREADABLE"]);
        assert_eq!(suggested, Some(level_of("CONFIDENTIAL")));
        let internal = LabelFindings {
            sources: vec![marking("INTERNAL")],
            ..Default::default()
        };
        let (codes, _) = partly_read(internal.clone(), &[detection("CONFIDENTIAL")]);
        assert_eq!(codes, ["UNDER_CLASSIFIED", "UNREADABLE"]);
        // Nothing fired in the part read: the rest is unknown, so neither a
        // default level nor UNLABELED.
        let (codes, suggested) = partly_read(LabelFindings::default(), &[]);
        assert_eq!(codes, ["UNREADABLE"]);
        assert_eq!(suggested, None);
        let (codes, _) = partly_read(internal, &[]);
        assert_eq!(codes, ["UNREADABLE"]);
    }

    #[test]
    fn release_rules() {
        let labels = LabelFindings {
            sources: vec![marking("CONFIDENTIAL")],
            releases: vec![ReleaseMarking {
                names: vec![
                    "precision systems".into(),
                    "Old Partner".into(),
                    "Nobody".into(),
                ],
                keys: Vec::new(),
                location: "footer".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            codes(labels, &[], "a.docx"),
            vec![
                "RELEASE_UNAUTHORIZED",
                "RELEASE_EXCEEDS_AGREEMENT",
                "RELEASE_AGREEMENT_EXPIRED"
            ]
        );
    }

    #[test]
    fn release_problems_are_the_verdicts_a_scan_gives() {
        let p = Policy::parse(POLICY, "t").unwrap();
        let problems = |name: &str, level: &str| -> Vec<&'static str> {
            release_problems(name, &p, as_of(), level_of(level))
                .iter()
                .map(|v| v.code.as_str())
                .collect()
        };
        assert!(problems("Precision Systems", "INTERNAL").is_empty());
        assert!(problems("precision  systems", "PUBLIC").is_empty());
        assert_eq!(
            problems("Precision Systems", "CONFIDENTIAL"),
            ["RELEASE_EXCEEDS_AGREEMENT"]
        );
        assert_eq!(
            problems("Old Partner", "INTERNAL"),
            ["RELEASE_AGREEMENT_EXPIRED"]
        );
        assert_eq!(problems("Nobody", "PUBLIC"), ["RELEASE_UNAUTHORIZED"]);
    }

    #[test]
    fn a_second_agreement_covers_the_higher_level() {
        let text = format!(
            "{POLICY}\n[[partners]]\nname = \"Precision Systems\"\nagreement = \"NDA-1\"\nmax_level = \"CONFIDENTIAL\"\nvalid_until = 2026-01-01\n"
        );
        let p = Policy::parse(&text, "t").unwrap();
        let labels = LabelFindings {
            sources: vec![marking("CONFIDENTIAL")],
            releases: vec![ReleaseMarking {
                names: vec!["Precision Systems".into()],
                keys: Vec::new(),
                location: "footer".into(),
            }],
            ..Default::default()
        };
        let case = Case {
            labels: &labels,
            detections: &[],
            location_path: "x",
            content_known: true,
            partly_read: false,
            unreadable: None,
            text_chars: 100,
            no_text_cause: None,
        };
        let codes: Vec<_> = judge(&case, &p, as_of())
            .verdicts
            .iter()
            .map(|v| v.code.as_str())
            .collect();
        // The NDA covers CONFIDENTIAL but has expired; the MSA does not cover it.
        assert_eq!(codes, vec!["RELEASE_AGREEMENT_EXPIRED"]);
    }

    #[test]
    fn location_and_tlp_rules() {
        let labels = LabelFindings {
            sources: vec![marking("INTERNAL")],
            tlp: vec![TlpMarking {
                tlp: Tlp::Red,
                written: "TLP:RED".into(),
                location: "header".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            codes(labels, &[], "exchange/precision/x.docx"),
            vec!["NOT_RELEASED_TO_LOCATION", "TLP_VIOLATION"]
        );
        let clear = LabelFindings {
            sources: vec![marking("CONFIDENTIAL")],
            tlp: vec![TlpMarking {
                tlp: Tlp::Clear,
                written: "TLP:WHITE".into(),
                location: "header".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            codes(clear, &[detection("CONFIDENTIAL")], "x.docx"),
            vec!["TLP_VIOLATION"]
        );
        let public = LabelFindings {
            sources: vec![marking("PUBLIC")],
            ..Default::default()
        };
        assert_eq!(codes(public, &[], "exchange/precision/x.docx"), vec!["OK"]);
    }

    #[test]
    fn conflict_and_release_without_level() {
        let labels = LabelFindings {
            sources: vec![marking("PUBLIC"), marking("INTERNAL")],
            ..Default::default()
        };
        assert_eq!(codes(labels, &[], "x"), vec!["LABEL_CONFLICT"]);
        let labels = LabelFindings {
            releases: vec![ReleaseMarking {
                names: vec!["Precision Systems".into()],
                keys: Vec::new(),
                location: "footer".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            codes(labels, &[], "x"),
            vec!["UNLABELED", "RELEASE_WITHOUT_LEVEL"]
        );
    }

    fn judged(labels: &LabelFindings, detections: &[Detection], text_chars: usize) -> Judgement {
        let p = Policy::parse(POLICY, "t").unwrap();
        let case = Case {
            labels,
            detections,
            location_path: "/srv/share/exchange/precision/a.docx",
            content_known: true,
            partly_read: false,
            unreadable: None,
            text_chars,
            no_text_cause: None,
        };
        judge(&case, &p, as_of())
    }

    fn released(level: &str, names: &[&str]) -> LabelFindings {
        LabelFindings {
            sources: vec![marking(level)],
            releases: vec![ReleaseMarking::new(
                names.iter().map(|n| n.to_string()).collect(),
                "footer".into(),
            )],
            ..Default::default()
        }
    }

    #[test]
    fn releases_name_the_agreement_that_covers_them_or_why_none_does() {
        let j = judged(
            &released("INTERNAL", &["Precision Systems", "Nobody Inc"]),
            &[],
            10,
        );
        assert_eq!(j.releases.len(), 2);
        let covered = &j.releases[0];
        assert_eq!(covered.status, ReleaseStatus::Covered);
        assert_eq!(covered.partner.as_deref(), Some("Precision Systems"));
        assert_eq!(covered.agreement.as_deref(), Some("MSA-2025-014"));
        assert_eq!(covered.max_level, Some(level_of("INTERNAL")));
        assert_eq!(covered.valid_until, NaiveDate::from_ymd_opt(2027, 12, 31));
        assert_eq!(j.releases[1].status, ReleaseStatus::UnknownPartner);
        assert_eq!(j.releases[1].partner, None);

        let j = judged(&released("CONFIDENTIAL", &["Precision Systems"]), &[], 10);
        assert_eq!(j.releases[0].status, ReleaseStatus::Exceeds);
        let j = judged(&released("CONFIDENTIAL", &["Old Partner"]), &[], 10);
        assert_eq!(j.releases[0].status, ReleaseStatus::Expired);
        assert_eq!(j.releases[0].agreement.as_deref(), Some("NDA-2020-001"));
    }

    #[test]
    fn masked_release_names_still_match_partners_by_key() {
        let mut labels = released("INTERNAL", &["precision  SYSTEMS", "Nobody Inc"]);
        let policy = Policy::parse(POLICY, "t").unwrap();
        crate::labels::mask_label_values(&mut labels, &policy);
        assert!(!labels.releases[0].names[0].contains("precision"));
        let j = judged(&labels, &[], 10);
        assert_eq!(j.releases[0].status, ReleaseStatus::Covered);
        assert_eq!(j.releases[0].partner.as_deref(), Some("Precision Systems"));
        // The name shown is the policy's, not the masked one.
        assert_eq!(j.releases[0].named, "Precision Systems");
        assert_eq!(j.releases[1].status, ReleaseStatus::UnknownPartner);
        assert!(!j.releases[1].named.contains("Nobody"));
        assert_eq!(j.released_to[0], "Precision Systems");
    }

    #[test]
    fn the_exchange_location_is_named_as_evidence() {
        let j = judged(&released("INTERNAL", &["Precision Systems"]), &[], 10);
        let location = j.location.expect("the file lies in an exchange location");
        assert_eq!(location.partner, "Precision Systems");
        assert_eq!(location.pattern, "exchange/precision/**");
        assert_eq!(location.index, 0);
    }

    #[test]
    fn no_text_means_no_suggestion_never_a_silent_public() {
        let nothing = LabelFindings::default();
        let j = judged(&nothing, &[], 0);
        assert_eq!(j.suggested, None);
        let unlabeled = j.verdicts.iter().find(|v| v.code == VerdictCode::Unlabeled);
        assert!(unlabeled.unwrap().reason.contains("(an image-only scan?)"));
        // Defect 10: pages that draw text no font decodes say so.
        let p = Policy::parse(POLICY, "t").unwrap();
        let case = Case {
            labels: &nothing,
            detections: &[],
            location_path: "/srv/a.pdf",
            content_known: true,
            partly_read: false,
            unreadable: None,
            text_chars: 0,
            no_text_cause: Some("its pages draw 5 glyphs whose fonts map them to no character"),
        };
        let j = judge(&case, &p, as_of());
        assert_eq!(j.suggested, None);
        let unlabeled = j.verdicts.iter().find(|v| v.code == VerdictCode::Unlabeled);
        assert_eq!(
            unlabeled.unwrap().reason,
            "no protection level in metadata, properties or markings; no text could be read \
(its pages draw 5 glyphs whose fonts map them to no character), so no level is suggested"
        );
        // Text read, nothing fired: the scheme's default.
        assert_eq!(judged(&nothing, &[], 5).suggested, Some(level_of("PUBLIC")));
        // A detector fired on the properties of a text-less file: that is evidence.
        let fired = [detection("CONFIDENTIAL")];
        assert_eq!(
            judged(&nothing, &fired, 0).suggested,
            Some(level_of("CONFIDENTIAL"))
        );
    }
}
