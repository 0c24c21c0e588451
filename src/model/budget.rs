//! Per-file limits: a deadline and byte budgets that every extractor checks
//! cooperatively, so that a hostile file ends as `UNREADABLE` instead of
//! holding a worker or the machine's memory.

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::error::{ExtractError, ExtractResult};

/// Limits applied to one top-level file and everything nested inside it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Files larger than this on disk are not opened (`too_large`).
    pub max_file_size: u64,
    /// Largest decompressed size of a single part (zip member, PDF stream, OLE stream).
    pub max_part_bytes: u64,
    /// Most bytes of one text part (an XML part of a zip package) that are
    /// inflated and kept: a larger part is read only that far, and its
    /// document is `limit_exceeded` (partly read). Holding the whole of a
    /// part up to `max_part_bytes` cost about 3.6 bytes of memory per byte
    /// (the markup, its text, the detectors' work on it).
    pub max_part_kept: u64,
    /// Total bytes inflated for one top-level file, nested members included.
    pub max_total_inflated: u64,
    /// Highest compression ratio accepted for a part larger than 1 MiB.
    pub max_ratio: u64,
    /// Deepest nesting of embedded documents and archives.
    pub max_depth: u32,
    /// Most entries read from one zip container.
    pub max_entries: usize,
    /// Most pieces read from one top-level file, of every container in it
    /// together: zip entries inflated (package parts, archive members) and
    /// embedded documents. Bounds the time of nests of small documents
    /// that stay within every other limit.
    pub max_pieces: u64,
    /// Most bytes of text kept per document, all its parts and embedded
    /// documents together (an archive member is a document of its own);
    /// the rest is not read, and the document is `limit_exceeded`.
    pub max_text_chars: usize,
    /// Wall-clock budget for one top-level file.
    pub file_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 512 * 1024 * 1024,
            max_part_bytes: 256 * 1024 * 1024,
            // Issue 16: a file may cost at most 100 MB beyond the baseline;
            // a 16 MiB part of text-heavy markup costs about 60 MB.
            max_part_kept: 16 * 1024 * 1024,
            // About 0.3 s of inflating and reading on one core: a file may
            // cost that much, not more (issue 16's "under 1 s a file").
            max_total_inflated: 256 * 1024 * 1024,
            max_ratio: 200,
            max_depth: 4,
            max_entries: 20_000,
            max_pieces: 50_000,
            // Per document, all parts together. 16 MiB of text costs about
            // 60 MB to read and scan; a document cut there keeps the
            // detections of what was read (`limit_exceeded`, partly read).
            max_text_chars: 16 * 1024 * 1024,
            file_timeout: Duration::from_secs(60),
        }
    }
}

/// The running budget of one top-level file. Not shared between files or threads.
#[derive(Debug)]
pub struct Budget {
    pub limits: Limits,
    deadline: Cell<Instant>,
    inflated: Cell<u64>,
    depth: Cell<u32>,
    pieces: Cell<u64>,
    /// Text kept so far by the document being read, its embedded
    /// documents included.
    text_kept: Cell<usize>,
}

impl Budget {
    pub fn new(limits: Limits) -> Self {
        let deadline = Instant::now() + limits.file_timeout;
        Budget {
            limits,
            deadline: Cell::new(deadline),
            inflated: Cell::new(0),
            depth: Cell::new(0),
            pieces: Cell::new(0),
            text_kept: Cell::new(0),
        }
    }

    /// Fails with `timeout` once the file's time is up. Call it in every loop
    /// whose length the file controls (pages, parts, XML events in batches).
    pub fn check_time(&self) -> ExtractResult<()> {
        if Instant::now() >= self.deadline.get() {
            Err(ExtractError::timeout())
        } else {
            Ok(())
        }
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline
            .get()
            .saturating_duration_since(Instant::now())
    }

    /// Moves the deadline `by` later: time the file spent waiting (for its
    /// turn in the reports) rather than being read.
    pub fn postpone(&self, by: Duration) {
        self.deadline.set(self.deadline.get() + by);
    }

    /// Accounts `bytes` more inflated output; fails with `limit_exceeded`
    /// when the per-file total is exceeded.
    pub fn charge_inflated(&self, bytes: u64) -> ExtractResult<()> {
        charge(
            &self.inflated,
            bytes,
            self.limits.max_total_inflated,
            "total inflated size of the file exceeds the limit",
        )
    }

    /// Fails with `limit_exceeded` before anything is inflated when `declared`
    /// more bytes would pass the per-file total: once the total is spent,
    /// every further part of the file fails at once instead of being
    /// inflated only to be thrown away.
    pub fn check_room(&self, declared: u64) -> ExtractResult<()> {
        if self.inflated.get().saturating_add(declared) > self.limits.max_total_inflated {
            Err(ExtractError::limit(
                "total inflated size of the file exceeds the limit",
            ))
        } else {
            Ok(())
        }
    }

    /// Bytes that may still be inflated before the per-file total is spent:
    /// the most a part of undeclared size (a PDF stream) may inflate to.
    pub fn room(&self) -> u64 {
        self.limits
            .max_total_inflated
            .saturating_sub(self.inflated.get())
    }

    /// Checks a part's declared sizes before inflating it: the part limit and
    /// the compression ratio (a zip bomb declares a huge size for a tiny entry).
    pub fn check_part(&self, compressed: u64, declared: u64) -> ExtractResult<()> {
        if declared > self.limits.max_part_bytes {
            return Err(ExtractError::limit(
                "a part's decompressed size exceeds the limit",
            ));
        }
        if declared > 1024 * 1024 && declared / compressed.max(1) > self.limits.max_ratio {
            return Err(ExtractError::limit(
                "a part's compression ratio exceeds the limit",
            ));
        }
        Ok(())
    }

    /// Accounts one more piece read (a zip entry, an embedded document);
    /// fails with `limit_exceeded` once the file's pieces are spent.
    pub fn charge_piece(&self) -> ExtractResult<()> {
        charge(
            &self.pieces,
            1,
            self.limits.max_pieces,
            "the file holds more parts, members and embedded documents than the limit",
        )
    }

    /// Enters one level of nesting (embedded document, archive member);
    /// the guard leaves it again when dropped.
    pub fn enter(&self) -> ExtractResult<DepthGuard<'_>> {
        let depth = self.depth.get() + 1;
        if depth > self.limits.max_depth {
            return Err(ExtractError::limit(
                "nesting of embedded documents exceeds the limit",
            ));
        }
        self.depth.set(depth);
        Ok(DepthGuard { budget: self })
    }

    pub fn depth(&self) -> u32 {
        self.depth.get()
    }

    /// A new document (a file, or an archive member) starts: its text
    /// allowance is whole again.
    pub fn begin_document(&self) {
        self.text_kept.set(0);
    }

    /// Bytes of text the current document may still keep: the most one
    /// part may grow to.
    pub fn text_room(&self) -> usize {
        self.limits
            .max_text_chars
            .saturating_sub(self.text_kept.get())
    }

    /// Accounts `bytes` more text kept by the current document.
    pub fn charge_text(&self, bytes: usize) {
        self.text_kept
            .set(self.text_kept.get().saturating_add(bytes));
    }
}

/// Leaves a nesting level on drop.
pub struct DepthGuard<'a> {
    budget: &'a Budget,
}

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.budget.depth.set(self.budget.depth.get() - 1);
    }
}

/// Adds `n` to `spent`; `limit_exceeded` with `detail` once it passes `limit`.
fn charge(spent: &Cell<u64>, n: u64, limit: u64, detail: &str) -> ExtractResult<()> {
    let total = spent.get().saturating_add(n);
    spent.set(total);
    if total > limit {
        Err(ExtractError::limit(detail))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_and_total_limits_fire() {
        let budget = Budget::new(Limits::default());
        assert!(budget.check_part(1000, 2000).is_ok());
        assert!(budget.check_part(1000, 10 * 1024 * 1024).is_err());
        assert!(budget.charge_inflated(1 << 27).is_ok());
        assert!(budget.charge_inflated(1 << 28).is_err());
    }

    #[test]
    fn a_spent_total_fails_before_inflating() {
        let budget = Budget::new(Limits {
            max_total_inflated: 1000,
            ..Limits::default()
        });
        assert!(budget.check_room(1000).is_ok());
        assert!(budget.check_room(1001).is_err());
        budget.charge_inflated(600).unwrap();
        assert!(budget.check_room(400).is_ok());
        assert!(budget.check_room(401).is_err());
        assert_eq!(budget.room(), 400);
        budget.charge_inflated(500).unwrap_err();
        assert_eq!(budget.room(), 0);
    }

    #[test]
    fn pieces_and_text_are_counted_per_file_and_document() {
        let budget = Budget::new(Limits {
            max_pieces: 2,
            max_text_chars: 100,
            ..Limits::default()
        });
        assert!(budget.charge_piece().is_ok());
        assert!(budget.charge_piece().is_ok());
        assert!(budget.charge_piece().is_err());
        budget.charge_text(60);
        assert_eq!(budget.text_room(), 40);
        budget.charge_text(60);
        assert_eq!(budget.text_room(), 0);
        budget.begin_document();
        assert_eq!(budget.text_room(), 100);
    }

    #[test]
    fn a_postponed_deadline_moves() {
        let budget = Budget::new(Limits {
            file_timeout: Duration::ZERO,
            ..Limits::default()
        });
        assert!(budget.check_time().is_err());
        budget.postpone(Duration::from_secs(60));
        assert!(budget.check_time().is_ok());
    }

    #[test]
    fn depth_guard_unwinds() {
        let limits = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        let budget = Budget::new(limits);
        {
            let _g = budget.enter().unwrap();
            assert!(budget.enter().is_err());
        }
        assert!(budget.enter().is_ok());
    }
}
