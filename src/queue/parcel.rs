//! A work unit's results packed into one value (a parcel, one row of
//! `queue_parcels`), and the merge of parcels back into walk order.
//!
//! A row per document in each of four staging tables, each with its index
//! entry, was most of the database server's work in a run; a parcel is one
//! row per unit (and per [`super::SPILL_BYTES`] of rows written ahead): the
//! server's CPU per 20,000 small documents went from 0.86-0.95 s to
//! 0.71-0.76 s (benches/README.md, 2026-12-05 09:00).
//! The reporting host reads the parcels in order of their first walk key
//! and merges their items: each parcel's items are in walk-key order, and a
//! parcel is read only once the merge reaches its first key, so the host
//! holds only the parcels whose keys overlap (about one per folder level).
//!
//! Layout, integers little-endian, byte strings as a `u32` length and the
//! bytes: a version byte; for version 2, the length of the contents as a
//! `u32` and the contents deflated (version 1, still read, holds them as
//! they are). The contents: the items (key, piece `i32`, `findings.jsonl`,
//! `findings.csv` and `skipped.csv` lines); the stored files (key, size,
//! mtime, inode, device, fingerprint, outcome as JSON; empty from workers
//! that store them with the unit's commit, see `queue::complete`); the
//! seen keys; the document states (path, level, suggested, verdicts,
//! sha256, excepted).
//! Each list begins with its length as a `u32`.
//!
//! Deflated at the fastest level (a zlib stream, whose checksum makes a
//! damaged row an error), the report rows and JSON shrink about 4.5x: the
//! server logs, stores, reads back and deletes under a quarter of the
//! bytes (0.4 GB per million files while a run is open, against 1.8 GB;
//! 0.3 GB once the files' analyses went to the store directly),
//! and its CPU while units are done fell by about a third for some 0.1 s
//! more in the workers (benches/README.md, 2026-12-05 11:45).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::model::DocumentState;
use crate::store::FileIdentity;
use crate::store::{StoredFile, StoredOutcome};

/// Contents as they are (written by labelscan before parcels were deflated).
const PLAIN: u8 = 1;
/// Contents deflated.
const DEFLATED: u8 = 2;
/// Deflate's largest ratio of output to input is 1032:1: a declared length
/// beyond it is damage, and is refused before any memory is reserved.
const DEFLATE_MAX_RATIO: usize = 1032;

/// One item's rows, or a piece of them (`seq`), by walk key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ItemRows {
    pub key: Vec<u8>,
    pub seq: i32,
    pub jsonl: Vec<u8>,
    pub csv: Vec<u8>,
    pub skipped: Vec<u8>,
}

impl ItemRows {
    pub fn len(&self) -> usize {
        self.jsonl.len() + self.csv.len() + self.skipped.len()
    }
}

/// What a unit's commit (or a write ahead) gives the state store.
#[derive(Default)]
pub struct StateWrites {
    pub files: Vec<StoredFile>,
    pub seen: Vec<String>,
    pub documents: Vec<DocumentState>,
}

impl StateWrites {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.seen.is_empty() && self.documents.is_empty()
    }
}

/// A parcel read back.
#[derive(Default)]
pub struct Parcel {
    /// In walk-key order.
    pub items: Vec<ItemRows>,
    pub state: StateWrites,
}

/// The first item's key and piece of a parcel, by which parcels are read
/// in order; `None` when it holds no item.
pub type FirstKey = Option<(Vec<u8>, i32)>;

/// Packs `items` (sorted here by walk key) and `state`, deflated.
pub fn pack(items: &[&ItemRows], state: &StateWrites) -> Result<(FirstKey, Vec<u8>), String> {
    let mut sorted: Vec<&ItemRows> = items.to_vec();
    sorted.sort_by(|a, b| (&a.key, a.seq).cmp(&(&b.key, b.seq)));
    let contents = contents_of(&sorted, state)?;
    let first = sorted.first().map(|i| (i.key.clone(), i.seq));
    Ok((first, deflated(&contents)?))
}

/// `[DEFLATED, length, zlib stream of the contents]`. The zlib wrapper's
/// Adler-32 makes a damaged row an error: raw deflate let about one bit
/// flip in three through as other items.
fn deflated(contents: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(contents.len() / 4 + 64);
    out.push(DEFLATED);
    put_len(&mut out, contents.len())?;
    let mut deflater = flate2::Compress::new(flate2::Compression::fast(), true);
    loop {
        out.reserve(contents.len() / 8 + 1024);
        let read = deflater.total_in() as usize;
        let status = deflater
            .compress_vec(&contents[read..], &mut out, flate2::FlushCompress::Finish)
            .map_err(|e| format!("packing a work unit's results: {e}"))?;
        if status == flate2::Status::StreamEnd {
            return Ok(out);
        }
    }
}

/// The contents of a version-2 parcel's `body` past its version byte.
fn inflated(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut r = Reader { rest: body };
    let length = r.u32()? as usize;
    if length > r.rest.len().saturating_mul(DEFLATE_MAX_RATIO) {
        return Err("a work unit's stored results declare more than they hold".into());
    }
    // Inflating only into the capacity reserved stops a stream that would
    // inflate past the declared length there.
    let mut contents = Vec::new();
    contents
        .try_reserve_exact(length)
        .map_err(|_| "a work unit's stored results are too large to read".to_string())?;
    let mut inflater = flate2::Decompress::new(true);
    let status = loop {
        let read = inflater.total_in() as usize;
        let written = contents.len();
        let status = inflater
            .decompress_vec(
                &r.rest[read..],
                &mut contents,
                flate2::FlushDecompress::Finish,
            )
            .map_err(|_| "a work unit's stored results are damaged".to_string())?;
        let stuck = inflater.total_in() as usize == read && contents.len() == written;
        if status == flate2::Status::StreamEnd || stuck {
            break status;
        }
    };
    if status != flate2::Status::StreamEnd && contents.len() == length {
        return Err("a work unit's stored results run past their declared length".into());
    }
    // The stream must end exactly at the declared length and the body's end.
    let whole = status == flate2::Status::StreamEnd
        && contents.len() == length
        && inflater.total_in() as usize == r.rest.len();
    if !whole {
        return Err("a work unit's stored results are cut short".into());
    }
    Ok(contents)
}

fn contents_of(sorted: &[&ItemRows], state: &StateWrites) -> Result<Vec<u8>, String> {
    let size: usize = sorted.iter().map(|i| i.key.len() + i.len() + 20).sum();
    let mut out = Vec::with_capacity(size + 1024);
    put_len(&mut out, sorted.len())?;
    for item in sorted {
        put_bytes(&mut out, &item.key)?;
        out.extend_from_slice(&item.seq.to_le_bytes());
        put_bytes(&mut out, &item.jsonl)?;
        put_bytes(&mut out, &item.csv)?;
        put_bytes(&mut out, &item.skipped)?;
    }
    put_len(&mut out, state.files.len())?;
    for file in &state.files {
        put_bytes(&mut out, file.key.as_bytes())?;
        let id = &file.identity;
        out.extend_from_slice(&id.size.to_le_bytes());
        out.extend_from_slice(&id.mtime_ns.to_le_bytes());
        out.extend_from_slice(&id.inode.to_le_bytes());
        out.extend_from_slice(&id.device.to_le_bytes());
        put_bytes(&mut out, file.fingerprint.as_bytes())?;
        let outcome = serde_json::to_vec(&file.outcome).map_err(|e| e.to_string())?;
        put_bytes(&mut out, &outcome)?;
    }
    put_len(&mut out, state.seen.len())?;
    for key in &state.seen {
        put_bytes(&mut out, key.as_bytes())?;
    }
    put_len(&mut out, state.documents.len())?;
    for d in &state.documents {
        for field in [
            &d.path,
            &d.level,
            &d.suggested,
            &d.verdicts,
            &d.sha256,
            &d.excepted,
        ] {
            put_bytes(&mut out, field.as_bytes())?;
        }
    }
    Ok(out)
}

fn put_len(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
    let n = u32::try_from(n).map_err(|_| "a work unit's results are too large to store")?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), String> {
    put_len(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// Reads a parcel back. An error means the row was not written by this
/// labelscan's [`pack`]: the database was tampered with or damaged.
pub fn unpack(body: &[u8]) -> Result<Parcel, String> {
    let contents;
    let rest = match body.split_first() {
        Some((&PLAIN, rest)) => rest,
        Some((&DEFLATED, rest)) => {
            contents = inflated(rest)?;
            &contents[..]
        }
        Some(_) => return Err("a work unit's stored results have an unknown layout".into()),
        None => return Err("a work unit's stored results are cut short".into()),
    };
    unpack_contents(rest)
}

fn unpack_contents(contents: &[u8]) -> Result<Parcel, String> {
    let mut r = Reader { rest: contents };
    let mut parcel = Parcel::default();
    for _ in 0..r.count()? {
        parcel.items.push(ItemRows {
            key: r.bytes()?.to_vec(),
            seq: r.i32()?,
            jsonl: r.bytes()?.to_vec(),
            csv: r.bytes()?.to_vec(),
            skipped: r.bytes()?.to_vec(),
        });
    }
    for _ in 0..r.count()? {
        let key = r.text()?;
        let identity = FileIdentity {
            size: r.u64()?,
            mtime_ns: r.u64()? as i64,
            inode: r.u64()?,
            device: r.u64()?,
        };
        let fingerprint = r.text()?;
        let outcome: StoredOutcome =
            serde_json::from_slice(r.bytes()?).map_err(|e| e.to_string())?;
        parcel.state.files.push(StoredFile {
            key,
            identity,
            fingerprint,
            outcome,
        });
    }
    for _ in 0..r.count()? {
        parcel.state.seen.push(r.text()?);
    }
    for _ in 0..r.count()? {
        parcel.state.documents.push(DocumentState {
            path: r.text()?,
            level: r.text()?,
            suggested: r.text()?,
            verdicts: r.text()?,
            sha256: r.text()?,
            excepted: r.text()?,
        });
    }
    if !r.rest.is_empty() {
        return Err("a work unit's stored results run past their end".into());
    }
    Ok(parcel)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err("a work unit's stored results are cut short".into());
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    /// A list's length, no more than the bytes left could hold (a damaged
    /// length must not reserve memory).
    fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n > self.rest.len() {
            return Err("a work unit's stored results are cut short".into());
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| "a work unit's stored results hold a path that is not UTF-8".into())
    }
}

/// An item's place in the walk: its root, key and piece.
type WalkPosition = (i32, Vec<u8>, i32);

/// Merges the items of parcels, each in walk-key order, into one walk-key
/// order. Parcels must be added in order of their first key, and each before
/// [`Merge::next`] could pass it (see [`Merge::wants`]).
///
/// An item found in two parcels (a folder that changed while the run was
/// worked on, listed again by a second worker after the first lost its
/// lease, may hand a file to two units) is given once, from the parcel
/// added first, and counted in [`Merge::doubled`].
#[derive(Default)]
pub struct Merge {
    /// Each added parcel's items not yet taken, last first.
    parcels: Vec<Vec<ItemRows>>,
    /// Slots of `parcels` taken to the end.
    free: Vec<usize>,
    /// The next item of each parcel, the parcel's number in the order
    /// added (equal items: the first added wins), and its slot.
    heads: BinaryHeap<Reverse<(WalkPosition, u64, usize)>>,
    added: u64,
    /// The last item given.
    last: Option<WalkPosition>,
    /// Items left out because an equal one was given.
    pub doubled: u64,
}

impl Merge {
    /// Whether a parcel whose first item is at `root`/`first` must be added
    /// before the next item is taken: it may hold that item.
    pub fn wants(&mut self, root: i32, first: &FirstKey) -> bool {
        self.drop_doubled();
        let Some(Reverse(((head_root, head_key, head_seq), _, _))) = self.heads.peek() else {
            return true;
        };
        match first {
            None => true,
            Some((key, seq)) => (root, key, *seq) <= (*head_root, head_key, *head_seq),
        }
    }

    /// Adds a parcel's items, all under `root`.
    pub fn add(&mut self, root: i32, mut items: Vec<ItemRows>) {
        let Some(first) = items.first() else {
            return;
        };
        let head = (root, first.key.clone(), first.seq);
        items.reverse();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.parcels[slot] = items;
                slot
            }
            None => {
                self.parcels.push(items);
                self.parcels.len() - 1
            }
        };
        self.heads.push(Reverse((head, self.added, slot)));
        self.added += 1;
    }

    /// The next item in walk-key order, with its root.
    pub fn next(&mut self) -> Option<(i32, ItemRows)> {
        self.drop_doubled();
        let (position, item) = self.take_head()?;
        let root = position.0;
        self.last = Some(position);
        Some((root, item))
    }

    /// Leaves out the heads equal to the last item given. Before a parcel
    /// is added or an item taken: past them may lie an item of a parcel
    /// not yet added.
    fn drop_doubled(&mut self) {
        while let Some(Reverse((position, _, _))) = self.heads.peek() {
            if self.last.as_ref() != Some(position) {
                return;
            }
            self.take_head();
            self.doubled += 1;
        }
    }

    /// Takes the least head, and puts its parcel's next item in its place.
    fn take_head(&mut self) -> Option<(WalkPosition, ItemRows)> {
        let Reverse((position, order, slot)) = self.heads.pop()?;
        let items = &mut self.parcels[slot];
        let item = items.pop().expect("a head has an item");
        match items.last() {
            Some(next) => {
                let head = (position.0, next.key.clone(), next.seq);
                self.heads.push(Reverse((head, order, slot)));
            }
            None => {
                self.parcels[slot] = Vec::new();
                self.free.push(slot);
            }
        }
        Some((position, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, seq: i32) -> ItemRows {
        ItemRows {
            key: key.as_bytes().to_vec(),
            seq,
            jsonl: format!("{key}.{seq}\n").into_bytes(),
            csv: format!("{key},{seq}\n").into_bytes(),
            skipped: Vec::new(),
        }
    }

    #[test]
    fn a_parcel_reads_back_as_packed_items_sorted() {
        let items = [item("b", 0), item("a\0x", 1), item("a\0x", 0)];
        let state = StateWrites {
            files: Vec::new(),
            seen: vec!["/s/a/x".into()],
            documents: vec![DocumentState {
                path: "/s/a/x".into(),
                level: "INTERNAL".into(),
                suggested: "CONFIDENTIAL".into(),
                verdicts: "UNDER".into(),
                sha256: "ab".into(),
                excepted: String::new(),
            }],
        };
        let refs: Vec<&ItemRows> = items.iter().collect();
        let (first, body) = pack(&refs, &state).unwrap();
        assert_eq!(first, Some((b"a\0x".to_vec(), 0)));
        let parcel = unpack(&body).unwrap();
        assert_eq!(
            parcel.items,
            vec![item("a\0x", 0), item("a\0x", 1), item("b", 0)]
        );
        assert_eq!(parcel.state.seen, state.seen);
        assert_eq!(parcel.state.documents.len(), 1);
        assert_eq!(parcel.state.documents[0].suggested, "CONFIDENTIAL");
    }

    #[test]
    fn a_damaged_parcel_is_an_error_not_a_panic() {
        let refs = [&item("a", 0)];
        let (_, deflated_body) = pack(&refs, &StateWrites::default()).unwrap();
        let mut plain_body = vec![PLAIN];
        plain_body.extend(contents_of(&refs, &StateWrites::default()).unwrap());
        for body in [deflated_body, plain_body] {
            assert!(unpack(&body).is_ok());
            for cut in 0..body.len() {
                assert!(unpack(&body[..cut]).is_err(), "cut at {cut}");
            }
            let mut longer = body.clone();
            longer.push(0);
            assert!(unpack(&longer).is_err());
            let mut huge = body;
            huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
            assert!(unpack(&huge).is_err());
        }
    }

    #[test]
    fn a_flipped_bit_in_a_deflated_parcel_is_an_error() {
        let items: Vec<ItemRows> = (0..50).map(|n| item(&format!("memo-{n}"), 0)).collect();
        let refs: Vec<&ItemRows> = items.iter().collect();
        let (_, body) = pack(&refs, &StateWrites::default()).unwrap();
        let packed = unpack(&body).unwrap().items;
        // A flip either is an error or reads as the same items (the last
        // byte's padding bits carry nothing).
        let mut misread = Vec::new();
        for at in 5..body.len() {
            for bit in 0..8 {
                let mut flipped = body.clone();
                flipped[at] ^= 1 << bit;
                match unpack(&flipped) {
                    Ok(parcel) if parcel.items != packed => misread.push((at, bit)),
                    _ => {}
                }
            }
        }
        assert!(misread.is_empty(), "flips read as other items: {misread:?}");
    }

    #[test]
    fn parcels_are_deflated_and_plain_ones_still_read() {
        let items: Vec<ItemRows> = (0..200)
            .map(|n| item(&format!("folder/memo-{n:03}"), 0))
            .collect();
        let refs: Vec<&ItemRows> = items.iter().collect();
        let state = StateWrites::default();
        let (_, body) = pack(&refs, &state).unwrap();
        let contents = contents_of(&refs, &state).unwrap();
        assert_eq!(body[0], DEFLATED);
        assert!(
            body.len() * 3 < contents.len(),
            "{} bytes deflated from {}",
            body.len(),
            contents.len()
        );
        let mut plain = vec![PLAIN];
        plain.extend_from_slice(&contents);
        assert_eq!(unpack(&plain).unwrap().items, items);
        assert_eq!(unpack(&body).unwrap().items, items);
    }

    #[test]
    fn a_deflated_parcel_must_inflate_to_its_declared_length() {
        let refs = [&item("a", 0)];
        let (_, body) = pack(&refs, &StateWrites::default()).unwrap();
        let declared = u32::from_le_bytes(body[1..5].try_into().unwrap());
        for wrong in [declared - 1, declared + 1] {
            let mut damaged = body.clone();
            damaged[1..5].copy_from_slice(&wrong.to_le_bytes());
            assert!(unpack(&damaged).is_err(), "declared {wrong} of {declared}");
        }
        // A stream that inflates far past its declared length stops there
        // (inflating all of it would end the stream: another error).
        let bomb = deflated(&vec![0u8; 1 << 20]).unwrap();
        let mut short = bomb.clone();
        short[1..5].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(
            inflated(&short[1..]).unwrap_err(),
            "a work unit's stored results run past their declared length"
        );
        // A length beyond deflate's largest ratio is refused before any
        // memory is reserved.
        let mut beyond = bomb.clone();
        let most = (bomb.len() - 5) * DEFLATE_MAX_RATIO;
        beyond[1..5].copy_from_slice(&(most as u32 + 1).to_le_bytes());
        assert_eq!(
            inflated(&beyond[1..]).unwrap_err(),
            "a work unit's stored results declare more than they hold"
        );
        assert!(unpack(&[7, 0, 0, 0, 0]).is_err(), "an unknown version");
    }

    #[test]
    fn an_item_in_two_parcels_is_given_once_from_the_first() {
        let mut first = item("b", 0);
        first.csv = b"first\n".to_vec();
        let mut merge = Merge::default();
        merge.add(0, vec![item("a", 0), first]);
        merge.add(0, vec![item("b", 0), item("c", 0)]);
        let mut out = Vec::new();
        while let Some((_, item)) = merge.next() {
            out.push(item.csv);
        }
        assert_eq!(
            out,
            vec![b"a,0\n".to_vec(), b"first\n".to_vec(), b"c,0\n".to_vec()]
        );
        assert_eq!(merge.doubled, 1);
    }

    /// Parcels of overlapping key ranges, added as the reporting host adds
    /// them (in order of first key, when the merge wants them), come out
    /// as one sorted sequence, the oracle.
    #[test]
    fn merged_parcels_come_out_in_walk_key_order() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2000 {
            let mut parcels: Vec<(i32, Vec<ItemRows>)> = Vec::new();
            let mut all = Vec::new();
            for _ in 0..random(8) {
                let root = random(2) as i32;
                let mut items: Vec<ItemRows> = (0..random(6))
                    .map(|_| item(&format!("k{}", random(30)), random(3) as i32))
                    .collect();
                items.sort_by(|a, b| (&a.key, a.seq).cmp(&(&b.key, b.seq)));
                items.dedup_by(|a, b| a.key == b.key && a.seq == b.seq);
                all.extend(items.iter().map(|i| (root, i.key.clone(), i.seq)));
                parcels.push((root, items));
            }
            // An item in two parcels is given once.
            all.sort();
            let before = all.len();
            all.dedup();
            let doubled = (before - all.len()) as u64;
            parcels.sort_by(|a, b| {
                let first =
                    |p: &(i32, Vec<ItemRows>)| (p.0, p.1.first().map(|i| (i.key.clone(), i.seq)));
                first(a).cmp(&first(b))
            });
            let mut merge = Merge::default();
            let mut waiting = parcels.into_iter().peekable();
            let mut out = Vec::new();
            loop {
                while let Some((root, items)) = waiting.peek() {
                    let first = items.first().map(|i| (i.key.clone(), i.seq));
                    if !merge.wants(*root, &first) {
                        break;
                    }
                    let (root, items) = waiting.next().unwrap();
                    merge.add(root, items);
                }
                match merge.next() {
                    Some((root, item)) => out.push((root, item.key, item.seq)),
                    None if waiting.peek().is_none() => break,
                    None => {}
                }
            }
            assert_eq!(out, all);
            assert_eq!(merge.doubled, doubled);
        }
    }
}
