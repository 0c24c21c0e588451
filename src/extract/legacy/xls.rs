//! Excel 97-2003 workbooks (BIFF8; BIFF5 best effort): our own walk over
//! the `Workbook` record stream. Cells are kept sparse (row, column, text),
//! so memory follows the file's size, not the sheet's declared dimensions
//! (calamine 0.38 builds a dense range: a 41 KB POI file with one cell at
//! row 65535 took 2.9 s and about 0.5 GB there).

use super::bytes::{le_u16, le_u32, le_u64};
use super::{cp1252_char, read_stream_opt, Ole};
use crate::extract::numfmt::{self, StyleFormats};
use crate::extract::{CellAnchors, ExtractError, ExtractResult, Extracted, Layout, PartKind};
use crate::model::budget::Budget;

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000A;
const HEADER: u16 = 0x0014;
const FOOTER: u16 = 0x0015;
const FILEPASS: u16 = 0x002F;
const BOUNDSHEET: u16 = 0x0085;
const SST: u16 = 0x00FC;
const CONTINUE: u16 = 0x003C;
const LABELSST: u16 = 0x00FD;
const LABEL: u16 = 0x0204;
const RSTRING: u16 = 0x00D6;
const NUMBER: u16 = 0x0203;
const RK: u16 = 0x027E;
const MULRK: u16 = 0x00BD;
const FORMULA: u16 = 0x0006;
const STRING: u16 = 0x0207;
const BOOLERR: u16 = 0x0205;
const FORMAT: u16 = 0x041E;
const XF: u16 = 0x00E0;
const DATEMODE: u16 = 0x0022;
/// The text of a cell comment or a text box; the text follows in CONTINUE records.
const TXO: u16 = 0x01B6;

// Excel 2.x-4.0 (BIFF2-4): a worksheet is a bare record stream, not in an
// OLE file; a BIFF4 workbook bundles worksheet streams after its globals.
/// BOF of BIFF2, BIFF3 and BIFF4.
const BOF2: u16 = 0x0009;
const BOF3: u16 = 0x0209;
const BOF4: u16 = 0x0409;
/// BIFF2 cells: row, column, 3 attribute bytes, then the value.
const INTEGER2: u16 = 0x0002;
const NUMBER2: u16 = 0x0003;
const LABEL2: u16 = 0x0004;
const BOOLERR2: u16 = 0x0005;
const STRING2: u16 = 0x0007;
/// FORMULA of BIFF3 and BIFF4 (BIFF2, 5 and 8 use 0x0006).
const FORMULA3: u16 = 0x0206;
const FORMULA4: u16 = 0x0406;
/// FORMAT of BIFF2 and BIFF3: the code alone, numbered by its order.
const FORMAT2: u16 = 0x001E;
/// XF of BIFF3 and BIFF4: the number format's index in byte 1.
const XF3: u16 = 0x0243;
const XF4: u16 = 0x0443;
/// A BIFF4 workbook's sheet name (BUNDLESHEET).
const BUNDLESHEET: u16 = 0x008F;
/// BOF types: workbook globals (BIFF5/8) and a BIFF4 workbook.
const GLOBALS: u16 = 0x0005;
const WORKBOOK4: u16 = 0x0100;

/// Whether `bytes` is a bare BIFF record stream (an Excel 2.x-4.0 worksheet
/// or workbook, or a BIFF5/8 stream saved without its OLE container): a
/// BOF of a known size and sheet type, and a second record header.
pub(crate) fn is_bare_biff(bytes: &[u8]) -> bool {
    let (Some(kind), Some(len)) = (le_u16(bytes, 0), le_u16(bytes, 2)) else {
        return false;
    };
    let len = usize::from(len);
    matches!(kind, BOF2 | BOF3 | BOF4 | BOF)
        && matches!(len, 4 | 6 | 8 | 16)
        && matches!(
            le_u16(bytes, 6),
            Some(GLOBALS | WORKBOOK4 | 0x0010 | 0x0020 | 0x0040)
        )
        && le_u16(bytes, 4 + len + 2).is_some_and(|l| 4 + len + 4 + usize::from(l) <= bytes.len())
}

/// How the workbook shows numbers: FORMAT records (custom codes by id),
/// XF records (each cell style's format id) and DATEMODE (1904 dates).
#[derive(Debug, Default)]
struct Styles {
    custom: Vec<(u16, String)>,
    xf_formats: Vec<u16>,
    date1904: bool,
    /// Compiled once the globals are read: per XF, its number format.
    formats: StyleFormats,
}

impl Styles {
    /// Compiles each format id the XFs use, once.
    fn compile(&mut self) {
        self.formats = StyleFormats::compile(&self.custom, &self.xf_formats);
    }

    /// A number as the cell style `xf` shows it.
    fn show(&self, value: f64, xf: u16) -> String {
        let mut out = String::new();
        self.formats
            .of_style(usize::from(xf))
            .write(value, self.date1904, &mut out);
        out
    }
}

/// What the record walk found.
#[derive(Debug, Default)]
struct Walk {
    encrypted: bool,
    /// Sheet names from BOUNDSHEET, in substream order.
    names: Vec<String>,
    /// (sheet index, is_footer, text) for each non-empty HEADER/FOOTER.
    margins: Vec<(usize, bool, String)>,
    /// Cells per sheet substream: (row, column, text).
    cells: Vec<Vec<(u16, u16, String)>>,
    /// (sheet index, text) of each cell comment and text box.
    notes: Vec<(usize, String)>,
}

pub(super) fn extract(
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let (stream, name) = match read_stream_opt(ole, "/Workbook", budget)? {
        Some(s) => (s, "Workbook"),
        None => match read_stream_opt(ole, "/Book", budget)? {
            Some(s) => (s, "Book"),
            None => return Err(ExtractError::corrupt("Excel Workbook stream missing")),
        },
    };
    let mut walk = walk_records(&stream, budget, false)?;
    if walk.encrypted {
        // Protected with the default password (VelvetSweatshop): read as
        // Excel, LibreOffice and POI read it; any other stays `encrypted`.
        let Some(plain) = super::biffcrypt::decrypt_default(&stream, budget)? else {
            out.parts_read.push(name.into());
            return Err(ExtractError::encrypted(
                "Excel workbook encrypted (FILEPASS)",
            ));
        };
        drop(stream);
        out.parts_read
            .push(format!("{name} (decrypted with the default password)"));
        walk = walk_records(&plain, budget, true)?;
    } else {
        out.parts_read.push(name.into());
    }
    push_walk(walk, budget, out)
}

/// An Excel 2.x-4.0 file (or a BIFF5/8 stream without its OLE container):
/// the file is the record stream.
pub(super) fn extract_bare(
    bytes: &[u8],
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    super::within_part_limit(
        bytes.len() as u64,
        budget,
        "a BIFF record stream's size exceeds the part limit",
    )?;
    out.parts_read.push("BIFF record stream".into());
    let walk = walk_records(bytes, budget, false)?;
    if walk.encrypted {
        let Some(plain) = super::biffcrypt::decrypt_default(bytes, budget)? else {
            return Err(ExtractError::encrypted(
                "Excel workbook encrypted (FILEPASS)",
            ));
        };
        return push_walk(walk_records(&plain, budget, true)?, budget, out);
    }
    push_walk(walk, budget, out)
}

/// The parts of a walked workbook: per sheet its name and cells, then
/// headers and footers, then comments.
fn push_walk(mut walk: Walk, budget: &Budget, out: &mut Extracted) -> ExtractResult<()> {
    if walk.names.is_empty() && walk.cells.is_empty() {
        return Err(ExtractError::corrupt("Excel workbook has no sheets"));
    }
    let sheets = walk.names.len().max(walk.cells.len());
    for i in 0..sheets {
        budget.check_time()?;
        // A bare worksheet (Excel 2.x-4.0) has no name of its own: Excel
        // shows the file's. Nothing is made up for the text then.
        let location = match walk.names.get(i) {
            Some(name) => {
                let location = format!("sheet \"{name}\"");
                out.push_part_laid_out(
                    PartKind::SheetName,
                    location.clone(),
                    name.clone(),
                    Layout::Whole,
                );
                location
            }
            None => format!("sheet #{}", i + 1),
        };
        let Some(cells) = walk.cells.get_mut(i) else {
            continue;
        };
        cells.sort_by_key(|c| (c.0, c.1));
        let mut text = String::new();
        let mut anchors = CellAnchors::default();
        let mut row = None;
        for (r, c, t) in cells.iter() {
            match row {
                Some(prev) if prev == *r => text.push('\t'),
                Some(_) => text.push('\n'),
                None => {}
            }
            row = Some(*r);
            anchors.cell(&text, u32::from(*r), u32::from(*c));
            text.push_str(t);
        }
        out.push_part_laid_out(PartKind::Sheet, location, text, Layout::Cells(anchors));
    }
    push_margins(&walk, out);
    for (i, text) in &walk.notes {
        let sheet = walk.names.get(*i).map(String::as_str).unwrap_or("?");
        out.push_part(
            PartKind::Comment,
            format!("sheet \"{sheet}\" comment"),
            text.clone(),
        );
    }
    Ok(())
}

fn push_margins(walk: &Walk, out: &mut Extracted) {
    for (i, footer, text) in &walk.margins {
        let sheet = walk.names.get(*i).map(String::as_str).unwrap_or("?");
        let (kind, what) = if *footer {
            (PartKind::Footer, "footer")
        } else {
            (PartKind::Header, "header")
        };
        out.push_part(kind, format!("sheet \"{sheet}\" {what}"), text.clone());
    }
}

/// Walks the BIFF record stream: FILEPASS, BOUNDSHEET, SST, cell records,
/// HEADER and FOOTER. Charts embedded in a sheet (nested BOF/EOF) are skipped.
/// A FILEPASS record ends the walk (what follows is encrypted) unless the
/// stream was `decrypted` already.
fn walk_records(s: &[u8], budget: &Budget, decrypted: bool) -> ExtractResult<Walk> {
    let mut walk = Walk::default();
    let mut pos = 0usize;
    let mut biff8 = true;
    // 2, 3, 4 (Excel 2.x-4.0: style records in each worksheet), 5 or 8.
    let mut version = 8u8;
    // FORMAT and XF records seen since the formats were last compiled.
    let mut restyled = false;
    // -1: globals; n: n-th sheet substream.
    let mut substream: isize = -2;
    let mut depth = 0u32;
    let mut count = 0usize;
    let mut sst: Vec<String> = Vec::new();
    let mut chars = 0usize;
    let max_chars = budget.text_room();
    // Cell of a FORMULA whose string result follows in a STRING record.
    let mut pending: Option<(u16, u16)> = None;
    let mut styles = Styles::default();
    while let (Some(kind), Some(len)) = (le_u16(s, pos), le_u16(s, pos + 2)) {
        count += 1;
        if count.is_multiple_of(4096) {
            budget.check_time()?;
        }
        let len = len as usize;
        let Some(data) = s.get(pos + 4..pos + 4 + len) else {
            break;
        };
        pos += 4 + len;
        let is_bof = kind == BOF
            || (matches!(kind, BOF2 | BOF3 | BOF4) && (version <= 4 || substream == -2));
        match kind {
            _ if is_bof => {
                if depth == 0 {
                    if substream == -2 {
                        version = match kind {
                            BOF2 => 2,
                            BOF3 => 3,
                            BOF4 => 4,
                            _ if le_u16(data, 0).is_some_and(|v| v < 0x0600) => 5,
                            _ => 8,
                        };
                        biff8 = version == 8;
                        // A bare worksheet has no globals: its cells start here.
                        let globals = matches!(le_u16(data, 2), Some(GLOBALS | WORKBOOK4));
                        substream = if globals || version >= 5 { -1 } else { 0 };
                    } else {
                        substream += 1;
                    }
                    if version <= 4 && substream >= 0 {
                        // Each BIFF2-4 worksheet has its own formats.
                        let date1904 = styles.date1904;
                        styles = Styles {
                            date1904,
                            ..Styles::default()
                        };
                        restyled = true;
                    }
                }
                depth += 1;
                continue;
            }
            EOF => {
                depth = depth.saturating_sub(1);
                continue;
            }
            _ => {}
        }
        if depth != 1 {
            continue;
        }
        // Excel 2.x-4.0 keep formats in each worksheet.
        if version <= 4 && substream >= 0 {
            match kind {
                DATEMODE => styles.date1904 = le_u16(data, 0) == Some(1),
                FORMAT2 | FORMAT | XF3 | XF4 => {
                    old_style_record(kind, data, &mut styles);
                    restyled = true;
                    continue;
                }
                _ => {}
            }
        }
        if substream == -1 {
            match kind {
                FILEPASS if !decrypted => {
                    walk.encrypted = true;
                    break;
                }
                DATEMODE => styles.date1904 = le_u16(data, 0) == Some(1),
                XF => {
                    styles.xf_formats.push(le_u16(data, 2).unwrap_or(0));
                    restyled = true;
                }
                FORMAT2 | XF3 | XF4 => {
                    old_style_record(kind, data, &mut styles);
                    restyled = true;
                }
                FORMAT if version == 4 => {
                    old_style_record(kind, data, &mut styles);
                    restyled = true;
                }
                BUNDLESHEET => walk
                    .names
                    .push(data.get(6..).and_then(short_ansi).unwrap_or_default()),
                FORMAT => {
                    restyled = true;
                    let code = if biff8 {
                        data.get(2..).and_then(long_unicode)
                    } else {
                        data.get(2..).and_then(short_ansi)
                    };
                    if let (Some(id), Some(code)) = (le_u16(data, 0), code) {
                        styles.custom.push((id, code));
                    }
                }
                BOUNDSHEET => {
                    let name = if biff8 {
                        data.get(6..).and_then(short_unicode)
                    } else {
                        data.get(6..).and_then(short_ansi)
                    };
                    walk.names.push(name.unwrap_or_default());
                }
                SST if biff8 => {
                    // The SST and its CONTINUE records form one byte sequence
                    // in which each CONTINUE restarts a string's flags byte.
                    let mut segments = vec![data];
                    let mut p = pos;
                    while le_u16(s, p) == Some(CONTINUE) {
                        let Some(l) = le_u16(s, p + 2) else { break };
                        let Some(d) = s.get(p + 4..p + 4 + l as usize) else {
                            break;
                        };
                        segments.push(d);
                        p += 4 + l as usize;
                    }
                    pos = p;
                    sst = read_sst(&segments, max_chars, budget)?;
                }
                _ => {}
            }
            continue;
        }
        if substream < 0 {
            continue;
        }
        let sheet = substream as usize;
        if sheet > 65_535 {
            break;
        }
        while walk.cells.len() <= sheet {
            walk.cells.push(Vec::new());
        }
        if restyled {
            if version == 2 {
                // BIFF2 cells name their number format directly.
                styles.xf_formats = (0..64).collect();
            }
            styles.compile();
            restyled = false;
        }
        let row = le_u16(data, 0).unwrap_or(0);
        let col = le_u16(data, 2).unwrap_or(0);
        let xf = le_u16(data, 4).unwrap_or(0);
        if version == 2 {
            // Attributes: byte 1 holds the number format's index.
            let format = u16::from(data.get(5).copied().unwrap_or(0) & 0x3F);
            let mut cell = |r: u16, c: u16, t: String, walk: &mut Walk| {
                if chars < max_chars && !t.is_empty() {
                    chars += t.len();
                    walk.cells[sheet].push((r, c, t));
                }
            };
            match kind {
                INTEGER2 => {
                    if let Some(v) = le_u16(data, 7) {
                        cell(row, col, styles.show(f64::from(v), format), &mut walk);
                    }
                }
                NUMBER2 => {
                    if let Some(v) = le_u64(data, 7) {
                        cell(row, col, styles.show(f64::from_bits(v), format), &mut walk);
                    }
                }
                LABEL2 => {
                    if let Some(t) = data.get(7..).and_then(short_ansi) {
                        cell(row, col, one_line(&t), &mut walk);
                    }
                }
                BOOLERR2 => {
                    if let (Some(&v), Some(&is_err)) = (data.get(7), data.get(8)) {
                        cell(row, col, boolerr_text(v, is_err).to_string(), &mut walk);
                    }
                }
                FORMULA => {
                    pending = None;
                    match formula_result(data.get(7..).unwrap_or_default()) {
                        Some(Cached::Text) => pending = Some((row, col)),
                        Some(Cached::Shown(t)) => cell(row, col, t, &mut walk),
                        Some(Cached::Number(v)) => {
                            cell(row, col, styles.show(v, format), &mut walk)
                        }
                        None => {}
                    }
                }
                STRING2 => {
                    if let (Some((r, c)), Some(t)) = (pending.take(), short_ansi(data)) {
                        cell(r, c, one_line(&t), &mut walk);
                    }
                }
                HEADER | FOOTER if !data.is_empty() => {
                    if let Some(raw) = short_ansi(data) {
                        let text = strip_header_codes(&raw);
                        if !text.trim().is_empty() {
                            walk.margins.push((sheet, kind == FOOTER, text));
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        if kind == TXO {
            if biff8 && chars < max_chars {
                let text = txo_text(data, &s[pos..]);
                if !text.trim().is_empty() {
                    chars += text.len();
                    walk.notes.push((sheet, text));
                }
            }
            continue;
        }
        let mut cell = |r: u16, c: u16, t: String, walk: &mut Walk| {
            if chars < max_chars && !t.is_empty() {
                chars += t.len();
                walk.cells[sheet].push((r, c, t));
            }
        };
        match kind {
            HEADER | FOOTER if !data.is_empty() => {
                let raw = if biff8 {
                    long_unicode(data)
                } else {
                    short_ansi(data)
                };
                if let Some(raw) = raw {
                    let text = strip_header_codes(&raw);
                    if !text.trim().is_empty() {
                        walk.margins.push((sheet, kind == FOOTER, text));
                    }
                }
            }
            LABELSST => {
                if let Some(t) = le_u32(data, 6).and_then(|i| sst.get(i as usize)) {
                    cell(row, col, t.clone(), &mut walk);
                }
            }
            LABEL | RSTRING => {
                let t = if biff8 {
                    data.get(6..).and_then(long_unicode)
                } else {
                    data.get(6..).and_then(ansi16)
                };
                if let Some(t) = t {
                    cell(row, col, one_line(&t), &mut walk);
                }
            }
            NUMBER => {
                if let Some(v) = le_u64(data, 6) {
                    cell(row, col, styles.show(f64::from_bits(v), xf), &mut walk);
                }
            }
            RK => {
                if let Some(v) = le_u32(data, 6) {
                    cell(row, col, styles.show(rk(v), xf), &mut walk);
                }
            }
            MULRK => {
                let n = data.len().saturating_sub(6) / 6;
                for i in 0..n {
                    let at = 4 + i * 6;
                    if let (Some(xf), Some(v)) = (le_u16(data, at), le_u32(data, at + 2)) {
                        let text = styles.show(rk(v), xf);
                        cell(row, col.saturating_add(i as u16), text, &mut walk);
                    }
                }
            }
            BOOLERR => {
                if let (Some(&v), Some(&is_err)) = (data.get(6), data.get(7)) {
                    cell(row, col, boolerr_text(v, is_err).to_string(), &mut walk);
                }
            }
            FORMULA | FORMULA3 | FORMULA4 => {
                pending = None;
                match formula_result(data.get(6..).unwrap_or_default()) {
                    Some(Cached::Text) => pending = Some((row, col)),
                    Some(Cached::Shown(t)) => cell(row, col, t, &mut walk),
                    Some(Cached::Number(v)) => cell(row, col, styles.show(v, xf), &mut walk),
                    None => {}
                }
            }
            STRING => {
                if let Some((r, c)) = pending.take() {
                    // BIFF3-5: 8-bit characters after a 16-bit count.
                    let t = if biff8 {
                        long_unicode(data)
                    } else {
                        ansi16(data)
                    };
                    if let Some(t) = t {
                        cell(r, c, one_line(&t), &mut walk);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(walk)
}

/// A FORMULA record's cached result (its 8 bytes at `result`): a number,
/// or, when the last two bytes are 0xFFFF, a string (in the next STRING
/// record), a Boolean or an error, by the first byte.
enum Cached {
    Number(f64),
    Text,
    Shown(String),
}

fn formula_result(result: &[u8]) -> Option<Cached> {
    if result.get(6..8) == Some(&[0xFF, 0xFF]) {
        let value = result.get(2).copied().unwrap_or(0);
        return match result.first()? {
            0 => Some(Cached::Text),
            1 => Some(Cached::Shown(boolerr_text(value, 0).into())),
            2 => Some(Cached::Shown(boolerr_text(value, 1).into())),
            _ => None,
        };
    }
    le_u64(result, 0).map(|v| Cached::Number(f64::from_bits(v)))
}

/// A BOOLERR value: a Boolean, or an error code when `is_err` is set.
fn boolerr_text(value: u8, is_err: u8) -> &'static str {
    match (is_err, value) {
        (0, 0) => "FALSE",
        (0, _) => "TRUE",
        _ => numfmt::error_text(value),
    }
}

/// FORMAT and XF records of Excel 2.x-4.0: FORMAT records list every
/// format the sheet uses, numbered by their order (BIFF4's has a 16-bit
/// field first, which is not used); BIFF3/4 XF hold the number format's
/// index in byte 1.
fn old_style_record(kind: u16, data: &[u8], styles: &mut Styles) {
    let code = match kind {
        FORMAT2 => short_ansi(data),
        FORMAT => data.get(2..).and_then(short_ansi),
        _ => None,
    };
    match kind {
        FORMAT2 | FORMAT => {
            if let Some(code) = code {
                let id = styles.custom.len() as u16;
                styles.custom.push((id, code));
            }
        }
        XF3 | XF4 => styles
            .xf_formats
            .push(u16::from(data.get(1).copied().unwrap_or(0))),
        _ => {}
    }
}

/// The text of a TXO record (`cchText` at offset 10) from the CONTINUE
/// records that follow it (`after`): each starts with a byte saying whether
/// its characters are 8-bit (the low byte of UTF-16) or UTF-16.
fn txo_text(txo: &[u8], mut after: &[u8]) -> String {
    let mut left = le_u16(txo, 10).unwrap_or(0) as usize;
    let mut text = String::new();
    while left > 0 && le_u16(after, 0) == Some(CONTINUE) {
        let Some(len) = le_u16(after, 2).map(usize::from) else {
            break;
        };
        let Some(segment) = after.get(4..4 + len) else {
            break;
        };
        after = &after[4 + len..];
        let Some((&wide, chars)) = segment.split_first() else {
            continue;
        };
        let taken = if wide & 1 != 0 {
            let units: Vec<u16> = chars
                .chunks_exact(2)
                .take(left)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            text.extend(char::decode_utf16(units.iter().copied()).map(|c| c.unwrap_or('\u{fffd}')));
            units.len()
        } else {
            let bytes = &chars[..chars.len().min(left)];
            text.extend(bytes.iter().map(|&b| char::from(b)));
            bytes.len()
        };
        if taken == 0 {
            break;
        }
        left -= taken;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r', '\t'], " ")
}

/// RK number (MS-XLS 2.5.217): 30-bit integer or high bits of a double, maybe /100.
fn rk(v: u32) -> f64 {
    let x = if v & 0x02 != 0 {
        ((v as i32) >> 2) as f64
    } else {
        f64::from_bits(((v & 0xFFFF_FFFC) as u64) << 32)
    };
    if v & 0x01 != 0 {
        x / 100.0
    } else {
        x
    }
}

/// Reads the shared string table from its record and CONTINUE segments.
fn read_sst(segments: &[&[u8]], max_chars: usize, budget: &Budget) -> ExtractResult<Vec<String>> {
    let mut r = SegReader {
        segments,
        seg: 0,
        pos: 0,
    };
    let _total = r.u32();
    let unique = r.u32().unwrap_or(0) as usize;
    let mut out = Vec::with_capacity(unique.min(65_536));
    let mut chars = 0usize;
    for i in 0..unique {
        if i.is_multiple_of(4096) {
            budget.check_time()?;
        }
        let Some(s) = r.rich_string() else { break };
        chars += s.len();
        if chars > max_chars {
            out.push(String::new());
        } else {
            out.push(one_line(&s));
        }
    }
    Ok(out)
}

/// Reads across an SST's CONTINUE segments.
struct SegReader<'a> {
    segments: &'a [&'a [u8]],
    seg: usize,
    pos: usize,
}

impl SegReader<'_> {
    fn byte(&mut self) -> Option<u8> {
        loop {
            let seg = self.segments.get(self.seg)?;
            if let Some(&b) = seg.get(self.pos) {
                self.pos += 1;
                return Some(b);
            }
            self.seg += 1;
            self.pos = 0;
        }
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }
    fn skip(&mut self, mut n: usize) -> Option<()> {
        while n > 0 {
            let seg = self.segments.get(self.seg)?;
            let left = seg.len().saturating_sub(self.pos);
            if left == 0 {
                self.seg += 1;
                self.pos = 0;
                continue;
            }
            let step = left.min(n);
            self.pos += step;
            n -= step;
        }
        Some(())
    }
    /// XLUnicodeRichExtendedString: when its characters cross into the next
    /// segment, that segment starts with a fresh flags byte.
    fn rich_string(&mut self) -> Option<String> {
        let cch = self.u16()? as usize;
        let flags = self.byte()?;
        let mut high = flags & 0x01 != 0;
        let runs = if flags & 0x08 != 0 {
            self.u16()? as usize
        } else {
            0
        };
        let ext = if flags & 0x04 != 0 {
            self.u32()? as usize
        } else {
            0
        };
        let mut units: Vec<u16> = Vec::with_capacity(cch);
        while units.len() < cch {
            let seg = self.segments.get(self.seg)?;
            if self.pos >= seg.len() {
                self.seg += 1;
                self.pos = 0;
                high = self.byte()? & 0x01 != 0;
                continue;
            }
            if high {
                let lo = seg.get(self.pos).copied()?;
                let hi = seg.get(self.pos + 1).copied().unwrap_or(0);
                self.pos += 2;
                units.push(u16::from_le_bytes([lo, hi]));
            } else {
                units.push(cp1252_char(seg[self.pos]) as u16);
                self.pos += 1;
            }
        }
        self.skip(runs * 4)?;
        self.skip(ext)?;
        Some(
            char::decode_utf16(units)
                .map(|r| r.unwrap_or('\u{FFFD}'))
                .collect(),
        )
    }
}

/// ShortXLUnicodeString: u8 count, u8 flags, chars.
fn short_unicode(d: &[u8]) -> Option<String> {
    let n = *d.first()? as usize;
    let high = d.get(1)? & 1 != 0;
    chars(d.get(2..)?, n, high)
}

/// XLUnicodeString: u16 count, u8 flags, chars.
fn long_unicode(d: &[u8]) -> Option<String> {
    let n = le_u16(d, 0)? as usize;
    let high = d.get(2)? & 1 != 0;
    chars(d.get(3..)?, n, high)
}

/// BIFF3-5 byte string: u16 count, 8-bit chars.
fn ansi16(d: &[u8]) -> Option<String> {
    let n = usize::from(le_u16(d, 0)?);
    Some(
        d.get(2..)?
            .iter()
            .take(n)
            .map(|&b| cp1252_char(b))
            .collect(),
    )
}

/// BIFF5 string: u8 count, 8-bit chars.
fn short_ansi(d: &[u8]) -> Option<String> {
    let n = *d.first()? as usize;
    let raw = d.get(1..1 + n.min(d.len() - 1))?;
    Some(raw.iter().map(|&b| cp1252_char(b)).collect())
}

fn chars(d: &[u8], n: usize, high: bool) -> Option<String> {
    if high {
        let raw = d.get(..(n * 2).min(d.len() & !1))?;
        let units = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        Some(
            char::decode_utf16(units)
                .map(|r| r.unwrap_or('\u{FFFD}'))
                .collect(),
        )
    } else {
        Some(d.iter().take(n).map(|&b| cp1252_char(b)).collect())
    }
}

/// Excel header/footer codes are the same in BIFF and OOXML.
fn strip_header_codes(s: &str) -> String {
    crate::extract::ooxml::decode_header_footer(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::budget::{Budget, Limits};

    fn rec(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut r = kind.to_le_bytes().to_vec();
        r.extend_from_slice(&(data.len() as u16).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    fn xlstr(s: &str) -> Vec<u8> {
        let mut d = (s.len() as u16).to_le_bytes().to_vec();
        d.push(0);
        d.extend_from_slice(s.as_bytes());
        d
    }

    #[test]
    fn header_codes_are_stripped() {
        assert_eq!(
            strip_header_codes("&L&\"Arial,Bold\"&12CONFIDENTIAL&CPage &P of &N&R&D"),
            "CONFIDENTIAL\nPage  of"
        );
        assert_eq!(strip_header_codes("&CR&&D"), "R&D");
    }

    #[test]
    fn walker_finds_headers_footers_and_filepass() {
        let mut s = rec(BOF, &[0, 6, 5, 0]);
        let mut bs = vec![0u8; 6];
        bs.extend_from_slice(&[6, 0]);
        bs.extend_from_slice(b"Budget");
        s.extend(rec(BOUNDSHEET, &bs));
        s.extend(rec(EOF, &[]));
        s.extend(rec(BOF, &[0, 6, 0x10, 0]));
        s.extend(rec(HEADER, &xlstr("&CCONFIDENTIAL // RELEASED TO: X")));
        s.extend(rec(FOOTER, &xlstr("&LTLP:AMBER")));
        s.extend(rec(EOF, &[]));
        let budget = Budget::new(Limits::default());
        let w = walk_records(&s, &budget, false).unwrap();
        assert_eq!(w.cells[0].len(), 0);
        assert!(!w.encrypted);
        assert_eq!(w.names, vec!["Budget".to_string()]);
        assert_eq!(
            w.margins,
            vec![
                (0, false, "CONFIDENTIAL // RELEASED TO: X".to_string()),
                (0, true, "TLP:AMBER".to_string())
            ]
        );
        let mut e = rec(BOF, &[0, 6, 5, 0]);
        e.extend(rec(FILEPASS, &[1, 0]));
        assert!(walk_records(&e, &budget, false).unwrap().encrypted);
        // Truncated records end the walk quietly.
        for cut in 0..s.len() {
            let _ = walk_records(&s[..cut], &budget, false);
        }
    }

    /// A cell record: row, column, XF index, then `value`.
    fn cell_rec(kind: u16, row: u16, col: u16, xf: u16, value: &[u8]) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend_from_slice(&col.to_le_bytes());
        d.extend_from_slice(&xf.to_le_bytes());
        d.extend_from_slice(value);
        rec(kind, &d)
    }

    // The noise value is as the workbook stores it, digits and all.
    #[allow(clippy::excessive_precision)]
    #[test]
    fn numbers_dates_and_errors_read_as_excel_shows_them() {
        for date1904 in [false, true] {
            let mut s = rec(BOF, &[0, 6, 5, 0]);
            s.extend(rec(DATEMODE, &u16::from(date1904).to_le_bytes()));
            let mut fmt = 164u16.to_le_bytes().to_vec();
            fmt.extend(xlstr("#,##0.0,,\"M\""));
            s.extend(rec(FORMAT, &fmt));
            // XF 0 General, 1 built-in 15 (d-mmm-yy), 2 custom 164, 3 10 (0.00%).
            for id in [0u16, 15, 164, 10] {
                let mut xf = vec![0, 0];
                xf.extend_from_slice(&id.to_le_bytes());
                xf.extend_from_slice(&[0; 16]);
                s.extend(rec(XF, &xf));
            }
            s.extend(rec(EOF, &[]));
            s.extend(rec(BOF, &[0, 6, 0x10, 0]));
            let serial: f64 = if date1904 { 43524.0 } else { 44986.0 };
            s.extend(cell_rec(NUMBER, 0, 0, 1, &serial.to_bits().to_le_bytes()));
            s.extend(cell_rec(
                NUMBER,
                0,
                1,
                2,
                &2_500_000f64.to_bits().to_le_bytes(),
            ));
            // RK 1250 / 100 with XF 3 (percent); 0.69... in General.
            s.extend(cell_rec(RK, 0, 2, 3, &((1250u32 << 2) | 3).to_le_bytes()));
            let noise = 0.690_168_668_386_683_7f64;
            s.extend(cell_rec(NUMBER, 0, 3, 0, &noise.to_bits().to_le_bytes()));
            s.extend(cell_rec(BOOLERR, 0, 4, 0, &[0x07, 1]));
            // A formula's cached error: type 2, code 0x2A, then 0xFFFF.
            let mut formula = vec![2, 0, 0x2A, 0, 0, 0, 0xFF, 0xFF];
            formula.extend_from_slice(&[0; 8]);
            s.extend(cell_rec(FORMULA, 0, 5, 0, &formula));
            s.extend(rec(EOF, &[]));
            let w = walk_records(&s, &Budget::new(Limits::default()), false).unwrap();
            let texts: Vec<&str> = w.cells[0].iter().map(|c| c.2.as_str()).collect();
            assert_eq!(
                texts,
                [
                    "1-Mar-23",
                    "2.5M",
                    "1250.00%",
                    "0.690168668",
                    "#DIV/0!",
                    "#N/A"
                ],
                "date1904 = {date1904}"
            );
        }
    }

    #[test]
    fn comments_and_text_boxes_are_read_from_their_continue_records() {
        let mut s = rec(BOF, &[0, 6, 5, 0]);
        s.extend(rec(EOF, &[]));
        s.extend(rec(BOF, &[0, 6, 0x10, 0]));
        let txo = |chars: u16| {
            let mut d = vec![0u8; 18];
            d[10..12].copy_from_slice(&chars.to_le_bytes());
            rec(TXO, &d)
        };
        // "Secret note" split across two CONTINUEs, 8-bit then UTF-16.
        s.extend(txo(11));
        let mut first = vec![0u8];
        first.extend_from_slice(b"Secret ");
        s.extend(rec(CONTINUE, &first));
        let mut second = vec![1u8];
        for u in "n\u{f6}te".encode_utf16() {
            second.extend_from_slice(&u.to_le_bytes());
        }
        s.extend(rec(CONTINUE, &second));
        s.extend(rec(CONTINUE, &[0; 16])); // formatting runs
        s.extend(txo(40)); // claims more than its CONTINUE holds
        s.extend(rec(CONTINUE, b"\0box"));
        s.extend(rec(EOF, &[]));
        let budget = Budget::new(Limits::default());
        let w = walk_records(&s, &budget, false).unwrap();
        assert_eq!(
            w.notes,
            vec![(0, "Secret n\u{f6}te".to_string()), (0, "box".to_string())]
        );
        for cut in 0..s.len() {
            let _ = walk_records(&s[..cut], &budget, false);
        }
    }

    #[test]
    fn sst_continue_and_cells() {
        // Two strings; the second is split across a CONTINUE and switches
        // from 8-bit to UTF-16 there.
        let mut sst = 2u32.to_le_bytes().to_vec();
        sst.extend_from_slice(&2u32.to_le_bytes());
        sst.extend_from_slice(&[3, 0, 0]);
        sst.extend_from_slice(b"Foo");
        sst.extend_from_slice(&[6, 0, 0]);
        sst.extend_from_slice(b"Sec");
        let mut cont = vec![1u8];
        for u in "ret".encode_utf16() {
            cont.extend_from_slice(&u.to_le_bytes());
        }
        let mut s = rec(BOF, &[0, 6, 5, 0]);
        let mut bs = vec![0u8; 6];
        bs.extend_from_slice(&[2, 0]);
        bs.extend_from_slice(b"S1");
        s.extend(rec(BOUNDSHEET, &bs));
        s.extend(rec(SST, &sst));
        s.extend(rec(CONTINUE, &cont));
        s.extend(rec(EOF, &[]));
        s.extend(rec(BOF, &[0, 6, 0x10, 0]));
        let mut lsst = vec![1, 0, 0, 0, 0, 0];
        lsst.extend_from_slice(&1u32.to_le_bytes());
        s.extend(rec(LABELSST, &lsst));
        let mut l0 = vec![0, 0, 0, 0, 0, 0];
        l0.extend_from_slice(&0u32.to_le_bytes());
        s.extend(rec(LABELSST, &l0));
        let mut num = vec![0, 0, 1, 0, 0, 0];
        num.extend_from_slice(&42.5f64.to_bits().to_le_bytes());
        s.extend(rec(NUMBER, &num));
        let mut rkr = vec![1, 0, 1, 0, 0, 0];
        rkr.extend_from_slice(&((7u32 << 2) | 2).to_le_bytes());
        s.extend(rec(RK, &rkr));
        // An embedded chart substream inside the sheet is skipped.
        s.extend(rec(BOF, &[0, 6, 0x20, 0]));
        s.extend(rec(LABELSST, &l0));
        s.extend(rec(EOF, &[]));
        s.extend(rec(EOF, &[]));
        let budget = Budget::new(Limits::default());
        let w = walk_records(&s, &budget, false).unwrap();
        assert_eq!(w.names, vec!["S1".to_string()]);
        let mut cells = w.cells[0].clone();
        cells.sort();
        assert_eq!(
            cells,
            vec![
                (0, 0, "Foo".to_string()),
                (0, 1, "42.5".to_string()),
                (1, 0, "Secret".to_string()),
                (1, 1, "7".to_string())
            ]
        );
        for cut in 0..s.len() {
            let _ = walk_records(&s[..cut], &budget, false);
        }
    }

    /// A BIFF2-5 byte string: u8 count, characters.
    fn ansi8(s: &str) -> Vec<u8> {
        let mut d = vec![s.len() as u8];
        d.extend_from_slice(s.as_bytes());
        d
    }

    fn texts(w: &Walk, sheet: usize) -> Vec<String> {
        let mut cells = w.cells[sheet].clone();
        cells.sort();
        cells.into_iter().map(|c| c.2).collect()
    }

    /// Issue 17 defect 9: an Excel 4.0 worksheet is a bare BIFF4 stream
    /// with its own formats; labels, numbers as formatted, RK, a formula's
    /// cached string (STRING with a 16-bit count), Booleans and headers.
    #[test]
    fn excel_4_worksheet_is_read() {
        let mut s = rec(BOF4, &[0, 0, 0x10, 0, 0, 0]);
        // FORMATs numbered by order (the first field is not used).
        for code in ["General", "0.0%"] {
            let mut fmt = vec![0xFF, 0xFF];
            fmt.extend(ansi8(code));
            s.extend(rec(FORMAT, &fmt));
        }
        // XF 0 General, 1 built-in 14 (a date: no FORMAT 14), 2 "0.0%".
        for f in [0u8, 14, 1] {
            s.extend(rec(XF4, &[0, f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        }
        s.extend(rec(HEADER, &ansi8("&CQuarterly figures")));
        let mut label = vec![0, 0, 0, 0, 0, 0];
        label.extend_from_slice(&11u16.to_le_bytes());
        label.extend_from_slice(b"Total sales");
        s.extend(rec(LABEL, &label));
        s.extend(cell_rec(NUMBER, 0, 1, 1, &44986f64.to_bits().to_le_bytes()));
        s.extend(cell_rec(RK, 0, 2, 2, &((25u32 << 2) | 3).to_le_bytes()));
        let mut formula = vec![0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
        formula.extend_from_slice(&[0; 8]);
        s.extend(cell_rec(FORMULA4, 1, 0, 0, &formula));
        let mut string = 8u16.to_le_bytes().to_vec();
        string.extend_from_slice(b"computed");
        s.extend(rec(STRING, &string));
        s.extend(cell_rec(BOOLERR, 1, 1, 0, &[1, 0]));
        s.extend(rec(EOF, &[]));
        assert!(is_bare_biff(&s));
        let budget = Budget::new(Limits::default());
        let w = walk_records(&s, &budget, false).unwrap();
        assert!(w.names.is_empty());
        assert_eq!(
            texts(&w, 0),
            ["Total sales", "3/1/2023", "25.0%", "computed", "TRUE"]
        );
        assert_eq!(w.margins, vec![(0, false, "Quarterly figures".to_string())]);
        for cut in 0..s.len() {
            let _ = walk_records(&s[..cut], &budget, false);
        }
    }

    /// Excel 3.0: FORMAT records numbered by their order, a numeric
    /// formula result, and an Excel 4.0 workbook's named sheets.
    #[test]
    fn excel_3_worksheet_and_excel_4_workbook_are_read() {
        let mut s = rec(BOF3, &[0, 0, 0x10, 0, 0, 0]);
        s.extend(rec(FORMAT2, &ansi8("General")));
        s.extend(rec(FORMAT2, &ansi8("0.00")));
        s.extend(rec(XF3, &[0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
        let mut formula = 2.5f64.to_bits().to_le_bytes().to_vec();
        formula.extend_from_slice(&[0; 6]);
        s.extend(cell_rec(FORMULA3, 0, 0, 0, &formula));
        s.extend(rec(EOF, &[]));
        let budget = Budget::new(Limits::default());
        let w = walk_records(&s, &budget, false).unwrap();
        assert_eq!(texts(&w, 0), ["2.50"]);

        let mut b = rec(BOF4, &[0, 0, 0, 1, 0, 0]);
        let mut bundle = vec![0u8; 6];
        bundle.extend(ansi8("Alpha"));
        b.extend(rec(BUNDLESHEET, &bundle));
        b.extend(rec(EOF, &[]));
        b.extend(rec(BOF4, &[0, 0, 0x10, 0, 0, 0]));
        let mut label = vec![0, 0, 0, 0, 0, 0];
        label.extend_from_slice(&4u16.to_le_bytes());
        label.extend_from_slice(b"in A");
        b.extend(rec(LABEL, &label));
        b.extend(rec(EOF, &[]));
        assert!(is_bare_biff(&b));
        let w = walk_records(&b, &budget, false).unwrap();
        assert_eq!(w.names, ["Alpha"]);
        assert_eq!(texts(&w, 0), ["in A"]);
    }

    /// Excel 2.x: cells carry 3 attribute bytes, the second naming the
    /// number format; integers, labels, formulas with string results.
    #[test]
    fn excel_2_worksheet_is_read() {
        let mut s = rec(BOF2, &[2, 0, 0x10, 0]);
        s.extend(rec(FORMAT2, &ansi8("General")));
        s.extend(rec(FORMAT2, &ansi8("0%")));
        let cell2 = |kind: u16, row: u16, col: u16, format: u8, value: &[u8]| {
            let mut d = row.to_le_bytes().to_vec();
            d.extend_from_slice(&col.to_le_bytes());
            d.extend_from_slice(&[0, format, 0]);
            d.extend_from_slice(value);
            rec(kind, &d)
        };
        s.extend(cell2(LABEL2, 0, 0, 0, &ansi8("Old sheet")));
        s.extend(cell2(INTEGER2, 0, 1, 0, &42u16.to_le_bytes()));
        s.extend(cell2(NUMBER2, 0, 2, 1, &0.5f64.to_bits().to_le_bytes()));
        let formula = [0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
        s.extend(cell2(FORMULA, 1, 0, 0, &formula));
        s.extend(rec(STRING2, &ansi8("from a formula")));
        s.extend(cell2(BOOLERR2, 1, 1, 0, &[0x07, 1]));
        s.extend(rec(EOF, &[]));
        assert!(is_bare_biff(&s));
        let budget = Budget::new(Limits::default());
        let w = walk_records(&s, &budget, false).unwrap();
        assert_eq!(
            texts(&w, 0),
            ["Old sheet", "42", "50%", "from a formula", "#DIV/0!"]
        );
        for cut in 0..s.len() {
            let _ = walk_records(&s[..cut], &budget, false);
        }
    }

    #[test]
    fn bare_biff_needs_a_bof_of_a_known_shape() {
        assert!(!is_bare_biff(b""));
        assert!(!is_bare_biff(b"\x09\x00\x04\x00hello world"));
        // A BOF whose next record runs past the end.
        let mut s = rec(BOF4, &[0, 0, 0x10, 0, 0, 0]);
        s.extend_from_slice(&[0x04, 0x02, 0xFF, 0x00]);
        assert!(!is_bare_biff(&s));
    }
}
