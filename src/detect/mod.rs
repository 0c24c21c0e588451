//! Detectors: built-in definitions from `detectors/*.toml` (embedded at build
//! time), tuned by the policy, plus the policy's keyword lists and patterns.
//!
//! Engine, per part:
//! 1. one case-insensitive Aho-Corasick pass (our own DFA, `words.rs`) finds
//!    every anchor, context word and phrase of every detector;
//! 2. one byte scan finds clusters of digits (digit runs at most 6 bytes
//!    apart);
//! 3. each detector's regexes then run only on small windows: around its
//!    anchors, around digit clusters with at least its `min_digits` digits
//!    (a number of a spreadsheet column opens no window for a card or phone
//!    detector), or around its
//!    context words (context-required detectors). Text without candidates
//!    costs only the two linear scans;
//! 4. matches are validated (checksums, structure), checked for context,
//!    scored, and overlapping spans of different detectors are arbitrated by
//!    priority (one span, one type: IBAN > card > national ID > phone).
//!
//! Levels: a definition's `level` names a level of the default scheme
//! (PUBLIC / INTERNAL / CONFIDENTIAL). It is looked up in the policy's
//! scheme by name or alias; if the scheme does not know it, CONFIDENTIAL
//! maps to the highest level, INTERNAL to level 1 (0 if the scheme has one
//! level) and PUBLIC to level 0. `[detectors.ID] level` overrides it.
//!
//! Confidence: a validated checksum gives medium, a structural check (or no
//! validator) low; a context word nearby raises it one step; a checksum on a
//! self-identifying format (IBAN, prefixed tokens, key blocks) is high;
//! well-known sample values (4111 1111 1111 1111, `AKIA…EXAMPLE`) are low.

pub mod defs;
pub mod validators;
mod words;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;

use crate::model::mask::mask;
use crate::model::{Confidence, Detection, Level, Locator, Part};
use crate::policy::{compile_pattern, Policy};

pub use defs::{Definition, Trigger};
use validators::{Check, Validator};
use words::Words;

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("key `detectors.{0}`: unknown detector id")]
    UnknownDetector(String),
    #[error("detector definition `{id}`: {message}")]
    BadDefinition { id: String, message: String },
}

/// The built-in detector definitions (for tests, `policy check` and docs).
/// The built-in definition files: (name, TOML text).
pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
    defs::SOURCES
}

pub fn builtin_definitions() -> Result<Vec<Definition>, DetectError> {
    defs::builtin()
}

/// The confidence below which a definition's hits are not counted, unless
/// the policy says otherwise.
pub fn default_min_confidence(d: &Definition) -> Confidence {
    conf_of(d.min_confidence)
}

/// How a definition's hits get their confidence, in words (for
/// `labelscan detectors`): the engine's rule (see the module comment)
/// applied to this definition.
pub fn confidence_rule(d: &Definition) -> String {
    let mut rule = match (&d.validator, d.self_identifying) {
        (Some(v), true) => format!("{v} check passed: high; structure only: low"),
        (Some(v), false) if v == "phone" => {
            "+CC with an assigned country code or (415) 555-0132 punctuation: medium; other formats: low"
                .to_string()
        }
        (Some(v), false) => format!("{v} check passed: medium; structure only: low"),
        (None, _) => format!("a match: {}", confidence_word(conf_of(d.confidence))),
    };
    if d.context_required {
        rule.push_str("; needs a context word, which raises one step");
    } else if !d.context.is_empty() {
        let some_need = d.patterns.iter().any(|p| p.context_required);
        rule.push_str(if some_need {
            "; a context word raises one step (some formats need one)"
        } else {
            "; a context word raises one step"
        });
    }
    if d.validator.is_some() {
        rule.push_str("; known test values: low");
    }
    rule
}

fn confidence_word(c: Confidence) -> &'static str {
    match c {
        Confidence::Low => "low",
        Confidence::Medium => "medium",
        Confidence::High => "high",
    }
}

const DIGIT_MARGIN: usize = 40;
const MAX_SAMPLES: usize = 5;
const MAX_LOCATIONS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A built-in definition.
    Builtin,
    /// A policy `[[keywords]]` rule: hits come from the keyword automata.
    Keyword,
    /// A policy `[[patterns]]` rule: its regex runs over the whole part.
    Pattern,
}

struct Compiled {
    id: String,
    category: String,
    kind: Kind,
    level: Level,
    min_count: usize,
    trigger: Trigger,
    min_digits: usize,
    digits_after_letter: bool,
    window_before: usize,
    window_after: usize,
    patterns: Vec<(Regex, bool)>,
    validator: Option<Validator>,
    context_before: usize,
    context_after: usize,
    context_required: bool,
    self_identifying: bool,
    confidence: Confidence,
    /// Hits below this confidence are not counted.
    min_confidence: Confidence,
    /// Values never counted (test data), as [`allow_key`]s.
    allow: Vec<String>,
    priority: u32,
    boundary: bool,
    min_lines: usize,
    min_share: f64,
}

/// How an allowed value and a match are compared: letters and digits only,
/// case-insensitive, so `4111 1111 1111 1111` also allows `4111-1111-1111-1111`.
fn allow_key(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anchor,
    Context,
    Phrase,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    det: u32,
    role: Role,
    /// Short words (<= 3 bytes) must be whole words.
    whole: bool,
}

/// Hits of one detector in one text kept for arbitration and evidence;
/// beyond them hits are only counted, so that memory does not grow with the
/// hits of a text (a pattern `.` over 42 MB made 42 million hits).
const MAX_HITS_KEPT: usize = 10_000;

/// The hits of one text: each detector's first [`MAX_HITS_KEPT`], and how
/// many more each had.
struct Hits {
    kept: Vec<Hit>,
    kept_per_detector: Vec<usize>,
    not_kept: Vec<usize>,
}

impl Hits {
    fn new(detectors: usize) -> Hits {
        Hits {
            kept: Vec::new(),
            kept_per_detector: vec![0; detectors],
            not_kept: vec![0; detectors],
        }
    }

    fn push(&mut self, hit: Hit) {
        let kept = &mut self.kept_per_detector[hit.det];
        if *kept < MAX_HITS_KEPT {
            *kept += 1;
            self.kept.push(hit);
        } else {
            self.not_kept[hit.det] += 1;
        }
    }
}

/// One hit inside one part.
#[derive(Debug, Clone)]
struct Hit {
    det: usize,
    start: usize,
    end: usize,
    conf: Confidence,
    /// A sample to show instead of the matched text (heuristic detectors).
    note: Option<String>,
}

/// The compiled detector set for one policy. Shared read-only by all workers.
pub struct DetectorSet {
    dets: Vec<Compiled>,
    words: Option<Words>,
    entries: Vec<Vec<Entry>>,
    digit_dets: Vec<usize>,
    /// Keyword automata: (automaton, detector index per pattern).
    kw_insensitive: Option<(AhoCorasick, Vec<usize>)>,
    kw_sensitive: Option<(AhoCorasick, Vec<usize>)>,
}

/// The level a built-in definition's default level (a name of the default
/// scheme) stands for in the policy's scheme (see the module comment).
pub fn map_level(policy: &Policy, name: &str) -> Level {
    if let Some(l) = policy.scheme.level_of(name) {
        return l;
    }
    let n = policy.scheme.levels.len();
    match name.to_ascii_uppercase().as_str() {
        "PUBLIC" => Level::LOWEST,
        "INTERNAL" => Level::new(1.min(n.saturating_sub(1))),
        _ => Level::new(n.saturating_sub(1)),
    }
}

fn conf_of(c: Option<defs::DefConfidence>) -> Confidence {
    match c {
        Some(defs::DefConfidence::High) => Confidence::High,
        Some(defs::DefConfidence::Medium) => Confidence::Medium,
        _ => Confidence::Low,
    }
}

fn raise(c: Confidence) -> Confidence {
    match c {
        Confidence::Low => Confidence::Medium,
        _ => Confidence::High,
    }
}

/// Rewrites `\b` to an ASCII word boundary, which keeps the lazy DFA usable
/// on non-ASCII text.
fn ascii_boundaries(re: &str) -> String {
    let mut out = String::with_capacity(re.len() + 16);
    let mut chars = re.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('b') => out.push_str("(?-u:\\b)"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl DetectorSet {
    /// Compiles the built-in detectors with the policy's tuning, keywords and patterns.
    pub fn compile(policy: &Policy) -> Result<DetectorSet, DetectError> {
        let definitions = defs::builtin()?;
        for id in policy.detectors.keys() {
            if !definitions.iter().any(|d| &d.id == id) {
                return Err(DetectError::UnknownDetector(id.clone()));
            }
        }
        let enabled: Vec<&Definition> = definitions
            .iter()
            .filter(|d| policy.detectors.get(&d.id).and_then(|t| t.enabled) != Some(false))
            .collect();
        let sources: Vec<String> = enabled
            .iter()
            .flat_map(|d| d.patterns.iter().map(|p| ascii_boundaries(&p.regex)))
            .collect();
        let mut compiled = compile_regexes(&sources).into_iter();
        let mut dets: Vec<Compiled> = Vec::new();
        for d in enabled {
            let tuning = policy.detectors.get(&d.id);
            let mut patterns = Vec::new();
            for p in &d.patterns {
                let re = compiled
                    .next()
                    .expect("one compiled regex per pattern")
                    .map_err(|e| DetectError::BadDefinition {
                        id: d.id.clone(),
                        message: format!(
                            "invalid regex: {}",
                            e.to_string().lines().last().unwrap_or("")
                        ),
                    })?;
                patterns.push((re, p.context_required));
            }
            let validator = match &d.validator {
                Some(v) => {
                    Some(
                        validators::by_name(v).ok_or_else(|| DetectError::BadDefinition {
                            id: d.id.clone(),
                            message: format!("unknown validator `{v}`"),
                        })?,
                    )
                }
                None => None,
            };
            dets.push(Compiled {
                id: d.id.clone(),
                category: d.category.clone(),
                kind: Kind::Builtin,
                level: tuning
                    .and_then(|t| t.level)
                    .unwrap_or_else(|| map_level(policy, &d.level)),
                min_count: tuning.and_then(|t| t.min_count).unwrap_or(d.min_count),
                trigger: d.trigger,
                min_digits: d.min_digits,
                digits_after_letter: d.digits_after_letter,
                window_before: d.window_before,
                window_after: d.window_after,
                patterns,
                validator,
                context_before: d.context_before,
                context_after: d.context_after,
                context_required: d.context_required,
                self_identifying: d.self_identifying,
                confidence: conf_of(d.confidence),
                min_confidence: tuning
                    .and_then(|t| t.min_confidence)
                    .unwrap_or_else(|| conf_of(d.min_confidence)),
                allow: tuning
                    .map(|t| t.allow.iter().map(|v| allow_key(v)).collect())
                    .unwrap_or_default(),
                priority: d.priority,
                boundary: d.boundary,
                min_lines: d.min_lines,
                min_share: d.min_share,
            });
        }

        // Policy patterns.
        for (i, p) in policy.patterns.iter().enumerate() {
            let re = compile_pattern(&p.regex).map_err(|e| DetectError::BadDefinition {
                id: p.id.clone(),
                message: format!(
                    "invalid regex: {}",
                    e.to_string().lines().last().unwrap_or("")
                ),
            })?;
            dets.push(custom(
                &p.id,
                &p.category,
                Kind::Pattern,
                policy
                    .pattern_levels
                    .get(i)
                    .copied()
                    .unwrap_or(Level::LOWEST),
                p.min_count,
                vec![(re, false)],
            ));
        }
        // Policy keywords.
        let mut ci: (Vec<String>, Vec<usize>) = (Vec::new(), Vec::new());
        let mut cs: (Vec<String>, Vec<usize>) = (Vec::new(), Vec::new());
        for (i, k) in policy.keywords.iter().enumerate() {
            let idx = dets.len();
            dets.push(custom(
                &k.id,
                &k.category,
                Kind::Keyword,
                policy
                    .keyword_levels
                    .get(i)
                    .copied()
                    .unwrap_or(Level::LOWEST),
                k.min_count,
                Vec::new(),
            ));
            for t in k.terms.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
                if k.case_sensitive {
                    cs.0.push(t.to_string());
                    cs.1.push(idx);
                } else {
                    ci.0.push(t.to_lowercase());
                    ci.1.push(idx);
                    let upper = t.to_uppercase();
                    if !upper.is_ascii() {
                        ci.0.push(upper);
                        ci.1.push(idx);
                    }
                }
            }
        }
        for (i, d) in dets.iter().enumerate() {
            if dets[..i].iter().any(|x| x.id == d.id) {
                return Err(DetectError::BadDefinition {
                    id: d.id.clone(),
                    message: "id used twice (a keyword or pattern id equals another detector id)"
                        .into(),
                });
            }
        }
        let build_kw = |(pats, idx): (Vec<String>, Vec<usize>), insensitive: bool| {
            if pats.is_empty() {
                return Ok(None);
            }
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(insensitive)
                .match_kind(MatchKind::Standard)
                .build(&pats)
                .map(|ac| Some((ac, idx)))
                .map_err(|e| DetectError::BadDefinition {
                    id: "keywords".into(),
                    message: e.to_string(),
                })
        };
        let kw_insensitive = build_kw(ci, true)?;
        let kw_sensitive = build_kw(cs, false)?;

        // The shared automaton: anchors, context words and phrases of built-ins.
        let mut words: Vec<String> = Vec::new();
        let mut entries: Vec<Vec<Entry>> = Vec::new();
        let mut add = |w: &str, det: usize, role: Role| {
            let w = w.to_lowercase();
            if w.is_empty() {
                return;
            }
            let mut variants = vec![w.clone()];
            let upper = w.to_uppercase();
            if !upper.is_ascii() {
                variants.push(upper);
            }
            // Capitalised form of non-ASCII words ("Geschäftsgeheimnis" vs "GESCHÄFTS…").
            for v in variants {
                // Short context words ("tel", "ein", "dob") must be whole words.
                let whole = role == Role::Context
                    && v.chars().count() <= 3
                    && v.chars().all(char::is_alphanumeric);
                let entry = Entry {
                    det: det as u32,
                    role,
                    whole,
                };
                match words.iter().position(|x| *x == v) {
                    Some(p) => entries[p].push(entry),
                    None => {
                        words.push(v);
                        entries.push(vec![entry]);
                    }
                }
            }
        };
        let by_id: std::collections::HashMap<&str, &Definition> =
            definitions.iter().map(|d| (d.id.as_str(), d)).collect();
        for (i, c) in dets.iter().enumerate() {
            if c.kind != Kind::Builtin {
                continue;
            }
            let Some(d) = by_id.get(c.id.as_str()) else {
                continue;
            };
            match d.trigger {
                Trigger::Anchors => d.anchors.iter().for_each(|a| add(a, i, Role::Anchor)),
                Trigger::Phrases => d.anchors.iter().for_each(|a| add(a, i, Role::Phrase)),
                _ => {}
            }
            for w in &d.context {
                add(w, i, Role::Context);
            }
        }
        let words = (!words.is_empty()).then(|| Words::new(&words));
        let digit_dets: Vec<usize> = dets
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind == Kind::Builtin && d.trigger == Trigger::Digits)
            .map(|(i, _)| i)
            .collect();
        Ok(DetectorSet {
            dets,
            words,
            entries,
            digit_dets,
            kw_insensitive,
            kw_sensitive,
        })
    }

    /// Ids of all enabled detectors (built-in, then policy patterns and keywords).
    pub fn ids(&self) -> Vec<String> {
        self.dets.iter().map(|d| d.id.clone()).collect()
    }

    /// Runs every detector over the parts. Returns one [`Detection`] per
    /// detector with at least one hit, sorted by detector id. Samples are
    /// masked unless `show_values`.
    pub fn scan(&self, parts: &[Part], show_values: bool) -> Vec<Detection> {
        let mut acc: Vec<Option<Acc>> = (0..self.dets.len()).map(|_| None).collect();
        for part in parts {
            let (hits, not_kept) = self.scan_text(&part.text);
            if hits.is_empty() {
                continue;
            }
            // Lines are counted only for the hits whose locations are kept.
            let mut locator = Locator::new(part);
            for h in hits {
                let a = acc[h.det].get_or_insert_with(|| Acc {
                    count: 0,
                    conf: Confidence::Low,
                    samples: Vec::new(),
                    locations: Vec::new(),
                });
                a.count += 1;
                a.conf = a.conf.max(h.conf);
                if a.samples.len() < MAX_SAMPLES {
                    let sample = match &h.note {
                        Some(n) => n.clone(),
                        None => {
                            let value = part.text.get(h.start..h.end).unwrap_or("");
                            if show_values {
                                value
                                    .lines()
                                    .next()
                                    .unwrap_or("")
                                    .chars()
                                    .take(200)
                                    .collect()
                            } else {
                                mask(value)
                            }
                        }
                    };
                    if !a.samples.contains(&sample) {
                        a.samples.push(sample);
                    }
                }
                if a.locations.len() < MAX_LOCATIONS {
                    let location = if h.start == h.end {
                        // A finding about the whole part (share of source-code lines).
                        locator.part().to_string()
                    } else {
                        locator.locate(h.start)
                    };
                    if !a.locations.contains(&location) {
                        a.locations.push(location);
                    }
                }
            }
            for (det, extra) in not_kept.into_iter().enumerate() {
                if let Some(a) = acc[det].as_mut() {
                    a.count += extra;
                }
            }
        }
        let mut out: Vec<Detection> = acc
            .into_iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let a = a?;
                let d = &self.dets[i];
                Some(Detection {
                    detector: d.id.clone(),
                    category: d.category.clone(),
                    count: a.count,
                    min_count: d.min_count,
                    fired: a.count >= d.min_count,
                    level: d.level,
                    confidence: a.conf,
                    samples: a.samples,
                    locations: a.locations,
                })
            })
            .collect();
        out.sort_by(|a, b| a.detector.cmp(&b.detector));
        out
    }

    /// All hits in one text, after arbitration, and per detector the
    /// hits beyond [`MAX_HITS_KEPT`], counted only.
    fn scan_text(&self, text: &str) -> (Vec<Hit>, Vec<usize>) {
        let mut hits = Hits::new(self.dets.len());
        if text.is_empty() {
            return (Vec::new(), Vec::new());
        }
        let bytes = text.as_bytes();

        // 1. Anchors, context words, phrases.
        let mut anchors: Vec<(u32, usize, usize)> = Vec::new();
        let mut ctx: Vec<(u32, usize, usize)> = Vec::new();
        if let Some(words) = &self.words {
            words.for_each(bytes, |word, s, e| {
                let left_ok = s == 0 || !is_word(bytes[s - 1]);
                let right_ok = e >= bytes.len() || !is_word(bytes[e]);
                for en in &self.entries[word] {
                    if en.whole && !(left_ok && right_ok) {
                        continue;
                    }
                    match en.role {
                        Role::Anchor => anchors.push((en.det, s, e)),
                        Role::Context => {
                            if left_ok {
                                ctx.push((en.det, s, e));
                            }
                        }
                        Role::Phrase => {
                            if left_ok {
                                let d = &self.dets[en.det as usize];
                                hits.push(Hit {
                                    det: en.det as usize,
                                    start: s,
                                    end: e,
                                    conf: d.confidence,
                                    note: None,
                                });
                            }
                        }
                    }
                }
            });
        }
        anchors.sort_unstable();
        ctx.sort_unstable();

        // 2. Digit clusters; windows per distinct cluster requirement, made
        // when a detector first needs them.
        let clusters = if self.digit_dets.is_empty() {
            Vec::new()
        } else {
            digit_clusters(text)
        };
        let mut digit_windows_by_need: Vec<((usize, bool), Spans)> = Vec::new();
        // Most detectors want more digits than any cluster of a typical part
        // has (spreadsheets: many clusters, few digits each); they skip the
        // walk over the clusters.
        let most_digits = |after_letter: bool| {
            clusters
                .iter()
                .filter(|c| c.after_letter || !after_letter)
                .map(|c| c.digits)
                .max()
                .unwrap_or(0)
        };
        let most = [most_digits(false), most_digits(true)];

        // 3. Per detector.
        for (i, d) in self.dets.iter().enumerate() {
            match (d.kind, d.trigger) {
                (Kind::Keyword, _) => {}
                (Kind::Pattern, _) => {
                    self.run_patterns(i, text, 0, text.len(), &ctx, &mut hits);
                }
                (_, Trigger::Phrases) => {}
                (_, Trigger::Lines) => {
                    if let Some(h) = code_density(i, d, text) {
                        hits.push(h);
                    }
                }
                (_, Trigger::Anchors) => {
                    let mine = slice_of(&anchors, i as u32);
                    if mine.is_empty() {
                        continue;
                    }
                    let windows = merge(
                        mine.iter().map(|&(_, s, e)| {
                            (s.saturating_sub(d.window_before), e + d.window_after)
                        }),
                        text,
                    );
                    for (s, e) in windows {
                        self.run_patterns(i, text, s, e, &ctx, &mut hits);
                    }
                }
                (_, Trigger::Context) => {
                    let mine = slice_of(&ctx, i as u32);
                    if mine.is_empty() {
                        continue;
                    }
                    let windows = merge(
                        mine.iter().map(|&(_, s, e)| {
                            (
                                s.saturating_sub(d.context_after + 64),
                                e + d.context_before + 64,
                            )
                        }),
                        text,
                    );
                    for (s, e) in windows {
                        self.run_patterns(i, text, s, e, &ctx, &mut hits);
                    }
                }
                (_, Trigger::Digits) => {
                    if most[d.digits_after_letter as usize] < d.min_digits {
                        continue;
                    }
                    let need = (d.min_digits, d.digits_after_letter);
                    let k = match digit_windows_by_need.iter().position(|(n, _)| *n == need) {
                        Some(k) => k,
                        None => {
                            let w = digit_windows(text, &clusters, need.0, need.1);
                            digit_windows_by_need.push((need, w));
                            digit_windows_by_need.len() - 1
                        }
                    };
                    for &(s, e) in &digit_windows_by_need[k].1 {
                        self.run_patterns(i, text, s, e, &ctx, &mut hits);
                    }
                }
            }
        }

        // Policy keywords: whole words.
        for (ac, idx) in [&self.kw_insensitive, &self.kw_sensitive]
            .into_iter()
            .flatten()
        {
            for m in ac.find_iter(text) {
                let (s, e) = (m.start(), m.end());
                if (s > 0 && is_word(bytes[s - 1])) || (e < bytes.len() && is_word(bytes[e])) {
                    continue;
                }
                let det = idx[m.pattern().as_usize()];
                hits.push(Hit {
                    det,
                    start: s,
                    end: e,
                    conf: Confidence::High,
                    note: None,
                });
            }
        }

        // 4. De-duplicate (same detector, same start) and arbitrate overlaps.
        let Hits {
            kept: mut hits,
            not_kept,
            ..
        } = hits;
        hits.sort_by(|a, b| {
            (a.start, a.det, std::cmp::Reverse(a.end)).cmp(&(
                b.start,
                b.det,
                std::cmp::Reverse(b.end),
            ))
        });
        hits.dedup_by(|b, a| a.det == b.det && a.start == b.start);
        (self.arbitrate(hits), not_kept)
    }

    fn arbitrate(&self, hits: Vec<Hit>) -> Vec<Hit> {
        let n = hits.len();
        let mut drop = vec![false; n];
        let mut active: Vec<usize> = Vec::new();
        for i in 0..n {
            let h = &hits[i];
            active.retain(|&j| hits[j].end > h.start);
            // One value, one hit: a detector's alternative patterns can match
            // the same value twice ("+49 261 555 0142" and "261 555 0142").
            if active
                .iter()
                .any(|&j| !drop[j] && hits[j].det == h.det && h.end > h.start)
            {
                drop[i] = true;
                continue;
            }
            let di = &self.dets[h.det];
            if di.kind == Kind::Builtin && h.end > h.start {
                for &j in &active {
                    let dj = &self.dets[hits[j].det];
                    if hits[j].det == h.det || dj.kind != Kind::Builtin {
                        continue;
                    }
                    if dj.priority > di.priority {
                        drop[i] = true;
                    } else if di.priority > dj.priority {
                        drop[j] = true;
                    }
                }
                active.push(i);
            }
        }
        hits.into_iter()
            .zip(drop)
            .filter(|(_, d)| !d)
            .map(|(h, _)| h)
            .collect()
    }

    fn run_patterns(
        &self,
        det: usize,
        text: &str,
        ws: usize,
        we: usize,
        ctx: &[(u32, usize, usize)],
        hits: &mut Hits,
    ) {
        let d = &self.dets[det];
        let Some(window) = text.get(ws..we) else {
            return;
        };
        let bytes = text.as_bytes();
        for (re, pattern_needs_context) in &d.patterns {
            for m in re.find_iter(window) {
                let start = ws + m.start();
                let mut end = ws + m.end();
                if start == end {
                    continue;
                }
                if d.boundary && start > 0 && is_alnum(bytes[start - 1]) {
                    continue;
                }
                if d.trigger == Trigger::Digits && part_of_a_decimal(bytes, start, ws + m.end()) {
                    continue;
                }
                let check = match d.validator {
                    Some(v) => {
                        let o = v(m.as_str());
                        if o.check == Check::Fail {
                            continue;
                        }
                        end = start + o.len.min(m.len());
                        Some(o.check)
                    }
                    None => None,
                };
                if !text.is_char_boundary(end) {
                    continue;
                }
                if d.boundary
                    && end < bytes.len()
                    && is_alnum(bytes[end])
                    && is_alnum(bytes[end - 1])
                {
                    continue;
                }
                let has_ctx = has_context(
                    ctx,
                    det as u32,
                    start,
                    end,
                    d.context_before,
                    d.context_after,
                );
                if (d.context_required || *pattern_needs_context) && !has_ctx {
                    continue;
                }
                let mut conf = match check {
                    Some(Check::Checksum) if d.self_identifying => Confidence::High,
                    Some(Check::Checksum | Check::Strong) => Confidence::Medium,
                    Some(_) => Confidence::Low,
                    None => d.confidence,
                };
                if has_ctx {
                    conf = raise(conf);
                }
                if check == Some(Check::TestValue) {
                    conf = Confidence::Low;
                }
                if conf < d.min_confidence
                    || (!d.allow.is_empty() && d.allow.contains(&allow_key(&text[start..end])))
                {
                    continue;
                }
                hits.push(Hit {
                    det,
                    start,
                    end,
                    conf,
                    note: None,
                });
            }
        }
    }
}

/// Whether the digits `start..end` are a piece of a decimal number rather
/// than an identifier: the fraction of `0.6901686683866837` (a digit and a
/// point before them, or a lone `0,`), the integer part of `1234.5`, or the
/// mantissa of `44059006E+07`. Spreadsheets and measurement tables are full
/// of such numbers, and their digits pass checksums by chance.
fn part_of_a_decimal(bytes: &[u8], start: usize, end: usize) -> bool {
    let before = |i: usize| start.checked_sub(i).map(|i| bytes[i]);
    let after = |i: usize| bytes.get(end + i).copied();
    let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
    let fraction = before(1) == Some(b'.') && digit(before(2));
    let decimal_comma = before(1) == Some(b',')
        && before(2) == Some(b'0')
        && !before(3).is_some_and(|b| b.is_ascii_alphanumeric());
    let integer_part = after(0) == Some(b'.') && digit(after(1));
    let exponent = end > start
        && matches!(bytes[end - 1], b'E' | b'e')
        && end >= 2
        && bytes[end - 2].is_ascii_digit()
        && (digit(after(0)) || (matches!(after(0), Some(b'+' | b'-')) && digit(after(1))));
    fraction || decimal_comma || integer_part || exponent
}

/// Compiles regexes on up to four threads: compiling the built-in set
/// takes tens of milliseconds, which every scan waits for before its first
/// file. Results are in the order of `sources`.
fn compile_regexes(sources: &[String]) -> Vec<Result<Regex, regex::Error>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    if threads == 1 || sources.len() < 2 {
        return sources.iter().map(|r| Regex::new(r)).collect();
    }
    // Thread t compiles every t-th source, so long and short patterns
    // (they cluster by detector) spread over the threads.
    let mut slots: Vec<Option<Result<Regex, regex::Error>>> =
        (0..sources.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..sources.len())
                        .step_by(threads)
                        .map(|i| (i, Regex::new(&sources[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for i in (0..sources.len()).step_by(threads) {
            slots[i] = Some(Regex::new(&sources[i]));
        }
        for handle in handles {
            // A panic in the regex compiler reaches the caller.
            let done = handle
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            for (i, re) in done {
                slots[i] = Some(re);
            }
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every source compiled"))
        .collect()
}

fn custom(
    id: &str,
    category: &str,
    kind: Kind,
    level: Level,
    min_count: usize,
    patterns: Vec<(Regex, bool)>,
) -> Compiled {
    Compiled {
        id: id.to_string(),
        category: category.to_string(),
        kind,
        level,
        min_count,
        trigger: Trigger::Phrases,
        min_digits: 0,
        digits_after_letter: false,
        window_before: 0,
        window_after: 0,
        patterns,
        validator: None,
        context_before: 0,
        context_after: 0,
        context_required: false,
        self_identifying: false,
        confidence: Confidence::High,
        min_confidence: Confidence::Low,
        allow: Vec::new(),
        priority: 0,
        boundary: false,
        min_lines: 0,
        min_share: 0.0,
    }
}

struct Acc {
    count: usize,
    conf: Confidence,
    samples: Vec<String>,
    locations: Vec<String>,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// The entries of one detector in a list sorted by detector.
fn slice_of(list: &[(u32, usize, usize)], det: u32) -> &[(u32, usize, usize)] {
    let lo = list.partition_point(|x| x.0 < det);
    let hi = list.partition_point(|x| x.0 <= det);
    &list[lo..hi]
}

fn has_context(
    ctx: &[(u32, usize, usize)],
    det: u32,
    start: usize,
    end: usize,
    before: usize,
    after: usize,
) -> bool {
    let mine = slice_of(ctx, det);
    if mine.is_empty() {
        return false;
    }
    let lo = start.saturating_sub(before);
    let hi = end + after;
    // First context word ending after `lo`.
    let i = mine.partition_point(|x| x.2 < lo);
    mine[i..]
        .iter()
        .take_while(|x| x.1 <= hi)
        .any(|x| x.2 <= start || x.1 >= end)
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Sorted, merged, char-aligned windows.
fn merge(windows: impl Iterator<Item = (usize, usize)>, text: &str) -> Vec<(usize, usize)> {
    let mut w: Vec<(usize, usize)> = windows
        .map(|(s, e)| (floor_boundary(text, s), ceil_boundary(text, e)))
        .collect();
    w.sort_unstable();
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(w.len());
    for (s, e) in w {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// Bit j set when `chunk[j]` is an ASCII digit; `chunk` holds at most 64
/// bytes.
#[inline]
fn digit_mask(chunk: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if let Ok(block) = <&[u8; 64]>::try_from(chunk) {
        use std::arch::x86_64::{
            _mm_and_si128, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
            _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of x86_64; the four loads read the 64 bytes
        // of `block`.
        unsafe {
            let (below, above) = (_mm_set1_epi8(b'0' as i8 - 1), _mm_set1_epi8(b'9' as i8 + 1));
            let mut mask = 0u64;
            for q in 0..4 {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * q).cast());
                // Signed compares: bytes from 0x80 up are negative, so never digits.
                let is_digit = _mm_and_si128(_mm_cmpgt_epi8(v, below), _mm_cmplt_epi8(v, above));
                mask |= u64::from(_mm_movemask_epi8(is_digit) as u16) << (16 * q);
            }
            return mask;
        }
    }
    chunk
        .iter()
        .enumerate()
        .fold(0u64, |m, (j, c)| m | (u64::from(c.is_ascii_digit()) << j))
}

/// A cluster of digits: digit runs at most 6 bytes apart with no line break
/// between.
struct Cluster {
    start: usize,
    end: usize,
    digits: usize,
    /// A run starts right after an ASCII letter, directly or across one
    /// space or hyphen.
    after_letter: bool,
}

fn digit_clusters(text: &str) -> Vec<Cluster> {
    let b = text.as_bytes();
    let mut clusters: Vec<Cluster> = Vec::new();
    for_each_digit_run(b, |s, i| {
        let digits = i - s;
        let after_letter = match s.checked_sub(1).map(|p| b[p]) {
            Some(c) if c.is_ascii_alphabetic() => true,
            Some(b' ' | b'-') => s >= 2 && b[s - 2].is_ascii_alphabetic(),
            _ => false,
        };
        match clusters.last_mut() {
            Some(last) if s - last.end <= 6 && !b[last.end..s].contains(&b'\n') => {
                last.end = i;
                last.digits += digits;
                last.after_letter |= after_letter;
            }
            _ => clusters.push(Cluster {
                start: s,
                end: i,
                digits,
                after_letter,
            }),
        }
    });
    clusters
}

/// Calls `f(start, end)` for every maximal run of ASCII digits, in order.
/// Works on a bit mask of digits per 64 bytes, so spreadsheet text, with a
/// number every few bytes, costs a few operations per run rather than a
/// test and a branch per byte.
fn for_each_digit_run(b: &[u8], mut f: impl FnMut(usize, usize)) {
    const W: usize = 64;
    let mut open: Option<usize> = None;
    for (k, chunk) in b.chunks(W).enumerate() {
        let base = k * W;
        let digits = digit_mask(chunk);
        let mut pos = 0usize;
        loop {
            let rest = |mask: u64| if pos >= W { 0 } else { mask >> pos };
            match open {
                None => {
                    let ahead = rest(digits);
                    if ahead == 0 {
                        break;
                    }
                    pos += ahead.trailing_zeros() as usize;
                    open = Some(base + pos);
                }
                Some(start) => {
                    // Bits past a short last chunk are not digits.
                    let ahead = rest(!digits);
                    if ahead == 0 {
                        break;
                    }
                    pos += ahead.trailing_zeros() as usize;
                    f(start, (base + pos).min(b.len()));
                    open = None;
                }
            }
        }
    }
    if let Some(start) = open {
        f(start, b.len());
    }
}

/// Byte ranges of a text.
type Spans = Vec<(usize, usize)>;

/// Windows of `DIGIT_MARGIN` bytes either side of the clusters with at least
/// `min_digits` digits (and a run after a letter if `after_letter`), merged.
fn digit_windows(text: &str, clusters: &[Cluster], min_digits: usize, after_letter: bool) -> Spans {
    let mut out: Spans = Vec::new();
    for c in clusters
        .iter()
        .filter(|c| c.digits >= min_digits && (c.after_letter || !after_letter))
    {
        let ws = floor_boundary(text, c.start.saturating_sub(DIGIT_MARGIN));
        let we = ceil_boundary(text, c.end + DIGIT_MARGIN);
        match out.last_mut() {
            Some(last) if ws <= last.1 => last.1 = we,
            _ => out.push((ws, we)),
        }
    }
    out
}

/// Whether a trimmed line looks like program source.
fn is_code_line(l: &str) -> bool {
    const STARTS: &[&str] = &[
        "#include",
        "import ",
        "from ",
        "def ",
        "class ",
        "public ",
        "private ",
        "protected ",
        "static ",
        "function ",
        "return ",
        "if (",
        "if(",
        "for (",
        "for(",
        "while (",
        "} else",
        "else {",
        "//",
        "/*",
        "#!",
        "const ",
        "let ",
        "var ",
        "package ",
        "using ",
        "fn ",
        "pub ",
        "async ",
        "await ",
        "try {",
        "catch",
        "elif ",
        "print(",
        "console.",
        "#define",
        "namespace ",
        "SELECT ",
        "INSERT ",
        "UPDATE ",
        "CREATE TABLE",
        "@",
        "}",
        "end",
    ];
    const ENDS: &[&str] = &[";", "{", "}", ");", "):", "=>", "*/", "),", "];"];
    // Every line of a part comes here: compare first and last bytes before
    // whole prefixes and suffixes, and look for substrings only in lines
    // that have a byte they all contain.
    let (Some(&first), Some(&last)) = (l.as_bytes().first(), l.as_bytes().last()) else {
        return false;
    };
    if STARTS
        .iter()
        .any(|p| p.as_bytes()[0] == first && l.starts_with(p))
        || ENDS
            .iter()
            .any(|p| p.as_bytes()[p.len() - 1] == last && l.ends_with(p))
    {
        return true;
    }
    memchr::memchr3(b'=', b'(', b'>', l.as_bytes()).is_some()
        && (l.contains(" => ") || l.contains("();") || l.contains(" = new ") || l.contains("->"))
}

fn code_density(det: usize, d: &Compiled, text: &str) -> Option<Hit> {
    // Cheap precheck: code has braces, semicolons or colons at line ends.
    memchr::memchr3(b';', b'{', b':', text.as_bytes())?;
    let mut lines = 0usize;
    let mut code = 0usize;
    for l in text.lines() {
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        lines += 1;
        if is_code_line(t) {
            code += 1;
        }
    }
    if lines < d.min_lines.max(1) || (code as f64) < d.min_share * lines as f64 {
        return None;
    }
    Some(Hit {
        det,
        start: 0,
        end: 0,
        conf: if code * 4 >= lines * 3 {
            Confidence::High
        } else {
            Confidence::Medium
        },
        note: Some(format!("{code} of {lines} lines look like source code")),
    })
}

#[cfg(test)]
mod prop_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::PartKind;

    fn scan(text: &str) -> Vec<Detection> {
        let set = DetectorSet::compile(&Policy::default_policy()).unwrap();
        set.scan(&[Part::new(PartKind::Body, "", text)], false)
    }

    fn ids(text: &str) -> Vec<String> {
        scan(text).into_iter().map(|d| d.detector).collect()
    }

    #[test]
    fn detector_set_is_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DetectorSet>();
    }

    #[test]
    fn contract_ids_exist() {
        let set = DetectorSet::compile(&Policy::default_policy()).unwrap();
        let ids = set.ids();
        for id in [
            "email",
            "credit_card",
            "iban",
            "aws_access_key",
            "private_key",
            "phone",
            "us_ssn",
            "de_tax_id",
            "uk_nino",
        ] {
            assert!(ids.iter().any(|x| x == id), "{id} missing");
        }
    }

    #[test]
    fn finds_and_masks() {
        let d =
            scan("Contact anna.schmidt@apex-dynamics.example or pay DE89 3704 0044 0532 0130 00.");
        let iban = d.iter().find(|d| d.detector == "iban").unwrap();
        assert_eq!(iban.count, 1);
        assert!(iban.fired);
        assert_eq!(iban.level, Level::new(2));
        assert!(!iban.samples[0].contains("0044"));
        assert_eq!(iban.locations, vec!["body paragraph 1".to_string()]);
        assert!(d.iter().any(|d| d.detector == "email"));
    }

    #[test]
    fn arbitration_keeps_one_type() {
        let v = ids("Card 4111 1111 1111 1111 please");
        assert_eq!(v, vec!["credit_card".to_string()]);
    }

    #[test]
    fn unknown_detector_is_an_error() {
        let text = "[scheme]\nlevels = [\"PUBLIC\", \"INTERNAL\", \"CONFIDENTIAL\"]\n[detectors.nope]\nmin_count = 2\n";
        let p = Policy::parse(text, "t").unwrap();
        assert!(matches!(
            DetectorSet::compile(&p),
            Err(DetectError::UnknownDetector(id)) if id == "nope"
        ));
    }

    #[test]
    fn policy_keywords_patterns_and_tuning() {
        let text = r#"
[scheme]
levels = ["PUBLIC", "INTERNAL", "CONFIDENTIAL", "SECRET"]
[detectors.email]
min_count = 3
[detectors.phone]
enabled = false
[[keywords]]
id = "helios"
terms = ["Project Helios"]
level = "SECRET"
[[patterns]]
id = "drawing"
regex = 'APX-\d{6}-[A-Z]'
level = "INTERNAL"
"#;
        let p = Policy::parse(text, "t").unwrap();
        let set = DetectorSet::compile(&p).unwrap();
        assert!(!set.ids().contains(&"phone".to_string()));
        let parts = [Part::new(
            PartKind::Body,
            "",
            "project helios drawing APX-123456-B, mail a@b.de; not ProjectHeliosX",
        )];
        let d = set.scan(&parts, true);
        let kw = d.iter().find(|d| d.detector == "helios").unwrap();
        assert_eq!((kw.count, kw.level), (1, Level::new(3)));
        let pat = d.iter().find(|d| d.detector == "drawing").unwrap();
        assert_eq!(pat.samples, vec!["APX-123456-B".to_string()]);
        let email = d.iter().find(|d| d.detector == "email").unwrap();
        assert!(!email.fired);
        // CONFIDENTIAL maps to the highest level of an unknown scheme.
        assert_eq!(d.iter().find(|d| d.detector == "private_key"), None);
    }

    #[test]
    fn level_mapping_for_foreign_schemes() {
        let p = Policy::parse(
            "[scheme]\nlevels = [\"OPEN\", \"RESTRICTED\", \"SECRET\", \"TOP\"]\n",
            "t",
        )
        .unwrap();
        assert_eq!(map_level(&p, "CONFIDENTIAL"), Level::new(3));
        assert_eq!(map_level(&p, "INTERNAL"), Level::new(1));
        assert_eq!(map_level(&p, "PUBLIC"), Level::LOWEST);
    }

    #[test]
    fn digit_clusters_know_runs_after_letters() {
        // Fillers far longer than two window margins keep the windows apart.
        let filler = "quality review ".repeat(7);
        let text = format!("IBAN:1 DE89 3704 0044\t{filler}\t120032\t{filler}\tAB 12 34 56 C");
        let clusters = digit_clusters(&text);
        let got: Vec<(usize, bool)> = clusters
            .iter()
            .map(|c| (c.digits, c.after_letter))
            .collect();
        assert_eq!(got, vec![(11, true), (6, false), (6, true)]);
        assert_eq!(digit_windows(&text, &clusters, 6, false).len(), 3);
        // The plain number opens no window for an after-letter detector.
        assert_eq!(digit_windows(&text, &clusters, 6, true).len(), 2);
    }

    #[test]
    fn digit_runs_match_a_byte_by_byte_walk() {
        let mut seed = 0x2545_f491_u32;
        for len in (0..300).chain([640, 1000]) {
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    if seed.is_multiple_of(7) {
                        0xb9 // above 0x7f: negative in the signed compare
                    } else if seed.is_multiple_of(3) {
                        b'a'
                    } else {
                        b'0' + (seed % 10) as u8
                    }
                })
                .collect();
            let mut got = Vec::new();
            for_each_digit_run(&text, |s, e| got.push((s, e)));
            let mut want = Vec::new();
            let mut i = 0;
            while i < text.len() {
                if text[i].is_ascii_digit() {
                    let s = i;
                    while i < text.len() && text[i].is_ascii_digit() {
                        i += 1;
                    }
                    want.push((s, i));
                } else {
                    i += 1;
                }
            }
            assert_eq!(got, want, "{len} bytes");
        }
        let all = vec![b'7'; 128];
        let mut got = Vec::new();
        for_each_digit_run(&all, |s, e| got.push((s, e)));
        assert_eq!(got, [(0, 128)]);
    }

    #[test]
    fn source_code_density() {
        let code = "#include <stdio.h>\nint main(void) {\n  int x = 1;\n  printf(\"%d\", x);\n  return 0;\n}\nstatic int f(int a) {\n  return a + 1;\n}\n";
        assert!(ids(code).contains(&"source_code".to_string()));
        assert!(!ids("The meeting is on Monday.\nWe review the budget.\n")
            .contains(&"source_code".to_string()));
    }
}
