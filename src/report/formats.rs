//! `--formats`: which of the optional report files a run writes, and the
//! step that renders the reports made from the others (`report.html`,
//! `findings.xlsx`) once every sink has finished. `summary.json`,
//! `skipped.csv` and `manifest.json` are always written.

use std::io;
use std::path::Path;

use serde_json::Value;

use super::html::{self, RunFiles};
use super::{xlsx, ReportSet, JSONL_FILE};

/// The report formats a run writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub csv: bool,
    pub jsonl: bool,
    pub html: bool,
    pub xlsx: bool,
}

/// The names `--formats` takes.
pub const FORMAT_NAMES: [&str; 4] = ["csv", "jsonl", "html", "xlsx"];

impl Default for Formats {
    /// `csv,jsonl,html`.
    fn default() -> Formats {
        Formats {
            csv: true,
            jsonl: true,
            html: true,
            xlsx: false,
        }
    }
}

impl Formats {
    /// None of the optional formats: add to it with [`Formats::add`].
    pub fn none() -> Formats {
        Formats {
            csv: false,
            jsonl: false,
            html: false,
            xlsx: false,
        }
    }

    /// Adds the format named `name`; an error names the known ones.
    pub fn add(&mut self, name: &str) -> Result<(), String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "csv" => self.csv = true,
            "jsonl" => self.jsonl = true,
            "html" => self.html = true,
            "xlsx" => self.xlsx = true,
            _ => {
                return Err(format!(
                    "unknown report format \"{name}\" (formats: {})",
                    FORMAT_NAMES.join(", ")
                ))
            }
        }
        Ok(())
    }

    /// Whether the sinks must stage `findings.jsonl`: the rendered reports
    /// are made from it, and removed again when it was not asked for.
    pub fn stages_jsonl(&self) -> bool {
        self.jsonl || self.html || self.xlsx
    }
}

/// Renders the reports made from the staged ones, once every sink has
/// finished, and drops a staged `findings.jsonl` that was not asked for.
/// `policy` is `labelscan policy show --json` of the policy the run applied.
pub fn finish_staged(set: &ReportSet, formats: &Formats, policy: &Value) -> io::Result<()> {
    let run = RunFiles::staged(set.staging_dir());
    // The sinks' files go to disk while the others are rendered, so that
    // the commit's fsync of them finds little left to write.
    std::thread::scope(|scope| {
        let flushing = scope.spawn(|| sync_files_in(set.staging_dir()));
        let rendered = render(&run, formats, policy, |name| set.path_of(name));
        // A failed flush is not fatal here: the commit syncs every file
        // again and fails the run if that fails.
        let _ = flushing.join();
        rendered
    })?;
    if formats.stages_jsonl() && !formats.jsonl {
        std::fs::remove_file(set.path_of(JSONL_FILE))?;
    }
    Ok(())
}

/// Flushes each file in `dir` to disk, side by side: the disk takes them
/// in one go rather than one flush after another.
fn sync_files_in(dir: &Path) -> io::Result<()> {
    // The rendered reports are being written (a sync would hold their
    // writes up; the commit syncs them).
    let rendered = [html::HTML_FILE, xlsx::XLSX_FILE];
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() && !rendered.iter().any(|n| entry.file_name() == *n) {
            files.push(entry.path());
        }
    }
    std::thread::scope(|scope| {
        let syncs: Vec<_> = files
            .iter()
            .map(|path| scope.spawn(move || std::fs::File::open(path)?.sync_data()))
            .collect();
        syncs.into_iter().try_for_each(|sync| {
            sync.join()
                .unwrap_or_else(|_| Err(io::Error::other("sync failed")))
        })
    })
}

/// Renders the formats asked for from the files of `run` to `target(name)`.
pub fn render(
    run: &RunFiles,
    formats: &Formats,
    policy: &Value,
    target: impl Fn(&str) -> std::path::PathBuf,
) -> io::Result<()> {
    if formats.html {
        html::render(run, policy, &target(html::HTML_FILE))?;
    }
    if formats.xlsx {
        xlsx::render(run, &target(xlsx::XLSX_FILE))?;
    }
    Ok(())
}

/// Whether `dir` holds what the rendered reports are made from.
pub fn has_findings(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(JSONL_FILE)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_ones_are_refused() {
        let mut formats = Formats::none();
        formats.add("HTML").unwrap();
        formats.add(" csv").unwrap();
        assert_eq!(
            formats,
            Formats {
                csv: true,
                jsonl: false,
                html: true,
                xlsx: false
            }
        );
        assert!(formats.stages_jsonl());
        let err = formats.add("pdf").unwrap_err();
        assert!(err.contains("csv, jsonl, html, xlsx"), "{err}");
    }
}
