//! `report.html`: the auditor report, one self-contained page rendered
//! from a finished run's files (`summary.json`, `findings.jsonl`,
//! `changes.jsonl`) and the policy the run applied. It is rendered after
//! the sinks have finished, from the staged files during a scan and from
//! the committed ones by `labelscan report`, so both write the same bytes
//! and the scan holds no record for it: the findings are streamed from
//! `findings.jsonl` in blocks, each line parsed in place and its evidence
//! copied as raw JSON text, the lines of a block on every core.

use std::io::{self, Read, Write};
use std::path::Path;

use serde_json::Value;

mod ahead;
mod charts;
mod page;
mod rows;
mod run;

pub use ahead::RowsAhead;
pub use run::{RunFiles, RunSummary};

/// The report's file name in the report set.
pub const HTML_FILE: &str = "report.html";

/// Renders the run in `run` with its `policy` (`labelscan policy show
/// --json` of the policy it applied) into a new file at `out`.
pub fn render(run: &RunFiles, policy: &Value, out: &Path) -> io::Result<()> {
    let summary = run.summary()?;
    let aggregates = aggregates_of(run, &summary)?;
    let changes = first_changes(run)?;
    let cx = page::Context {
        summary: &summary,
        policy,
        aggregates: &aggregates,
        changes,
    };
    let mut file = match run.rows_ahead() {
        Some(begun) if begun == out => super::append_buffered(out)?,
        _ => {
            let mut file = super::create_buffered(out)?;
            file.write_all(page::before_rows().as_bytes())?;
            write_rows(run, &summary.paths_walked, &mut file)?;
            file
        }
    };
    file.write_all(page::after_rows(&cx).as_bytes())?;
    file.flush()
}

/// The level matrix from `summary.json`; counted from the findings for a
/// summary written before it held one.
fn aggregates_of(run: &RunFiles, summary: &RunSummary) -> io::Result<rows::Aggregates> {
    let mut aggregates = rows::Aggregates::default();
    if summary.documents == 0 || !summary.level_matrix.is_empty() {
        for (level, by_suggested) in &summary.level_matrix {
            for (suggested, n) in by_suggested {
                aggregates.add(level, suggested, *n);
            }
        }
        return Ok(aggregates);
    }
    for_each_block(run, BLOCK, |block, first_line| {
        for (n, line) in lines_of(block, first_line) {
            aggregates.count(line).map_err(|_| not_a_record(n))?;
        }
        Ok(())
    })?;
    Ok(aggregates)
}

/// The findings as one JSON array, a row a line. Rows are independent, so
/// each block of lines is cut into one piece per core and rendered side by
/// side; the pieces are written in order.
fn write_rows(run: &RunFiles, roots: &[String], out: &mut impl Write) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    write_rows_with(run, roots, out, BLOCK, cores)
}

fn write_rows_with(
    run: &RunFiles,
    roots: &[String],
    out: &mut impl Write,
    block_size: usize,
    cores: usize,
) -> io::Result<()> {
    out.write_all(b"[")?;
    let mut first_row = true;
    for_each_block(run, block_size, |block, first_line| {
        let pieces = pieces_of(block, first_line, cores);
        let rendered: Vec<io::Result<Vec<u8>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = pieces
                .iter()
                .map(|&(piece, line)| scope.spawn(move || render_piece(piece, line, roots)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("rendering rows failed")))
                })
                .collect()
        });
        for piece in rendered {
            let piece = piece?;
            // Every row is written as ",\n[...]"; the array's first has no comma.
            let skip = usize::from(first_row && !piece.is_empty());
            first_row &= piece.is_empty();
            out.write_all(&piece[skip..])?;
        }
        Ok(())
    })?;
    out.write_all(b"\n]")
}

/// Each row of `piece` (whose first line is number `first_line`) as
/// ",\n" and the row's JSON.
fn render_piece(piece: &str, first_line: u64, roots: &[String]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(piece.len());
    for (n, line) in lines_of(piece, first_line) {
        out.extend_from_slice(b",\n");
        rows::write_row(line, roots, &mut out).map_err(|_| not_a_record(n))?;
    }
    Ok(out)
}

/// `block` cut at line ends into about `count` pieces, each with the
/// number of its first line.
fn pieces_of(block: &str, first_line: u64, count: usize) -> Vec<(&str, u64)> {
    let mut pieces = Vec::with_capacity(count);
    let mut rest = block;
    let mut line = first_line;
    let size = block.len().div_ceil(count.max(1));
    while !rest.is_empty() {
        let end = match rest.get(size..).and_then(|tail| tail.find('\n')) {
            Some(i) => size + i + 1,
            None => rest.len(),
        };
        let (piece, tail) = rest.split_at(end);
        pieces.push((piece, line));
        line += memchr::memchr_iter(b'\n', piece.as_bytes()).count() as u64;
        rest = tail;
    }
    pieces
}

/// The non-empty lines of `text` with their numbers.
fn lines_of(text: &str, first_line: u64) -> impl Iterator<Item = (u64, &str)> {
    text.split('\n')
        .zip(first_line..)
        .map(|(line, n)| (n, line.trim_end_matches('\r')))
        .filter(|(_, line)| !line.is_empty())
}

/// A bad line's error names its number only: its text comes from documents.
fn not_a_record(line: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("findings.jsonl line {line}: not a findings record"),
    )
}

/// How much of `findings.jsonl` is rendered at a time.
const BLOCK: usize = 1024 * 1024;

/// Calls `each` with `findings.jsonl` in blocks of whole lines (about
/// `block_size` bytes, more for a longer line) and the number of each
/// block's first line.
fn for_each_block(
    run: &RunFiles,
    block_size: usize,
    mut each: impl FnMut(&str, u64) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = run.findings_file()?;
    let mut block: Vec<u8> = Vec::with_capacity(block_size + 64 * 1024);
    let mut first_line = 1u64;
    loop {
        let at_end = fill(&mut file, &mut block, block_size)?;
        let whole = match memchr::memrchr(b'\n', &block) {
            _ if at_end => block.len(),
            Some(i) => i + 1,
            // One line longer than a block: read on.
            None => continue,
        };
        let text = std::str::from_utf8(&block[..whole])
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "findings.jsonl: not UTF-8"))?;
        each(text, first_line)?;
        first_line += memchr::memchr_iter(b'\n', text.as_bytes()).count() as u64;
        block.drain(..whole);
        if at_end {
            return Ok(());
        }
    }
}

/// Reads `size` more bytes into `block`; true when the file ended first.
fn fill(file: &mut impl Read, block: &mut Vec<u8>, size: usize) -> io::Result<bool> {
    let wanted = u64::try_from(size).unwrap_or(u64::MAX);
    let read = file.by_ref().take(wanted).read_to_end(block)?;
    Ok(read < size)
}

/// The first changes to list and how many there are; `None` without a
/// state store.
fn first_changes(run: &RunFiles) -> io::Result<Option<(Vec<run::ChangeLine>, u64)>> {
    let Some(changes) = run.changes()? else {
        return Ok(None);
    };
    let mut listed = Vec::new();
    let mut total = 0u64;
    for change in changes {
        let change = change?;
        total += 1;
        if listed.len() < page::MAX_CHANGES_LISTED {
            listed.push(change);
        }
    }
    Ok(Some((listed, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A findings.jsonl of `n` records (with a blank line and CRLF ends
    /// among them) in a temporary folder.
    fn run_of(n: usize) -> (tempfile::TempDir, RunFiles) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 0..n {
            let path = format!("s/d{}/f{i}<é>.docx", i % 7);
            let record = serde_json::json!({"path": path, "verdicts": ["UNLABELED"], "size": i});
            text.push_str(&record.to_string());
            text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
            if i == 3 {
                text.push('\n');
            }
        }
        std::fs::write(dir.path().join(crate::report::JSONL_FILE), text).unwrap();
        let run = RunFiles::new(dir.path());
        (dir, run)
    }

    fn rows_with(run: &RunFiles, block: usize, cores: usize) -> Vec<u8> {
        let mut out = Vec::new();
        write_rows_with(run, &["s".to_string()], &mut out, block, cores).unwrap();
        out
    }

    #[test]
    fn rows_are_the_same_whatever_the_blocks_and_cores() {
        let (_dir, run) = run_of(500);
        let serial = rows_with(&run, 1 << 20, 1);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&serial).unwrap();
        assert_eq!(rows.len(), 500);
        assert_eq!(rows[499][0], "s/d2/f499<é>.docx");
        for (block, cores) in [(1, 1), (100, 2), (777, 3), (4096, 8), (1 << 20, 4)] {
            assert_eq!(
                rows_with(&run, block, cores),
                serial,
                "block {block}, cores {cores}"
            );
        }
    }

    /// The rows [`RowsAhead::add_lines`] renders from `text` handed over in
    /// blocks of `lines` lines.
    fn rows_from_lines(text: &str, lines: usize) -> std::io::Result<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = RowsAhead::create(dir.path(), &["s".to_string()])?;
        let all: Vec<&str> = text.split_inclusive('\n').collect();
        for block in all.chunks(lines) {
            rows.add_lines(block.concat().as_bytes())?;
        }
        rows.finish()?;
        let page = std::fs::read(dir.path().join(HTML_FILE)).unwrap();
        let before = page::before_rows();
        assert!(page.starts_with(before.as_bytes()));
        Ok(page[before.len()..].to_vec())
    }

    #[test]
    fn rows_from_lines_handed_over_are_the_rows_rendered_from_the_file() {
        for n in [0, 1, 500] {
            let (dir, run) = run_of(n);
            let text = std::fs::read_to_string(dir.path().join(crate::report::JSONL_FILE)).unwrap();
            let from_file = rows_with(&run, 4096, 2);
            for lines in [1, 3, 1000] {
                assert_eq!(
                    rows_from_lines(&text, lines).unwrap(),
                    from_file,
                    "{n} records, {lines} lines a block"
                );
            }
        }
        let err = rows_from_lines("{\"path\": \"secret-value\"\n", 1).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn no_findings_is_an_empty_array() {
        let (_dir, run) = run_of(0);
        assert_eq!(rows_with(&run, 64, 2), b"[\n]");
    }

    #[test]
    fn a_bad_line_is_named_by_its_number_without_its_text() {
        let (dir, run) = run_of(10);
        let path = dir.path().join(crate::report::JSONL_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"path\": \"secret-value\"\n");
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        let err = write_rows_with(&run, &[], &mut out, 64, 2).unwrap_err();
        // 10 records and the blank line after the fourth: line 12.
        assert_eq!(
            err.to_string(),
            "findings.jsonl line 12: not a findings record"
        );
    }
}
