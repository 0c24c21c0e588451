//! PDF: lopdf's object model (tolerant loading, decryption with the empty
//! user password) plus our own content-stream text walker, the Info
//! dictionary (all keys, including custom `MSIP_Label_*` ones) and the XMP
//! metadata packet.
//!
//! Limits: object and cross-reference streams are inflated by lopdf while
//! loading, bounded by [`MAX_LOAD_STREAM_BYTES`] per stream but not charged
//! to the file's inflated total and not interruptible by the deadline; a
//! file that spells out more than [`MAX_OBJECTS`] objects is not loaded,
//! and objects packed in object streams are counted as they load, the
//! load dropping all past that number. Every stream
//! we inflate ourselves (page contents, forms, fonts, CMaps, XMP) is bounded
//! by [`MAX_STREAM_BYTES`], the compression-ratio limit and what is left of
//! the file's inflated total, and charged to that total; so is each form
//! drawn again. A page listed many times is read once.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream};

use super::inflate::{inflate_into, Framing, InflateError};
use super::{ExtractError, ExtractResult, Extracted, Layout, PartKind};
use crate::model::budget::Budget;

mod bidi;
mod encoding;
mod font;
mod lexer;
mod repair;
mod truetype;
mod xmp;

use font::Font;
use lexer::{Lexer, Operand, Token};

const INFO: &str = "PDF Info";
const XMP: &str = "XMP";
/// Deepest nesting of form XObjects followed.
const MAX_FORM_DEPTH: usize = 8;
/// Deepest q/Q nesting tracked.
const MAX_GSTATE_DEPTH: usize = 256;
/// Operators between deadline checks.
const OPS_PER_CHECK: u32 = 4096;
/// Largest stream we inflate ourselves: page contents, forms, CMaps and
/// XMP hold operators and text, never images, and one must fit the
/// per-file memory allowance of issue 16 (100 MB) while it is read, its
/// buffer growing (a step may briefly hold it twice) and its text laid
/// out: a content stream of 31 MiB of text took 140 MB, so 16 MiB.
const MAX_STREAM_BYTES: u64 = 16 * 1024 * 1024;
/// Largest object or cross-reference stream lopdf inflates while loading:
/// lopdf's buffer doubles as it grows, and it parses an object stream's
/// objects all at once before they are counted (4 MiB of the smallest
/// objects is some 350,000, ~40 MB). Writers put a few hundred objects in
/// one, and an xref stream of [`MAX_OBJECTS`] objects takes ~450 KB.
const MAX_LOAD_STREAM_BYTES: u64 = 4 * 1024 * 1024;
/// Most indirect objects a PDF may hold: lopdf keeps each in memory at
/// about 1.3 KB (a million small ones took 1.4 GB), so that these fit the
/// per-file memory allowance. A document of a thousand pages holds some
/// ten thousand. Pages are read once each, so this bounds them too.
const MAX_OBJECTS: usize = 64 * 1024;
/// Most cross-reference entries that may name one file offset: lopdf
/// parses the object there once per entry, so a table of a million entries
/// all naming one large object costs a million parses of it. A file
/// updated incrementally names an unchanged object once per revision.
const MAX_ENTRIES_PER_OFFSET: usize = 64;
/// Deepest page tree followed (lopdf's own bound).
const MAX_PAGE_TREE_DEPTH: usize = 256;
/// What drawing a form costs the file's inflated total beyond its content:
/// a form of a few operators drawn again and again costs time too.
const FORM_DRAW_COST: u64 = 1024;
/// Most annotations read on one page.
const MAX_ANNOTATIONS: usize = 10_000;
/// Most bytes of one annotation's text (/Contents, /RC) read.
const MAX_ANNOTATION_TEXT: usize = 1024 * 1024;

pub fn extract(bytes: &[u8], budget: &Budget) -> Extracted {
    match catch_unwind(AssertUnwindSafe(|| extract_inner(bytes, budget))) {
        Ok(out) => out,
        Err(_) => Extracted::failed(ExtractError::corrupt("PDF parser failed")),
    }
}

fn has_encrypt_entry(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"/Encrypt").is_some()
}

fn extract_inner(bytes: &[u8], budget: &Budget) -> Extracted {
    let mut out = Extracted::default();
    // Object and cross-reference streams are inflated by lopdf while loading:
    // bound each by the part limit and, for small files, by the ratio limit.
    let by_ratio = (bytes.len() as u64)
        .saturating_mul(budget.limits.max_ratio)
        .max(16 * 1024 * 1024);
    let load_limit = budget
        .limits
        .max_part_bytes
        .min(by_ratio)
        .min(MAX_LOAD_STREAM_BYTES);
    if count_objects(bytes) > MAX_OBJECTS {
        out.error = Some(ExtractError::limit(
            "the PDF's number of objects exceeds the limit",
        ));
        return out;
    }
    if most_entries_at_one_offset(bytes) > MAX_ENTRIES_PER_OFFSET
        || most_stream_entries_at_one_offset(bytes, budget) > MAX_ENTRIES_PER_OFFSET
    {
        out.error = Some(ExtractError::limit(
            "the PDF's cross-reference table points many entries at one object",
        ));
        return out;
    }
    let loaded = catch_unwind(AssertUnwindSafe(|| load_counted(bytes, load_limit)));
    if objects_loaded() > MAX_OBJECTS {
        out.error = Some(ExtractError::limit(
            "the PDF's number of objects exceeds the limit",
        ));
        return out;
    }
    let doc = match loaded {
        Ok(Ok(doc)) => doc,
        Ok(Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
            ..
        }))) => {
            out.error = Some(ExtractError::limit(
                "a PDF object stream's decompressed size exceeds the limit",
            ));
            return out;
        }
        other => {
            let panicked = other.is_err();
            if has_encrypt_entry(bytes) {
                push_raw_xmp(&mut out, bytes);
                out.error = Some(ExtractError::encrypted(
                    "PDF encryption is not supported or needs a password",
                ));
            } else {
                out.error = Some(ExtractError::corrupt(if panicked {
                    "PDF parser failed"
                } else {
                    "PDF structure could not be read"
                }));
            }
            return out;
        }
    };
    let doc = if lost_crypt_filter(&doc) {
        match reload_with_inline_crypt_filters(bytes, load_limit) {
            Some(doc) => doc,
            None => {
                push_raw_xmp(&mut out, bytes);
                out.error = Some(ExtractError::encrypted(
                    "PDF crypt filters could not be read",
                ));
                return out;
            }
        }
    } else {
        doc
    };
    if let Err(e) = budget.check_time() {
        out.error = Some(e);
        return out;
    }
    let doc = if doc.is_encrypted() && only_attachments_encrypted(&doc) {
        match load_encryption_hidden(bytes, load_limit) {
            Some((doc, _)) => doc,
            None => doc,
        }
    } else {
        doc
    };
    if doc.is_encrypted() {
        // lopdf leaves /Encrypt in the trailer when the empty password failed.
        push_raw_xmp(&mut out, bytes);
        out.error = Some(ExtractError::encrypted(
            "PDF needs a user password to decrypt",
        ));
        return out;
    }
    let mut doc = doc;
    if !has_encrypt_entry(bytes) {
        repair::reread_dropped_objects(&mut doc, bytes, budget);
    }
    let reader = StreamReader {
        budget,
        file: bytes,
    };
    read_info(&doc, &mut out);
    if let Err(e) = read_xmp(&doc, &reader, &mut out) {
        out.error = Some(e);
        return out;
    }
    if let Err(e) = read_pages(&doc, &reader, budget, &mut out) {
        out.error = Some(e);
        return out;
    }
    if has_encrypted_payload(&doc) {
        // An IRM/unencrypted-wrapper PDF (PDF 2.0 §7.6.7): the wrapper page
        // and metadata are read, the protected document itself is not.
        out.error = Some(ExtractError::encrypted(
            "PDF wraps an encrypted payload document (IRM protection)",
        ));
    }
    out
}

/// Whether lopdf decrypted the file with a crypt filter it could not find.
/// lopdf 0.47 reads a V4/V5 security handler's crypt filters only from a
/// `/CF` dictionary written inline in `/Encrypt`; when `/CF` or a filter in
/// it is an indirect object (`issue7665.pdf`, AES-256), the filter that
/// `/StmF` and `/StrF` name is missing and lopdf decrypts every string and
/// stream with RC4 instead: the pages come out empty, with no error.
fn lost_crypt_filter(doc: &Document) -> bool {
    let Some(state) = doc.encryption_state.as_ref() else {
        return false;
    };
    if state.version() < 4 {
        return false;
    }
    let missing = |name: &[u8]| {
        !name.is_empty() && name != b"Identity" && !state.crypt_filters().contains_key(name)
    };
    missing(state.default_stream_filter()) || missing(state.default_string_filter())
}

/// The trailer key `/Encrypt` spelled so that lopdf does not see it; as long
/// as the original, so that no offset of the file moves.
const HIDDEN_ENCRYPT_KEY: &[u8] = b"EncrypX";

/// Loads a file whose crypt filters lopdf missed (see [`lost_crypt_filter`])
/// again without decrypting, writes the crypt filters into the `/Encrypt`
/// dictionary and decrypts with the empty user password: lopdf's key
/// derivation (ISO 32000-2 Algorithm 2.A for AES-256) and ciphers do the
/// work. `None` when the file needs a password or its filters cannot be
/// found either.
fn reload_with_inline_crypt_filters(bytes: &[u8], load_limit: u64) -> Option<Document> {
    let (mut doc, id) = load_encryption_hidden(bytes, load_limit)?;
    let mut encrypt = doc.get_dictionary(id).ok()?.clone();
    inline_crypt_filters(&doc, &mut encrypt)?;
    doc.objects.insert(id, Object::Dictionary(encrypt));
    doc.trailer.set("Encrypt", Object::Reference(id));
    let decrypted = catch_unwind(AssertUnwindSafe(|| {
        decrypt_loaded(&mut doc, id, load_limit)
    }));
    matches!(decrypted, Ok(Some(()))).then_some(doc)
}

/// Whether the security handler leaves strings and streams as they are and
/// encrypts only embedded files (`/StmF` and `/StrF` absent or `/Identity`,
/// ISO 32000-1 7.6.5; `auth-event-ef-open.pdf`): the pages are plain text
/// that any reader shows without a password, but lopdf loads no object of
/// a file whose user password is not empty.
fn only_attachments_encrypted(doc: &Document) -> bool {
    let Ok(encrypt) = doc.get_encrypted() else {
        return false;
    };
    let version = encrypt.get(b"V").and_then(Object::as_i64).unwrap_or(0);
    let identity = |key: &[u8]| match encrypt.get(key) {
        Err(_) => true,
        Ok(Object::Name(name)) => name == b"Identity",
        Ok(_) => false,
    };
    version >= 4 && identity(b"StmF") && identity(b"StrF")
}

/// Loads the file with its `/Encrypt` trailer key hidden, so that lopdf
/// neither decrypts nor asks for a password: every object as it is stored.
/// Also the id of the `/Encrypt` dictionary; the trailer no longer names it.
fn load_encryption_hidden(bytes: &[u8], load_limit: u64) -> Option<(Document, ObjectId)> {
    let hidden = hide_encrypt_keys(bytes);
    let mut doc = catch_unwind(AssertUnwindSafe(|| load_counted(&hidden, load_limit)))
        .ok()?
        .ok()?;
    if objects_loaded() > MAX_OBJECTS {
        return None;
    }
    let id = doc
        .trailer
        .remove(HIDDEN_ENCRYPT_KEY)?
        .as_reference()
        .ok()?;
    Some((doc, id))
}

/// Decrypts every object of a document loaded without decrypting, then
/// unpacks its object streams, each bounded like a load's (lopdf's own
/// `Document::decrypt` unpacks them without a bound).
fn decrypt_loaded(doc: &mut Document, encrypt_id: ObjectId, load_limit: u64) -> Option<()> {
    doc.authenticate_password("").ok()?;
    let state = lopdf::EncryptionState::decode(doc, "").ok()?;
    for (&id, object) in doc.objects.iter_mut() {
        if id != encrypt_id {
            // A string or stream that does not decrypt stays as it is; the
            // rest of the document is still read.
            let _ = lopdf::encryption::decrypt_object(&state, id, object);
        }
    }
    let limit = Some(load_limit.min(usize::MAX as u64) as usize);
    let mut unpacked = Vec::new();
    for object in doc.objects.values() {
        let Ok(stream) = object.as_stream() else {
            continue;
        };
        if stream.dict.has_type(b"ObjStm") {
            if let Ok(members) = lopdf::ObjectStream::new_with_limit(stream, limit) {
                unpacked.extend(members.objects);
            }
        }
        if doc.objects.len() + unpacked.len() > MAX_OBJECTS {
            return None;
        }
    }
    for (id, object) in unpacked {
        doc.objects.entry(id).or_insert(object);
    }
    doc.trailer.remove(b"Encrypt");
    doc.objects.remove(&encrypt_id);
    Some(())
}

/// A copy of the file with every `/Encrypt` key (a trailer's or a
/// cross-reference stream's; not `/EncryptMetadata`) renamed.
fn hide_encrypt_keys(bytes: &[u8]) -> Vec<u8> {
    let mut hidden = bytes.to_vec();
    let key = b"/Encrypt";
    for at in memchr::memmem::find_iter(bytes, key) {
        let next = bytes.get(at + key.len()).copied();
        if next.is_none_or(|b| lexer::is_white(b) || lexer::is_delim(b)) {
            hidden[at + 1..at + key.len()].copy_from_slice(HIDDEN_ENCRYPT_KEY);
        }
    }
    hidden
}

/// Replaces an indirect `/CF`, and indirect filters inside it, by their
/// dictionaries. `None` when `/CF` cannot be resolved to a dictionary.
fn inline_crypt_filters(doc: &Document, encrypt: &mut Dictionary) -> Option<()> {
    let mut filters = encrypt.get_deref(b"CF", doc).ok()?.as_dict().ok()?.clone();
    for (_, filter) in filters.iter_mut() {
        if let Ok(id) = filter.as_reference() {
            *filter = Object::Dictionary(doc.get_dictionary(id).ok()?.clone());
        }
    }
    encrypt.set("CF", Object::Dictionary(filters));
    Some(())
}

thread_local! {
    /// Objects lopdf handed to [`count_loaded`] in this thread's current load.
    static OBJECTS_LOADED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn objects_loaded() -> usize {
    OBJECTS_LOADED.with(|n| n.get())
}

/// lopdf's load filter (a plain function, hence the thread-local count):
/// counts every object loaded, those packed in object streams included,
/// which no scan of the raw bytes sees, and drops all past [`MAX_OBJECTS`],
/// object streams too, so that they are not even unpacked.
fn count_loaded(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    let n = OBJECTS_LOADED.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    if n > MAX_OBJECTS {
        return None;
    }
    // lopdf keeps its own `object` for objects at file offsets and this
    // copy for object-stream members, which are never streams: no stream
    // content is copied.
    let kept = match object {
        Object::Stream(_) => Object::Null,
        other => other.clone(),
    };
    Some((id, kept))
}

/// Loads a PDF counting its objects (see [`count_loaded`]). lopdf rebuilds
/// a damaged file's cross-references only for loads without a filter, so
/// that is done here: once more, rebuilt, when no page tree was found.
fn load_counted(bytes: &[u8], load_limit: u64) -> lopdf::Result<Document> {
    let load = |force_reconstruct: bool| {
        OBJECTS_LOADED.with(|n| n.set(0));
        let options = LoadOptions {
            max_decompressed_size: Some(load_limit.min(usize::MAX as u64) as usize),
            filter: Some(count_loaded),
            force_reconstruct,
            ..LoadOptions::default()
        };
        Document::load_mem_with_options(bytes, options)
    };
    let first = load(false);
    let rebuild = match &first {
        Ok(doc) => {
            !page_tree_loaded(doc)
                && objects_loaded() <= MAX_OBJECTS
                && doc.xref_recovery != Some(lopdf::xref::XrefRecovery::Reconstructed)
                && !doc.trailer.has(b"Encrypt")
        }
        Err(_) => false,
    };
    if rebuild {
        if let Ok(rebuilt) = load(true) {
            if page_tree_loaded(&rebuilt) || objects_loaded() > MAX_OBJECTS {
                return Ok(rebuilt);
            }
        }
    }
    first
}

/// Whether the catalog leads to a page tree root with `/Kids`.
fn page_tree_loaded(doc: &Document) -> bool {
    doc.catalog()
        .and_then(|catalog| catalog.get(b"Pages"))
        .and_then(Object::as_reference)
        .and_then(|root| doc.get_dictionary(root))
        .and_then(|root| root.get_deref(b"Kids", doc))
        .and_then(Object::as_array)
        .is_ok()
}

/// How many in-use entries of the file's classic cross-reference tables
/// (`0000012345 00000 n`, 20 bytes each) name the most named offset.
/// Entries of cross-reference streams are compressed and not seen here;
/// [`most_stream_entries_at_one_offset`] reads those.
fn most_entries_at_one_offset(bytes: &[u8]) -> usize {
    let digits = |b: &[u8]| b.iter().all(u8::is_ascii_digit);
    let offsets: Vec<&[u8]> = memchr::memchr_iter(b'n', bytes)
        .filter(|&at| at >= 17 && bytes[at - 1] == b' ' && bytes[at - 7] == b' ')
        .filter(|&at| digits(&bytes[at - 6..at - 1]) && digits(&bytes[at - 17..at - 7]))
        .map(|at| &bytes[at - 17..at - 7])
        .collect();
    most_repeated(offsets)
}

/// How often the most frequent of `items` occurs (0 for none).
fn most_repeated<T: Ord>(mut items: Vec<T>) -> usize {
    items.sort_unstable();
    items
        .chunk_by(|a, b| a == b)
        .map(<[_]>::len)
        .max()
        .unwrap_or(0)
}

/// Most cross-reference streams looked into before loading: a file
/// updated incrementally adds one per revision.
const MAX_XREF_STREAMS: usize = 64;

/// How many in-use entries of the file's cross-reference streams (PDF 1.5,
/// compressed) name the most named offset: the same check as
/// [`most_entries_at_one_offset`] for the tables no byte scan sees. Each
/// stream is found by its `/XRef` type, inflated (at most
/// [`MAX_LOAD_STREAM_BYTES`]) and its PNG predictor undone; a stream this
/// cannot read is left to lopdf.
fn most_stream_entries_at_one_offset(bytes: &[u8], budget: &Budget) -> usize {
    let mut offsets: Vec<u64> = Vec::new();
    let mut seen = 0usize;
    let mut from = 0usize;
    while let Some(at) = memchr::memmem::find(&bytes[from..], b"/XRef").map(|i| from + i) {
        from = at + 5;
        // `/XRefStm` (a hybrid file's pointer) is no type.
        if bytes.get(at + 5).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let Some(stream) = xref_stream_at(bytes, at, budget) else {
            continue;
        };
        from = from.max(stream.end);
        type1_offsets(&stream, &mut offsets);
        seen += 1;
        if seen >= MAX_XREF_STREAMS {
            break;
        }
    }
    most_repeated(offsets)
}

/// A cross-reference stream, inflated, with its field widths.
struct XrefStream {
    data: Vec<u8>,
    widths: [usize; 3],
    /// Bytes per row before the PNG predictor's tag byte (0: none).
    predicted_columns: usize,
    /// Where its `endstream` is in the file.
    end: usize,
}

/// The cross-reference stream whose dictionary holds the `/XRef` at `at`.
fn xref_stream_at(bytes: &[u8], at: usize, budget: &Budget) -> Option<XrefStream> {
    let dict_start = memchr::memmem::rfind(&bytes[at.saturating_sub(4096)..at], b"obj")
        .map(|i| at.saturating_sub(4096) + i + 3)?;
    let window = &bytes[at..bytes.len().min(at + 4096)];
    let keyword = memchr::memmem::find(window, b"stream")?;
    let dict = &bytes[dict_start..at + keyword];
    let mut start = at + keyword + b"stream".len();
    if bytes.get(start) == Some(&b'\r') {
        start += 1;
    }
    if bytes.get(start) == Some(&b'\n') {
        start += 1;
    }
    let end = start + memchr::memmem::find(&bytes[start..], b"endstream")?;
    let raw = &bytes[start..end];
    let widths = integers_after(dict, b"/W")?;
    let widths: [usize; 3] = [*widths.first()?, *widths.get(1)?, *widths.get(2)?];
    if widths.iter().any(|&w| w > 8) || widths[1] == 0 {
        return None;
    }
    let data = if memchr::memmem::find(dict, b"/Filter").is_none() {
        raw.to_vec()
    } else if memchr::memmem::find(dict, b"/FlateDecode").is_some() {
        let mut data = Vec::new();
        // Damaged at the end: what came out before is what lopdf reads too.
        let _ = inflate_into(
            raw,
            Framing::Zlib,
            MAX_LOAD_STREAM_BYTES,
            raw.len().saturating_mul(8),
            budget,
            &mut data,
        );
        data
    } else {
        return None;
    };
    let predictor = integers_after(dict, b"/Predictor")
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    let predicted_columns = if predictor >= 10 {
        integers_after(dict, b"/Columns")
            .and_then(|v| v.first().copied())
            .unwrap_or(1)
            .max(1)
    } else {
        0
    };
    Some(XrefStream {
        data,
        widths,
        predicted_columns,
        end,
    })
}

/// The unsigned integers right after `key` in `dict`, inside `[...]` or
/// one alone (`/W [1 4 2]`, `/Columns 7`).
fn integers_after(dict: &[u8], key: &[u8]) -> Option<Vec<usize>> {
    let mut from = 0;
    let after = loop {
        let at = from + memchr::memmem::find(&dict[from..], key)?;
        from = at + key.len();
        // `/W` is not `/Width`.
        if !dict.get(from).is_some_and(u8::is_ascii_alphanumeric) {
            break &dict[from..];
        }
    };
    let text = after.trim_ascii_start();
    let (text, many) = match text.strip_prefix(b"[") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    // Numbers end at any delimiter: `/Columns 5/Predictor 12`, `[1 3 1]`.
    let mut values = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_ascii_start();
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            break;
        }
        values.push(std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?);
        rest = &rest[digits..];
        let spaced = rest.first().is_some_and(u8::is_ascii_whitespace);
        if !many || !spaced || values.len() >= 3 {
            break;
        }
    }
    (!values.is_empty()).then_some(values)
}

/// Appends the offsets of a stream's in-use (type 1) entries, its PNG
/// predictor undone (PDF 32000-1, 7.4.4.4).
fn type1_offsets(stream: &XrefStream, offsets: &mut Vec<u64>) {
    let [w0, w1, w2] = stream.widths;
    let entry = w0 + w1 + w2;
    let rows: Vec<u8>;
    let data: &[u8] = if stream.predicted_columns > 0 {
        let columns = stream.predicted_columns;
        let mut out = Vec::with_capacity(stream.data.len());
        let mut previous = vec![0u8; columns];
        for row in stream.data.chunks_exact(columns + 1) {
            let (tag, row) = (row[0], &row[1..]);
            let mut current = vec![0u8; columns];
            for i in 0..columns {
                let left = if i > 0 { current[i - 1] } else { 0 };
                let up = previous[i];
                let upper_left = if i > 0 { previous[i - 1] } else { 0 };
                current[i] = row[i].wrapping_add(match tag {
                    1 => left,
                    2 => up,
                    3 => ((u16::from(left) + u16::from(up)) / 2) as u8,
                    4 => paeth(left, up, upper_left),
                    _ => 0,
                });
            }
            out.extend_from_slice(&current);
            previous = current;
        }
        rows = out;
        &rows
    } else {
        &stream.data
    };
    let field = |b: &[u8]| b.iter().fold(0u64, |n, &d| (n << 8) | u64::from(d));
    for e in data.chunks_exact(entry) {
        let kind = if w0 == 0 { 1 } else { field(&e[..w0]) };
        let offset = field(&e[w0..w0 + w1]);
        // No object lies at offset 0 (the header does): an unused entry.
        if kind == 1 && offset > 0 {
            offsets.push(offset);
        }
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// The indirect objects a file spells out (`1 0 obj`), counted before
/// lopdf loads them all: an `obj` keyword not part of `endobj`.
fn count_objects(bytes: &[u8]) -> usize {
    memchr::memmem::find_iter(bytes, b"obj")
        .filter(|&at| at < 3 || &bytes[at - 3..at] != b"end")
        .count()
}

fn has_encrypted_payload(doc: &Document) -> bool {
    doc.objects.values().any(|o| {
        let dict = match o {
            Object::Dictionary(d) => d,
            Object::Stream(s) => &s.dict,
            _ => return false,
        };
        matches!(dict.get(b"Type"), Ok(Object::Name(n)) if n == b"EncryptedPayload")
    })
}

/// Inflates streams within the file's budget.
pub(crate) struct StreamReader<'a> {
    budget: &'a Budget,
    /// The whole file: a stream whose dictionary has no `/Length` is read
    /// from it up to its `endstream`.
    file: &'a [u8],
}

impl StreamReader<'_> {
    /// Inflates `stream`, never past the part limits nor what is left of
    /// the file's inflated total: a stream whose size no header declares
    /// is refused once it reaches either, before it takes more memory.
    pub(crate) fn read(&self, stream: &Stream) -> ExtractResult<Vec<u8>> {
        let limits = &self.budget.limits;
        let compressed = stream.content.len() as u64;
        let by_ratio = compressed.saturating_mul(limits.max_ratio).max(1024 * 1024);
        let part = limits.max_part_bytes.min(by_ratio).min(MAX_STREAM_BYTES);
        let room = self.budget.room();
        let over = || {
            ExtractError::limit(if room < part {
                "total inflated size of the file exceeds the limit"
            } else {
                "a PDF stream's decompressed size exceeds the limit"
            })
        };
        let limit = part.min(room).min(usize::MAX as u64) as usize;
        if let Some(raw) = self.unmeasured(stream) {
            // Only unfiltered streams: a filtered one would need its own
            // copy of the stream to decode, and none was seen without a length.
            if stream.filters().map_or(true, |f| f.is_empty()) {
                let raw = &raw[..raw.len().min(limit)];
                self.budget.charge_inflated(raw.len() as u64)?;
                return Ok(raw.to_vec());
            }
        }
        if let Some(data) = self.inflate_plain(stream, limit, over)? {
            self.budget.charge_inflated(data.len() as u64)?;
            return Ok(data);
        }
        let data = match stream.filters() {
            Ok(f) if !f.is_empty() => match stream.decompressed_content_with_limit(limit) {
                // A lone FlateDecode reaches here only when
                // `inflate_plain` found it damaged; lopdf then gives what
                // it inflated before the damage, nothing for data that is
                // no Flate stream at all. That stream could not be
                // decoded, and must not pass for an empty one.
                Ok(d)
                    if d.is_empty()
                        && matches!(f.as_slice(), [b"FlateDecode"])
                        && !stream.dict.has(b"DecodeParms") =>
                {
                    match salvage_flate(stream, &f, limit) {
                        Some(d) => d,
                        None => {
                            return Err(ExtractError::corrupt("PDF stream could not be decoded"))
                        }
                    }
                }
                Ok(d) => d,
                Err(lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded {
                    ..
                })) => return Err(over()),
                Err(_) => match salvage_flate(stream, &f, limit) {
                    Some(d) => d,
                    None => return Err(ExtractError::corrupt("PDF stream could not be decoded")),
                },
            },
            _ => stream.content.clone(),
        };
        self.budget.charge_inflated(data.len() as u64)?;
        Ok(data)
    }

    /// The bytes of a stream whose dictionary gives no `/Length` (lopdf
    /// leaves its content empty): from where its data starts to the next
    /// `endstream`, less the end-of-line before it, as pdftotext reads it
    /// (pdf.js `issue1293r.pdf`). `None` for every other stream.
    fn unmeasured<'s>(&'s self, stream: &Stream) -> Option<&'s [u8]> {
        if !stream.content.is_empty() || stream.dict.has(b"Length") {
            return None;
        }
        let start = stream.start_position?;
        let rest = self.file.get(start..)?;
        let end = memchr::memmem::find(rest, b"endstream")?;
        let data = &rest[..end];
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        Some(data.strip_suffix(b"\r").unwrap_or(data))
    }

    /// A stream with the one filter FlateDecode and no parameters (most
    /// content streams), inflated by the thread's reusable inflater: lopdf
    /// sets up a new inflater per stream, which costs more than inflating
    /// a page. `None` for other streams and for damaged data, which take
    /// lopdf's path and its salvage.
    fn inflate_plain(
        &self,
        stream: &Stream,
        limit: usize,
        over: impl FnOnce() -> ExtractError,
    ) -> ExtractResult<Option<Vec<u8>>> {
        let plain = matches!(stream.dict.get(b"Filter"), Ok(Object::Name(n)) if n == b"FlateDecode")
            && !stream.dict.has(b"DecodeParms");
        if !plain {
            return Ok(None);
        }
        let mut data = Vec::new();
        let expected = stream.content.len().saturating_mul(4).max(1024);
        match inflate_into(
            &stream.content,
            Framing::Zlib,
            limit as u64 + 1,
            expected,
            self.budget,
            &mut data,
        ) {
            Ok(()) if data.len() > limit => Err(over()),
            Ok(()) => Ok(Some(data)),
            Err(InflateError::Damaged) => Ok(None),
            Err(InflateError::Budget(e)) => Err(e),
        }
    }
}

/// What a damaged (truncated, bad checksum) Flate stream inflates to before
/// the damage, as viewers show it. Only for a lone FlateDecode filter
/// without a predictor.
fn salvage_flate(stream: &Stream, filters: &[&[u8]], limit: usize) -> Option<Vec<u8>> {
    use std::io::Read;
    if filters != [b"FlateDecode".as_slice()] || stream.dict.has(b"DecodeParms") {
        return None;
    }
    let data = &stream.content;
    // Try with the zlib header, then as raw deflate.
    let mut out = Vec::new();
    let _ = flate2::read::ZlibDecoder::new(data.as_slice())
        .take(limit as u64)
        .read_to_end(&mut out);
    if out.is_empty() && data.len() > 2 {
        let _ = flate2::read::DeflateDecoder::new(&data[2..])
            .take(limit as u64)
            .read_to_end(&mut out);
    }
    (!out.is_empty()).then_some(out)
}

fn deref<'a>(doc: &'a Document, obj: &'a Object) -> &'a Object {
    let mut o = obj;
    for _ in 0..8 {
        match o {
            Object::Reference(id) => match doc.get_object(*id) {
                Ok(t) => o = t,
                Err(_) => return &Object::Null,
            },
            _ => return o,
        }
    }
    &Object::Null
}

fn dict_get<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    dict.get(key).ok().map(|o| deref(doc, o))
}

fn object_text(doc: &Document, obj: &Object) -> Option<String> {
    Some(match deref(doc, obj) {
        Object::String(s, _) => encoding::decode_text_string(s),
        Object::Name(n) => String::from_utf8_lossy(n).into_owned(),
        Object::Integer(i) => i.to_string(),
        Object::Real(r) => r.to_string(),
        Object::Boolean(b) => b.to_string(),
        Object::Array(items) => items
            .iter()
            .take(256)
            .filter_map(|o| match o {
                Object::Array(_) | Object::Dictionary(_) | Object::Stream(_) => None,
                o => object_text(doc, o),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => return None,
    })
}

fn read_info(doc: &Document, out: &mut Extracted) {
    let Some(Object::Dictionary(info)) = doc.trailer.get(b"Info").ok().map(|o| deref(doc, o))
    else {
        return;
    };
    out.parts_read.push("Info".to_string());
    for (key, value) in info.iter() {
        if let Some(text) = object_text(doc, value) {
            let name = String::from_utf8_lossy(key).into_owned();
            out.push_property(name, text.trim_end_matches('\0').to_string(), INFO);
        }
    }
}

fn read_xmp(doc: &Document, reader: &StreamReader, out: &mut Extracted) -> ExtractResult<()> {
    let Ok(catalog) = doc.catalog() else {
        return Ok(());
    };
    let Some(Object::Stream(stream)) = dict_get(doc, catalog, b"Metadata") else {
        return Ok(());
    };
    let data = match reader.read(stream) {
        Ok(d) => d,
        Err(e) if e.kind == super::ErrorKind::Corrupt => return Ok(()),
        Err(e) => return Err(e),
    };
    out.parts_read.push("XMP".to_string());
    let text = super::text::decode(&data);
    for (name, value) in xmp::parse(&text) {
        out.push_property(name, value, XMP);
    }
    Ok(())
}

fn push_raw_xmp(out: &mut Extracted, bytes: &[u8]) {
    let props = xmp::scan_raw(bytes);
    if !props.is_empty() {
        out.parts_read.push("XMP".to_string());
    }
    for (name, value) in props {
        out.push_property(name, value, XMP);
    }
}

fn read_pages(
    doc: &Document,
    reader: &StreamReader,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let mut walker = Walker::new(doc, reader, budget);
    let mut chars_left = budget.text_room();
    let mut silent = Silence::default();
    for (index, page_id) in page_ids(doc, budget)?.into_iter().enumerate() {
        budget.check_time()?;
        let n = index + 1;
        let [text, header, footer] = walker.page_text(page_id)?;
        let page_silent = [&text, &header, &footer]
            .iter()
            .all(|t| t.trim().is_empty());
        silent.any_text |= !page_silent;
        silent.glyphs += walker.silent_glyphs;
        silent.broken_streams += walker.broken_streams;
        out.parts_read
            .push(match (walker.broken_streams, walker.silent_glyphs) {
                (0, 0) => format!("page {n}"),
                (0, glyphs) if page_silent => {
                    format!(
                        "page {n} (no text: {glyphs} glyphs whose fonts map them to no character)"
                    )
                }
                (0, glyphs) => {
                    format!("page {n} ({glyphs} glyphs whose fonts map them to no character)")
                }
                (broken, _) => format!("page {n} ({broken} content streams could not be decoded)"),
            });
        if chars_left > header.len() + footer.len() {
            chars_left -= header.len() + footer.len();
            // The page names the place: a margin holds a line or two.
            out.push_part_laid_out(
                PartKind::Header,
                format!("page {n} header"),
                header,
                Layout::Whole,
            );
            out.push_part_laid_out(
                PartKind::Footer,
                format!("page {n} footer"),
                footer,
                Layout::Whole,
            );
        }
        if chars_left == 0 {
            continue;
        }
        let text = if text.len() > chars_left {
            let mut end = chars_left;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text[..end].to_string()
        } else {
            text
        };
        chars_left -= text.len();
        out.push_part(PartKind::Page, format!("page {n}"), text);
        let mut comments = std::mem::take(&mut walker.comments);
        if comments.len() > chars_left {
            let mut end = chars_left;
            while !comments.is_char_boundary(end) {
                end -= 1;
            }
            comments.truncate(end);
        }
        chars_left -= comments.len();
        out.push_part(PartKind::Comment, format!("page {n} comments"), comments);
    }
    out.no_text_cause = silent.cause();
    Ok(())
}

/// What the pages of a document drew that gave no text.
#[derive(Default)]
struct Silence {
    any_text: bool,
    glyphs: u64,
    broken_streams: u32,
}

impl Silence {
    /// Why pages that draw something gave no text at all; `None` when
    /// some page has text, or nothing says text was there (an image-only
    /// scan). Counts only, never content.
    fn cause(&self) -> Option<String> {
        if self.any_text {
            return None;
        }
        let mut causes = Vec::new();
        if self.glyphs > 0 {
            causes.push(format!(
                "its pages draw {} glyphs whose fonts map them to no character",
                self.glyphs
            ));
        }
        if self.broken_streams > 0 {
            causes.push(format!(
                "{} of its content streams could not be decoded",
                self.broken_streams
            ));
        }
        (!causes.is_empty()).then(|| causes.join(", and "))
    }
}

/// The document's pages in order, each once: a page tree may list one
/// page, or one subtree, 100,000 times. Like lopdf's page iterator, a kid
/// that is no dictionary stands in for a blank page, and one of another
/// type is left out.
fn page_ids(doc: &Document, budget: &Budget) -> ExtractResult<Vec<ObjectId>> {
    let mut pages = Vec::new();
    let Some(root) = doc
        .catalog()
        .and_then(|c| c.get(b"Pages"))
        .and_then(Object::as_reference)
        .ok()
    else {
        return Ok(pages);
    };
    let mut seen = HashSet::from([root]);
    let mut levels = vec![kids(doc, root)];
    let mut steps = 0u32;
    while let Some(level) = levels.last_mut() {
        let Some((kid, rest)) = level.split_first() else {
            levels.pop();
            continue;
        };
        *level = rest;
        steps += 1;
        if steps.is_multiple_of(OPS_PER_CHECK) {
            budget.check_time()?;
        }
        let Ok(id) = kid.as_reference() else { continue };
        if !seen.insert(id) {
            continue;
        }
        match doc.get_dictionary(id).and_then(Dictionary::get_type) {
            Ok(b"Pages") if levels.len() < MAX_PAGE_TREE_DEPTH => levels.push(kids(doc, id)),
            Ok(b"Page") | Err(_) => pages.push(id),
            Ok(_) => {}
        }
    }
    Ok(pages)
}

/// A Pages node's /Kids, empty when it has none.
fn kids(doc: &Document, node: ObjectId) -> &[Object] {
    doc.get_dictionary(node)
        .and_then(|n| n.get_deref(b"Kids", doc))
        .and_then(Object::as_array)
        .map_or(&[], Vec::as_slice)
}

type Matrix = [f32; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

fn mul(m: &Matrix, n: &Matrix) -> Matrix {
    [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]
}

fn sane(m: Matrix) -> Matrix {
    if m.iter().all(|v| v.is_finite()) {
        m
    } else {
        IDENTITY
    }
}

#[derive(Clone)]
struct GState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    h_scale: f32,
    leading: f32,
    rise: f32,
}

impl Default for GState {
    fn default() -> Self {
        GState {
            ctm: IDENTITY,
            font: None,
            size: 1.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            h_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// Where the last shown text started and ended, in device space, and how
/// many bytes of text it added.
struct Pen {
    start: (f32, f32),
    end: (f32, f32),
    dir: (f32, f32),
    size: f32,
    added: usize,
}

struct Walker<'a> {
    doc: &'a Document,
    reader: &'a StreamReader<'a>,
    budget: &'a Budget,
    fonts: HashMap<ObjectId, Rc<Font>>,
    forms: HashMap<ObjectId, Rc<Vec<u8>>>,
    /// Forms being drawn, innermost last: a form drawing itself, directly
    /// or through others, is not drawn again inside itself.
    drawing: Vec<ObjectId>,
    fallback: Rc<Font>,
    /// Page text, then text of header and footer artifacts.
    texts: [String; 3],
    pens: [Option<Pen>; 3],
    /// Which of `texts` shown text goes to.
    cur: usize,
    /// Open marked-content sections: the `texts` index each selects.
    marked: Vec<usize>,
    ops: u32,
    scratch: String,
    /// Of the page being read: glyphs shown in strings whose font maps
    /// none of their codes to a character, and content streams (the
    /// page's, its forms') that could not be decoded.
    silent_glyphs: u64,
    broken_streams: u32,
    /// Of the page being read: the comments of its markup annotations
    /// (sticky notes, highlights, stamps ...), one per line.
    comments: String,
}

impl<'a> Walker<'a> {
    fn new(doc: &'a Document, reader: &'a StreamReader<'a>, budget: &'a Budget) -> Self {
        Walker {
            doc,
            reader,
            budget,
            fonts: HashMap::new(),
            forms: HashMap::new(),
            drawing: Vec::new(),
            fallback: Rc::new(Font::fallback()),
            texts: Default::default(),
            pens: Default::default(),
            cur: 0,
            marked: Vec::new(),
            ops: 0,
            scratch: String::new(),
            silent_glyphs: 0,
            broken_streams: 0,
            comments: String::new(),
        }
    }

    fn page_text(&mut self, page_id: ObjectId) -> ExtractResult<[String; 3]> {
        for t in &mut self.texts {
            t.clear();
        }
        self.pens = Default::default();
        self.cur = 0;
        self.marked.clear();
        self.silent_glyphs = 0;
        self.broken_streams = 0;
        self.comments.clear();
        let doc = self.doc;
        let Ok(page) = doc.get_dictionary(page_id) else {
            // A page the file names but whose object could not be read.
            self.broken_streams += 1;
            return Ok(Default::default());
        };
        let resources = page_resources(doc, page);
        let mut content = Vec::new();
        for id in doc.get_page_contents(page_id) {
            let Ok(Object::Stream(s)) = doc.get_object(id) else {
                self.broken_streams += u32::from(doc.get_object(id).is_err());
                continue;
            };
            match self.reader.read(s) {
                Ok(data) => {
                    content.extend_from_slice(&data);
                    content.push(b'\n');
                }
                Err(e) if e.kind == super::ErrorKind::Corrupt => {
                    self.broken_streams += 1;
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        // Some writers put the content array or stream directly in the page.
        if let Ok(Object::Stream(s)) = page.get(b"Contents") {
            if let Ok(data) = self.reader.read(s) {
                content.extend_from_slice(&data);
            }
        }
        let mut gs = GState::default();
        self.run(&content, resources, &mut gs, 0)?;
        self.annotations(page, resources)?;
        let mut texts = std::mem::take(&mut self.texts);
        for t in &mut texts {
            trim_lines(t);
            bidi::visual_to_logical(t);
            rejoin_hyphenated(t);
        }
        Ok(texts)
    }

    fn font(&mut self, resources: Option<&Dictionary>, name: &[u8]) -> Rc<Font> {
        let doc = self.doc;
        let Some(fonts) = resources.and_then(|r| match dict_get(doc, r, b"Font") {
            Some(Object::Dictionary(d)) => Some(d),
            _ => None,
        }) else {
            return self.fallback.clone();
        };
        match fonts.get(name) {
            Ok(Object::Reference(id)) => {
                if let Some(f) = self.fonts.get(id) {
                    return f.clone();
                }
                let font = match deref(doc, &Object::Reference(*id)) {
                    Object::Dictionary(d) => Rc::new(Font::load(doc, d, self.reader)),
                    _ => self.fallback.clone(),
                };
                self.fonts.insert(*id, font.clone());
                font
            }
            Ok(Object::Dictionary(d)) => Rc::new(Font::load(doc, d, self.reader)),
            _ => self.fallback.clone(),
        }
    }

    fn run(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
        gs: &mut GState,
        depth: usize,
    ) -> ExtractResult<()> {
        let mut lexer = Lexer::new(content);
        let mut operands: Vec<Operand> = Vec::with_capacity(8);
        let mut stack: Vec<GState> = Vec::new();
        let mut tm = IDENTITY;
        let mut tlm = IDENTITY;
        while let Some(tok) = lexer.next_token() {
            let op = match tok {
                Token::Operand(o) => {
                    if operands.len() < 64 {
                        operands.push(o);
                    }
                    continue;
                }
                Token::Operator(op) => op,
            };
            self.ops += 1;
            if self.ops.is_multiple_of(OPS_PER_CHECK) {
                self.budget.check_time()?;
            }
            let n = |i: usize| operands.get(i).and_then(Operand::num).unwrap_or(0.0);
            let nums6 = || -> Option<Matrix> {
                if operands.len() < 6 {
                    return None;
                }
                let base = operands.len() - 6;
                let mut m = [0.0; 6];
                for (k, slot) in m.iter_mut().enumerate() {
                    *slot = operands[base + k].num()?;
                }
                Some(m)
            };
            match op {
                b"q" if stack.len() < MAX_GSTATE_DEPTH => {
                    stack.push(gs.clone());
                }
                b"Q" => {
                    if let Some(g) = stack.pop() {
                        *gs = g;
                    }
                }
                b"cm" => {
                    if let Some(m) = nums6() {
                        gs.ctm = sane(mul(&m, &gs.ctm));
                    }
                }
                b"BT" => {
                    tm = IDENTITY;
                    tlm = IDENTITY;
                }
                b"Tf" => {
                    if let Some(Operand::Name(name)) = operands.first() {
                        gs.font = Some(self.font(resources, name));
                    }
                    gs.size = n(1);
                }
                b"Tc" => gs.char_spacing = n(0),
                b"Tw" => gs.word_spacing = n(0),
                b"Tz" => gs.h_scale = n(0) / 100.0,
                b"TL" => gs.leading = n(0),
                b"Ts" => gs.rise = n(0),
                b"Td" | b"TD" => {
                    let (tx, ty) = (n(0), n(1));
                    if op == b"TD" {
                        gs.leading = -ty;
                    }
                    tlm = sane(mul(&[1.0, 0.0, 0.0, 1.0, tx, ty], &tlm));
                    tm = tlm;
                }
                b"Tm" => {
                    if let Some(m) = nums6() {
                        tlm = sane(m);
                        tm = tlm;
                    }
                }
                b"T*" => {
                    tlm = sane(mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm));
                    tm = tlm;
                }
                b"Tj" | b"'" | b"\"" => {
                    if op != b"Tj" {
                        if op == b"\"" {
                            gs.word_spacing = n(0);
                            gs.char_spacing = n(1);
                        }
                        tlm = sane(mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm));
                        tm = tlm;
                    }
                    if let Some(Operand::Str(s)) = operands.last() {
                        self.show(s, gs, &mut tm, false);
                    }
                }
                b"TJ" => {
                    if let Some(Operand::Array(items)) = operands.last() {
                        let parted = spacing_parts_words(items, gs);
                        for item in items {
                            match item {
                                Operand::Str(s) => self.show(s, gs, &mut tm, parted),
                                Operand::Num(adj) => {
                                    let tx = -adj / 1000.0 * gs.size * gs.h_scale;
                                    tm = sane(mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &tm));
                                }
                                _ => {}
                            }
                        }
                    }
                }
                b"Do" => {
                    if let Some(Operand::Name(name)) = operands.first() {
                        if depth < MAX_FORM_DEPTH {
                            self.form(resources, name, gs, depth)?;
                        }
                    }
                }
                b"ID" => lexer.skip_inline_image_sized(inline_image_size(&operands)),
                b"BMC" | b"BDC" => {
                    // Tagged PDFs mark running headers and footers as
                    // pagination artifacts: keep them apart from the page body.
                    let target = match (operands.first(), operands.get(1)) {
                        (Some(Operand::Name(tag)), Some(Operand::Dict(raw)))
                            if tag == b"Artifact" =>
                        {
                            let has = |w: &[u8]| memchr::memmem::find(raw, w).is_some();
                            if has(b"/Header") {
                                1
                            } else if has(b"/Footer") {
                                2
                            } else {
                                self.cur
                            }
                        }
                        _ => self.cur,
                    };
                    if self.marked.len() < MAX_GSTATE_DEPTH {
                        self.marked.push(target);
                        self.cur = target;
                    }
                }
                b"EMC" => {
                    self.marked.pop();
                    self.cur = self.marked.last().copied().unwrap_or(0);
                }
                _ => {}
            }
            operands.clear();
        }
        Ok(())
    }

    fn form(
        &mut self,
        resources: Option<&'a Dictionary>,
        name: &[u8],
        gs: &GState,
        depth: usize,
    ) -> ExtractResult<()> {
        let doc = self.doc;
        let Some(Object::Dictionary(xobjects)) =
            resources.and_then(|r| dict_get(doc, r, b"XObject"))
        else {
            return Ok(());
        };
        let Ok(Object::Reference(id)) = xobjects.get(name) else {
            return Ok(());
        };
        let Ok(Object::Stream(stream)) = doc.get_object(*id) else {
            return Ok(());
        };
        if dict_get(doc, &stream.dict, b"Subtype").and_then(|o| o.as_name().ok()) != Some(b"Form") {
            return Ok(());
        }
        self.run_form(*id, stream, resources, gs, depth)
    }

    fn run_form(
        &mut self,
        id: ObjectId,
        stream: &'a Stream,
        resources: Option<&'a Dictionary>,
        gs: &GState,
        depth: usize,
    ) -> ExtractResult<()> {
        let doc = self.doc;
        if self.drawing.contains(&id) {
            return Ok(());
        }
        let Some(content) = self.form_content(id, stream)? else {
            return Ok(());
        };
        let form_resources = match dict_get(doc, &stream.dict, b"Resources") {
            Some(Object::Dictionary(d)) => Some(d),
            _ => resources,
        };
        let mut inner = gs.clone();
        if let Some(Object::Array(m)) = dict_get(doc, &stream.dict, b"Matrix") {
            let vals: Vec<f32> = m
                .iter()
                .filter_map(|o| deref(doc, o).as_float().ok())
                .collect();
            if let Ok(m) = <[f32; 6]>::try_from(vals.as_slice()) {
                inner.ctm = sane(mul(&m, &inner.ctm));
            }
        }
        self.drawing.push(id);
        let drawn = self.run(&content, form_resources, &mut inner, depth + 1);
        self.drawing.pop();
        drawn
    }

    /// A form's content, inflated once per document; `None` when it cannot
    /// be decoded. Each draw is charged to the file's inflated total, a
    /// draw from the cache as reading the content again: forms drawing
    /// each other ten times over would otherwise run 10^8 forms.
    fn form_content(
        &mut self,
        id: ObjectId,
        stream: &Stream,
    ) -> ExtractResult<Option<Rc<Vec<u8>>>> {
        let (content, again) = match self.forms.get(&id) {
            Some(c) => (c.clone(), c.len() as u64),
            None => {
                let data = match self.reader.read(stream) {
                    Ok(d) => Rc::new(d),
                    Err(e) if e.kind == super::ErrorKind::Corrupt => {
                        self.broken_streams += 1;
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                };
                self.forms.insert(id, data.clone());
                (data, 0)
            }
        };
        self.budget
            .charge_inflated(again + FORM_DRAW_COST)
            .map_err(|_| {
                ExtractError::limit("form XObjects drawn exceed the file's total limit")
            })?;
        Ok(Some(content))
    }

    /// Text of annotations, read after the page content as viewers draw
    /// it: the text of their appearances (form fields, free text, stamps);
    /// a free text annotation's own text where its appearance gives none
    /// (or it has none: viewers draw it from its text), on a line of its
    /// own; and the comment of every other markup annotation (sticky note,
    /// highlight, stamp, ink ...), which a viewer shows in its popup, into
    /// [`Walker::comments`]. A popup carries no text of its own (its parent
    /// does); hidden annotations and widgets' and links' descriptions are
    /// skipped. Each annotation is read once.
    fn annotations(
        &mut self,
        page: &'a Dictionary,
        resources: Option<&'a Dictionary>,
    ) -> ExtractResult<()> {
        let doc = self.doc;
        let Some(Object::Array(annots)) = dict_get(doc, page, b"Annots") else {
            return Ok(());
        };
        let mut seen = HashSet::new();
        for annot in annots.iter().take(MAX_ANNOTATIONS) {
            self.budget.check_time()?;
            if let Object::Reference(id) = annot {
                if !seen.insert(*id) {
                    continue;
                }
            }
            let Object::Dictionary(a) = deref(doc, annot) else {
                continue;
            };
            let flags = dict_get(doc, a, b"F")
                .and_then(|o| o.as_i64().ok())
                .unwrap_or(0);
            if flags & 2 != 0 {
                continue;
            }
            let subtype = dict_get(doc, a, b"Subtype").and_then(|o| o.as_name().ok());
            let drawn_before = self.texts.iter().map(String::len).sum::<usize>();
            let appearance = match dict_get(doc, a, b"AP") {
                Some(Object::Dictionary(ap)) => match ap.get(b"N").ok() {
                    Some(Object::Reference(id)) => match doc.get_object(*id) {
                        Ok(Object::Stream(s)) => Some((*id, s)),
                        Ok(Object::Dictionary(states)) => appearance_state(doc, a, states),
                        _ => None,
                    },
                    Some(Object::Dictionary(states)) => appearance_state(doc, a, states),
                    _ => None,
                },
                _ => None,
            };
            if let Some((id, stream)) = appearance {
                let mut gs = GState::default();
                if let Some(Object::Array(rect)) = dict_get(doc, a, b"Rect") {
                    let v: Vec<f32> = rect
                        .iter()
                        .filter_map(|o| deref(doc, o).as_float().ok())
                        .collect();
                    if v.len() == 4 {
                        gs.ctm = [1.0, 0.0, 0.0, 1.0, v[0].min(v[2]), v[1].min(v[3])];
                    }
                }
                self.run_form(id, stream, resources, &gs, 1)?;
            }
            let drawn = self.texts.iter().map(String::len).sum::<usize>() > drawn_before;
            match subtype {
                Some(b"FreeText") if !drawn => {
                    let text = self.annotation_text(a)?;
                    let page_text = &mut self.texts[0];
                    push_line(page_text, &text);
                    // What is drawn next starts a line of its own.
                    if !page_text.is_empty() && !page_text.ends_with('\n') {
                        page_text.push('\n');
                    }
                    self.pens[0] = None;
                }
                // Its appearance drew its text.
                Some(b"FreeText") => {}
                Some(kind) if MARKUP_ANNOTATIONS.contains(&kind) => {
                    let text = self.annotation_text(a)?;
                    if self.comments.len() < self.budget.text_room() {
                        push_line(&mut self.comments, &text);
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A markup annotation's text: its /Contents, else its rich text
    /// (/RC, XHTML) without the markup; lines kept, blanks made spaces,
    /// control characters dropped. At most [`MAX_ANNOTATION_TEXT`] bytes of
    /// either are read.
    fn annotation_text(&mut self, annot: &Dictionary) -> ExtractResult<String> {
        fn cut(bytes: &[u8]) -> &[u8] {
            &bytes[..bytes.len().min(MAX_ANNOTATION_TEXT)]
        }
        let doc = self.doc;
        let string = |key: &[u8]| match dict_get(doc, annot, key) {
            Some(Object::String(s, _)) => Some(s.as_slice()),
            _ => None,
        };
        let mut text = string(b"Contents")
            .map(|s| encoding::decode_text_string(cut(s)))
            .unwrap_or_default();
        if text.trim().is_empty() {
            let rich = match dict_get(doc, annot, b"RC") {
                Some(Object::String(s, _)) => Some(encoding::decode_text_string(cut(s))),
                Some(Object::Stream(s)) => match self.reader.read(s) {
                    Ok(data) => Some(super::text::decode(cut(&data))),
                    Err(e) if e.kind == super::ErrorKind::Corrupt => None,
                    Err(e) => return Err(e),
                },
                _ => None,
            };
            text = rich.map(|r| rich_text_plain(&r)).unwrap_or_default();
        }
        Ok(text)
    }

    /// Shows one string: decodes it and places it relative to the previous
    /// text. `parted`: the character spacing between its glyphs is a gap
    /// between words (see [`spacing_parts_words`]).
    fn show(&mut self, bytes: &[u8], gs: &GState, tm: &mut Matrix, parted: bool) {
        let font = gs.font.clone().unwrap_or_else(|| self.fallback.clone());
        let trm = mul(
            &mul(&[gs.size * gs.h_scale, 0.0, 0.0, gs.size, 0.0, gs.rise], tm),
            &gs.ctm,
        );
        self.scratch.clear();
        let mut scratch = std::mem::take(&mut self.scratch);
        let sum = if parted {
            decode_parted(&font, bytes, &mut scratch)
        } else {
            font.decode(bytes, &mut scratch)
        };
        if scratch.is_empty() {
            self.silent_glyphs += u64::from(sum.glyphs);
        }
        let mut advance = (sum.width * font.scale * gs.size
            + sum.glyphs as f32 * gs.char_spacing
            + sum.spaces as f32 * gs.word_spacing)
            * gs.h_scale;
        if !advance.is_finite() {
            advance = 0.0;
        }
        let start_m = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, gs.rise], &mul(tm, &gs.ctm));
        *tm = sane(mul(&[1.0, 0.0, 0.0, 1.0, advance, 0.0], tm));
        let end_m = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, gs.rise], &mul(tm, &gs.ctm));
        let start = (start_m[4], start_m[5]);
        let end = (end_m[4], end_m[5]);
        let len = (trm[0] * trm[0] + trm[1] * trm[1]).sqrt();
        let dir = if len > 0.0 && len.is_finite() {
            (trm[0] / len, trm[1] / len)
        } else {
            (1.0, 0.0)
        };
        let size = {
            let s = (trm[2] * trm[2] + trm[3] * trm[3]).sqrt();
            if s > 0.0 && s.is_finite() {
                s
            } else {
                1.0
            }
        };
        self.place(&scratch, start, end, dir, size);
        self.scratch = scratch;
    }

    fn place(
        &mut self,
        text: &str,
        start: (f32, f32),
        end: (f32, f32),
        dir: (f32, f32),
        size: f32,
    ) {
        let text = text.trim_matches('\0');
        if text.is_empty() {
            return;
        }
        let cur = self.cur;
        let out = &mut self.texts[cur];
        if let Some(pen) = &self.pens[cur] {
            // The same text drawn again a hair's breadth away: a bold effect
            // (fill, then a slightly offset second fill), read once.
            let near = 0.2 * size.max(0.1);
            if (start.0 - pen.start.0).abs() < near
                && (start.1 - pen.start.1).abs() < near
                && pen.added == text.len()
                && out.ends_with(text)
            {
                return;
            }
            let dx = start.0 - pen.end.0;
            let dy = start.1 - pen.end.1;
            let along = dx * dir.0 + dy * dir.1;
            let across = dy * dir.0 - dx * dir.1;
            let same_dir = dir.0 * pen.dir.0 + dir.1 * pen.dir.1 > 0.95;
            let ref_size = size.max(pen.size).max(0.1);
            let ends_white = out.ends_with(char::is_whitespace);
            let starts_white = text.starts_with(char::is_whitespace);
            if !same_dir || across.abs() > 0.5 * ref_size {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
            } else if (along > 0.15 * size.max(0.1) || along < -ref_size)
                && !ends_white
                && !starts_white
            {
                // A gap, or a jump back along the line (text drawn over
                // other text, words placed right to left): separate words.
                out.push(' ');
            }
        }
        let before = out.len();
        // Most shown strings are printable ASCII, which needs no mapping.
        if is_printable_ascii(text.as_bytes()) {
            out.push_str(text);
        } else {
            for c in text.chars() {
                match c {
                    '\r' | '\n' => {
                        if !out.ends_with('\n') {
                            out.push('\n');
                        }
                    }
                    '\0'..='\u{8}' | '\u{b}'..='\u{1f}' => {}
                    '\u{a0}' => out.push(' '),
                    // Ligatures are spelled out so that words match ("conﬁdential").
                    'ﬀ' => out.push_str("ff"),
                    'ﬁ' => out.push_str("fi"),
                    'ﬂ' => out.push_str("fl"),
                    'ﬃ' => out.push_str("ffi"),
                    'ﬄ' => out.push_str("ffl"),
                    'ﬅ' | 'ﬆ' => out.push_str("st"),
                    c => out.push(c),
                }
            }
        }
        let added = out.len() - before;
        self.pens[cur] = Some(Pen {
            start,
            end,
            dir,
            size,
            added,
        });
    }
}

/// Whether the character spacing between the glyphs of a TJ array's
/// strings is a gap between words: it is wider than the gap that parts
/// words (0.15 of the font size, as in [`Walker::place`]), and the array's
/// own numbers pull the glyphs between its strings back within that gap,
/// so that the spacing is not the text's letter spacing but the gap of the
/// glyphs it is not taken back from. Ghostscript sets the spacing to one
/// gap of a run of glyphs and corrects the others: `4.13 Tc [(As) 378 (e)
/// 378 (c) ...] TJ` at 10.9 points draws `A section` (pdf.js
/// `bug1873345.pdf`; pdftotext and pdfminer measure every glyph's place).
/// Letter-spaced text that no number tightens (`4 Tc (SAMPLE) Tj`, or a TJ
/// whose numbers only kern or part words) stays whole, as pdftotext reads it.
fn spacing_parts_words(items: &[Operand], gs: &GState) -> bool {
    let size = gs.size.abs();
    let h_scale = gs.h_scale.abs();
    let spacing = gs.char_spacing * h_scale;
    let word_gap = 0.15 * size;
    // Also false for a spacing or size that is no number (NaN).
    if spacing.partial_cmp(&word_gap) != Some(std::cmp::Ordering::Greater) {
        return false;
    }
    let is_str = |o: &Operand| matches!(o, Operand::Str(_));
    let (Some(first), Some(last)) = (
        items.iter().position(is_str),
        items.iter().rposition(is_str),
    ) else {
        return false;
    };
    items[first..last].iter().any(|item| match item {
        Operand::Num(adj) => spacing - adj / 1000.0 * size * h_scale < word_gap,
        _ => false,
    })
}

/// Decodes a shown string glyph by glyph, a space between the glyphs (none
/// where a glyph is blank or gives no text): its glyphs stand a word's gap
/// apart. The advance is the string's, as [`Font::decode`] gives it.
fn decode_parted(font: &Font, bytes: &[u8], out: &mut String) -> font::Advance {
    let mut sum = font::Advance::default();
    let mut glyph = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (code, tail) = rest.split_at(font.code_len(rest).max(1));
        glyph.clear();
        let adv = font.decode(code, &mut glyph);
        sum.width += adv.width;
        sum.glyphs += adv.glyphs;
        sum.spaces += adv.spaces;
        let text = glyph.trim_matches('\0');
        if !text.is_empty() {
            if !out.is_empty()
                && !out.ends_with(char::is_whitespace)
                && !text.starts_with(char::is_whitespace)
            {
                out.push(' ');
            }
            out.push_str(text);
        }
        rest = tail;
    }
    sum
}

/// Annotation subtypes that are markup annotations (PDF 32000-1:2008,
/// 12.5.6.2), whose /Contents is a comment a viewer shows; a free text
/// annotation's is its text on the page.
const MARKUP_ANNOTATIONS: &[&[u8]] = &[
    b"Text",
    b"FreeText",
    b"Line",
    b"Square",
    b"Circle",
    b"Polygon",
    b"PolyLine",
    b"Highlight",
    b"Underline",
    b"Squiggly",
    b"StrikeOut",
    b"Stamp",
    b"Caret",
    b"Ink",
    b"FileAttachment",
    b"Sound",
    b"Redact",
];

/// Appends `text` to `out` as a line (or lines) of its own: line breaks
/// (CR, LF, CR LF, line and paragraph separators) end lines, other white
/// space (no-break spaces, tabs) is a space, control characters are
/// dropped, empty lines are left out.
fn push_line(out: &mut String, text: &str) {
    for line in text.split(['\r', '\n', '\u{2028}', '\u{2029}']) {
        if line.trim().is_empty() {
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        for c in line.trim_end().chars() {
            match c {
                c if c.is_whitespace() => out.push(' '),
                c if c.is_control() => {}
                c => out.push(c),
            }
        }
    }
}

/// The text of an annotation's rich text (XHTML, `<p><span>text</span></p>`):
/// elements dropped, a paragraph, `div` or `br` ending a line, references
/// decoded.
fn rich_text_plain(rich: &str) -> String {
    let mut out = String::with_capacity(rich.len());
    let mut rest = rich;
    while let Some(open) = rest.find('<') {
        crate::extract::xml::unescape_into(&rest[..open], &mut out);
        let tag = &rest[open + 1..];
        let Some(close) = tag.find('>') else {
            rest = "";
            break;
        };
        let name = tag[..close]
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        let name = crate::extract::xml::local(name);
        if ["p", "div", "br"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            out.push('\n');
        }
        rest = &tag[close + 1..];
    }
    crate::extract::xml::unescape_into(rest, &mut out);
    out
}

/// Length of an unfiltered inline image's data from its parameters
/// (the operands between BI and ID), if they say.
fn inline_image_size(params: &[Operand]) -> Option<usize> {
    let mut width = None;
    let mut height = None;
    let mut bpc = 8u64;
    let mut comps = 1u64;
    let mut mask = false;
    for pair in params.chunks_exact(2) {
        let Operand::Name(key) = &pair[0] else {
            return None;
        };
        match (key.as_slice(), &pair[1]) {
            (b"W" | b"Width", Operand::Num(n)) => width = Some(*n as u64),
            (b"H" | b"Height", Operand::Num(n)) => height = Some(*n as u64),
            (b"BPC" | b"BitsPerComponent", Operand::Num(n)) => bpc = *n as u64,
            (b"IM" | b"ImageMask", Operand::Bool(b)) => mask = *b,
            (b"F" | b"Filter", _) => return None,
            (b"CS" | b"ColorSpace", Operand::Name(cs)) => {
                comps = match cs.as_slice() {
                    b"G" | b"DeviceGray" | b"I" | b"Indexed" | b"CalGray" => 1,
                    b"RGB" | b"DeviceRGB" | b"CalRGB" => 3,
                    b"CMYK" | b"DeviceCMYK" => 4,
                    _ => return None,
                }
            }
            (b"CS" | b"ColorSpace", _) => return None,
            _ => {}
        }
    }
    if mask {
        bpc = 1;
        comps = 1;
    }
    let (w, h) = (width?, height?);
    let row = (w.checked_mul(comps)?.checked_mul(bpc)?).div_ceil(8);
    usize::try_from(row.checked_mul(h)?).ok()
}

/// The appearance stream for an annotation's current state (/AS).
fn appearance_state<'a>(
    doc: &'a Document,
    annot: &'a Dictionary,
    states: &'a Dictionary,
) -> Option<(ObjectId, &'a Stream)> {
    let state = dict_get(doc, annot, b"AS").and_then(|o| o.as_name().ok())?;
    match states.get(state).ok()? {
        Object::Reference(id) => match doc.get_object(*id) {
            Ok(Object::Stream(s)) => Some((*id, s)),
            _ => None,
        },
        _ => None,
    }
}

/// The page's /Resources, inherited through /Parent if needed.
fn page_resources<'a>(doc: &'a Document, page: &'a Dictionary) -> Option<&'a Dictionary> {
    let mut node = page;
    for _ in 0..32 {
        if let Some(Object::Dictionary(r)) = dict_get(doc, node, b"Resources") {
            return Some(r);
        }
        match dict_get(doc, node, b"Parent") {
            Some(Object::Dictionary(p)) => node = p,
            _ => return None,
        }
    }
    None
}

/// Trims trailing blanks of each line and drops empty lines.
fn trim_lines(text: &mut String) {
    if lines_are_trimmed(text) {
        return;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        let line = line.trim_end();
        if !line.trim_start().is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    if out.ends_with('\n') {
        out.pop();
    }
    *text = out;
}

/// Rejoins words hyphenated at a line end, as pdftotext does: `loa-` at the
/// end of a line and `ded` at the start of the next become `loaded` (pdf.js
/// `issue7492.pdf`; issue 17 defect 11), so that a word, a label or a name
/// broken over two lines is seen whole. Only a hyphen after two letters and
/// before a lower-case letter: `30-` / `1234` and `ACME-` / `Corp` stay.
fn rejoin_hyphenated(text: &mut String) {
    let bytes = text.as_bytes();
    if memchr::memmem::find(bytes, b"-\n").is_none() {
        return;
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for at in memchr::memmem::find_iter(bytes, b"-\n") {
        let mut before = text[..at].chars().rev();
        let letters_before = matches!(
            (before.next(), before.next()),
            (Some(a), Some(b)) if a.is_alphabetic() && b.is_alphabetic()
        );
        let lower_after = text[at + 2..]
            .chars()
            .next()
            .is_some_and(char::is_lowercase);
        if letters_before && lower_after && at >= from {
            out.push_str(&text[from..at]);
            from = at + 2;
        }
    }
    if from > 0 {
        out.push_str(&text[from..]);
        *text = out;
    }
}

/// Whether [`trim_lines`] would leave `text` as it is: no empty line, no
/// line ending in a blank. Most pages pass, and are not copied.
fn lines_are_trimmed(text: &str) -> bool {
    let mut line_start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    for end in ends {
        match text[line_start..end].chars().next_back() {
            Some(last) if !last.is_whitespace() => line_start = end + 1,
            _ => return false,
        }
    }
    true
}

/// Whether every byte is printable ASCII (space to tilde). Checked a block
/// at a time without a branch per byte, so the compiler can vectorise it.
pub(crate) fn is_printable_ascii(bytes: &[u8]) -> bool {
    bytes.chunks(32).all(|block| {
        block
            .iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(0x20) < 0x5f))
    })
}

#[cfg(test)]
mod tests;
