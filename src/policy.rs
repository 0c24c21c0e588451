//! The policy file: classification scheme, label sources, partners and their
//! agreements, exchange locations, detector tuning, keyword lists and custom
//! patterns. Parsing is strict: unknown keys, unknown levels, unknown
//! detector ids and invalid regexes are errors that name the key and line.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use globset::GlobMatcher;

mod diagnostic;
mod read;

pub use diagnostic::{Diagnostic, PolicyError, Severity};

/// The policy compiled into labelscan, used when `--policy` is not given.
pub const DEFAULT_POLICY: &str = include_str!("../policies/default.toml");

/// An index into [`Scheme::levels`]; higher is more protected.
pub use crate::model::Level;

/// What loading a policy checks beyond the file itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions<'a> {
    /// The date agreements are checked against; `None` skips those warnings.
    pub as_of: Option<NaiveDate>,
    /// Ids of the built-in detectors, which `[detectors.ID]` and keyword and
    /// pattern ids are checked against; `None` leaves that to
    /// `DetectorSet::compile` (the policy layer does not know the detectors).
    pub builtin_detectors: Option<&'a [String]>,
}

/// A usable policy and the warnings found while loading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub policy: Policy,
    pub warnings: Vec<Diagnostic>,
}

/// `[[keywords]]`: project terms, matched as whole words.
#[derive(Debug, Clone)]
pub struct KeywordRule {
    pub id: String,
    pub category: String,
    pub terms: Vec<String>,
    pub level: String,
    pub min_count: usize,
    pub case_sensitive: bool,
    pub description: String,
}

/// `[[patterns]]`: custom regular-expression detectors.
#[derive(Debug, Clone)]
pub struct PatternRule {
    pub id: String,
    pub category: String,
    pub regex: String,
    pub level: String,
    pub min_count: usize,
    pub description: String,
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
}

// Policy size limits (README "Policy limits"): what one policy may ask
// of every document's scan. A keyword term of a megabyte, a thousand
// patterns of `\w{40}N` or a pattern too large to compile small made a
// scan take minutes and gigabytes; they are errors instead.

/// Size of a policy file: `policy check /dev/zero` must not read forever.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;
/// Longest keyword term, in bytes.
pub const MAX_TERM_BYTES: usize = 1_000;
/// Keyword terms in the whole policy.
pub const MAX_TERMS: usize = 10_000;
/// `[[patterns]]` entries.
pub const MAX_PATTERNS: usize = 200;
/// Longest pattern source, in bytes.
pub const MAX_PATTERN_BYTES: usize = 1_000;
/// Compiled size of one pattern (regex's `size_limit`: 4 MiB admits a
/// Unicode `\w{40}`, 1 MiB did not), and the lazy DFA's
/// cache per search thread (`dfa_size_limit`).
pub const PATTERN_SIZE_LIMIT: usize = 4 << 20;
pub const PATTERN_DFA_LIMIT: usize = 1 << 20;

/// Compiles a policy pattern within the size limits.
pub fn compile_pattern(source: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(source)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_DFA_LIMIT)
        .build()
}

pub use crate::model::label::normalise_name;
use crate::model::label::{release_name_key, ReleaseName};

#[derive(Debug, Clone)]
pub struct LabelSettings {
    pub custom_properties: Vec<String>,
    pub release_properties: Vec<String>,
    /// Label GUID (lower-case, no braces) -> level.
    pub msip: BTreeMap<String, Level>,
    /// The GUIDs of `msip` in the policy file's order.
    pub msip_order: Vec<String>,
    /// `msip_site_id`: the Entra tenant id `apply` writes labels for
    /// (lower-case, no braces); `None` when unset or not a GUID.
    pub msip_site_id: Option<String>,
}

impl LabelSettings {
    /// The Purview label `apply` writes for `level`: the first GUID the
    /// policy maps to it.
    pub fn msip_guid_of(&self, level: Level) -> Option<&str> {
        self.msip_order
            .iter()
            .find(|guid| self.msip.get(*guid) == Some(&level))
            .map(String::as_str)
    }
}

/// Whether a partner's agreement covers a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreementStatus {
    Valid,
    /// Ended on the date given.
    Expired(NaiveDate),
    /// Starts on the date given.
    NotYetValid(NaiveDate),
}

impl AgreementStatus {
    pub fn describe(self) -> String {
        match self {
            AgreementStatus::Valid => "valid".to_string(),
            AgreementStatus::Expired(until) => format!("expired on {until}"),
            AgreementStatus::NotYetValid(from) => format!("not yet valid (from {from})"),
        }
    }
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
        self.status_on(date) == AgreementStatus::Valid
    }

    /// The agreement's standing on `date` (both ends inclusive).
    pub fn status_on(&self, date: NaiveDate) -> AgreementStatus {
        match (self.valid_from, self.valid_until) {
            (Some(from), _) if date < from => AgreementStatus::NotYetValid(from),
            (_, Some(until)) if until < date => AgreementStatus::Expired(until),
            _ => AgreementStatus::Valid,
        }
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

/// `[[exceptions]]`: known findings a policy accepts until a date.
#[derive(Debug, Clone)]
pub struct Exception {
    pub id: String,
    pub pattern: String,
    matcher: GlobMatcher,
    pub codes: Vec<crate::model::VerdictCode>,
    pub reason: String,
    pub approved_by: String,
    /// The last day it applies; `None` for no end.
    pub expires: Option<NaiveDate>,
}

impl Exception {
    /// Whether it accepts verdict `code` for the file at `path` (absolute,
    /// `/`-separated, as for locations) on `date`.
    pub fn accepts(&self, code: crate::model::VerdictCode, path: &str, date: NaiveDate) -> bool {
        self.in_force_on(date) && self.codes.contains(&code) && self.matcher.is_match(path)
    }

    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.expires.is_none_or(|end| date <= end)
    }
}

/// A detector override resolved against the scheme.
#[derive(Debug, Clone, Default)]
pub struct DetectorTuning {
    pub level: Option<Level>,
    pub min_count: Option<usize>,
    pub enabled: Option<bool>,
    /// Hits below this confidence are not counted.
    pub min_confidence: Option<crate::model::Confidence>,
    /// Values never counted (test data), as written in the policy.
    pub allow: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// Top-level `name` and `version`: recorded in reports, no effect on
    /// detection.
    pub name: Option<String>,
    pub version: Option<String>,
    pub scheme: Scheme,
    pub labels: LabelSettings,
    pub partners: Vec<Partner>,
    pub locations: Vec<Location>,
    pub detectors: BTreeMap<String, DetectorTuning>,
    pub keywords: Vec<KeywordRule>,
    pub patterns: Vec<PatternRule>,
    /// Accepted findings; judgement only, like partners and locations.
    pub exceptions: Vec<Exception>,
    /// Levels of keyword and pattern rules, in their order.
    pub keyword_levels: Vec<Level>,
    pub pattern_levels: Vec<Level>,
    /// SHA-256 of the policy text, for `summary.json`.
    pub sha256: String,
    /// Where it came from: a path or `built-in default`.
    pub origin: String,
}

impl Policy {
    pub fn default_policy() -> Policy {
        Policy::parse(DEFAULT_POLICY, "built-in default").expect("the built-in policy is valid")
    }

    /// Loads a policy for a run: every error (then `Err`) and warning found.
    pub fn load(text: &str, origin: &str, options: &LoadOptions) -> Result<Loaded, PolicyError> {
        let (policy, diagnostics) = read::read(text, origin, options);
        match policy {
            Some(policy) => Ok(Loaded {
                policy,
                warnings: diagnostics,
            }),
            None => Err(PolicyError {
                origin: origin.to_string(),
                diagnostics,
            }),
        }
    }

    pub fn load_file(path: &std::path::Path, options: &LoadOptions) -> Result<Loaded, PolicyError> {
        let origin = path.display().to_string();
        match crate::model::untrusted::read_small_text(path, MAX_POLICY_BYTES) {
            Ok(text) => Policy::load(&text, &origin, options),
            Err(e) => Err(PolicyError {
                diagnostics: vec![Diagnostic {
                    severity: Severity::Error,
                    line: None,
                    key: String::new(),
                    message: format!("cannot read the policy file: {e}"),
                }],
                origin,
            }),
        }
    }

    pub fn from_file(path: &std::path::Path) -> Result<Policy, PolicyError> {
        Policy::load_file(path, &LoadOptions::default()).map(|loaded| loaded.policy)
    }

    /// Parses and validates a policy, ignoring warnings. Detector ids are
    /// checked against the built-in set by
    /// [`crate::detect::DetectorSet::compile`], which callers run right after.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        Policy::load(text, origin, &LoadOptions::default()).map(|loaded| loaded.policy)
    }

    /// The partner that `name` (from a release marking) refers to.
    pub fn partner_named(&self, name: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.answers_to(name))
    }

    /// The partner a named party of a release marking is, and the name
    /// to show for it: as written when values are shown, else the policy's
    /// name or alias it matched (its key matches even when masked).
    pub fn partner_released_to(&self, party: &ReleaseName) -> Option<(&Partner, String)> {
        if let Some(partner) = self.partner_named(&party.written) {
            return Some((partner, party.written.clone()));
        }
        self.partners.iter().find_map(|p| {
            std::iter::once(&p.name)
                .chain(&p.aliases)
                .find(|n| release_name_key(n) == party.key)
                .map(|n| (p, n.clone()))
        })
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

    /// The exchange location an absolute path falls in, if any.
    pub fn location_of(&self, path: &str) -> Option<&Location> {
        self.location_index(path).map(|i| &self.locations[i])
    }

    /// The position among `[[locations]]` of the one an absolute path falls in.
    pub fn location_index(&self, path: &str) -> Option<usize> {
        self.locations.iter().position(|l| l.contains(path))
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
        assert!(err.contains("t:8: error: labels.custom_propertys"), "{err}");
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
    fn apply_writes_the_first_guid_of_a_level_and_the_tenant_id() {
        let text = format!(
            "{MINIMAL}\n[labels]\nmsip_site_id = \"{{5C1D3E2F-0000-4000-8000-00000000ABCD}}\"\n[labels.msip]\n\"ffffffff-0000-4000-8000-000000000001\" = \"CONFIDENTIAL\"\n\"00000000-0000-4000-8000-000000000002\" = \"CONFIDENTIAL\"\n"
        );
        let p = Policy::parse(&text, "t").unwrap();
        assert_eq!(
            p.labels.msip_guid_of(Level::new(2)),
            Some("ffffffff-0000-4000-8000-000000000001")
        );
        assert_eq!(p.labels.msip_guid_of(Level::new(1)), None);
        assert_eq!(
            p.labels.msip_site_id.as_deref(),
            Some("5c1d3e2f-0000-4000-8000-00000000abcd")
        );
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
