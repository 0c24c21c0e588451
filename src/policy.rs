//! The policy file: classification scheme, label sources, partners and their
//! agreements, exchange locations, detector tuning, keyword lists and custom
//! patterns. Parsing is strict: unknown keys, unknown levels, unknown
//! detector ids and invalid regexes are errors that name the key and line.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;

use crate::model::hash::{hex_sha256, normalise_guid};

/// The policy compiled into labelscan, used when `--policy` is not given.
pub const DEFAULT_POLICY: &str = include_str!("../policies/default.toml");

/// An index into [`Scheme::levels`]; higher is more protected.
pub use crate::model::Level;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

fn invalid(origin: &str, message: String) -> PolicyError {
    PolicyError::Invalid {
        origin: origin.to_string(),
        message,
    }
}

// ---- the file as written ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    scheme: SchemeFile,
    #[serde(default)]
    labels: LabelsFile,
    #[serde(default)]
    partners: Vec<PartnerFile>,
    #[serde(default)]
    locations: Vec<LocationFile>,
    #[serde(default)]
    detectors: BTreeMap<String, DetectorOverride>,
    #[serde(default)]
    keywords: Vec<KeywordRule>,
    #[serde(default)]
    patterns: Vec<PatternRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemeFile {
    levels: Vec<String>,
    default_suggestion: Option<String>,
    #[serde(default)]
    aliases: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelsFile {
    #[serde(default)]
    custom_properties: Vec<String>,
    #[serde(default)]
    release_properties: Vec<String>,
    #[serde(default)]
    msip: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartnerFile {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    agreement: String,
    max_level: String,
    valid_from: Option<DateValue>,
    valid_until: Option<DateValue>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum DateValue {
    Toml(toml::value::Datetime),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationFile {
    path: String,
    partner: String,
}

/// `[detectors.ID]`: tunes a built-in detector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorOverride {
    pub level: Option<String>,
    pub min_count: Option<usize>,
    pub enabled: Option<bool>,
}

/// `[[keywords]]`: project terms, matched as whole words.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    pub id: String,
    #[serde(default = "default_ip_category")]
    pub category: String,
    pub terms: Vec<String>,
    pub level: String,
    #[serde(default = "one")]
    pub min_count: usize,
    #[serde(default)]
    pub case_sensitive: bool,
    #[serde(default)]
    pub description: String,
}

/// `[[patterns]]`: custom regular-expression detectors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternRule {
    pub id: String,
    #[serde(default = "default_ip_category")]
    pub category: String,
    pub regex: String,
    pub level: String,
    #[serde(default = "one")]
    pub min_count: usize,
    #[serde(default)]
    pub description: String,
}

fn default_ip_category() -> String {
    "IP".to_string()
}
fn one() -> usize {
    1
}

// ---- the validated policy ----

/// The ordered protection levels and their aliases.
#[derive(Debug, Clone)]
pub struct Scheme {
    pub levels: Vec<String>,
    pub default_suggestion: Level,
    /// Lower-cased alias or level name -> level, longest first.
    names: Vec<(String, Level)>,
    /// Words one of which every marking line contains (see
    /// [`crate::labels::marking_words`]); `None` when no such test exists.
    pub(crate) marking_words: Option<aho_corasick::AhoCorasick>,
}

impl Scheme {
    pub fn name(&self, level: Level) -> &str {
        &self.levels[level.index()]
    }

    pub fn lowest(&self) -> Level {
        Level::LOWEST
    }

    /// The level a label text names: a level name or alias, compared
    /// case-insensitively after trimming.
    pub fn level_of(&self, text: &str) -> Option<Level> {
        let wanted = normalise_name(text);
        self.names
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, level)| *level)
    }

    /// Level names and aliases, lower-cased, longest first (for marking lines).
    pub fn names(&self) -> &[(String, Level)] {
        &self.names
    }

    /// Parses a level written in the policy itself (exact name or alias).
    fn parse(&self, text: &str) -> Option<Level> {
        self.level_of(text)
    }
}

/// Lower-cases and folds runs of white space, so that "Company  Confidential"
/// matches "company confidential".
pub fn normalise_name(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[derive(Debug, Clone)]
pub struct LabelSettings {
    pub custom_properties: Vec<String>,
    pub release_properties: Vec<String>,
    /// Label GUID (lower-case, no braces) -> level.
    pub msip: BTreeMap<String, Level>,
}

#[derive(Debug, Clone)]
pub struct Partner {
    pub name: String,
    pub aliases: Vec<String>,
    pub agreement: String,
    pub max_level: Level,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

impl Partner {
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= date)
            && self.valid_until.is_none_or(|until| date <= until)
    }

    /// Whether `name` is this partner's name or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        let wanted = normalise_name(name);
        normalise_name(&self.name) == wanted
            || self.aliases.iter().any(|a| normalise_name(a) == wanted)
    }
}

#[derive(Debug, Clone)]
pub struct Location {
    pub pattern: String,
    matcher: GlobMatcher,
    /// Index into [`Policy::partners`].
    pub partner: usize,
}

impl Location {
    /// `path` is the file's absolute path with `/` separators.
    pub fn contains(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }
}

/// A detector override resolved against the scheme.
#[derive(Debug, Clone, Default)]
pub struct DetectorTuning {
    pub level: Option<Level>,
    pub min_count: Option<usize>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub scheme: Scheme,
    pub labels: LabelSettings,
    pub partners: Vec<Partner>,
    pub locations: Vec<Location>,
    pub detectors: BTreeMap<String, DetectorTuning>,
    pub keywords: Vec<KeywordRule>,
    pub patterns: Vec<PatternRule>,
    /// Levels of keyword and pattern rules, in their order.
    pub keyword_levels: Vec<Level>,
    pub pattern_levels: Vec<Level>,
    /// SHA-256 of the policy text, for `summary.json`.
    pub sha256: String,
    /// Where it came from: a path or `built-in default`.
    pub origin: String,
    /// The policy's own name and version, recorded in reports.
    pub name: Option<String>,
    pub version: Option<String>,
}

impl Policy {
    pub fn default_policy() -> Policy {
        Policy::parse(DEFAULT_POLICY, "built-in default").expect("the built-in policy is valid")
    }

    pub fn from_file(path: &std::path::Path) -> Result<Policy, PolicyError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(&origin, format!("cannot read the policy file: {e}")))?;
        Policy::parse(&text, &origin)
    }

    /// Parses and validates a policy. Detector ids are checked against the
    /// built-in set by [`crate::detect::DetectorSet::compile`], which callers
    /// run right after.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| syntax_error(text, origin, &e))?;
        let v = Validator { text, origin };
        let scheme = v.scheme(file.scheme)?;
        let labels = LabelSettings {
            custom_properties: file.labels.custom_properties,
            release_properties: file.labels.release_properties,
            msip: file
                .labels
                .msip
                .into_iter()
                .map(|(guid, level)| {
                    let lvl = v.level(&scheme, &level, &format!("labels.msip.\"{guid}\""))?;
                    Ok((normalise_guid(&guid), lvl))
                })
                .collect::<Result<_, PolicyError>>()?,
        };
        let partners = file
            .partners
            .into_iter()
            .enumerate()
            .map(|(i, p)| v.partner(&scheme, i, p))
            .collect::<Result<Vec<_>, _>>()?;
        let locations = file
            .locations
            .into_iter()
            .enumerate()
            .map(|(i, l)| v.location(&partners, i, l))
            .collect::<Result<Vec<_>, _>>()?;
        let detectors = file
            .detectors
            .into_iter()
            .map(|(id, o)| {
                let level = match &o.level {
                    Some(l) => Some(v.level(&scheme, l, &format!("detectors.{id}.level"))?),
                    None => None,
                };
                Ok((
                    id,
                    DetectorTuning {
                        level,
                        min_count: o.min_count,
                        enabled: o.enabled,
                    },
                ))
            })
            .collect::<Result<_, PolicyError>>()?;
        let keyword_levels = file
            .keywords
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if k.terms.iter().all(|t| t.trim().is_empty()) {
                    return Err(v.err(&format!("keywords[{i}].terms"), "needs at least one term"));
                }
                v.level(&scheme, &k.level, &format!("keywords[{i}].level"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pattern_levels = file
            .patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if let Err(e) = regex::Regex::new(&p.regex) {
                    return Err(v.err(
                        &format!("patterns[{i}].regex"),
                        &format!("invalid regex: {}", first_line(&e.to_string())),
                    ));
                }
                v.level(&scheme, &p.level, &format!("patterns[{i}].level"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            scheme,
            labels,
            partners,
            locations,
            detectors,
            keywords: file.keywords,
            patterns: file.patterns,
            keyword_levels,
            pattern_levels,
            sha256: hex_sha256(text.as_bytes()),
            origin: origin.to_string(),
            name: file.name,
            version: file.version,
        })
    }

    /// The partner that `name` (from a release marking) refers to.
    pub fn partner_named(&self, name: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.answers_to(name))
    }

    /// Every agreement with the partner `name` refers to: a partner may be
    /// listed once per agreement (an MSA for INTERNAL, an NDA for CONFIDENTIAL).
    pub fn agreements_of(&self, name: &str) -> Vec<&Partner> {
        let Some(first) = self.partner_named(name) else {
            return Vec::new();
        };
        self.partners
            .iter()
            .filter(|p| p.answers_to(&first.name))
            .collect()
    }

    /// The exchange location a relative path falls in, if any.
    /// The parts of the policy an analysis depends on (scheme names and
    /// aliases, label settings, detector tuning, keywords, patterns), as
    /// canonical text; partners, locations and the date are judgement only.
    pub fn detection_relevant(&self) -> String {
        format!(
            "levels {:?}\nnames {:?}\nlabels {:?}\ndetectors {:?}\nkeywords {:?} {:?}\npatterns {:?} {:?}",
            self.scheme.levels,
            self.scheme.names,
            self.labels,
            self.detectors,
            self.keywords,
            self.keyword_levels,
            self.patterns,
            self.pattern_levels
        )
    }

    pub fn location_of(&self, path: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.contains(path))
    }

    /// Line number (1-based) of the first line containing `needle`, for
    /// errors raised after parsing.
    pub fn line_of(text: &str, needle: &str) -> Option<usize> {
        text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
    }
}

struct Validator<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Validator<'_> {
    fn err(&self, key: &str, message: &str) -> PolicyError {
        // Report the line of the key's last path segment, which is what the
        // user wrote on that line.
        let leaf = key
            .rsplit(['.', '['])
            .next()
            .unwrap_or(key)
            .trim_end_matches(']')
            .trim_matches('"');
        let line = Policy::line_of(self.text, leaf)
            .map(|n| format!(" (line {n})"))
            .unwrap_or_default();
        invalid(self.origin, format!("key `{key}`{line}: {message}"))
    }

    fn level(&self, scheme: &Scheme, name: &str, key: &str) -> Result<Level, PolicyError> {
        scheme.parse(name).ok_or_else(|| {
            self.err(
                key,
                &format!(
                    "unknown level \"{name}\" (levels are {})",
                    scheme.levels.join(", ")
                ),
            )
        })
    }

    fn scheme(&self, file: SchemeFile) -> Result<Scheme, PolicyError> {
        if file.levels.is_empty() {
            return Err(self.err("scheme.levels", "needs at least one level"));
        }
        let mut names: Vec<(String, Level)> = Vec::new();
        for (i, level) in file.levels.iter().enumerate() {
            let key = normalise_name(level);
            if key.is_empty() {
                return Err(self.err("scheme.levels", "a level name is empty"));
            }
            if names.iter().any(|(n, _)| *n == key) {
                return Err(self.err(
                    "scheme.levels",
                    &format!("level \"{level}\" is listed twice"),
                ));
            }
            names.push((key, Level::new(i)));
        }
        for (alias, target) in &file.aliases {
            let Some(level) = names
                .iter()
                .find(|(n, _)| *n == normalise_name(target))
                .map(|(_, l)| *l)
            else {
                return Err(self.err(
                    &format!("scheme.aliases.\"{alias}\""),
                    &format!("unknown level \"{target}\""),
                ));
            };
            names.push((normalise_name(alias), level));
        }
        names.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let mut scheme = Scheme {
            levels: file.levels,
            default_suggestion: Level::LOWEST,
            marking_words: marking_words(&names),
            names,
        };
        if let Some(d) = &file.default_suggestion {
            scheme.default_suggestion = self.level(&scheme, d, "scheme.default_suggestion")?;
        }
        Ok(scheme)
    }

    fn partner(&self, scheme: &Scheme, i: usize, p: PartnerFile) -> Result<Partner, PolicyError> {
        if p.name.trim().is_empty() {
            return Err(self.err(&format!("partners[{i}].name"), "is empty"));
        }
        let date = |d: Option<DateValue>, key: &str| -> Result<Option<NaiveDate>, PolicyError> {
            let Some(d) = d else { return Ok(None) };
            let text = match d {
                DateValue::Toml(dt) => dt.to_string(),
                DateValue::Text(s) => s,
            };
            NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    self.err(
                        &format!("partners[{i}].{key}"),
                        &format!("\"{text}\" is not a date (YYYY-MM-DD)"),
                    )
                })
        };
        Ok(Partner {
            max_level: self.level(scheme, &p.max_level, &format!("partners[{i}].max_level"))?,
            valid_from: date(p.valid_from, "valid_from")?,
            valid_until: date(p.valid_until, "valid_until")?,
            name: p.name,
            aliases: p.aliases,
            agreement: p.agreement,
        })
    }

    fn location(
        &self,
        partners: &[Partner],
        i: usize,
        l: LocationFile,
    ) -> Result<Location, PolicyError> {
        let partner = partners
            .iter()
            .position(|p| p.answers_to(&l.partner))
            .ok_or_else(|| {
                self.err(
                    &format!("locations[{i}].partner"),
                    &format!("\"{}\" is not a partner in [[partners]]", l.partner),
                )
            })?;
        let glob = GlobBuilder::new(&location_glob(&l.path))
            .literal_separator(true)
            .case_insensitive(cfg!(windows))
            .build()
            .map_err(|e| self.err(&format!("locations[{i}].path"), &e.kind().to_string()))?;
        Ok(Location {
            pattern: l.path.clone(),
            matcher: glob.compile_matcher(),
            partner,
        })
    }
}

/// The automaton behind the labels stage's marking pre-filter: ASCII case-insensitive, so
/// each word contributes its longest ASCII run ("öffentlich" ->
/// "ffentlich"). A word without one makes the test always pass (`None`).
fn marking_words(names: &[(String, Level)]) -> Option<aho_corasick::AhoCorasick> {
    let mut needles: Vec<&str> = vec!["tlp", "released", "releasable"];
    for (name, _) in names {
        let first = name.split_whitespace().next().unwrap_or(name);
        let longest_ascii = first
            .split(|c: char| !c.is_ascii())
            .max_by_key(|run| run.len())
            .unwrap_or("");
        if longest_ascii.len() < 2 {
            return None;
        }
        needles.push(longest_ascii);
    }
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(needles)
        .ok()
}

/// The glob a location's `path` stands for (SPEC "Exchange locations"): one
/// that starts with `/` matches from the root; any other may match any
/// trailing run of whole path components, as if it began with `**/`.
fn location_glob(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("**/{}", path.trim_start_matches("./"))
    }
}

fn syntax_error(text: &str, origin: &str, e: &toml::de::Error) -> PolicyError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let message = first_line(e.message());
    let message = match line {
        Some(n) => format!("line {n}: {message}"),
        None => message.to_string(),
    };
    invalid(origin, message)
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[scheme]
levels = ["PUBLIC", "INTERNAL", "CONFIDENTIAL"]
[scheme.aliases]
"Streng vertraulich" = "CONFIDENTIAL"
"#;

    #[test]
    fn default_policy_parses() {
        let p = Policy::default_policy();
        assert!(p.scheme.levels.len() >= 3);
    }

    #[test]
    fn aliases_and_levels_are_case_insensitive() {
        let p = Policy::parse(MINIMAL, "t").unwrap();
        assert_eq!(p.scheme.level_of("internal"), Some(Level::new(1)));
        assert_eq!(
            p.scheme.level_of("  STRENG   Vertraulich "),
            Some(Level::new(2))
        );
        assert_eq!(p.scheme.level_of("secret"), None);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = format!("{MINIMAL}\n[labels]\ncustom_propertys = [\"x\"]\n");
        let err = Policy::parse(&text, "t").unwrap_err().to_string();
        assert!(err.contains("custom_propertys"), "{err}");
        assert!(err.contains("line 8"), "{err}");
    }

    #[test]
    fn marking_words_take_the_longest_ascii_run() {
        let names = |n: &[&str]| -> Vec<(String, Level)> {
            n.iter().map(|s| (s.to_string(), Level::LOWEST)).collect()
        };
        let words = marking_words(&names(&["öffentlich"])).expect("an ASCII run");
        assert!(words.is_match("ÖFFENTLICH"));
        assert!(marking_words(&names(&["機密"])).is_none());
    }

    #[test]
    fn unknown_level_names_key() {
        let text = format!("{MINIMAL}\n[[partners]]\nname = \"A\"\nmax_level = \"SECRET\"\n");
        let err = Policy::parse(&text, "t").unwrap_err().to_string();
        assert!(err.contains("partners[0].max_level"), "{err}");
        assert!(err.contains("SECRET"), "{err}");
    }

    #[test]
    fn invalid_regex_is_rejected() {
        let text = format!(
            "{MINIMAL}\n[[patterns]]\nid = \"x\"\nregex = '(unclosed'\nlevel = \"INTERNAL\"\n"
        );
        let err = Policy::parse(&text, "t").unwrap_err().to_string();
        assert!(err.contains("patterns[0].regex"), "{err}");
    }

    #[test]
    fn partner_validity_and_locations() {
        let text = format!(
            "{MINIMAL}\n[[partners]]\nname = \"Precision Systems\"\naliases = [\"PS GmbH\"]\nmax_level = \"INTERNAL\"\nvalid_from = 2025-01-01\nvalid_until = 2025-12-31\n[[locations]]\npath = \"exchange/precision/**\"\npartner = \"precision systems\"\n"
        );
        let p = Policy::parse(&text, "t").unwrap();
        let ps = p.partner_named("ps  gmbh").unwrap();
        assert!(ps.is_valid_on(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()));
        assert!(!ps.is_valid_on(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()));
        assert!(p.location_of("/srv/exchange/precision/a/b.docx").is_some());
        assert!(p.location_of("/exchange/precision/b.docx").is_some());
        assert!(p.location_of("/srv/exchange/other/b.docx").is_none());
        // Whole components only: "myexchange" is not "exchange".
        assert!(p.location_of("/srv/myexchange/precision/b.docx").is_none());
    }
}
