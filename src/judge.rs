//! Verdicts: compares a document's labels, releases and TLP markings with
//! its content and the policy, and says why for each code.

use chrono::NaiveDate;

use crate::model::{
    Analysis, Detection, Judgement, LabelFindings, Level, Tlp, Verdict, VerdictCode,
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
    /// The reason, when unreadable.
    pub unreadable: Option<String>,
}

impl<'a> Case<'a> {
    pub fn of(analysis: &'a Analysis, location_path: &'a str) -> Case<'a> {
        Case {
            labels: &analysis.labels,
            detections: &analysis.detections,
            location_path,
            content_known: analysis.content_known(),
            unreadable: analysis.error.as_ref().map(|e| e.to_string()),
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
    let suggested = case
        .content_known
        .then(|| suggested_level(case.detections, policy));
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
    if level.is_none() && unmapped.is_empty() && case.content_known {
        v.push(
            VerdictCode::Unlabeled,
            "no protection level in metadata, properties or markings".to_string(),
        );
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

    let released_to = judge_releases(case, policy, as_of, level, &mut v);
    judge_location(case, policy, level, &released_to, &mut v);
    judge_tlp(case, policy, suggested, &mut v);

    let mut verdicts = v.0;
    if verdicts.is_empty() {
        verdicts.push(Verdict {
            code: VerdictCode::Ok,
            reason: String::new(),
        });
    }
    verdicts.sort_by_key(|v| v.code);
    Judgement {
        level,
        suggested,
        released_to,
        verdicts,
    }
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
            self.0.push(Verdict { code, reason });
        }
    }
}

/// The highest level implied by a fired detector, else the scheme's default.
pub fn suggested_level(detections: &[Detection], policy: &Policy) -> Level {
    detections
        .iter()
        .filter(|d| d.fired)
        .map(|d| d.level)
        .max()
        .unwrap_or(policy.scheme.default_suggestion)
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
) -> Vec<String> {
    let scheme = &policy.scheme;
    let names = case.labels.release_names();
    if names.is_empty() {
        return Vec::new();
    }
    if level.is_none() {
        v.push(
            VerdictCode::ReleaseWithoutLevel,
            format!(
                "released to {} but carries no protection level",
                names.join(", ")
            ),
        );
    }
    let mut released_to: Vec<String> = Vec::new();
    for name in &names {
        let agreements = policy.agreements_of(name);
        let Some(partner) = agreements.first() else {
            v.push(
                VerdictCode::ReleaseUnauthorized,
                format!("released to \"{name}\", which is not a partner in the policy"),
            );
            if !released_to.contains(name) {
                released_to.push(name.clone());
            }
            continue;
        };
        if !released_to.contains(&partner.name) {
            released_to.push(partner.name.clone());
        }
        // The agreements that cover the document's level (all of them when it has none).
        let covering: Vec<&&Partner> = agreements
            .iter()
            .filter(|a| level.is_none_or(|l| a.max_level >= l))
            .collect();
        if let (Some(level), true) = (level, covering.is_empty()) {
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
        let judged: Vec<&Partner> = if covering.is_empty() {
            agreements.clone()
        } else {
            covering.into_iter().copied().collect()
        };
        if !judged.iter().any(|a| a.is_valid_on(as_of)) {
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
    }
    released_to
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
    case: &Case,
    policy: &Policy,
    level: Option<Level>,
    released_to: &[String],
    v: &mut Verdicts,
) {
    let Some(location) = policy.location_of(case.location_path) else {
        return;
    };
    let partner = &policy.partners[location.partner];
    let lowest = level == Some(policy.scheme.lowest());
    if lowest || released_to.contains(&partner.name) {
        return;
    }
    let level_text = level
        .map(|l| policy.scheme.name(l).to_string())
        .unwrap_or_else(|| "no level".to_string());
    v.push(
        VerdictCode::NotReleasedToLocation,
        format!(
            "in {}'s exchange location ({}) with {} and no release to {}",
            partner.name, location.pattern, level_text, partner.name
        ),
    );
}

fn judge_tlp(case: &Case, policy: &Policy, suggested: Option<Level>, v: &mut Verdicts) {
    if !case.content_known {
        return;
    }
    let in_location = policy.location_of(case.location_path);
    for marking in &case.labels.tlp {
        match (marking.tlp, in_location) {
            (Tlp::Red | Tlp::AmberStrict, Some(location)) => v.push(
                VerdictCode::TlpViolation,
                format!(
                    "{} ({}) forbids sharing outside the recipient's organisation, but the file is in {}'s exchange location ({})",
                    marking.tlp.as_str(),
                    marking.location,
                    policy.partners[location.partner].name,
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
            unreadable: None,
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
    fn a_second_agreement_covers_the_higher_level() {
        let text = format!(
            "{POLICY}\n[[partners]]\nname = \"Precision Systems\"\nagreement = \"NDA-1\"\nmax_level = \"CONFIDENTIAL\"\nvalid_until = 2026-01-01\n"
        );
        let p = Policy::parse(&text, "t").unwrap();
        let labels = LabelFindings {
            sources: vec![marking("CONFIDENTIAL")],
            releases: vec![ReleaseMarking {
                names: vec!["Precision Systems".into()],
                location: "footer".into(),
            }],
            ..Default::default()
        };
        let case = Case {
            labels: &labels,
            detections: &[],
            location_path: "x",
            content_known: true,
            unreadable: None,
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
                location: "footer".into(),
            }],
            ..Default::default()
        };
        assert_eq!(
            codes(labels, &[], "x"),
            vec!["UNLABELED", "RELEASE_WITHOUT_LEVEL"]
        );
    }
}
