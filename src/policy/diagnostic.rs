//! What checking a policy found: errors (the policy is not used) and warnings
//! (it is, but probably not as meant), each with its key path and line.

use std::fmt;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding about one key of the policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based line of the key (or of its table's header); `None` when the
    /// finding concerns the whole file.
    pub line: Option<usize>,
    /// Key path as written, e.g. `locations[1].partner`; empty for the file.
    pub key: String,
    pub message: String,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `origin:line: severity: key: message`, the form compilers use, so
    /// that editors can jump to the line.
    pub fn render(&self, origin: &str) -> String {
        let place = match self.line {
            Some(line) => format!("{origin}:{line}"),
            None => origin.to_string(),
        };
        let key = if self.key.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.key)
        };
        format!("{place}: {}: {key}{}", self.severity.as_str(), self.message)
    }
}

/// A policy that cannot be used: every diagnostic found, errors and
/// warnings, in line order.
#[derive(Debug, Clone)]
pub struct PolicyError {
    pub origin: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl PolicyError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

impl fmt::Display for PolicyError {
    /// The errors only, one per line: the warnings do not explain why the
    /// policy was refused.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.errors().map(|d| d.render(&self.origin)).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for PolicyError {}

/// Collects diagnostics while a policy is read, turning byte spans into lines.
pub(super) struct Findings<'t> {
    text: &'t str,
    pub(super) list: Vec<Diagnostic>,
}

impl<'t> Findings<'t> {
    pub(super) fn new(text: &'t str) -> Self {
        Findings {
            text,
            list: Vec::new(),
        }
    }

    pub(super) fn error(&mut self, key: &str, span: Range<usize>, message: impl Into<String>) {
        self.push(Severity::Error, key, Some(span), message.into());
    }

    pub(super) fn warning(&mut self, key: &str, span: Range<usize>, message: impl Into<String>) {
        self.push(Severity::Warning, key, Some(span), message.into());
    }

    pub(super) fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    fn push(&mut self, severity: Severity, key: &str, span: Option<Range<usize>>, message: String) {
        let line = span.map(|s| line_at(self.text, s.start));
        self.list.push(Diagnostic {
            severity,
            line,
            key: key.to_string(),
            message,
        });
    }

    /// The diagnostics in line order (a stable sort keeps the order of
    /// findings on one line).
    pub(super) fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by_key(|d| d.line);
        self.list
    }
}

/// The 1-based line that byte offset `at` falls on.
pub(super) fn line_at(text: &str, at: usize) -> usize {
    let end = at.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let d = Diagnostic {
            severity: Severity::Error,
            line: Some(51),
            key: "locations[1].partner".into(),
            message: "no partner named \"X\"".into(),
        };
        assert_eq!(
            d.render("policy.toml"),
            "policy.toml:51: error: locations[1].partner: no partner named \"X\""
        );
        let whole_file = Diagnostic {
            line: None,
            key: String::new(),
            ..d
        };
        assert_eq!(
            whole_file.render("p.toml"),
            "p.toml: error: no partner named \"X\""
        );
    }

    #[test]
    fn lines_are_counted_from_one() {
        assert_eq!(line_at("a\nb\nc", 0), 1);
        assert_eq!(line_at("a\nb\nc", 2), 2);
        assert_eq!(line_at("a\nb\nc", 99), 3);
    }
}
