//! Reads a policy file from toml's spanned document tree, section by
//! section, collecting every error and warning with its key path and line
//! instead of stopping at the first (serde stops at the first).

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;
use globset::GlobBuilder;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::model::Confidence;

use super::diagnostic::Findings;
use super::{
    compile_pattern, location_glob, marking_words, normalise_name, AgreementStatus, DetectorTuning,
    Exception, KeywordRule, LabelSettings, Level, LoadOptions, Location, Partner, PatternRule,
    Policy, Scheme, MAX_PATTERNS, MAX_PATTERN_BYTES, MAX_TERMS, MAX_TERM_BYTES,
};
use crate::model::hash::{hex_sha256, normalise_guid};
use crate::model::VerdictCode;

type Value<'i> = Spanned<DeValue<'i>>;

/// One key of the file: its path as the user would write it, and its value.
struct Field<'a, 'i> {
    path: String,
    value: &'a Value<'i>,
}

impl Field<'_, '_> {
    fn span(&self) -> Range<usize> {
        self.value.span()
    }
}

/// A table of the file: its path, its span (its header, for `[x]` tables)
/// and its entries.
struct Section<'a, 'i> {
    path: String,
    span: Range<usize>,
    entries: &'a DeTable<'i>,
}

impl<'a, 'i> Section<'a, 'i> {
    fn get(&self, key: &str) -> Option<Field<'a, 'i>> {
        self.entries.get(key).map(|value| Field {
            path: child_path(&self.path, key),
            value,
        })
    }
}

/// `parent.key`, quoting keys that are not bare TOML keys.
fn child_path(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

const TOP_KEYS: &[&str] = &[
    "name",
    "version",
    "scheme",
    "labels",
    "partners",
    "locations",
    "detectors",
    "keywords",
    "patterns",
    "exceptions",
];
const EXCEPTION_KEYS: &[&str] = &["id", "path", "codes", "reason", "approved_by", "expires"];
const SCHEME_KEYS: &[&str] = &["levels", "default_suggestion", "aliases"];
const LABELS_KEYS: &[&str] = &[
    "custom_properties",
    "release_properties",
    "msip",
    "msip_site_id",
];
const PARTNER_KEYS: &[&str] = &[
    "name",
    "aliases",
    "agreement",
    "max_level",
    "valid_from",
    "valid_until",
];
const LOCATION_KEYS: &[&str] = &["path", "partner"];
const DETECTOR_KEYS: &[&str] = &["level", "min_count", "enabled", "min_confidence", "allow"];
const KEYWORD_KEYS: &[&str] = &[
    "id",
    "category",
    "terms",
    "level",
    "min_count",
    "case_sensitive",
    "description",
];
const PATTERN_KEYS: &[&str] = &[
    "id",
    "category",
    "regex",
    "level",
    "min_count",
    "description",
];

/// Reads and checks a policy. Returns the policy when there is no error,
/// and every diagnostic in line order.
pub(super) fn read(
    text: &str,
    origin: &str,
    options: &LoadOptions,
) -> (Option<Policy>, Vec<super::Diagnostic>) {
    let mut reader = Reader {
        findings: Findings::new(text),
        options,
        terms_seen: 0,
    };
    // Only the first syntax error: toml's recovery after one (an unclosed
    // array, say) reports follow-on errors on lines that are fine.
    let policy = match DeTable::parse(text) {
        Ok(document) => {
            let root = Section {
                path: String::new(),
                span: 0..0,
                entries: document.get_ref(),
            };
            reader.policy(&root, text, origin)
        }
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            reader
                .findings
                .error("", span, e.message().trim().to_string());
            None
        }
    };
    let policy = policy.filter(|_| !reader.findings.has_errors());
    (policy, reader.findings.into_sorted())
}

struct Reader<'t, 'o> {
    findings: Findings<'t>,
    options: &'o LoadOptions<'o>,
    /// Keyword terms read so far, against [`MAX_TERMS`].
    terms_seen: usize,
}

impl Reader<'_, '_> {
    fn policy(&mut self, root: &Section, text: &str, origin: &str) -> Option<Policy> {
        self.unknown_keys(root, TOP_KEYS);
        let name = root.get("name").and_then(|f| self.string(&f));
        let version = root.get("version").and_then(|f| self.string(&f));
        let scheme = self.scheme(root)?;
        let labels = self.labels(root, &scheme);
        let partners = self.partners(root, &scheme);
        let locations = self.locations(root, &partners);
        let detectors = self.detectors(root, &scheme);
        let (keywords, keyword_levels) = self.keywords(root, &scheme);
        let (patterns, pattern_levels) = self.patterns(root, &scheme);
        let exceptions = self.exceptions(root);
        self.unique_rule_ids(root);
        Some(Policy {
            name,
            version,
            scheme,
            labels,
            partners,
            locations,
            detectors,
            keywords,
            patterns,
            exceptions,
            keyword_levels,
            pattern_levels,
            sha256: hex_sha256(text.as_bytes()),
            origin: origin.to_string(),
        })
    }

    // ---- sections ----

    /// `[scheme]`; `None` when it is missing or not a table (nothing else
    /// can be checked without levels).
    fn scheme(&mut self, root: &Section) -> Option<Scheme> {
        let section = self
            .required(root, "scheme")
            .and_then(|f| self.section(&f))?;
        self.unknown_keys(&section, SCHEME_KEYS);
        let levels = self.levels(&section);
        let mut names: Vec<(String, Level)> = levels
            .iter()
            .enumerate()
            .map(|(i, l)| (normalise_name(l), Level::new(i)))
            .collect();
        let aliases = self.aliases(&section, &names, &levels);
        names.extend(aliases);
        names.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let mut scheme = Scheme {
            levels,
            default_suggestion: Level::LOWEST,
            marking_words: marking_words(&names),
            names,
        };
        if let Some(field) = section.get("default_suggestion") {
            scheme.default_suggestion = self.level(&scheme, &field);
        }
        Some(scheme)
    }

    fn levels(&mut self, section: &Section) -> Vec<String> {
        let Some(field) = self.required(section, "levels") else {
            return Vec::new();
        };
        let items = self.string_items(&field);
        if items.is_empty() && field.value.get_ref().is_array() {
            self.findings
                .error(&field.path, field.span(), "needs at least one level");
        }
        let mut levels: Vec<String> = Vec::new();
        for (i, (level, span)) in items.into_iter().enumerate() {
            let key = format!("{}[{i}]", field.path);
            let normalised = normalise_name(&level);
            if normalised.is_empty() {
                self.findings.error(&key, span, "a level name is empty");
            } else if levels.iter().any(|l| normalise_name(l) == normalised) {
                self.findings
                    .error(&key, span, format!("level \"{level}\" is listed twice"));
            } else {
                levels.push(level);
            }
        }
        levels
    }

    /// `[scheme.aliases]`: alias -> level. An alias that repeats a level's
    /// name but means another level is dropped with a warning: the level's
    /// own name wins wherever labels are read.
    fn aliases(
        &mut self,
        section: &Section,
        levels: &[(String, Level)],
        level_names: &[String],
    ) -> Vec<(String, Level)> {
        let Some(table) = section.get("aliases").and_then(|f| self.section(&f)) else {
            return Vec::new();
        };
        let mut aliases = Vec::new();
        for (key, value) in table.entries.iter() {
            let field = Field {
                path: child_path(&table.path, key.get_ref()),
                value,
            };
            let Some(target) = self.string(&field) else {
                continue;
            };
            let alias = normalise_name(key.get_ref());
            let wanted = normalise_name(&target);
            let Some(&(_, level)) = levels.iter().find(|(n, _)| *n == wanted) else {
                self.findings.error(
                    &field.path,
                    field.span(),
                    format!("unknown level \"{target}\"{}", levels_hint(level_names)),
                );
                continue;
            };
            match levels.iter().find(|(n, _)| *n == alias) {
                Some(&(_, shadowed)) if shadowed != level => self.findings.warning(
                    &field.path,
                    key.span(),
                    format!(
                        "alias \"{}\" = \"{target}\" is the name of another level; the level wins and the alias is ignored",
                        key.get_ref()
                    ),
                ),
                Some(_) => {}
                None => aliases.push((alias, level)),
            }
        }
        aliases
    }

    fn labels(&mut self, root: &Section, scheme: &Scheme) -> LabelSettings {
        let mut labels = LabelSettings {
            custom_properties: Vec::new(),
            release_properties: Vec::new(),
            msip: BTreeMap::new(),
            msip_order: Vec::new(),
            msip_site_id: None,
        };
        let Some(section) = root.get("labels").and_then(|f| self.section(&f)) else {
            return labels;
        };
        self.unknown_keys(&section, LABELS_KEYS);
        if let Some(f) = section.get("custom_properties") {
            labels.custom_properties = self.strings(&f);
        }
        if let Some(f) = section.get("release_properties") {
            labels.release_properties = self.strings(&f);
        }
        if let Some(msip) = section.get("msip").and_then(|f| self.section(&f)) {
            labels.msip = self.msip(&msip, scheme);
            labels.msip_order = msip_in_file_order(&msip);
        }
        if let Some(f) = section.get("msip_site_id") {
            labels.msip_site_id = self.site_id(&f);
        }
        labels
    }

    /// `[labels] msip_site_id`: the tenant `apply` writes labels for.
    fn site_id(&mut self, field: &Field) -> Option<String> {
        let raw = self.string(field)?;
        let guid = normalise_guid(&raw);
        if is_guid(&guid) {
            return Some(guid);
        }
        self.findings.warning(
            &field.path,
            field.value.span(),
            format!("\"{raw}\" is not a GUID (8-4-4-4-12 hex digits); apply writes no Purview label without a tenant id"),
        );
        None
    }

    /// `[labels.msip]`: label GUID -> level.
    fn msip(&mut self, table: &Section, scheme: &Scheme) -> BTreeMap<String, Level> {
        let mut msip = BTreeMap::new();
        for (key, value) in table.entries.iter() {
            let field = Field {
                path: child_path(&table.path, key.get_ref()),
                value,
            };
            let guid = normalise_guid(key.get_ref());
            if !is_guid(&guid) {
                self.findings.warning(
                    &field.path,
                    key.span(),
                    format!(
                        "\"{}\" is not a GUID (8-4-4-4-12 hex digits); no label will have it",
                        key.get_ref()
                    ),
                );
            }
            msip.insert(guid, self.level(scheme, &field));
        }
        msip
    }

    fn partners(&mut self, root: &Section, scheme: &Scheme) -> Vec<Partner> {
        let Some(field) = root.get("partners") else {
            return Vec::new();
        };
        self.sections(&field)
            .iter()
            .map(|section| self.partner(section, scheme))
            .collect()
    }

    fn partner(&mut self, section: &Section, scheme: &Scheme) -> Partner {
        self.unknown_keys(section, PARTNER_KEYS);
        let name = self.required(section, "name").and_then(|f| {
            let name = self.string(&f)?;
            if name.trim().is_empty() {
                self.findings.error(&f.path, f.span(), "is empty");
            }
            Some(name)
        });
        let partner = Partner {
            name: name.unwrap_or_default(),
            aliases: section
                .get("aliases")
                .map(|f| self.strings(&f))
                .unwrap_or_default(),
            agreement: section
                .get("agreement")
                .and_then(|f| self.string(&f))
                .unwrap_or_default(),
            max_level: self
                .required(section, "max_level")
                .map(|f| self.level(scheme, &f))
                .unwrap_or(Level::LOWEST),
            valid_from: section.get("valid_from").and_then(|f| self.date(&f)),
            valid_until: section.get("valid_until").and_then(|f| self.date(&f)),
        };
        self.agreement_warnings(section, &partner);
        partner
    }

    /// A partner's agreement: named, dated, dated in order, and valid on
    /// the as-of date.
    fn agreement_warnings(&mut self, section: &Section, partner: &Partner) {
        let (path, span) = (&section.path, section.span.clone());
        if partner.agreement.trim().is_empty() {
            let message = "no agreement id: verdict reasons cannot name the agreement";
            self.findings.warning(path, span.clone(), message);
        }
        if section.get("valid_from").is_none() && section.get("valid_until").is_none() {
            let message = "no valid_from or valid_until: the agreement never expires";
            self.findings.warning(path, span, message);
        }
        if self.agreement_dates_in_order(section, partner) {
            self.agreement_on_date(section, partner);
        }
    }

    fn agreement_dates_in_order(&mut self, section: &Section, partner: &Partner) -> bool {
        let (Some(start), Some(end), Some(f)) = (
            partner.valid_from,
            partner.valid_until,
            section.get("valid_until"),
        ) else {
            return true;
        };
        if end < start {
            let message =
                format!("{end} is before valid_from {start}: the agreement is never valid");
            self.findings.warning(&f.path, f.span(), message);
        }
        start <= end
    }

    /// Expired or not yet valid on the as-of date, reported at the date
    /// that makes it so.
    fn agreement_on_date(&mut self, section: &Section, partner: &Partner) {
        let Some(as_of) = self.options.as_of else {
            return;
        };
        let (key, message) = match partner.status_on(as_of) {
            AgreementStatus::Expired(end) => (
                "valid_until",
                format!("the agreement expired on {end} (as of {as_of})"),
            ),
            AgreementStatus::NotYetValid(start) => (
                "valid_from",
                format!("the agreement is not valid until {start} (as of {as_of})"),
            ),
            AgreementStatus::Valid => return,
        };
        if let Some(f) = section.get(key) {
            self.findings.warning(&f.path, f.span(), message);
        }
    }

    fn locations(&mut self, root: &Section, partners: &[Partner]) -> Vec<Location> {
        let Some(field) = root.get("locations") else {
            return Vec::new();
        };
        self.sections(&field)
            .iter()
            .filter_map(|section| self.location(section, partners))
            .collect()
    }

    fn location(&mut self, section: &Section, partners: &[Partner]) -> Option<Location> {
        self.unknown_keys(section, LOCATION_KEYS);
        let partner = self.required(section, "partner").and_then(|f| {
            let name = self.string(&f)?;
            let found = partners.iter().position(|p| p.answers_to(&name));
            if found.is_none() {
                self.findings.error(
                    &f.path,
                    f.span(),
                    format!("no partner named \"{name}\" in [[partners]]"),
                );
            }
            found
        });
        let field = self.required(section, "path")?;
        let pattern = self.string(&field)?;
        if let Some(reason) = never_matches(&pattern) {
            self.findings.warning(
                &field.path,
                field.span(),
                format!("\"{pattern}\" can never match a file: {reason}"),
            );
        }
        let glob = GlobBuilder::new(&location_glob(&pattern))
            .literal_separator(true)
            .case_insensitive(cfg!(windows))
            .build();
        let glob = match glob {
            Ok(glob) => glob,
            Err(e) => {
                let message = format!("invalid glob: {}", e.kind());
                self.findings.error(&field.path, field.span(), message);
                return None;
            }
        };
        Some(Location {
            pattern,
            matcher: glob.compile_matcher(),
            partner: partner?,
        })
    }

    fn exceptions(&mut self, root: &Section) -> Vec<Exception> {
        let Some(field) = root.get("exceptions") else {
            return Vec::new();
        };
        self.sections(&field)
            .iter()
            .filter_map(|section| self.exception(section))
            .collect()
    }

    fn exception(&mut self, section: &Section) -> Option<Exception> {
        self.unknown_keys(section, EXCEPTION_KEYS);
        let id = self.required(section, "id").and_then(|f| self.string(&f));
        let codes = self.exception_codes(section);
        let reason = section.get("reason").and_then(|f| self.string(&f));
        let approved_by = section.get("approved_by").and_then(|f| self.string(&f));
        let expires = section.get("expires").and_then(|f| {
            let date = self.date(&f)?;
            self.exception_on_date(&f, date);
            Some(date)
        });
        let field = self.required(section, "path")?;
        let pattern = self.string(&field)?;
        if let Some(why) = never_matches(&pattern) {
            self.findings.warning(
                &field.path,
                field.span(),
                format!("\"{pattern}\" can never match a file: {why}; the exception is never used"),
            );
        }
        let glob = GlobBuilder::new(&location_glob(&pattern))
            .literal_separator(true)
            .case_insensitive(cfg!(windows))
            .build();
        let matcher = match glob {
            Ok(glob) => glob.compile_matcher(),
            Err(e) => {
                let message = format!("invalid glob: {}", e.kind());
                self.findings.error(&field.path, field.span(), message);
                return None;
            }
        };
        Some(Exception {
            id: id?,
            pattern,
            matcher,
            codes,
            reason: reason.unwrap_or_default(),
            approved_by: approved_by.unwrap_or_default(),
            expires,
        })
    }

    /// `codes`: verdict codes other than OK; an empty list accepts nothing.
    fn exception_codes(&mut self, section: &Section) -> Vec<VerdictCode> {
        let Some(field) = self.required(section, "codes") else {
            return Vec::new();
        };
        let mut codes = Vec::new();
        for (text, span) in self.string_items(&field) {
            match VerdictCode::parse(&text).filter(|c| *c != VerdictCode::Ok) {
                Some(code) => codes.push(code),
                None => self.findings.error(
                    &field.path,
                    span,
                    format!("\"{text}\" is not a verdict code an exception can accept"),
                ),
            }
        }
        if codes.is_empty() {
            self.findings.warning(
                &field.path,
                field.span(),
                "no verdict codes: the exception accepts nothing".to_string(),
            );
        }
        codes
    }

    /// An exception that has lapsed on the as-of date is a warning.
    fn exception_on_date(&mut self, field: &Field, expires: NaiveDate) {
        if let Some(as_of) = self.options.as_of.filter(|d| expires < *d) {
            self.findings.warning(
                &field.path,
                field.span(),
                format!("the exception expired on {expires} (as of {as_of}) and no longer applies"),
            );
        }
    }

    fn detectors(&mut self, root: &Section, scheme: &Scheme) -> BTreeMap<String, DetectorTuning> {
        let mut detectors = BTreeMap::new();
        let Some(table) = root.get("detectors").and_then(|f| self.section(&f)) else {
            return detectors;
        };
        for (key, value) in table.entries.iter() {
            let id = key.get_ref().to_string();
            let field = Field {
                path: child_path(&table.path, &id),
                value,
            };
            if let Some(known) = self.options.builtin_detectors {
                if !known.contains(&id) {
                    self.findings.error(
                        &field.path,
                        key.span(),
                        "unknown detector id (`labelscan detectors` lists them)",
                    );
                }
            }
            let Some(section) = self.section(&field) else {
                continue;
            };
            self.unknown_keys(&section, DETECTOR_KEYS);
            let tuning = DetectorTuning {
                level: section.get("level").map(|f| self.level(scheme, &f)),
                min_count: section.get("min_count").and_then(|f| self.count(&f)),
                enabled: section.get("enabled").and_then(|f| self.flag(&f)),
                min_confidence: section
                    .get("min_confidence")
                    .and_then(|f| self.confidence(&f)),
                allow: section
                    .get("allow")
                    .map(|f| self.strings(&f))
                    .unwrap_or_default(),
            };
            detectors.insert(id, tuning);
        }
        detectors
    }

    fn keywords(&mut self, root: &Section, scheme: &Scheme) -> (Vec<KeywordRule>, Vec<Level>) {
        let Some(field) = root.get("keywords") else {
            return (Vec::new(), Vec::new());
        };
        self.sections(&field)
            .iter()
            .map(|section| self.keyword(section, scheme))
            .unzip()
    }

    fn keyword(&mut self, section: &Section, scheme: &Scheme) -> (KeywordRule, Level) {
        self.unknown_keys(section, KEYWORD_KEYS);
        let terms = self.required(section, "terms").map(|f| {
            let terms = self.string_items(&f);
            if terms.iter().all(|(t, _)| t.trim().is_empty()) && f.value.get_ref().is_array() {
                self.findings
                    .error(&f.path, f.span(), "needs at least one term");
            }
            self.check_term_sizes(&f.path, &terms);
            terms.into_iter().map(|(t, _)| t).collect()
        });
        let rule = KeywordRule {
            id: self.rule_id(section),
            category: self.category(section),
            terms: terms.unwrap_or_default(),
            level: self.level_name(section),
            min_count: self.min_count(section),
            case_sensitive: section
                .get("case_sensitive")
                .and_then(|f| self.flag(&f))
                .unwrap_or(false),
            description: self.description(section),
        };
        (rule, self.rule_level(section, scheme))
    }

    fn patterns(&mut self, root: &Section, scheme: &Scheme) -> (Vec<PatternRule>, Vec<Level>) {
        let Some(field) = root.get("patterns") else {
            return (Vec::new(), Vec::new());
        };
        let count = field.value.get_ref().as_array().map_or(0, |a| a.len());
        if count > MAX_PATTERNS {
            let message =
                format!("{count} patterns; at most {MAX_PATTERNS} are allowed (each is a regex run over every document)");
            self.findings.error(&field.path, field.span(), message);
            return (Vec::new(), Vec::new());
        }
        self.sections(&field)
            .iter()
            .map(|section| self.pattern(section, scheme))
            .unzip()
    }

    /// Each keyword term within [`MAX_TERM_BYTES`], and all terms of the
    /// policy together within [`MAX_TERMS`]: a term of a megabyte made the
    /// keyword automaton's build take minutes.
    fn check_term_sizes(&mut self, path: &str, terms: &[(String, Range<usize>)]) {
        for (i, (term, span)) in terms.iter().enumerate() {
            if term.len() > MAX_TERM_BYTES {
                let message = format!(
                    "the term is {} bytes long; at most {MAX_TERM_BYTES} are allowed",
                    term.len()
                );
                self.findings
                    .error(&format!("{path}[{i}]"), span.clone(), message);
            }
        }
        let before = self.terms_seen;
        self.terms_seen += terms.len();
        if before <= MAX_TERMS && self.terms_seen > MAX_TERMS {
            let span = terms.last().map(|(_, s)| s.clone()).unwrap_or_default();
            let message =
                format!("more than {MAX_TERMS} keyword terms in the policy; at most {MAX_TERMS} are allowed");
            self.findings.error(path, span, message);
        }
    }

    fn pattern(&mut self, section: &Section, scheme: &Scheme) -> (PatternRule, Level) {
        self.unknown_keys(section, PATTERN_KEYS);
        let regex = self.required(section, "regex").and_then(|f| {
            let regex = self.string(&f)?;
            if regex.len() > MAX_PATTERN_BYTES {
                let message = format!(
                    "the regex is {} bytes long; at most {MAX_PATTERN_BYTES} are allowed",
                    regex.len()
                );
                self.findings.error(&f.path, f.span(), message);
            } else if let Err(e) = compile_pattern(&regex) {
                self.findings.error(&f.path, f.span(), regex_problem(&e));
            }
            Some(regex)
        });
        let rule = PatternRule {
            id: self.rule_id(section),
            category: self.category(section),
            regex: regex.unwrap_or_default(),
            level: self.level_name(section),
            min_count: self.min_count(section),
            description: self.description(section),
        };
        (rule, self.rule_level(section, scheme))
    }

    /// Keyword and pattern ids name detectors in reports: each must be
    /// unique among them and the built-in detectors.
    fn unique_rule_ids(&mut self, root: &Section) {
        let mut seen: Vec<String> = Vec::new();
        for list in ["keywords", "patterns"] {
            let Some(field) = root.get(list) else {
                continue;
            };
            let Some(items) = field.value.get_ref().as_array() else {
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let Some(id) = item.get_ref().get("id") else {
                    continue;
                };
                let Some(text) = id.get_ref().as_str() else {
                    continue;
                };
                let path = format!("{list}[{i}].id");
                let builtin = self
                    .options
                    .builtin_detectors
                    .is_some_and(|known| known.iter().any(|k| k == text));
                if builtin {
                    self.findings.error(
                        &path,
                        id.span(),
                        format!("\"{text}\" is the id of a built-in detector"),
                    );
                } else if seen.iter().any(|s| s == text) {
                    self.findings
                        .error(&path, id.span(), format!("id \"{text}\" is used twice"));
                }
                seen.push(text.to_string());
            }
        }
    }

    // ---- parts shared by keyword and pattern rules ----

    fn rule_id(&mut self, section: &Section) -> String {
        self.required(section, "id")
            .and_then(|f| self.string(&f))
            .unwrap_or_default()
    }

    fn category(&mut self, section: &Section) -> String {
        section
            .get("category")
            .and_then(|f| self.string(&f))
            .unwrap_or_else(|| "IP".to_string())
    }

    fn level_name(&mut self, section: &Section) -> String {
        section
            .get("level")
            .and_then(|f| f.value.get_ref().as_str().map(str::to_string))
            .unwrap_or_default()
    }

    fn rule_level(&mut self, section: &Section, scheme: &Scheme) -> Level {
        self.required(section, "level")
            .map(|f| self.level(scheme, &f))
            .unwrap_or(Level::LOWEST)
    }

    fn min_count(&mut self, section: &Section) -> usize {
        section
            .get("min_count")
            .and_then(|f| self.count(&f))
            .unwrap_or(1)
    }

    fn description(&mut self, section: &Section) -> String {
        section
            .get("description")
            .and_then(|f| self.string(&f))
            .unwrap_or_default()
    }

    // ---- keys and values ----

    fn unknown_keys(&mut self, section: &Section, known: &[&str]) {
        for (key, _) in section.entries.iter() {
            if !known.contains(&key.get_ref().as_ref()) {
                self.findings.error(
                    &child_path(&section.path, key.get_ref()),
                    key.span(),
                    format!("unknown key (known here: {})", known.join(", ")),
                );
            }
        }
    }

    /// A key that must be present; its absence is reported at the table.
    fn required<'a, 'i>(&mut self, section: &Section<'a, 'i>, key: &str) -> Option<Field<'a, 'i>> {
        let field = section.get(key);
        if field.is_none() {
            let (path, span) = if section.path.is_empty() {
                (key.to_string(), 0..0)
            } else {
                (section.path.clone(), section.span.clone())
            };
            self.findings
                .error(&path, span, format!("missing key `{key}`"));
        }
        field
    }

    fn type_error(&mut self, field: &Field, expected: &str) {
        let found = field.value.get_ref().type_str();
        self.findings.error(
            &field.path,
            field.span(),
            format!("expected {expected}, found {found}"),
        );
    }

    fn section<'a, 'i>(&mut self, field: &Field<'a, 'i>) -> Option<Section<'a, 'i>> {
        match field.value.get_ref() {
            DeValue::Table(entries) => Some(Section {
                path: field.path.clone(),
                span: field.span(),
                entries,
            }),
            _ => {
                self.type_error(field, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[partners]]`), each with its index in the path.
    fn sections<'a, 'i>(&mut self, field: &Field<'a, 'i>) -> Vec<Section<'a, 'i>> {
        let Some(items) = field.value.get_ref().as_array() else {
            self.type_error(field, "an array of tables");
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, value)| {
                let item = Field {
                    path: format!("{}[{i}]", field.path),
                    value,
                };
                self.section(&item)
            })
            .collect()
    }

    fn string(&mut self, field: &Field) -> Option<String> {
        match field.value.get_ref().as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.type_error(field, "a string");
                None
            }
        }
    }

    /// An array of strings with the span of each.
    fn string_items(&mut self, field: &Field) -> Vec<(String, Range<usize>)> {
        let Some(items) = field.value.get_ref().as_array() else {
            self.type_error(field, "an array of strings");
            return Vec::new();
        };
        let mut strings = Vec::new();
        for (i, value) in items.iter().enumerate() {
            let item = Field {
                path: format!("{}[{i}]", field.path),
                value,
            };
            if let Some(s) = self.string(&item) {
                strings.push((s, item.span()));
            }
        }
        strings
    }

    fn strings(&mut self, field: &Field) -> Vec<String> {
        self.string_items(field)
            .into_iter()
            .map(|(s, _)| s)
            .collect()
    }

    /// A whole number of at least zero (a count).
    fn count(&mut self, field: &Field) -> Option<usize> {
        let number = field.value.get_ref().as_integer().and_then(|n| {
            let digits = n.as_str().replace('_', "");
            usize::from_str_radix(&digits, n.radix()).ok()
        });
        if number.is_none() {
            self.type_error(field, "a whole number of at least 0");
        }
        number
    }

    /// `low`, `medium` or `high` (any case).
    fn confidence(&mut self, field: &Field) -> Option<Confidence> {
        let value = field.value.get_ref().as_str().map(str::to_ascii_lowercase);
        let confidence = match value.as_deref() {
            Some("low") => Some(Confidence::Low),
            Some("medium") => Some(Confidence::Medium),
            Some("high") => Some(Confidence::High),
            _ => None,
        };
        if confidence.is_none() {
            self.type_error(field, "\"low\", \"medium\" or \"high\"");
        }
        confidence
    }

    fn flag(&mut self, field: &Field) -> Option<bool> {
        let flag = field.value.get_ref().as_bool();
        if flag.is_none() {
            self.type_error(field, "true or false");
        }
        flag
    }

    /// A TOML date (`2025-01-01`) or a string holding one.
    fn date(&mut self, field: &Field) -> Option<NaiveDate> {
        let text = match field.value.get_ref() {
            DeValue::Datetime(dt) => dt.to_string(),
            DeValue::String(s) => s.to_string(),
            _ => {
                self.type_error(field, "a date (YYYY-MM-DD)");
                return None;
            }
        };
        let date = NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d").ok();
        if date.is_none() {
            self.findings.error(
                &field.path,
                field.span(),
                format!("\"{text}\" is not a date (YYYY-MM-DD)"),
            );
        }
        date
    }

    /// A level name or alias. Without levels (already reported) every
    /// name is let through, so one mistake is not reported many times.
    fn level(&mut self, scheme: &Scheme, field: &Field) -> Level {
        let Some(name) = self.string(field) else {
            return Level::LOWEST;
        };
        if scheme.levels.is_empty() {
            return Level::LOWEST;
        }
        scheme.level_of(&name).unwrap_or_else(|| {
            let hint = levels_hint(&scheme.levels);
            self.findings.error(
                &field.path,
                field.span(),
                format!("unknown level \"{name}\"{hint}"),
            );
            Level::LOWEST
        })
    }
}

fn levels_hint(levels: &[String]) -> String {
    if levels.is_empty() {
        return String::new();
    }
    format!(" (levels are {})", levels.join(", "))
}

/// 8-4-4-4-12 hexadecimal digits (braces and case already normalised).
/// The GUIDs of `[labels.msip]` in the order the file lists them: when
/// several GUIDs map to one level, `apply` writes the first.
fn msip_in_file_order(table: &Section) -> Vec<String> {
    let mut keys: Vec<(usize, String)> = table
        .entries
        .iter()
        .map(|(key, _)| (key.span().start, normalise_guid(key.get_ref())))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, guid)| guid).collect()
}

fn is_guid(guid: &str) -> bool {
    let groups: Vec<&str> = guid.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Why a location glob can never match a file's absolute path, which has
/// `/` separators, no empty, `.` or `..` components and no trailing `/`.
fn never_matches(pattern: &str) -> Option<&'static str> {
    if pattern.trim().is_empty() {
        return Some("it is empty");
    }
    let relative = pattern.trim_start_matches("./");
    let body = relative.strip_prefix('/').unwrap_or(relative);
    if body.is_empty() || pattern.ends_with('/') {
        return Some("it ends with `/` and file paths do not");
    }
    if body.split('/').any(|c| c.is_empty()) {
        return Some("it has an empty component (`//`) and file paths do not");
    }
    if body.split('/').any(|c| c == "." || c == "..") {
        return Some("it has a `.` or `..` component and scanned paths are normalised");
    }
    None
}

/// A regex error in one line: the parser's own message, and where in the
/// pattern it points (regex prints these on separate lines).
fn regex_problem(error: &regex::Error) -> String {
    let text = match error {
        regex::Error::Syntax(text) => text,
        regex::Error::CompiledTooBig(limit) => {
            return format!(
                "the regex compiles to more than {limit} bytes; use smaller repetitions or ASCII classes such as (?-u:\\w)"
            )
        }
        _ => return format!("invalid regex: {error}"),
    };
    let message = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or(text.as_str())
        .trim();
    let lines: Vec<&str> = text.lines().collect();
    // "regex parse error:", "    PATTERN", "    ^^^", "error: ..." for a
    // one-line pattern; longer patterns are printed numbered, without a
    // column we could read back reliably.
    let column = match lines.as_slice() {
        [_, pattern, carets, _] => carets.find('^').map(|at| {
            // Both lines are indented by four spaces; the carets are ASCII,
            // so their byte offset is a character count.
            let marked: String = pattern.chars().skip(at).take(carets.trim().len()).collect();
            (at.saturating_sub(4) + 1, marked)
        }),
        _ => None,
    };
    match column {
        Some((column, marked)) => {
            format!("invalid regex: {message} (at column {column}: `{marked}`)")
        }
        None => format!("invalid regex: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Diagnostic, Severity};

    const SCHEME: &str = "[scheme]\nlevels = [\"OPEN\", \"RESTRICTED\", \"SECRET\"]\n";

    fn as_of() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    /// Every diagnostic of `text` (after [`SCHEME`]) as (line, severity, key).
    fn findings(text: &str) -> Vec<(usize, Severity, String)> {
        let ids = ["email".to_string(), "credit_card".to_string()];
        let options = LoadOptions {
            as_of: Some(as_of()),
            builtin_detectors: Some(&ids),
        };
        let (_, diagnostics) = read(&format!("{SCHEME}{text}"), "t", &options);
        diagnostics
            .into_iter()
            .map(|d: Diagnostic| (d.line.unwrap_or(0), d.severity, d.key))
            .collect()
    }

    fn error(line: usize, key: &str) -> (usize, Severity, String) {
        (line, Severity::Error, key.to_string())
    }

    fn warning(line: usize, key: &str) -> (usize, Severity, String) {
        (line, Severity::Warning, key.to_string())
    }

    #[test]
    fn every_error_is_reported_at_its_own_line() {
        // Line 3 is the first line after SCHEME.
        let text = "[[partners]]\nname = \"A\"\nagreement = \"X\"\nmax_level = \"OPEN\"\nvalid_until = 2030-01-01\n\
                    [[partners]]\nname = \"B\"\nagreement = \"Y\"\nmax_level = \"TOP\"\nvalid_until = 2030-01-01\n\
                    [[locations]]\npath = \"a/**\"\npartner = \"A\"\n\
                    [[locations]]\npath = \"b/**\"\npartner = \"C\"\n";
        assert_eq!(
            findings(text),
            vec![
                error(11, "partners[1].max_level"),
                error(18, "locations[1].partner")
            ]
        );
    }

    #[test]
    fn type_errors_and_missing_keys() {
        let text = "[[keywords]]\nid = 7\nterms = \"one\"\nmin_count = -1\n\
                    [detectors.email]\nenabled = \"no\"\n";
        assert_eq!(
            findings(text),
            vec![
                error(3, "keywords[0]"),
                error(4, "keywords[0].id"),
                error(5, "keywords[0].terms"),
                error(6, "keywords[0].min_count"),
                error(8, "detectors.email.enabled"),
            ]
        );
    }

    #[test]
    fn detector_and_rule_ids_are_checked() {
        let text = "[detectors.emial]\nmin_count = 2\n\
                    [[keywords]]\nid = \"email\"\nterms = [\"x\"]\nlevel = \"OPEN\"\n\
                    [[patterns]]\nid = \"p\"\nregex = \"x\"\nlevel = \"OPEN\"\n\
                    [[patterns]]\nid = \"p\"\nregex = \"y\"\nlevel = \"OPEN\"\n";
        assert_eq!(
            findings(text),
            vec![
                error(3, "detectors.emial"),
                error(6, "keywords[0].id"),
                error(14, "patterns[1].id"),
            ]
        );
    }

    #[test]
    fn agreement_warnings() {
        let text = "[[partners]]\nname = \"Open-ended\"\nmax_level = \"OPEN\"\n\
                    [[partners]]\nname = \"Future\"\nagreement = \"F\"\nmax_level = \"OPEN\"\nvalid_from = \"2027-01-01\"\n\
                    [[partners]]\nname = \"Current\"\nagreement = \"C\"\nmax_level = \"OPEN\"\nvalid_from = 2026-01-01\n";
        assert_eq!(
            findings(text),
            vec![
                warning(3, "partners[0]"),
                warning(3, "partners[0]"),
                warning(10, "partners[1].valid_from"),
            ]
        );
    }

    #[test]
    fn a_shadowing_alias_is_dropped_and_a_matching_one_kept() {
        let text = "[scheme.aliases]\n\"Secret\" = \"OPEN\"\n\"restricted\" = \"RESTRICTED\"\n";
        assert_eq!(findings(text), vec![warning(4, "scheme.aliases.Secret")]);
        let options = LoadOptions::default();
        let (policy, _) = read(&format!("{SCHEME}{text}"), "t", &options);
        let scheme = policy.unwrap().scheme;
        assert_eq!(scheme.level_of("secret"), Some(Level::new(2)));
    }

    #[test]
    fn name_and_version_do_not_touch_detection() {
        let plain = read(SCHEME, "t", &LoadOptions::default()).0.unwrap();
        let text = format!("name = \"N\"\nversion = \"7\"\n{SCHEME}");
        let named = read(&text, "t", &LoadOptions::default()).0.unwrap();
        assert_eq!(named.name.as_deref(), Some("N"));
        assert_eq!(named.version.as_deref(), Some("7"));
        assert_eq!(named.detection_relevant(), plain.detection_relevant());
    }

    #[test]
    fn a_syntax_error_is_reported_once() {
        let text = "[scheme]\nlevels = [\"A\"\n\n[labels]\nx = = 3\n";
        let (policy, diagnostics) = read(text, "t", &LoadOptions::default());
        assert!(policy.is_none());
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert!(diagnostics[0].line.is_some_and(|l| l >= 2));
    }

    #[test]
    fn a_missing_scheme_is_one_error() {
        let (policy, diagnostics) = read("name = \"x\"\n", "t", &LoadOptions::default());
        assert!(policy.is_none());
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        assert_eq!(diagnostics[0].message, "missing key `scheme`");
    }

    /// The error of a regex that does not compile; through a variable so
    /// that clippy does not reject the literal.
    fn regex_error(pattern: &str) -> regex::Error {
        regex::Regex::new(pattern).unwrap_err()
    }

    #[test]
    fn regex_problems_keep_the_whole_message() {
        let e = regex_error("ab(?<=a)b");
        assert_eq!(
            regex_problem(&e),
            "invalid regex: look-around, including look-ahead and look-behind, is not supported (at column 3: `(?<=`)"
        );
        let e = regex_error("(unclosed");
        assert_eq!(
            regex_problem(&e),
            "invalid regex: unclosed group (at column 1: `(`)"
        );
    }

    #[test]
    fn guids() {
        assert!(is_guid("a6a1e5f2-3c1d-4b7e-9f10-2d3c4b5a6e01"));
        assert!(!is_guid("not-a-guid"));
        assert!(!is_guid("a6a1e5f2-3c1d-4b7e-9f10-2d3c4b5a6e0"));
    }

    #[test]
    fn globs_that_never_match() {
        for bad in ["", "  ", "/srv//x", "exchange/", "/srv/../x", "./a/./b"] {
            assert!(never_matches(bad).is_some(), "{bad:?}");
        }
        for good in [
            "exchange/precision/**",
            "/srv/exchange/*",
            "./exchange/x",
            "**",
        ] {
            assert_eq!(never_matches(good), None, "{good:?}");
        }
    }

    #[test]
    fn key_paths_quote_what_is_not_bare() {
        assert_eq!(child_path("", "scheme"), "scheme");
        assert_eq!(
            child_path("scheme.aliases", "Company Confidential"),
            "scheme.aliases.\"Company Confidential\""
        );
        assert_eq!(child_path("labels.msip", "a6-b7"), "labels.msip.a6-b7");
    }
}
