//! Labels as found in a document: protection-level sources, release
//! markings and TLP markings.

use serde::{Deserialize, Serialize};

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
    /// The names as written.
    pub names: Vec<String>,
    pub location: String,
}

/// Every label source of one document, as the labels stage found them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelFindings {
    pub sources: Vec<LabelSource>,
    pub releases: Vec<ReleaseMarking>,
    pub tlp: Vec<TlpMarking>,
}

impl LabelFindings {
    /// All release names as written, in order of appearance, without duplicates.
    pub fn release_names(&self) -> Vec<String> {
        let mut seen = Vec::<String>::new();
        for name in self.releases.iter().flat_map(|r| r.names.iter()) {
            if !seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                seen.push(name.clone());
            }
        }
        seen
    }

    /// The most restrictive TLP marking found.
    pub fn strictest_tlp(&self) -> Option<Tlp> {
        self.tlp.iter().map(|t| t.tlp).max()
    }
}
