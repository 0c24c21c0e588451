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
    if walk.names.is_empty() && walk.cells.is_empty() {
        return Err(ExtractError::corrupt("Excel workbook has no sheets"));
    }
    let sheets = walk.names.len().max(walk.cells.len());
    for i in 0..sheets {
        budget.check_time()?;
        let name = walk
            .names
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{}", i + 1));
        let location = format!("sheet \"{name}\"");
        out.push_part_laid_out(PartKind::SheetName, location.clone(), name, Layout::Whole);
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
        match kind {
            BOF => {
                if depth == 0 {
                    substream += 1;
                    if substream == -1 {
                        biff8 = le_u16(data, 0).is_none_or(|v| v >= 0x0600);
                    } else if substream == 0 {
                        styles.compile();
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
        if substream == -1 {
            match kind {
                FILEPASS if !decrypted => {
                    walk.encrypted = true;
                    break;
                }
                DATEMODE => styles.date1904 = le_u16(data, 0) == Some(1),
                XF => styles.xf_formats.push(le_u16(data, 2).unwrap_or(0)),
                FORMAT => {
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
        let row = le_u16(data, 0).unwrap_or(0);
        let col = le_u16(data, 2).unwrap_or(0);
        let xf = le_u16(data, 4).unwrap_or(0);
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
                    data.get(6..).and_then(|d| {
                        let n = le_u16(d, 0)? as usize;
                        Some(
                            d.get(2..)?
                                .iter()
                                .take(n)
                                .map(|&b| cp1252_char(b))
                                .collect(),
                        )
                    })
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
                    let t = match (is_err, v) {
                        (0, 0) => "FALSE",
                        (0, _) => "TRUE",
                        _ => numfmt::error_text(v),
                    };
                    cell(row, col, t.to_string(), &mut walk);
                }
            }
            FORMULA => {
                pending = None;
                if data.get(12..14) == Some(&[0xFF, 0xFF]) {
                    match data.get(6) {
                        Some(0) => pending = Some((row, col)),
                        Some(1) => {
                            let t = if data.get(8).copied().unwrap_or(0) != 0 {
                                "TRUE"
                            } else {
                                "FALSE"
                            };
                            cell(row, col, t.to_string(), &mut walk);
                        }
                        Some(2) => {
                            let code = data.get(8).copied().unwrap_or(0xFF);
                            cell(row, col, numfmt::error_text(code).to_string(), &mut walk);
                        }
                        _ => {}
                    }
                } else if let Some(v) = le_u64(data, 6) {
                    cell(row, col, styles.show(f64::from_bits(v), xf), &mut walk);
                }
            }
            STRING => {
                if let Some((r, c)) = pending.take() {
                    let t = if biff8 {
                        long_unicode(data)
                    } else {
                        short_ansi(data)
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
}
