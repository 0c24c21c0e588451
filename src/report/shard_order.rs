//! `shard-order.csv`, written by `scan --shard I/N` beside its reports:
//! for each item the shard kept (a file with its archive members, or a
//! path passed over), its position in the walk of the whole tree and how
//! many rows it gave `findings.*` and `skipped.csv`. `labelscan merge`
//! interleaves the shards' rows by these positions, so that the merged
//! reports are in the order a single host's scan writes them.

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::Path;

use super::{RecordSink, Summary};
use crate::model::{DocumentRecord, Skip};
use crate::walk::ShardOrder;

pub const SHARD_ORDER_FILE: &str = "shard-order.csv";
const HEADER: &str = "position,findings,skipped";

/// One item of a shard: its walk position and its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderEntry {
    pub position: u64,
    pub findings: u64,
    pub skipped: u64,
}

pub struct ShardOrderSink {
    out: super::ReportWriter,
    positions: ShardOrder,
    findings: u64,
    skipped: u64,
}

impl ShardOrderSink {
    pub fn create(path: &Path, positions: ShardOrder) -> std::io::Result<ShardOrderSink> {
        let mut out = super::create_buffered(path)?;
        writeln!(out, "{HEADER}")?;
        Ok(ShardOrderSink {
            out,
            positions,
            findings: 0,
            skipped: 0,
        })
    }
}

impl RecordSink for ShardOrderSink {
    fn record(&mut self, _record: &DocumentRecord) -> std::io::Result<()> {
        self.findings += 1;
        Ok(())
    }

    fn skipped(&mut self, _skip: &Skip) -> std::io::Result<()> {
        self.skipped += 1;
        Ok(())
    }

    /// Items arrive in the order the source handed them out, which is the
    /// order it queued their positions in.
    fn item_end(&mut self) -> std::io::Result<()> {
        let position = self
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .ok_or_else(|| std::io::Error::other("an item without a walk position"))?;
        let (findings, skipped) = (
            std::mem::take(&mut self.findings),
            std::mem::take(&mut self.skipped),
        );
        if findings + skipped > 0 {
            writeln!(self.out, "{position},{findings},{skipped}")?;
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Reads a shard's order file, one entry at a time.
pub fn read_order(
    path: &Path,
) -> std::io::Result<impl Iterator<Item = std::io::Result<OrderEntry>>> {
    let mut lines = std::io::BufReader::new(File::open(path)?).lines();
    let bad = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {what}", path.display()),
        )
    };
    match lines.next() {
        Some(Ok(header)) if header == HEADER => {}
        _ => return Err(bad("not a shard order file")),
    }
    let path = path.to_path_buf();
    Ok(lines.map(move |line| {
        let line = line?;
        let fields: Vec<u64> = line.split(',').filter_map(|f| f.parse().ok()).collect();
        match fields[..] {
            [position, findings, skipped] => Ok(OrderEntry {
                position,
                findings,
                skipped,
            }),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: a malformed line", path.display()),
            )),
        }
    }))
}
