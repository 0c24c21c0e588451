//! Word 97-2003 binary documents (MS-DOC): the FIB, the table stream's
//! piece table (CLX) and the story ranges of the character stream.

use super::bytes::{le_u16, le_u32};
use super::{cp1252_char, read_stream, read_stream_opt, Ole};
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
}

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

    let max_chars = budget.limits.max_text_chars;
    let units = piece_text(&word, &table, fib.clx, max_chars, budget)?;
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

/// Word 6/95: best effort, the text between fcMin and fcMac as 8-bit.
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
    let units: Vec<u16> = word[start..end]
        .iter()
        .take(budget.limits.max_text_chars)
        .map(|&b| cp1252_char(b) as u16)
        .collect();
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

/// Assembles the document's character stream (all stories) from the piece
/// table, as UTF-16 code units indexed by character position.
fn piece_text(
    word: &[u8],
    table: &[u8],
    clx: (u32, u32),
    max_chars: usize,
    budget: &Budget,
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
        if fc & 0x4000_0000 != 0 {
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

/// Turns Word's character stream into lines: paragraph marks and breaks
/// become newlines, cell marks tabs (row ends newlines), field codes are
/// dropped and their results kept, other control characters removed.
pub(super) fn clean(units: &[u16]) -> String {
    let mut s = String::with_capacity(units.len());
    // One entry per open field: true while in its code part.
    let mut fields: Vec<bool> = Vec::new();
    let mut last_cell = false;
    for r in char::decode_utf16(units.iter().copied()) {
        let c = r.unwrap_or('\u{FFFD}');
        match c {
            '\u{13}' => {
                if fields.len() < 64 {
                    fields.push(true);
                }
                continue;
            }
            '\u{14}' => {
                if let Some(top) = fields.last_mut() {
                    *top = false;
                }
                continue;
            }
            '\u{15}' => {
                fields.pop();
                continue;
            }
            _ => {}
        }
        if fields.iter().any(|&in_code| in_code) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn clean_handles_fields_cells_and_marks() {
        let text = u("Hello\r\u{13} HYPERLINK \"x\" \u{14}link\u{15} end\rA\u{7}B\u{7}\u{7}C\u{7}D\u{7}\u{7}line\u{b}two\u{1}");
        assert_eq!(clean(&text), "Hello\nlink end\nA\tB\nC\tD\nline\ntwo");
        // Nested field: code of the outer field hides the inner one entirely.
        let text = u("a\u{13}IF \u{13}PAGE\u{14}1\u{15} x\u{14}shown\u{15}b");
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
