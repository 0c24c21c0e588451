//! Word 97-2003 binary documents (MS-DOC): the FIB, the table stream's
//! piece table (CLX) and the story ranges of the character stream.

use super::bytes::{le_u16, le_u32};
use super::{cp1252_char, read_stream, read_stream_opt, Ole};
use crate::extract::decode::{charset_codepage, is_non_latin_codepage, lid_codepage};
use crate::extract::{ExtractError, ExtractResult, Extracted, PartKind};
use crate::model::budget::Budget;

/// Index of `fcClx` and `fcPlcfHdd` in FibRgFcLcb97 (pairs of u32).
const FC_CLX: usize = 33;
const FC_PLCF_HDD: usize = 11;

/// The FIB fields we use.
#[derive(Debug, Default)]
struct Fib {
    n_fib: u16,
    encrypted: bool,
    which_table: bool,
    fc_min: u32,
    fc_mac: u32,
    /// ccpText, ccpFtn, ccpHdd, ccpMcr, ccpAtn, ccpEdn, ccpTxbx, ccpHdrTxbx.
    ccp: [u32; 8],
    clx: (u32, u32),
    plcf_hdd: (u32, u32),
    /// Word 6/95 only: the language id the file was written under, the
    /// environment (1: Macintosh), the character set of the text (256:
    /// Macintosh), whether the text is in pieces (fast save), the font table.
    lid: u16,
    envr: u8,
    chse: u16,
    complex: bool,
    /// Word 95 fExtChar: with it the text may be stored as UTF-16.
    ext_char: bool,
    sttbf_ffn: (u32, u32),
}

/// Word 6/95 FIB offsets: fcSttbfffn/lcbSttbfffn and fcClx/lcbClx.
const W6_STTBF_FFN: usize = 0xD0;
const W6_CLX: usize = 0x160;

fn parse_fib(w: &[u8]) -> ExtractResult<Fib> {
    let bad = || ExtractError::corrupt("Word FIB truncated");
    let n_fib = le_u16(w, 2).ok_or_else(bad)?;
    let word95 = (101..=105).contains(&n_fib);
    if le_u16(w, 0) != Some(0xA5EC) && le_u16(w, 0) != Some(0xA5DC) && !word95 {
        return Err(ExtractError::corrupt("Word FIB signature missing"));
    }
    let flags = le_u16(w, 10).ok_or_else(bad)?;
    let mut fib = Fib {
        n_fib,
        encrypted: flags & 0x0100 != 0,
        which_table: flags & 0x0200 != 0,
        fc_min: le_u32(w, 24).ok_or_else(bad)?,
        fc_mac: le_u32(w, 28).ok_or_else(bad)?,
        ..Fib::default()
    };
    if n_fib < 150 {
        // Word 6/95 (nFib 101-105) and older: no FibRgLw97, no 97 piece table.
        // Word 6 FIB: ccpText .. ccpHdrTxbx at 0x34 .. 0x50.
        for (i, slot) in fib.ccp.iter_mut().enumerate() {
            *slot = le_u32(w, 0x34 + i * 4).unwrap_or(0);
        }
        let pair = |at: usize| Some((le_u32(w, at)?, le_u32(w, at + 4)?));
        fib.lid = le_u16(w, 6).unwrap_or(0);
        fib.envr = w.get(18).copied().unwrap_or(0);
        fib.chse = le_u16(w, 20).unwrap_or(0);
        fib.complex = flags & 0x0004 != 0;
        fib.ext_char = flags & 0x1000 != 0;
        fib.sttbf_ffn = pair(W6_STTBF_FFN).unwrap_or((0, 0));
        fib.clx = pair(W6_CLX).unwrap_or((0, 0));
        return Ok(fib);
    }
    let csw = le_u16(w, 32).ok_or_else(bad)? as usize;
    let lw = 34 + csw * 2;
    let cslw = le_u16(w, lw).ok_or_else(bad)? as usize;
    let rglw = lw + 2;
    if cslw < 11 {
        return Err(bad());
    }
    for (i, slot) in fib.ccp.iter_mut().enumerate() {
        *slot = le_u32(w, rglw + 12 + i * 4).ok_or_else(bad)?;
    }
    let blob_len_at = rglw + cslw * 4;
    let cb = le_u16(w, blob_len_at).ok_or_else(bad)? as usize;
    let blob = blob_len_at + 2;
    let pair = |i: usize| -> Option<(u32, u32)> {
        if i >= cb {
            return None;
        }
        Some((le_u32(w, blob + i * 8)?, le_u32(w, blob + i * 8 + 4)?))
    };
    fib.clx = pair(FC_CLX).ok_or_else(bad)?;
    fib.plcf_hdd = pair(FC_PLCF_HDD).unwrap_or((0, 0));
    Ok(fib)
}

pub(super) fn extract(
    ole: &mut Ole<'_>,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let word = read_stream(ole, "/WordDocument", budget)?;
    out.parts_read.push("WordDocument".into());
    let fib = parse_fib(&word)?;
    if fib.encrypted {
        return Err(ExtractError::encrypted(
            "Word document encrypted (FIB fEncrypted)",
        ));
    }
    if fib.n_fib < 150 {
        return extract_word95(&word, &fib, budget, out);
    }
    let table_name = if fib.which_table {
        "/1Table"
    } else {
        "/0Table"
    };
    let table = read_stream_opt(ole, table_name, budget)?
        .ok_or_else(|| ExtractError::corrupt("Word table stream missing"))?;
    out.parts_read.push(table_name[1..].to_string());

    let max_chars = budget.text_room();
    let units = piece_text(&word, &table, fib.clx, max_chars, budget, Pieces::Word97)?;
    let mut cp = 0usize;
    let mut story = |len: u32| {
        let start = cp.min(units.len());
        cp = cp.saturating_add(len as usize);
        (start, cp.min(units.len()))
    };
    let [text, ftn, hdd, mcr, atn, edn, txbx, hdr_txbx] = fib.ccp;
    let body = story(text);
    let footnotes = story(ftn);
    let headers = story(hdd);
    let _macros = story(mcr);
    let comments = story(atn);
    let endnotes = story(edn);
    let textboxes = story(txbx);
    let header_boxes = story(hdr_txbx);

    out.push_part(PartKind::Body, "main text", clean(&units[body.0..body.1]));
    split_headers(&units[headers.0..headers.1], &table, fib.plcf_hdd, out);
    // Text boxes anchored in headers print on every page, like the header itself.
    let stories = [
        (PartKind::Footnote, "footnotes", footnotes),
        (PartKind::Comment, "comments", comments),
        (PartKind::Endnote, "endnotes", endnotes),
        (PartKind::Other, "text boxes", textboxes),
        (PartKind::Header, "header text boxes", header_boxes),
    ];
    for (kind, location, (start, end)) in stories {
        out.push_part(kind, location, clean(&units[start..end]));
    }
    Ok(())
}

/// Word for Windows 1.x and 2.0 (wIdent 0xA59B or 0xA5DB, nFib below
/// Word 6's 101): no OLE container, the file is the document stream, its
/// FIB starts as Word 6's (fcMin, fcMac, ccpText ... at the same offsets).
pub(crate) fn is_word2(bytes: &[u8]) -> bool {
    let (Some(ident), Some(n_fib), Some(fc_min), Some(fc_mac)) = (
        le_u16(bytes, 0),
        le_u16(bytes, 2),
        le_u32(bytes, 24),
        le_u32(bytes, 28),
    ) else {
        return false;
    };
    matches!(ident, 0xA59B | 0xA5DB)
        && (0x10..101).contains(&n_fib)
        && fc_min >= 0x20
        && fc_min < fc_mac
        && fc_mac as usize <= bytes.len()
}

/// Word 1.x/2.0: 8-bit Windows text between fcMin and fcMac, split into
/// the main text, footnotes and headers by their lengths. A fast-saved file
/// (fComplex) is read the same way: where its piece table lives in this
/// FIB is not known here, so text it deleted may show too.
pub(super) fn extract_word2(
    bytes: &[u8],
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    super::within_part_limit(
        bytes.len() as u64,
        budget,
        "a Word 2 document's size exceeds the part limit",
    )?;
    out.parts_read.push("Word 2 document".into());
    let bad = || ExtractError::corrupt("Word 2 FIB truncated");
    let flags = le_u16(bytes, 10).ok_or_else(bad)?;
    if flags & 0x0100 != 0 {
        return Err(ExtractError::encrypted(
            "Word document encrypted (FIB fEncrypted)",
        ));
    }
    let mut fib = Fib {
        n_fib: le_u16(bytes, 2).ok_or_else(bad)?,
        fc_min: le_u32(bytes, 24).ok_or_else(bad)?,
        fc_mac: le_u32(bytes, 28).ok_or_else(bad)?,
        lid: le_u16(bytes, 6).unwrap_or(0),
        ..Fib::default()
    };
    for (i, slot) in fib.ccp.iter_mut().take(3).enumerate() {
        *slot = le_u32(bytes, 0x34 + i * 4).unwrap_or(0);
    }
    extract_word95(bytes, &fib, budget, out)
}

/// Word 6/95: 8-bit text in the code page of the system that wrote it,
/// from the piece table of a fast-saved file or else between fcMin and fcMac.
fn extract_word95(
    word: &[u8],
    fib: &Fib,
    budget: &Budget,
    out: &mut Extracted,
) -> ExtractResult<()> {
    let start = fib.fc_min as usize;
    let end = (fib.fc_mac as usize).min(word.len());
    if start >= end {
        return Err(ExtractError::corrupt("Word 6/95 text range invalid"));
    }
    budget.check_time()?;
    let max_chars = budget.text_room();
    let eight = EightBit::new(word95_codepage(word, fib, &word[start..end]));
    let wide = fib.ext_char && looks_utf16(&word[start..end]);
    let mode = if wide {
        Pieces::Utf16
    } else {
        Pieces::EightBit(&eight)
    };
    let pieces = if fib.complex && fib.clx.1 > 0 {
        piece_text(word, word, fib.clx, max_chars, budget, mode).ok()
    } else {
        None
    };
    let units = pieces.unwrap_or_else(|| {
        let mut units = Vec::new();
        if wide {
            let raw = &word[start..end.min(start.saturating_add(max_chars.saturating_mul(2)))];
            units.extend(
                raw.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]])),
            );
        } else {
            eight.extend(
                &word[start..end.min(start.saturating_add(max_chars))],
                &mut units,
            );
        }
        units
    });
    // Split off footnotes and headers when the story lengths add up.
    let [text, ftn, hdd, ..] = fib.ccp.map(|c| c as usize);
    let sum = text.saturating_add(ftn).saturating_add(hdd);
    if text > 0 && sum <= units.len() {
        out.push_part(PartKind::Body, "main text", clean(&units[..text]));
        out.push_part(
            PartKind::Footnote,
            "footnotes",
            clean(&units[text..text + ftn]),
        );
        out.push_part(
            PartKind::Header,
            "headers and footers",
            clean(&units[text + ftn..sum]),
        );
    } else {
        out.push_part(PartKind::Body, "main text", clean(&units));
    }
    Ok(())
}

/// The code page of a Word 6/95 file's text. Word 6 was not Unicode: it
/// wrote the bytes of the system it ran on. The FIB says Macintosh or
/// Windows and which language's Word saved the file; an English Word on a
/// Russian system says English, so the font table's character sets decide
/// then (Cyrillic text is set in a "Times New Roman Cyr", charset 204), as
/// in POI's and LibreOffice's readers. A non-Latin font that the text does
/// not look like (a few accents, not whole words of high bytes) is ignored.
fn word95_codepage(word: &[u8], fib: &Fib, text: &[u8]) -> u16 {
    let from_lid = lid_codepage(fib.lid).filter(|&cp| cp != 1252);
    let from_fonts = word95_font_charsets(word, fib.sttbf_ffn)
        .into_iter()
        .filter_map(charset_codepage)
        .find(|&cp| cp != 1252 && cp != 10000);
    if fib.chse == 256 || fib.envr == 1 {
        // Macintosh Roman, or Mac Cyrillic (the only other Mac set we decode).
        return if from_lid.or(from_fonts) == Some(1251) {
            10007
        } else {
            10000
        };
    }
    if let Some(cp) = from_lid {
        return cp;
    }
    match from_fonts {
        Some(cp) if !is_non_latin_codepage(cp) || mostly_high_bytes(text) => cp,
        _ => 1252,
    }
}

/// Whether text bytes are UTF-16 of mostly Latin text: Word 95 with
/// fExtChar may store its text so (POI Bug51944.doc); most odd bytes are 0.
fn looks_utf16(text: &[u8]) -> bool {
    let sample = &text[..text.len().min(64 * 1024)];
    let odd = sample.len() / 2;
    let zeros = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    odd > 0 && zeros * 10 >= odd * 6
}

/// Whether at least a quarter of the letters of 8-bit text are high bytes:
/// whole words of a non-Latin script, not the accents of a Western text.
fn mostly_high_bytes(text: &[u8]) -> bool {
    let sample = &text[..text.len().min(64 * 1024)];
    let high = sample.iter().filter(|&&b| b >= 0x80).count();
    let ascii = sample.iter().filter(|b| b.is_ascii_alphabetic()).count();
    high > 0 && high * 4 >= high + ascii
}

/// The character set (`chs`) of each font in a Word 6/95 font table: a
/// 16-bit total size, then FFN entries that start with their size less one
/// and hold the character set at offset 4.
fn word95_font_charsets(word: &[u8], (fc, lcb): (u32, u32)) -> Vec<u8> {
    let start = fc as usize;
    let Some(table) = word.get(start..start.saturating_add(lcb as usize).min(word.len())) else {
        return Vec::new();
    };
    let mut charsets = Vec::new();
    let mut p = 2;
    while let Some(&size_m1) = table.get(p) {
        let entry = &table[p..table.len().min(p + size_m1 as usize + 1)];
        if let Some(&chs) = entry.get(4) {
            charsets.push(chs);
        }
        p += size_m1 as usize + 1;
        if charsets.len() >= 1024 {
            break;
        }
    }
    charsets
}

/// 8-bit text of one code page, decoded byte by byte so that indexes stay
/// character positions: a double-byte character's second position holds
/// a NUL, which `clean` drops.
struct EightBit {
    table: [u16; 256],
    /// The encoding of a double-byte code page (932, 936, 949, 950).
    dbcs: Option<&'static encoding_rs::Encoding>,
}

impl EightBit {
    fn new(codepage: u16) -> EightBit {
        let enc = codepage::to_encoding(codepage).unwrap_or(encoding_rs::WINDOWS_1252);
        let mut table = [0u16; 256];
        for (b, slot) in table.iter_mut().enumerate() {
            *slot = if enc == encoding_rs::WINDOWS_1252 || b < 0x80 {
                cp1252_char(b as u8) as u16
            } else {
                let byte = [b as u8];
                let (text, _) = enc.decode_without_bom_handling(&byte);
                text.encode_utf16().next().unwrap_or(0xFFFD)
            };
        }
        let dbcs = matches!(codepage, 932 | 936 | 949 | 950).then_some(enc);
        EightBit { table, dbcs }
    }

    fn extend(&self, raw: &[u8], units: &mut Vec<u16>) {
        let Some(enc) = self.dbcs else {
            units.extend(raw.iter().map(|&b| self.table[b as usize]));
            return;
        };
        let mut i = 0;
        while i < raw.len() {
            let b = raw[i];
            let lead = if enc == encoding_rs::SHIFT_JIS {
                matches!(b, 0x81..=0x9F | 0xE0..=0xFC)
            } else {
                b >= 0x81 && b != 0xFF
            };
            if lead && i + 1 < raw.len() {
                let (text, _) = enc.decode_without_bom_handling(&raw[i..i + 2]);
                units.push(text.encode_utf16().next().unwrap_or(0xFFFD));
                units.push(0);
                i += 2;
            } else {
                units.push(self.table[b as usize]);
                i += 1;
            }
        }
    }
}

/// How the bytes of a text piece become UTF-16 code units.
#[derive(Clone, Copy)]
enum Pieces<'a> {
    /// Word 97 and later: a flag in each piece's position says 8-bit
    /// (MS-DOC "compressed": Windows-1252 whatever the language, as
    /// LibreOffice reads it too; other text is in UTF-16 pieces) or UTF-16.
    Word97,
    /// Word 6/95: every piece is 8-bit text at a byte offset.
    EightBit(&'a EightBit),
    /// Word 95 with UTF-16 text: every piece is UTF-16 at a byte offset.
    Utf16,
}

/// Assembles the document's character stream (all stories) from the piece
/// table, as UTF-16 code units indexed by character position.
fn piece_text(
    word: &[u8],
    table: &[u8],
    clx: (u32, u32),
    max_chars: usize,
    budget: &Budget,
    pieces: Pieces<'_>,
) -> ExtractResult<Vec<u16>> {
    let bad = |what: &str| ExtractError::corrupt(format!("Word piece table {what}"));
    let start = clx.0 as usize;
    let end = start.saturating_add(clx.1 as usize).min(table.len());
    let clx = table.get(start..end).ok_or_else(|| bad("out of range"))?;
    // Skip Prc entries (clxt 1) to reach the Pcdt (clxt 2).
    let mut p = 0usize;
    let plc = loop {
        match clx.get(p) {
            Some(1) => {
                let cb = le_u16(clx, p + 1).ok_or_else(|| bad("truncated"))? as i16;
                p += 3 + cb.max(0) as usize;
            }
            Some(2) => {
                let lcb = le_u32(clx, p + 1).ok_or_else(|| bad("truncated"))? as usize;
                let body = clx.get(p + 5..).ok_or_else(|| bad("truncated"))?;
                break &body[..lcb.min(body.len())];
            }
            _ => return Err(bad("missing")),
        }
    };
    if plc.len() < 16 {
        return Err(bad("empty"));
    }
    let n = (plc.len() - 4) / 12;
    let mut units: Vec<u16> = Vec::new();
    for i in 0..n {
        if i.is_multiple_of(256) {
            budget.check_time()?;
        }
        let (Some(cp0), Some(cp1)) = (le_u32(plc, i * 4), le_u32(plc, i * 4 + 4)) else {
            break;
        };
        let pcd = (n + 1) * 4 + i * 8;
        let Some(fc) = le_u32(plc, pcd + 2) else {
            break;
        };
        let count = cp1.saturating_sub(cp0) as usize;
        // Pieces are in CP order; pad gaps so indexes stay character positions.
        if (cp0 as usize) > units.len() && (cp0 as usize) <= max_chars {
            units.resize(cp0 as usize, 0);
        }
        let room = max_chars.saturating_sub(units.len());
        let count = count.min(room);
        if count == 0 {
            continue;
        }
        if let Pieces::EightBit(eight) = pieces {
            let off = fc as usize;
            let end = off.saturating_add(count).min(word.len());
            if let Some(raw) = word.get(off..end) {
                eight.extend(raw, &mut units);
            }
        } else if matches!(pieces, Pieces::Word97) && fc & 0x4000_0000 != 0 {
            let off = ((fc & 0x3FFF_FFFF) / 2) as usize;
            let end = off.saturating_add(count).min(word.len());
            if let Some(raw) = word.get(off..end) {
                units.extend(raw.iter().map(|&b| cp1252_char(b) as u16));
            }
        } else {
            let off = fc as usize;
            let end = off.saturating_add(count * 2).min(word.len());
            if let Some(raw) = word.get(off..end) {
                units.extend(
                    raw.chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]])),
                );
            }
        }
    }
    Ok(units)
}

/// Splits the header story into headers and footers with PlcfHdd: after six
/// separator stories, each section has even/odd header, even/odd footer,
/// first-page header, first-page footer.
fn split_headers(units: &[u16], table: &[u8], plcf: (u32, u32), out: &mut Extracted) {
    if units.is_empty() {
        return;
    }
    let start = plcf.0 as usize;
    let plc = table.get(start..start.saturating_add(plcf.1 as usize).min(table.len()));
    let cps: Vec<usize> = match plc {
        Some(plc) if plc.len() >= 8 => plc
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect(),
        _ => Vec::new(),
    };
    if cps.len() < 2 || cps.windows(2).any(|w| w[0] > w[1]) {
        out.push_part(PartKind::Header, "headers and footers", clean(units));
        return;
    }
    let mut headers: Vec<String> = Vec::new();
    let mut footers: Vec<String> = Vec::new();
    for (i, w) in cps.windows(2).enumerate() {
        let (a, b) = (w[0].min(units.len()), w[1].min(units.len()));
        if a >= b || i < 6 {
            continue;
        }
        let text = clean(&units[a..b]).trim_end_matches('\n').to_string();
        if text.trim().is_empty() {
            continue;
        }
        let list = match (i - 6) % 6 {
            0 | 1 | 4 => &mut headers,
            _ => &mut footers,
        };
        if !list.contains(&text) {
            list.push(text);
        }
    }
    out.push_part(PartKind::Header, "headers", headers.join("\n"));
    out.push_part(PartKind::Footer, "footers", footers.join("\n"));
}

/// Longest field instruction kept to find a hyperlink's target or a macro
/// button's text; Word's own limit for a field code is 255 characters of
/// arguments, this leaves room for long URLs.
pub(crate) const MAX_FIELD_CODE: usize = 4096;

/// A field (0x13 code 0x14 result 0x15) being read.
#[derive(Default)]
struct Field {
    /// True while in its code part.
    in_code: bool,
    /// Its code, when it is not inside another field's code.
    code: String,
    /// What to add after its result: a hyperlink's target.
    after_result: Option<String>,
}

/// Turns Word's character stream into lines: paragraph marks and breaks
/// become newlines, cell marks tabs (row ends newlines), other control
/// characters removed. A field shows its result, as Word does; from its
/// code only what a reader also sees (see [`field_code_text`]).
pub(super) fn clean(units: &[u16]) -> String {
    let mut s = String::with_capacity(units.len());
    let mut fields: Vec<Field> = Vec::new();
    let mut last_cell = false;
    for r in char::decode_utf16(units.iter().copied()) {
        let c = r.unwrap_or('\u{FFFD}');
        match c {
            '\u{13}' => {
                if fields.len() < 64 {
                    fields.push(Field {
                        in_code: true,
                        ..Field::default()
                    });
                }
                continue;
            }
            '\u{14}' => {
                end_field_code(&mut fields, &mut s);
                continue;
            }
            '\u{15}' => {
                end_field_code(&mut fields, &mut s);
                if let Some(after) = fields.pop().and_then(|f| f.after_result) {
                    s.push_str(" (");
                    s.push_str(&after);
                    s.push(')');
                }
                continue;
            }
            _ => {}
        }
        if let Some(depth) = fields.iter().position(|f| f.in_code) {
            // Codes of fields nested in another code are never shown.
            if depth + 1 == fields.len() {
                let code = &mut fields[depth].code;
                if code.len() < MAX_FIELD_CODE {
                    code.push(c);
                }
            }
            continue;
        }
        match c {
            '\r' | '\u{0B}' | '\u{0C}' | '\u{0E}' => {
                s.push('\n');
                last_cell = false;
            }
            '\u{07}' => {
                if last_cell {
                    // Cell mark right after a cell mark: end of row.
                    s.pop();
                    s.push('\n');
                    last_cell = false;
                } else {
                    s.push('\t');
                    last_cell = true;
                }
            }
            '\t' => {
                s.push('\t');
                last_cell = false;
            }
            '\u{1E}' => s.push('-'),
            '\u{A0}' => s.push(' '),
            c if (c as u32) < 0x20 || c == '\u{1F}' || c == '\u{FFFD}' => {}
            c => {
                s.push(c);
                last_cell = false;
            }
        }
    }
    // A tab left at the end of a line by a lone cell mark.
    if s.contains("\t\n") {
        s = s.replace("\t\n", "\n");
    }
    s
}

/// Ends the code part of the innermost field (at its separator, or at its
/// end when it has no result) and writes what its code shows.
fn end_field_code(fields: &mut [Field], s: &mut String) {
    let outer_in_code = fields.iter().rev().skip(1).any(|f| f.in_code);
    let Some(top) = fields.last_mut() else { return };
    if !top.in_code {
        return;
    }
    top.in_code = false;
    if outer_in_code {
        return;
    }
    match field_code_text(&top.code) {
        Some(FieldText::Shown(text)) => s.push_str(&text),
        Some(FieldText::AfterResult(text)) => top.after_result = Some(text),
        None => {}
    }
    top.code = String::new();
}

/// Text of a field's code that a reader sees.
#[derive(Debug, PartialEq)]
pub(crate) enum FieldText {
    /// Shown in place of a result: a MACROBUTTON's display text, which
    /// Word shows although the field has no result.
    Shown(String),
    /// A HYPERLINK's target and screen tip: shown when the pointer rests on
    /// the link, and where a URL carries a token or an address, a finding
    /// (SPEC: text a reader does not see at first glance is scanned too).
    AfterResult(String),
}

pub(crate) fn field_code_text(code: &str) -> Option<FieldText> {
    let code = code.trim_start();
    let (name, rest) = code.split_once(char::is_whitespace).unwrap_or((code, ""));
    if name.eq_ignore_ascii_case("MACROBUTTON") {
        let rest = rest.trim_start();
        let (_macro, display) = rest.split_once(char::is_whitespace)?;
        let display = display.trim();
        return (!display.is_empty()).then(|| FieldText::Shown(display.to_string()));
    }
    if name.eq_ignore_ascii_case("HYPERLINK") {
        let shown = hyperlink_target_and_tip(rest);
        return (!shown.is_empty()).then(|| FieldText::AfterResult(shown.join(" ")));
    }
    None
}

/// The target (first argument) and the `\o` screen tip of a HYPERLINK
/// field's arguments; a `\l` bookmark or `\t` frame name is no text.
fn hyperlink_target_and_tip(args: &str) -> Vec<String> {
    let mut shown = Vec::new();
    let mut target_seen = false;
    let mut switch: Option<char> = None;
    for arg in field_arguments(args) {
        if let Some(name) = arg.strip_prefix('\\').and_then(|a| a.chars().next()) {
            let name = name.to_ascii_lowercase();
            switch = matches!(name, 'l' | 'o' | 't').then_some(name);
            continue;
        }
        match switch.take() {
            Some('o') => shown.push(arg),
            Some(_) => {}
            None if !target_seen => {
                target_seen = true;
                shown.push(arg);
            }
            None => {}
        }
    }
    shown
}

/// A field code's arguments: words, or text in straight or curly quotes
/// without them.
fn field_arguments(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = args.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut arg = String::new();
        if matches!(c, '"' | '\u{201C}') {
            chars.next();
            for c in chars.by_ref() {
                if matches!(c, '"' | '\u{201D}') {
                    break;
                }
                arg.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        if !arg.is_empty() {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn clean_handles_fields_cells_and_marks() {
        let text = u("Hello\r\u{13} PAGE \u{14}7\u{15} end\rA\u{7}B\u{7}\u{7}C\u{7}D\u{7}\u{7}line\u{b}two\u{1}");
        assert_eq!(clean(&text), "Hello\n7 end\nA\tB\nC\tD\nline\ntwo");
        // Nested field: code of the outer field hides the inner one entirely.
        let text = u("a\u{13}IF \u{13}PAGE\u{14}1\u{15} x\u{14}shown\u{15}b");
        assert_eq!(clean(&text), "ashownb");
    }

    /// Issue 17: POI's `Bug53380_2.doc`, `hyperlink.doc`. Word shows a
    /// MACROBUTTON's display text (it has no result) and a hyperlink's
    /// target on pointing at it; both were dropped with the field code.
    #[test]
    fn macrobutton_text_and_hyperlink_targets_are_read() {
        let text = u("\u{13} MACROBUTTON NoMacro [Document Title] \u{15}\tnext");
        assert_eq!(clean(&text), "[Document Title]\tnext");
        let text = u("See \u{13} HYPERLINK \"http://testuri.org/?sig=abc\" \\o \"Tip text\" \u{14}the link\u{15}; after");
        assert_eq!(
            clean(&text),
            "See the link (http://testuri.org/?sig=abc Tip text); after"
        );
        // A link to a bookmark of the document itself has no target to show.
        let text = u("\u{13}HYPERLINK \\l \"_Toc1\"\u{14}Chapter\u{15}");
        assert_eq!(clean(&text), "Chapter");
        // A hyperlink inside another field's code stays hidden.
        let text =
            u("a\u{13}IF \u{13}HYPERLINK \"http://x.org\"\u{14}in\u{15} x\u{14}shown\u{15}b");
        assert_eq!(clean(&text), "ashownb");
    }

    #[test]
    fn fib_rejects_garbage_and_truncation() {
        assert!(parse_fib(b"nonsense").is_err());
        let mut w = vec![0u8; 40];
        w[0] = 0xEC;
        w[1] = 0xA5;
        w[2] = 0xC1; // nFib 193
        assert!(parse_fib(&w).is_err());
    }
}
