//! Labels as found in a document: protection-level sources, release
//! markings and TLP markings.

use serde::{Deserialize, Serialize};

use super::hash::hex_sha256;
use super::level::Level;

/// Where a label came from (SPEC "Label sources").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    Msip,
    Property,
    Marking,
}

impl LabelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelKind::Msip => "msip",
            LabelKind::Property => "property",
            LabelKind::Marking => "marking",
        }
    }
}

/// One label found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSource {
    pub kind: LabelKind,
    /// The label as written: a level name, an MSIP label name or GUID, a property value.
    pub value: String,
    /// The level it maps to, or `None` when the scheme cannot map it.
    pub level: Option<Level>,
    /// Where: `docProps/custom.xml MSIP_Label_<guid>_Name`, `word/header1.xml`, `page 1`.
    pub location: String,
}

/// A TLP 2.0 marking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "TLP:CLEAR")]
    Clear,
    #[serde(rename = "TLP:GREEN")]
    Green,
    #[serde(rename = "TLP:AMBER")]
    Amber,
    #[serde(rename = "TLP:AMBER+STRICT")]
    AmberStrict,
    #[serde(rename = "TLP:RED")]
    Red,
}

impl Tlp {
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }
}

/// A TLP marking as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlpMarking {
    pub tlp: Tlp,
    /// As written (`TLP: amber`, `TLP:WHITE`); differs from the canonical form when non-canonical.
    pub written: String,
    pub location: String,
}

/// One release marking ("RELEASED TO: A, B") as found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseMarking {
    /// The names as written (masked unless the run shows values).
    pub names: Vec<String>,
    /// Per name, [`release_name_key`] of the name as written: what the judge
    /// matches partners on once the names are masked, so that the stored
    /// analysis does not depend on the policy's partners.
    #[serde(default)]
    pub keys: Vec<String>,
    pub location: String,
}

impl ReleaseMarking {
    pub fn new(names: Vec<String>, location: String) -> Self {
        let keys = names.iter().map(|n| release_name_key(n)).collect();
        ReleaseMarking {
            names,
            keys,
            location,
        }
    }
}

/// A named party of a release marking: the name (masked unless values are
/// shown) and the key of its unmasked form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseName {
    pub written: String,
    pub key: String,
}

/// Lower-cases and folds runs of white space, so that "Company  Confidential"
/// matches "company confidential".
pub fn normalise_name(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A digest of a party's normalised name (128 bits of SHA-256). Equal for
/// names that [`normalise_name`] makes equal; does not show the name.
pub fn release_name_key(name: &str) -> String {
    let mut key =
        hex_sha256(format!("labelscan release name\n{}", normalise_name(name)).as_bytes());
    key.truncate(32);
    key
}

/// Every label source of one document, as the labels stage found them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelFindings {
    pub sources: Vec<LabelSource>,
    pub releases: Vec<ReleaseMarking>,
    pub tlp: Vec<TlpMarking>,
}

impl LabelFindings {
    /// All named parties, in order of appearance, each once (by key).
    pub fn release_names(&self) -> Vec<ReleaseName> {
        let mut seen = Vec::<ReleaseName>::new();
        for release in &self.releases {
            for (i, written) in release.names.iter().enumerate() {
                let key = match release.keys.get(i) {
                    Some(key) => key.clone(),
                    None => release_name_key(written),
                };
                if !seen.iter().any(|s| s.key == key) {
                    seen.push(ReleaseName {
                        written: written.clone(),
                        key,
                    });
                }
            }
        }
        seen
    }

    /// The most restrictive TLP marking found.
    pub fn strictest_tlp(&self) -> Option<Tlp> {
        self.tlp.iter().map(|t| t.tlp).max()
    }
}
