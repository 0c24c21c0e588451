//! The one record per document that every report is rendered from: the
//! document's analysis and its judgement, with the names of the scheme's
//! levels so that it renders on its own.

use super::analysis::Analysis;
use super::hash::document_id;
use super::job::FileOrigin;
use super::level::{Level, LevelNames};
use super::verdict::{Judgement, VerdictCode};

#[derive(Debug, Clone)]
pub struct DocumentRecord {
    /// Stable id: SHA-256 of the path as walked, first 16 hex digits.
    pub id: String,
    /// The path as walked; archive members as `a.zip!/dir/m.docx`.
    pub path: String,
    pub analysis: Analysis,
    pub judgement: Judgement,
    pub levels: LevelNames,
    /// The file's time and owner (an archive's, for its members).
    pub origin: FileOrigin,
}

impl DocumentRecord {
    pub fn new(
        path: String,
        analysis: Analysis,
        judgement: Judgement,
        levels: LevelNames,
    ) -> DocumentRecord {
        DocumentRecord {
            id: document_id(&path),
            path,
            analysis,
            judgement,
            levels,
            origin: FileOrigin::default(),
        }
    }

    pub fn with_origin(mut self, origin: FileOrigin) -> DocumentRecord {
        self.origin = origin;
        self
    }

    pub fn has(&self, code: VerdictCode) -> bool {
        self.judgement.has(code)
    }

    pub fn level_name(&self, level: Level) -> &str {
        self.levels.name(level)
    }

    /// The effective level's name, if the document has one.
    pub fn level(&self) -> Option<&str> {
        self.judgement.level.map(|l| self.levels.name(l))
    }

    /// The suggested level's name; empty when the content is unknown.
    pub fn suggested_level(&self) -> &str {
        self.judgement
            .suggested
            .map(|l| self.levels.name(l))
            .unwrap_or("")
    }

    pub fn format(&self) -> &'static str {
        self.analysis.format.as_str()
    }
}
