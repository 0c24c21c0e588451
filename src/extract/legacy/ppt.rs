//! PowerPoint 97-2003 presentations (MS-PPT): a walk over the records of
//! the `PowerPoint Document` stream collecting text atoms by where they sit
//! (slide list, slide, notes, master, header/footer, comment).

use super::bytes::{le_u16, le_u32};
use super::{read_stream, read_stream_opt, Ole};
use crate::extract::{ExtractError, ExtractResult, Extracted, PartKind};
use crate::model::budget::Budget;

const DOCUMENT: u16 = 0x03E8;
const SLIDE: u16 = 0x03EE;
const NOTES: u16 = 0x03F0;
const NOTES_ATOM: u16 = 0x03F1;
const SLIDE_PERSIST: u16 = 0x03F3;
const MAIN_MASTER: u16 = 0x03F8;
const HANDOUT: u16 = 0x0FC9;
const TEXT_CHARS: u16 = 0x0FA0;
const TEXT_BYTES: u16 = 0x0FA8;
const CSTRING: u16 = 0x0FBA;
const SLIDE_LIST: u16 = 0x0FF0;
const HEADERS_FOOTERS: u16 = 0x0FD9;
const COMMENT10: u16 = 0x2EE0;
/// BinaryTagDataBlob: an atom by its header whose body is records (the
/// PowerPoint 2002 extensions of a slide, its comments among them).
const BINARY_TAG_DATA: u16 = 0x138B;
const CRYPT_SESSION: u16 = 0x2F14;
/// OfficeArt records of a slide's drawing: a group, a shape, a shape's
/// place inside its group, and the tertiary property table.
const SPGR_CONTAINER: u16 = 0xF003;
const SP_CONTAINER: u16 = 0xF004;
const FSP: u16 = 0xF00A;
const CHILD_ANCHOR: u16 = 0xF00F;
const TERTIARY_OPT: u16 = 0xF122;
/// The group property that makes a group a table (MS-ODRAW tableProperties).
const TABLE_PROPERTIES: u16 = 0x039F;
const LINE_SHAPE: u16 = 20;

const MAX_DEPTH: u32 = 24;

/// Where the text atom being read belongs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ctx {
    None,
    /// SlideListWithText of slides (instance 0) / notes (instance 2).
    SlideList,
    NotesList,
    Slide,
    Notes,
    Master,
    HeadersFooters,
    Comment,
}

#[derive(Default, Debug)]
struct Collected {
    /// Per slide (in slide-list order): text from SlideListWithText.
    list_slides: Vec<Vec<String>>,
    list_notes: Vec<Vec<String>>,
    /// persistIdRef of each SlidePersistAtom: slides, notes, masters.
    slide_refs: Vec<u32>,
    notes_refs: Vec<u32>,
    master_refs: Vec<u32>,
    /// Per SlideContainer / NotesContainer / master, in stream order.
    slides: Vec<Vec<String>>,
    notes: Vec<Vec<String>>,
    masters: Vec<Vec<String>>,
    /// Indexes in `notes` of notes masters (NotesAtom not referring to a slide).
    notes_masters: Vec<usize>,
    headers: Vec<String>,
    footers: Vec<String>,
    comments: Vec<String>,
    encrypted: bool,
    records: usize,
    chars: usize,
}

pub(super) fn extract(
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    if super::has_stream(ole, "/EncryptedSummary") {
        return Err(ExtractError::encrypted("PowerPoint presentation encrypted"));
    }
    if let Some(cu) = read_stream_opt(ole, "/Current User", budget)? {
        if le_u32(&cu, 12) == Some(0xF3D1_C4DF) {
            return Err(ExtractError::encrypted(
                "PowerPoint presentation encrypted (Current User token)",
            ));
        }
    }
    if !super::has_stream(ole, "/PowerPoint Document") {
        if let Some(pp40) = read_stream_opt(ole, "/PP40", budget)? {
            out.parts_read.push("PP40".into());
            return extract_pp40(&pp40, budget, out);
        }
    }
    let s = read_stream(ole, "/PowerPoint Document", budget)?;
    out.parts_read.push("PowerPoint Document".into());
    let current_edit =
        read_stream_opt(ole, "/Current User", budget)?.and_then(|cu| le_u32(&cu, 16));
    let persisted = match current_edit.and_then(|at| persist_directory(&s, at)) {
        Some((dir, doc_ref)) => walk_persisted(&s, &dir, doc_ref, budget)?,
        None => None,
    };
    let linear = walk_all(&s, budget)?;
    let mut orphans: Vec<String> = Vec::new();
    let mut c = match persisted {
        Some(mut c) if !c.encrypted => {
            // Text only in records the persist directory no longer reaches
            // (stale copies from incremental saves, broken references) is
            // kept apart rather than lost.
            let known: std::collections::HashSet<&String> = c
                .list_slides
                .iter()
                .chain(&c.list_notes)
                .chain(&c.slides)
                .chain(&c.notes)
                .chain(&c.masters)
                .flatten()
                .collect();
            for t in linear
                .list_slides
                .iter()
                .chain(&linear.list_notes)
                .chain(&linear.slides)
                .chain(&linear.notes)
                .flatten()
            {
                if !known.contains(t) && !orphans.contains(t) {
                    orphans.push(t.clone());
                }
            }
            for (mine, theirs) in [
                (&mut c.headers, &linear.headers),
                (&mut c.footers, &linear.footers),
                (&mut c.comments, &linear.comments),
            ] {
                for t in theirs {
                    if !mine.contains(t) {
                        mine.push(t.clone());
                    }
                }
            }
            c.encrypted |= linear.encrypted;
            c.records = linear.records;
            c
        }
        Some(c) => c,
        None => linear,
    };
    if c.encrypted {
        return Err(ExtractError::encrypted(
            "PowerPoint presentation encrypted (CryptSession10Container)",
        ));
    }
    if c.records == 0 {
        return Err(ExtractError::corrupt(
            "PowerPoint record stream empty or unreadable",
        ));
    }
    let n = c.list_slides.len().max(c.slides.len());
    for i in 0..n {
        let mut lines: Vec<String> = Vec::new();
        for src in [c.list_slides.get(i), c.slides.get(i)]
            .into_iter()
            .flatten()
        {
            for t in src {
                if !lines.contains(t) {
                    lines.push(t.clone());
                }
            }
        }
        out.push_part(
            PartKind::Slide,
            format!("slide {}", i + 1),
            lines.join("\n"),
        );
    }
    // Notes masters hold template text, not speaker notes.
    for &i in c.notes_masters.iter().rev() {
        if i < c.notes.len() {
            let m = c.notes.remove(i);
            c.masters.push(m);
        }
    }
    let n = c.list_notes.len().max(c.notes.len());
    for i in 0..n {
        let mut lines: Vec<String> = Vec::new();
        for src in [c.list_notes.get(i), c.notes.get(i)].into_iter().flatten() {
            for t in src {
                if !lines.contains(t) {
                    lines.push(t.clone());
                }
            }
        }
        out.push_part(
            PartKind::Notes,
            format!("notes {}", i + 1),
            lines.join("\n"),
        );
    }
    for (i, m) in c.masters.iter().enumerate() {
        out.push_part(PartKind::Other, format!("master {}", i + 1), m.join("\n"));
    }
    out.push_part(
        PartKind::Other,
        "records outside the current edit",
        orphans.join("\n"),
    );
    out.push_part(PartKind::Header, "headers", c.headers.join("\n"));
    out.push_part(PartKind::Footer, "footers", c.footers.join("\n"));
    out.push_part(PartKind::Comment, "comments", c.comments.join("\n"));
    Ok(())
}

/// PowerPoint 4.0 (a `PP40` stream; POI refuses such files, LibreOffice
/// reads them). The format is undocumented; each text block is stored as
/// `01 00`, a u32 length L, L bytes of Windows-1252 text (paragraphs end in
/// CR), a pad byte when L is odd, then its style runs, which open with
/// `0C 00` and the same L. A block counts only when both lengths agree, so
/// stray bytes of pictures do not pass for text. Blocks come in the stream's
/// order, which is slide order; all go into one part.
fn extract_pp40(s: &[u8], budget: &Budget, out: &mut Extracted) -> ExtractResult<()> {
    let max_chars = budget.text_room();
    let mut text = String::new();
    let mut blocks = 0usize;
    let mut i = 0usize;
    while i + 6 <= s.len() {
        if i.is_multiple_of(1 << 20) {
            budget.check_time()?;
        }
        if s[i] != 1 || s[i + 1] != 0 {
            i += 1;
            continue;
        }
        let Some(len) = le_u32(s, i + 2).map(|l| l as usize) else {
            break;
        };
        let start = i + 6;
        let styles = start.saturating_add(len).saturating_add(len & 1);
        let confirmed = (1..=0xFFFF).contains(&len)
            && le_u16(s, styles) == Some(0x000C)
            && le_u32(s, styles + 2) == Some(len as u32);
        if !confirmed {
            i += 1;
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        for &b in &s[start..start + len] {
            match b {
                b'\r' | 0x0B => text.push('\n'),
                b'\t' => text.push('\t'),
                b if b < 0x20 => {}
                b => text.push(super::cp1252_char(b)),
            }
        }
        blocks += 1;
        if text.len() >= max_chars {
            break;
        }
        i = styles + 6;
    }
    if blocks == 0 {
        return Err(ExtractError::corrupt(
            "PowerPoint 4.0 stream holds no text block this reader recognises",
        ));
    }
    out.push_part(PartKind::Slide, "slides (PowerPoint 4.0)", text);
    Ok(())
}

/// Walks every record of the stream in stream order (no persist directory).
fn walk_all(s: &[u8], budget: &Budget) -> ExtractResult<Collected> {
    let mut c = Collected::default();
    walk(s, 0, s.len(), Ctx::None, 0, budget, &mut c)?;
    Ok(c)
}

/// The live persist directory (persist id -> stream offset), following the
/// UserEditAtom chain from the Current User stream's offsetToCurrentEdit;
/// newer edits override older ones. Also returns docPersistIdRef.
fn persist_directory(
    s: &[u8],
    current_edit: u32,
) -> Option<(std::collections::HashMap<u32, usize>, u32)> {
    const USER_EDIT: u16 = 0x0FF5;
    const PERSIST_DIR: u16 = 0x1772;
    let mut dir = std::collections::HashMap::new();
    let mut edit = current_edit as usize;
    let mut doc_ref = None;
    let mut seen = 0;
    while seen < 1024 {
        seen += 1;
        if le_u16(s, edit + 2)? != USER_EDIT {
            return None;
        }
        let atom = edit + 8;
        if doc_ref.is_none() {
            doc_ref = le_u32(s, atom + 16);
        }
        let last = le_u32(s, atom + 8)? as usize;
        let pd = le_u32(s, atom + 12)? as usize;
        if le_u16(s, pd + 2)? != PERSIST_DIR {
            return None;
        }
        let len = le_u32(s, pd + 4)? as usize;
        let mut p = pd + 8;
        let end = p.checked_add(len)?.min(s.len());
        while p + 4 <= end {
            let head = le_u32(s, p)?;
            let (first, count) = (head & 0x000F_FFFF, (head >> 20) as usize);
            p += 4;
            for k in 0..count {
                let off = le_u32(s, p + k * 4)? as usize;
                dir.entry(first + k as u32).or_insert(off);
            }
            p += count * 4;
        }
        if last == 0 || last >= edit {
            break;
        }
        edit = last;
    }
    Some((dir, doc_ref?))
}

/// Reads the document container, then each slide, notes page and master it
/// lists, through the persist directory: slides come out in presentation
/// order and stale copies left by incremental saves are ignored.
fn walk_persisted(
    s: &[u8],
    dir: &std::collections::HashMap<u32, usize>,
    doc_ref: u32,
    budget: &Budget,
) -> ExtractResult<Option<Collected>> {
    let record_end = |off: usize| -> Option<usize> {
        let len = le_u32(s, off.checked_add(4)?)? as usize;
        off.checked_add(8)?
            .checked_add(len)
            .filter(|&e| e <= s.len())
    };
    let Some(&doc) = dir.get(&doc_ref) else {
        return Ok(None);
    };
    if le_u16(s, doc + 2) != Some(DOCUMENT) {
        return Ok(None);
    }
    let Some(end) = record_end(doc) else {
        return Ok(None);
    };
    let mut c = Collected::default();
    walk(s, doc, end, Ctx::None, 0, budget, &mut c)?;
    if c.encrypted {
        return Ok(Some(c));
    }
    let (slides, notes, masters) = (
        c.slide_refs.clone(),
        c.notes_refs.clone(),
        c.master_refs.clone(),
    );
    for (refs, kind, list) in [
        (slides, SLIDE, 0),
        (notes, NOTES, 1),
        (masters, MAIN_MASTER, 2),
    ] {
        for r in refs {
            budget.check_time()?;
            let before = [c.slides.len(), c.notes.len(), c.masters.len()][list];
            if let Some(&off) = dir.get(&r) {
                let t = le_u16(s, off + 2);
                let ok = t == Some(kind) || (list == 2 && t == Some(SLIDE));
                if let (true, Some(end)) = (ok, record_end(off)) {
                    let ctx = if list == 2 { Ctx::Master } else { Ctx::None };
                    if list == 2 && t == Some(SLIDE) {
                        // A title master is a SlideContainer: read it as a master.
                        c.masters.push(Vec::new());
                        walk(s, off + 8, end, ctx, 1, budget, &mut c)?;
                    } else {
                        walk(s, off, end, ctx, 0, budget, &mut c)?;
                    }
                }
            }
            // Keep slide i aligned with entry i even when a reference is broken.
            let after = [c.slides.len(), c.notes.len(), c.masters.len()][list];
            if after == before {
                [&mut c.slides, &mut c.notes, &mut c.masters][list].push(Vec::new());
            }
        }
    }
    Ok(Some(c))
}

fn walk(
    s: &[u8],
    start: usize,
    end: usize,
    ctx: Ctx,
    depth: u32,
    budget: &Budget,
    c: &mut Collected,
) -> ExtractResult<()> {
    let mut pos = start;
    let max_chars = budget.text_room();
    while pos + 8 <= end {
        let (Some(ver_inst), Some(kind), Some(len)) =
            (le_u16(s, pos), le_u16(s, pos + 2), le_u32(s, pos + 4))
        else {
            break;
        };
        let body = pos + 8;
        let Some(body_end) = body.checked_add(len as usize).filter(|&e| e <= end) else {
            break;
        };
        c.records += 1;
        if c.records.is_multiple_of(4096) {
            budget.check_time()?;
        }
        pos = body_end;
        let instance = ver_inst >> 4;
        let is_container = ver_inst & 0x0F == 0x0F || kind == BINARY_TAG_DATA;
        if kind == CRYPT_SESSION {
            c.encrypted = true;
            return Ok(());
        }
        if is_container {
            if depth >= MAX_DEPTH {
                continue;
            }
            if kind == SPGR_CONTAINER {
                if let Some(cells) = table_cells(s, body, body_end) {
                    read_table(s, cells, ctx, depth, budget, c)?;
                    continue;
                }
            }
            let inner = match kind {
                SLIDE_LIST if instance == 0 => Ctx::SlideList,
                SLIDE_LIST if instance == 2 => Ctx::NotesList,
                SLIDE_LIST => Ctx::Master,
                SLIDE => {
                    c.slides.push(Vec::new());
                    Ctx::Slide
                }
                NOTES => {
                    c.notes.push(Vec::new());
                    Ctx::Notes
                }
                MAIN_MASTER | HANDOUT => {
                    c.masters.push(Vec::new());
                    Ctx::Master
                }
                HEADERS_FOOTERS => Ctx::HeadersFooters,
                COMMENT10 => Ctx::Comment,
                DOCUMENT => Ctx::None,
                _ => ctx,
            };
            walk(s, body, body_end, inner, depth + 1, budget, c)?;
            continue;
        }
        let data = &s[body..body_end];
        match kind {
            // Slide ids are 0x100..0x7FFFFFFF; a notes master refers to 0 or a
            // master id (0x80000000 and up).
            NOTES_ATOM
                if ctx == Ctx::Notes
                    && le_u32(data, 0).is_some_and(|id| id == 0 || id >= 0x8000_0000) =>
            {
                if let Some(i) = c.notes.len().checked_sub(1) {
                    c.notes_masters.push(i);
                }
            }
            SLIDE_PERSIST => {
                let id = le_u32(data, 0).unwrap_or(0);
                match ctx {
                    Ctx::SlideList => {
                        c.list_slides.push(Vec::new());
                        c.slide_refs.push(id);
                    }
                    Ctx::NotesList => {
                        c.list_notes.push(Vec::new());
                        c.notes_refs.push(id);
                    }
                    Ctx::Master => c.master_refs.push(id),
                    _ => {}
                }
            }
            TEXT_CHARS | TEXT_BYTES | CSTRING => {
                if c.chars > max_chars {
                    continue;
                }
                let text = if kind == TEXT_BYTES {
                    latin1(data)
                } else {
                    utf16(data)
                };
                // "*" is the slide-number placeholder of masters and notes.
                if text.trim().is_empty() || text == "*" {
                    continue;
                }
                c.chars += text.len();
                let target = match (kind, ctx) {
                    (CSTRING, Ctx::HeadersFooters) => match instance {
                        1 => Some(&mut c.headers),
                        2 => Some(&mut c.footers),
                        _ => None,
                    },
                    (CSTRING, Ctx::Comment) if instance == 1 => Some(&mut c.comments),
                    (CSTRING, _) => None,
                    _ => c.text_list(ctx),
                };
                if let Some(list) = target {
                    if !list.contains(&text) {
                        list.push(text);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

impl Collected {
    /// Where the text of a shape in `ctx` goes.
    fn text_list(&mut self, ctx: Ctx) -> Option<&mut Vec<String>> {
        match ctx {
            Ctx::SlideList => self.list_slides.last_mut(),
            Ctx::NotesList => self.list_notes.last_mut(),
            Ctx::Slide => self.slides.last_mut(),
            Ctx::Notes => self.notes.last_mut(),
            Ctx::Master => self.masters.last_mut(),
            _ => None,
        }
    }
}

/// One cell of a table: where it sits in the group, and its records.
struct Cell {
    top: i32,
    left: i32,
    body: std::ops::Range<usize>,
}

/// The child records of the container body `start..end`: (type, instance,
/// body range).
fn children(
    s: &[u8],
    start: usize,
    end: usize,
) -> impl Iterator<Item = (u16, u16, std::ops::Range<usize>)> + '_ {
    let mut pos = start;
    std::iter::from_fn(move || {
        let ver_inst = le_u16(s, pos)?;
        let kind = le_u16(s, pos.checked_add(2)?)?;
        let len = le_u32(s, pos.checked_add(4)?)? as usize;
        let body = pos.checked_add(8)?;
        let body_end = body.checked_add(len).filter(|&e| e <= end)?;
        pos = body_end;
        Some((kind, ver_inst >> 4, body..body_end))
    })
}

/// The cells of a group that is a table (its own shape, the group's first
/// child, carries tableProperties with its first bit set), as PowerPoint
/// writes tables: one shape per cell, placed by a child anchor. Border
/// lines are shapes too, and are left out. `None` for any other group.
fn table_cells(s: &[u8], start: usize, end: usize) -> Option<Vec<Cell>> {
    let mut shapes = children(s, start, end).filter(|(kind, _, _)| *kind == SP_CONTAINER);
    let (_, _, group) = shapes.next()?;
    let table = children(s, group.start, group.end).any(|(kind, count, props)| {
        kind == TERTIARY_OPT
            && (0..count as usize).any(|i| {
                let at = props.start + i * 6;
                at + 6 <= props.end
                    && le_u16(s, at).is_some_and(|id| id & 0x3FFF == TABLE_PROPERTIES)
                    && le_u32(s, at + 2).is_some_and(|v| v & 1 == 1)
            })
    });
    if !table {
        return None;
    }
    let mut cells = Vec::new();
    for (_, _, shape) in shapes {
        let mut anchor = None;
        let mut line = false;
        for (kind, instance, body) in children(s, shape.start, shape.end) {
            match kind {
                FSP => line = instance == LINE_SHAPE,
                CHILD_ANCHOR => {
                    let (Some(left), Some(top)) =
                        (le_u32(s, body.start), le_u32(s, body.start + 4))
                    else {
                        continue;
                    };
                    anchor = Some((top as i32, left as i32));
                }
                _ => {}
            }
        }
        if let (Some((top, left)), false) = (anchor, line) {
            cells.push(Cell {
                top,
                left,
                body: shape,
            });
        }
    }
    Some(cells)
}

/// Reads a table's cells in reading order, whatever order the file stores
/// them in (PowerPoint writes some tables last cell first): rows by their
/// top edge, cells of a row by their left edge. The table becomes one
/// text, cells tab-separated and rows on lines of their own, like the
/// tables of the other formats; a cell's own line breaks become spaces.
fn read_table(
    s: &[u8],
    mut cells: Vec<Cell>,
    ctx: Ctx,
    depth: u32,
    budget: &Budget,
    c: &mut Collected,
) -> ExtractResult<()> {
    cells.sort_by_key(|cell| (cell.top, cell.left));
    let mut table = String::new();
    let mut row_top = None;
    for cell in &cells {
        // Each cell is read on its own, so that equal texts of two cells
        // are both kept.
        let mut own = Collected {
            chars: c.chars,
            slides: vec![Vec::new()],
            ..Default::default()
        };
        walk(
            s,
            cell.body.start,
            cell.body.end,
            Ctx::Slide,
            depth + 2,
            budget,
            &mut own,
        )?;
        c.chars = own.chars;
        c.records += own.records;
        c.encrypted |= own.encrypted;
        match row_top {
            None => {}
            Some(top) if top == cell.top => table.push('\t'),
            Some(_) => table.push('\n'),
        }
        row_top = Some(cell.top);
        let text = own.slides.concat().join(" ");
        table.push_str(&text.replace('\n', " "));
    }
    if table.trim().is_empty() {
        return Ok(());
    }
    if let Some(list) = c.text_list(ctx) {
        list.push(table);
    }
    Ok(())
}

fn clean(chars: impl Iterator<Item = char>) -> String {
    let mut s = String::new();
    for c in chars {
        match c {
            '\r' | '\u{0B}' | '\n' => s.push('\n'),
            '\t' => s.push('\t'),
            c if (c as u32) < 0x20 => {}
            c => s.push(c),
        }
    }
    s.trim_end_matches('\n').to_string()
}

fn utf16(d: &[u8]) -> String {
    clean(crate::extract::decode::utf16le(d).chars())
}

fn latin1(d: &[u8]) -> String {
    clean(d.iter().map(|&b| b as char))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::budget::{Budget, Limits};

    fn rec(ver: u16, inst: u16, kind: u16, body: &[u8]) -> Vec<u8> {
        let mut r = (ver | (inst << 4)).to_le_bytes().to_vec();
        r.extend_from_slice(&kind.to_le_bytes());
        r.extend_from_slice(&(body.len() as u32).to_le_bytes());
        r.extend_from_slice(body);
        r
    }

    fn chars(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    #[test]
    fn walk_sorts_text_by_container() {
        let mut slwt = rec(0, 0, SLIDE_PERSIST, &[0; 20]);
        slwt.extend(rec(0, 0, TEXT_CHARS, &chars("Title one\rBody")));
        slwt.extend(rec(0, 0, SLIDE_PERSIST, &[0; 20]));
        slwt.extend(rec(0, 0, TEXT_BYTES, b"Second"));
        let mut hf = rec(0, 0, 0x0FDA, &[0; 4]);
        hf.extend(rec(0, 2, CSTRING, &chars("CONFIDENTIAL // RELEASED TO: X")));
        let mut doc = rec(0xF, 0, SLIDE_LIST, &slwt);
        doc.extend(rec(0xF, 3, HEADERS_FOOTERS, &hf));
        let mut s = rec(0xF, 0, DOCUMENT, &doc);
        let notes_box = rec(
            0xF,
            0,
            0xF00D,
            &rec(0, 0, TEXT_CHARS, &chars("Speaker note")),
        );
        s.extend(rec(0xF, 0, NOTES, &notes_box));
        let budget = Budget::new(Limits::default());
        let mut c = Collected::default();
        walk(&s, 0, s.len(), Ctx::None, 0, &budget, &mut c).unwrap();
        assert_eq!(c.list_slides.len(), 2);
        assert_eq!(c.list_slides[0], vec!["Title one\nBody".to_string()]);
        assert_eq!(c.list_slides[1], vec!["Second".to_string()]);
        assert_eq!(
            c.footers,
            vec!["CONFIDENTIAL // RELEASED TO: X".to_string()]
        );
        assert_eq!(c.notes, vec![vec!["Speaker note".to_string()]]);
        for cut in 0..s.len() {
            let mut c = Collected::default();
            let _ = walk(&s, 0, cut, Ctx::None, 0, &budget, &mut c);
        }
        let mut c = Collected::default();
        let enc = rec(0xF, 0, CRYPT_SESSION, &[]);
        walk(&enc, 0, enc.len(), Ctx::None, 0, &budget, &mut c).unwrap();
        assert!(c.encrypted);
    }

    #[test]
    fn comments_in_a_slides_binary_tag_are_read() {
        // testPPT_comment.ppt: SlideProgTags > ProgBinaryTag "___PPT10" >
        // BinaryTagDataBlob (an atom holding records) > Comment10.
        let mut comment = rec(0, 0, CSTRING, &chars("Ann Author"));
        comment.extend(rec(0, 1, CSTRING, &chars("Check the budget figure")));
        comment.extend(rec(0, 2, CSTRING, &chars("AA")));
        comment.extend(rec(0, 0, 0x2EE1, &[0; 28]));
        let blob = rec(0, 0, BINARY_TAG_DATA, &rec(0xF, 0, COMMENT10, &comment));
        let mut tag = rec(0, 0, CSTRING, &chars("___PPT10"));
        tag.extend(blob);
        let tags = rec(0xF, 0, 0x1388, &rec(0xF, 0, 0x138A, &tag));
        let s = rec(0xF, 0, SLIDE, &tags);
        let budget = Budget::new(Limits::default());
        let mut c = Collected::default();
        walk(&s, 0, s.len(), Ctx::None, 0, &budget, &mut c).unwrap();
        assert_eq!(c.comments, vec!["Check the budget figure".to_string()]);
        assert_eq!(c.slides, vec![Vec::<String>::new()]);
    }

    /// Defect 11 (POI `bug60345_suba.ppt`): PowerPoint stored a table's
    /// cells last first, and two cells holding `10` kept only one.
    #[test]
    fn table_cells_are_read_row_by_row() {
        let anchor = |top: i32, left: i32| {
            let mut a = left.to_le_bytes().to_vec();
            a.extend_from_slice(&top.to_le_bytes());
            a.extend_from_slice(&(left + 100).to_le_bytes());
            a.extend_from_slice(&(top + 50).to_le_bytes());
            rec(0, 0, CHILD_ANCHOR, &a)
        };
        let cell = |top: i32, left: i32, text: &str| {
            let mut sp = rec(2, 1, FSP, &[0; 8]);
            sp.extend(anchor(top, left));
            if !text.is_empty() {
                sp.extend(rec(0xF, 0, 0xF00D, &rec(0, 0, TEXT_CHARS, &chars(text))));
            }
            rec(0xF, 0, SP_CONTAINER, &sp)
        };
        let group = |table: bool, cells: &[Vec<u8>]| {
            let mut own = rec(2, 0, FSP, &[0; 8]);
            let mut prop = (TABLE_PROPERTIES | 0x4000).to_le_bytes().to_vec();
            prop.extend_from_slice(&u32::from(table).to_le_bytes());
            own.extend(rec(3, 1, TERTIARY_OPT, &prop));
            let mut body = rec(0xF, 0, SP_CONTAINER, &own);
            for c in cells {
                body.extend_from_slice(c);
            }
            rec(0xF, 0, SPGR_CONTAINER, &body)
        };
        let mut line = rec(2, LINE_SHAPE, FSP, &[0; 8]);
        line.extend(anchor(0, 0));
        let cells = [
            cell(50, 100, "10"),
            cell(50, 0, "10"),
            rec(0xF, 0, SP_CONTAINER, &line),
            cell(0, 200, ""),
            cell(0, 100, "Pre\rmedian"),
            cell(0, 0, "Group"),
        ];
        let mut drawing = group(true, &cells);
        drawing.extend(group(false, &cells[..2]));
        let s = rec(0xF, 0, SLIDE, &rec(0xF, 0, 0xF002, &drawing));
        let budget = Budget::new(Limits::default());
        let mut c = Collected::default();
        walk(&s, 0, s.len(), Ctx::None, 0, &budget, &mut c).unwrap();
        assert_eq!(
            c.slides,
            vec![vec![
                "Group\tPre median\t\n10\t10".to_string(),
                "10".to_string()
            ]]
        );
    }

    #[test]
    fn persist_directory_orders_slides_and_skips_stale_copies() {
        let slide = |t: &str| {
            let tb = rec(0xF, 0, 0xF00D, &rec(0, 0, TEXT_CHARS, &chars(t)));
            rec(0xF, 0, SLIDE, &tb)
        };
        let persist_atom = |id: u32| {
            let mut d = id.to_le_bytes().to_vec();
            d.extend_from_slice(&[0; 16]);
            rec(0, 0, SLIDE_PERSIST, &d)
        };
        // Stream: stale slide, slide B (id 3), slide A (id 2), document, dir, edit.
        let mut s = slide("stale old text");
        let off_b = s.len();
        s.extend(slide("Slide B"));
        let off_a = s.len();
        s.extend(slide("Slide A"));
        let off_doc = s.len();
        let mut slwt = persist_atom(2);
        slwt.extend(persist_atom(3));
        s.extend(rec(0xF, 0, DOCUMENT, &rec(0xF, 0, SLIDE_LIST, &slwt)));
        let off_dir = s.len();
        let mut dir = ((3u32 << 20) | 1).to_le_bytes().to_vec();
        for off in [off_doc, off_a, off_b] {
            dir.extend_from_slice(&(off as u32).to_le_bytes());
        }
        s.extend(rec(0, 0, 0x1772, &dir));
        let off_edit = s.len();
        let mut edit = vec![0u8; 8];
        edit.extend_from_slice(&0u32.to_le_bytes()); // offsetLastEdit
        edit.extend_from_slice(&(off_dir as u32).to_le_bytes());
        edit.extend_from_slice(&1u32.to_le_bytes()); // docPersistIdRef
        s.extend(rec(0, 0, 0x0FF5, &edit));
        let (dir, doc_ref) = persist_directory(&s, off_edit as u32).unwrap();
        assert_eq!(doc_ref, 1);
        let budget = Budget::new(Limits::default());
        let c = walk_persisted(&s, &dir, doc_ref, &budget).unwrap().unwrap();
        assert_eq!(
            c.slides,
            vec![vec!["Slide A".to_string()], vec!["Slide B".to_string()]]
        );
        for cut in 0..s.len() {
            if let Some((d, r)) = persist_directory(&s[..cut], off_edit as u32) {
                let _ = walk_persisted(&s[..cut], &d, r, &budget);
            }
        }
    }
}
