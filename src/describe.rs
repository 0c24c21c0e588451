//! The policy and the detectors as labelscan understands them, for a person
//! (`labelscan policy show`, `labelscan detectors`) or a script (`--json`).
//! It sits at the top layer because it needs both the policy and the
//! built-in detector definitions. It prints policy content only, never
//! document content.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use crate::detect::{self, DetectError};
use crate::model::Confidence;
use crate::policy::Policy;

/// One detector under a policy: a built-in definition with the policy's
/// tuning, a keyword list or a pattern.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorRow {
    pub id: String,
    /// `built-in`, `keywords` or `pattern`.
    pub kind: &'static str,
    pub category: String,
    /// The effective level's name in the policy's scheme.
    pub level: String,
    pub min_count: usize,
    pub enabled: bool,
    /// Hits below this confidence are not counted.
    pub min_confidence: Confidence,
    /// How many values the policy allows (never counted).
    pub allowed_values: usize,
    /// How a hit's confidence is reached.
    pub confidence_rule: String,
    pub description: String,
}

/// Every detector under `policy`: built-ins in definition order, then the
/// policy's keyword lists and patterns.
pub fn detector_rows(policy: &Policy) -> Result<Vec<DetectorRow>, DetectError> {
    let mut rows: Vec<DetectorRow> = detect::builtin_definitions()?
        .into_iter()
        .map(|d| {
            let tuning = policy.detectors.get(&d.id);
            let level = tuning
                .and_then(|t| t.level)
                .unwrap_or_else(|| detect::map_level(policy, &d.level));
            DetectorRow {
                level: policy.scheme.name(level).to_string(),
                min_count: tuning.and_then(|t| t.min_count).unwrap_or(d.min_count),
                enabled: tuning.and_then(|t| t.enabled).unwrap_or(true),
                min_confidence: tuning
                    .and_then(|t| t.min_confidence)
                    .unwrap_or_else(|| detect::default_min_confidence(&d)),
                allowed_values: tuning.map_or(0, |t| t.allow.len()),
                confidence_rule: detect::confidence_rule(&d),
                kind: "built-in",
                id: d.id,
                category: d.category,
                description: d.description,
            }
        })
        .collect();
    for (rule, level) in policy.keywords.iter().zip(&policy.keyword_levels) {
        rows.push(DetectorRow {
            id: rule.id.clone(),
            kind: "keywords",
            category: rule.category.clone(),
            level: policy.scheme.name(*level).to_string(),
            min_count: rule.min_count,
            enabled: true,
            min_confidence: Confidence::Low,
            allowed_values: 0,
            confidence_rule: "a listed term: high".into(),
            description: rule.description.clone(),
        });
    }
    for (rule, level) in policy.patterns.iter().zip(&policy.pattern_levels) {
        rows.push(DetectorRow {
            id: rule.id.clone(),
            kind: "pattern",
            category: rule.category.clone(),
            level: policy.scheme.name(*level).to_string(),
            min_count: rule.min_count,
            enabled: true,
            min_confidence: Confidence::Low,
            allowed_values: 0,
            confidence_rule: "a regex match: high".into(),
            description: rule.description.clone(),
        });
    }
    Ok(rows)
}

/// The detector rows as an aligned table, one detector a line.
pub fn detectors_text(rows: &[DetectorRow]) -> String {
    let header = [
        "id",
        "kind",
        "category",
        "level",
        "min_count",
        "enabled",
        "min_confidence",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.kind.to_string(),
                r.category.clone(),
                r.level.clone(),
                r.min_count.to_string(),
                if r.enabled { "yes" } else { "no" }.to_string(),
                confidence_name(r.min_confidence).to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String], description: &str| {
        let mut out = String::new();
        for (cell, w) in cells.iter().zip(widths) {
            out.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(description);
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(str::to_string), "description");
    for (row, r) in cells.iter().zip(rows) {
        out.push_str(&line(row, &r.description));
        let indent = " ".repeat(widths[0] + 2);
        out.push_str(&format!("{indent}confidence: {}\n", r.confidence_rule));
        if r.allowed_values > 0 {
            out.push_str(&format!(
                "{indent}allowed values (never counted): {}\n",
                r.allowed_values
            ));
        }
    }
    out
}

fn confidence_name(c: Confidence) -> &'static str {
    match c {
        Confidence::Low => "low",
        Confidence::Medium => "medium",
        Confidence::High => "high",
    }
}

pub fn detectors_json(rows: &[DetectorRow]) -> String {
    serde_json::to_string_pretty(rows).expect("detector rows serialise") + "\n"
}

/// The effective policy, section by section.
pub fn policy_text(policy: &Policy, as_of: NaiveDate, rows: &[DetectorRow]) -> String {
    let mut out = String::new();
    let mut put = |line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    put(format!("policy:    {}", policy.origin));
    put(format!(
        "name:      {}",
        policy.name.as_deref().unwrap_or("-")
    ));
    put(format!(
        "version:   {}",
        policy.version.as_deref().unwrap_or("-")
    ));
    put(format!("sha256:    {}", policy.sha256));
    put(format!("as of:     {as_of}"));
    put(format!("levels:    {}", policy.scheme.levels.join(" < ")));
    let scheme = &policy.scheme;
    put(format!(
        "default suggestion: {}",
        scheme.name(scheme.default_suggestion)
    ));
    put("aliases:".into());
    for (alias, level) in aliases(policy) {
        put(format!("  \"{alias}\" -> {level}"));
    }
    put("labels:".into());
    put(format!(
        "  custom properties:  {}",
        policy.labels.custom_properties.join(", ")
    ));
    put(format!(
        "  release properties: {}",
        policy.labels.release_properties.join(", ")
    ));
    for (guid, level) in &policy.labels.msip {
        put(format!("  MSIP label {guid} -> {}", scheme.name(*level)));
    }
    if let Some(site) = &policy.labels.msip_site_id {
        put(format!("  MSIP site id (tenant, for apply): {site}"));
    }
    put("detectors:".into());
    for line in detectors_text(rows).lines() {
        put(format!("  {line}"));
    }
    for rule in &policy.keywords {
        let terms: Vec<String> = rule.terms.iter().map(|t| format!("\"{t}\"")).collect();
        let case = if rule.case_sensitive {
            "case-sensitive"
        } else {
            "case-insensitive"
        };
        put(format!(
            "keywords {}: {} ({case})",
            rule.id,
            terms.join(", ")
        ));
    }
    for rule in &policy.patterns {
        put(format!("pattern {}: {}", rule.id, rule.regex));
    }
    put("partners:".into());
    for p in &policy.partners {
        put(format!("  {}", partner_line(policy, p, as_of)));
    }
    put("locations:".into());
    for l in &policy.locations {
        put(format!(
            "  {} -> {}",
            l.pattern, policy.partners[l.partner].name
        ));
    }
    if !policy.exceptions.is_empty() {
        put("exceptions:".into());
    }
    for e in &policy.exceptions {
        let codes: Vec<&str> = e.codes.iter().map(|c| c.as_str()).collect();
        let status = match e.expires {
            Some(end) if !e.in_force_on(as_of) => format!("expired on {end}"),
            Some(end) => format!("until {end}"),
            None => "no end".to_string(),
        };
        put(format!(
            "  {} {} [{}] {status}; approved by {}: {}",
            e.id,
            e.pattern,
            codes.join(", "),
            e.approved_by,
            e.reason
        ));
    }
    out
}

/// Aliases as (alias, level name): the scheme's names that are not levels.
fn aliases(policy: &Policy) -> Vec<(String, String)> {
    let scheme = &policy.scheme;
    let levels: Vec<String> = scheme
        .levels
        .iter()
        .map(|l| crate::policy::normalise_name(l))
        .collect();
    let mut aliases: Vec<(String, String)> = scheme
        .names()
        .iter()
        .filter(|(name, _)| !levels.contains(name))
        .map(|(name, level)| (name.clone(), scheme.name(*level).to_string()))
        .collect();
    aliases.sort();
    aliases
}

fn partner_line(policy: &Policy, p: &crate::policy::Partner, as_of: NaiveDate) -> String {
    let also = if p.aliases.is_empty() {
        String::new()
    } else {
        format!(" (also {})", p.aliases.join(", "))
    };
    let agreement = if p.agreement.is_empty() {
        "no agreement id"
    } else {
        &p.agreement
    };
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "open".into());
    format!(
        "{}{also}: {agreement}, up to {}, {} .. {}: {}",
        p.name,
        policy.scheme.name(p.max_level),
        date(p.valid_from),
        date(p.valid_until),
        p.status_on(as_of).describe()
    )
}

/// The same as [`policy_text`], as one JSON object.
pub fn policy_json(policy: &Policy, as_of: NaiveDate, rows: &[DetectorRow]) -> String {
    let scheme = &policy.scheme;
    let msip: serde_json::Map<String, serde_json::Value> = policy
        .labels
        .msip
        .iter()
        .map(|(guid, level)| (guid.clone(), json!(scheme.name(*level))))
        .collect();
    let value = json!({
        "origin": policy.origin,
        "name": policy.name,
        "version": policy.version,
        "sha256": policy.sha256,
        "as_of": as_of.to_string(),
        "levels": scheme.levels,
        "default_suggestion": scheme.name(scheme.default_suggestion),
        "aliases": aliases(policy)
            .into_iter()
            .map(|(alias, level)| (alias, json!(level)))
            .collect::<serde_json::Map<_, _>>(),
        "labels": {
            "custom_properties": policy.labels.custom_properties,
            "release_properties": policy.labels.release_properties,
            "msip": msip,
            "msip_site_id": policy.labels.msip_site_id,
        },
        "detectors": rows,
        "keywords": policy.keywords.iter().map(|k| json!({
            "id": k.id, "terms": k.terms, "case_sensitive": k.case_sensitive,
        })).collect::<Vec<_>>(),
        "patterns": policy.patterns.iter().map(|p| json!({
            "id": p.id, "regex": p.regex,
        })).collect::<Vec<_>>(),
        "partners": policy.partners.iter().map(|p| json!({
            "name": p.name,
            "aliases": p.aliases,
            "agreement": p.agreement,
            "max_level": scheme.name(p.max_level),
            "valid_from": p.valid_from.map(|d| d.to_string()),
            "valid_until": p.valid_until.map(|d| d.to_string()),
            "status": p.status_on(as_of).describe(),
        })).collect::<Vec<_>>(),
        "locations": policy.locations.iter().map(|l| json!({
            "path": l.pattern, "partner": policy.partners[l.partner].name,
        })).collect::<Vec<_>>(),
        "exceptions": policy.exceptions.iter().map(|e| json!({
            "id": e.id, "path": e.pattern,
            "codes": e.codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "reason": e.reason, "approved_by": e.approved_by,
            "expires": e.expires.map(|d| d.to_string()),
            "in_force": e.in_force_on(as_of),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&value).expect("the policy serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOREIGN: &str = r#"
[scheme]
levels = ["OPEN", "RESTRICTED", "SECRET"]
[scheme.aliases]
"Eyes Only" = "SECRET"
[detectors.email]
level = "SECRET"
min_count = 4
[detectors.phone]
enabled = false
[[keywords]]
id = "helios"
terms = ["Helios"]
level = "RESTRICTED"
"#;

    fn row<'a>(rows: &'a [DetectorRow], id: &str) -> &'a DetectorRow {
        rows.iter().find(|r| r.id == id).unwrap()
    }

    #[test]
    fn rows_carry_the_effective_level_under_a_foreign_scheme() {
        let policy = Policy::parse(FOREIGN, "t").unwrap();
        let rows = detector_rows(&policy).unwrap();
        assert_eq!(row(&rows, "credit_card").level, "SECRET");
        assert_eq!(row(&rows, "email").level, "SECRET");
        assert_eq!(row(&rows, "email").min_count, 4);
        assert!(!row(&rows, "phone").enabled);
        assert_eq!(row(&rows, "helios").kind, "keywords");
        assert_eq!(row(&rows, "helios").level, "RESTRICTED");
    }

    #[test]
    fn show_lists_aliases_and_partners() {
        let policy = Policy::parse(FOREIGN, "t").unwrap();
        let rows = detector_rows(&policy).unwrap();
        let as_of = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let text = policy_text(&policy, as_of, &rows);
        assert!(text.contains("\"eyes only\" -> SECRET"), "{text}");
        assert!(
            text.contains("levels:    OPEN < RESTRICTED < SECRET"),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&policy_json(&policy, as_of, &rows)).unwrap();
        assert_eq!(json["aliases"]["eyes only"], "SECRET");
    }
}
