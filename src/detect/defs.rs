//! Built-in detector definitions: the TOML data in `detectors/*.toml`,
//! embedded at build time.

use serde::Deserialize;

use super::DetectError;

/// The definition files, embedded in the binary.
pub const SOURCES: &[(&str, &str)] = &[
    (
        "detectors/pii.toml",
        include_str!("../../detectors/pii.toml"),
    ),
    (
        "detectors/secrets.toml",
        include_str!("../../detectors/secrets.toml"),
    ),
    ("detectors/ip.toml", include_str!("../../detectors/ip.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    detector: Vec<Definition>,
}

/// How a detector finds its candidate windows before its regexes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Windows around literal anchors (case-insensitive Aho-Corasick).
    Anchors,
    /// Windows around runs of digits (at least `min_digits` digits nearby).
    Digits,
    /// Windows around the detector's context words (context-required detectors).
    Context,
    /// The anchors themselves are the hits (phrases, whole words on the left).
    Phrases,
    /// A line-based heuristic over the whole part (source code density).
    Lines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefConfidence {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternDef {
    pub regex: String,
    /// This pattern's matches count only with a context word nearby.
    #[serde(default)]
    pub context_required: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Examples {
    #[serde(default)]
    pub positive: Vec<String>,
    #[serde(default)]
    pub negative: Vec<String>,
}

/// One built-in detector, as written in the TOML files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub id: String,
    /// PII, SECRET or IP.
    pub category: String,
    pub description: String,
    /// Default level, in terms of the default scheme (PUBLIC/INTERNAL/CONFIDENTIAL).
    pub level: String,
    #[serde(default = "one")]
    pub min_count: usize,
    pub trigger: Trigger,
    /// Literal anchors for `anchors` / `phrases` triggers.
    #[serde(default)]
    pub anchors: Vec<String>,
    /// For the `digits` trigger: digits needed in a window.
    #[serde(default)]
    pub min_digits: usize,
    /// For the `digits` trigger: the cluster must also have a digit run
    /// right after an ASCII letter (directly or across one space or hyphen).
    #[serde(default)]
    pub digits_after_letter: bool,
    /// Bytes before / after an anchor hit that the regexes see.
    #[serde(default = "default_before")]
    pub window_before: usize,
    #[serde(default = "default_after")]
    pub window_after: usize,
    #[serde(default)]
    pub patterns: Vec<PatternDef>,
    #[serde(default)]
    pub validator: Option<String>,
    /// Supporting words (case-insensitive; words of <= 3 letters match whole words only).
    #[serde(default)]
    pub context: Vec<String>,
    /// Characters before the match in which a context word counts.
    #[serde(default = "default_ctx_before")]
    pub context_before: usize,
    /// Characters after the match in which a context word counts.
    #[serde(default = "default_ctx_after")]
    pub context_after: usize,
    /// Every match needs a context word.
    #[serde(default)]
    pub context_required: bool,
    /// Format identifies the type by itself (IBAN, prefixed tokens): a
    /// validated match is high confidence without context.
    #[serde(default)]
    pub self_identifying: bool,
    /// Confidence of a match that has no validator (phrases, heuristics).
    #[serde(default)]
    pub confidence: Option<DefConfidence>,
    /// Hits below this confidence are not counted (default: low, all
    /// count); `[detectors.ID] min_confidence` overrides it.
    #[serde(default)]
    pub min_confidence: Option<DefConfidence>,
    /// Overlap arbitration: where spans of two detectors overlap, the
    /// higher priority keeps the span.
    #[serde(default = "default_priority")]
    pub priority: u32,
    /// Check that the match is not glued to letters/digits on either side.
    #[serde(default = "yes")]
    pub boundary: bool,
    /// Lines heuristic: minimum non-empty lines and share of code-like lines.
    #[serde(default)]
    pub min_lines: usize,
    #[serde(default)]
    pub min_share: f64,
    #[serde(default)]
    pub examples: Examples,
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn default_before() -> usize {
    64
}
fn default_after() -> usize {
    256
}
fn default_ctx_before() -> usize {
    100
}
fn default_ctx_after() -> usize {
    30
}
fn default_priority() -> u32 {
    10
}

/// Parses all embedded definitions, checking ids are unique and every
/// definition is complete.
pub fn builtin() -> Result<Vec<Definition>, DetectError> {
    let mut defs: Vec<Definition> = Vec::new();
    for (name, text) in SOURCES {
        let file: File = toml::from_str(text).map_err(|e| DetectError::BadDefinition {
            id: (*name).to_string(),
            message: e.message().to_string(),
        })?;
        for d in file.detector {
            if defs.iter().any(|x| x.id == d.id) {
                return Err(DetectError::BadDefinition {
                    id: d.id,
                    message: "defined twice".into(),
                });
            }
            defs.push(d);
        }
    }
    for d in &defs {
        let bad = |m: &str| DetectError::BadDefinition {
            id: d.id.clone(),
            message: m.to_string(),
        };
        if !matches!(d.category.as_str(), "PII" | "SECRET" | "IP") {
            return Err(bad("category must be PII, SECRET or IP"));
        }
        match d.trigger {
            Trigger::Anchors | Trigger::Phrases if d.anchors.is_empty() => {
                return Err(bad("needs anchors"))
            }
            Trigger::Context if d.context.is_empty() => return Err(bad("needs context words")),
            Trigger::Anchors | Trigger::Digits | Trigger::Context if d.patterns.is_empty() => {
                return Err(bad("needs patterns"))
            }
            _ => {}
        }
        if let Some(v) = &d.validator {
            if super::validators::by_name(v).is_none() {
                return Err(bad(&format!("unknown validator `{v}`")));
            }
        }
    }
    Ok(defs)
}
