//! Excel 97-2003 workbooks (BIFF8, and BIFF5 where calamine copes): cells
//! come from calamine; our own record walker reads the things calamine does
//! not expose: FILEPASS (encryption), sheet HEADER and FOOTER records.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use calamine::{Data, Reader, Xls};

use super::bytes::le_u16;
use super::{cp1252_char, read_stream_opt, Ole};
use crate::budget::Budget;
use crate::extract::{ExtractError, ExtractResult, Extracted, PartKind};

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000A;
const HEADER: u16 = 0x0014;
const FOOTER: u16 = 0x0015;
const FILEPASS: u16 = 0x002F;
const BOUNDSHEET: u16 = 0x0085;

/// What the record walk found.
#[derive(Debug, Default)]
struct Walk {
    encrypted: bool,
    /// Sheet names from BOUNDSHEET, in substream order.
    names: Vec<String>,
    /// (sheet index, is_footer, text) for each non-empty HEADER/FOOTER.
    margins: Vec<(usize, bool, String)>,
}

pub(super) fn extract(
    ole: &mut Ole<'_>,
    file: &[u8],
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
    out.parts_read.push(name.into());
    let walk = walk_records(&stream, budget)?;
    if walk.encrypted {
        return Err(ExtractError::encrypted(
            "Excel workbook encrypted (FILEPASS)",
        ));
    }
    drop(stream);

    let cells = catch_unwind(AssertUnwindSafe(|| read_cells(file, budget)));
    let sheets = match cells {
        Ok(Ok(sheets)) => sheets,
        Ok(Err(e)) => {
            push_margins(&walk, out);
            return Err(e);
        }
        Err(_) => {
            push_margins(&walk, out);
            return Err(ExtractError::corrupt("Excel cell records unreadable"));
        }
    };
    for (name, text) in &sheets {
        out.push_part(
            PartKind::SheetName,
            format!("sheet \"{name}\""),
            name.clone(),
        );
        out.push_part(PartKind::Sheet, format!("sheet \"{name}\""), text.clone());
    }
    if sheets.is_empty() {
        for name in &walk.names {
            out.push_part(
                PartKind::SheetName,
                format!("sheet \"{name}\""),
                name.clone(),
            );
        }
    }
    push_margins(&walk, out);
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

/// Reads every sheet's cells (hidden sheets included) as tab-separated rows.
fn read_cells(file: &[u8], budget: &Budget) -> ExtractResult<Vec<(String, String)>> {
    let mut book: Xls<_> = Xls::new(Cursor::new(file))
        .map_err(|_| ExtractError::corrupt("Excel workbook structure unreadable"))?;
    let names: Vec<String> = book
        .sheets_metadata()
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let mut left = budget.limits.max_text_chars;
    let mut sheets = Vec::new();
    for name in names {
        budget.check_time()?;
        let Ok(range) = book.worksheet_range(&name) else {
            sheets.push((name, String::new()));
            continue;
        };
        let mut text = String::new();
        for (i, row) in range.rows().enumerate() {
            if i % 1024 == 0 {
                budget.check_time()?;
            }
            let last = row.iter().rposition(|c| !matches!(c, Data::Empty));
            let Some(last) = last else { continue };
            for (j, cell) in row[..=last].iter().enumerate() {
                if j > 0 {
                    text.push('\t');
                }
                match cell {
                    Data::Empty => {}
                    Data::String(s) => text.push_str(&s.replace(['\n', '\r', '\t'], " ")),
                    other => text.push_str(&other.to_string()),
                }
            }
            text.push('\n');
            if text.len() > left {
                break;
            }
        }
        left = left.saturating_sub(text.len());
        sheets.push((name, text));
    }
    Ok(sheets)
}

/// Walks the BIFF record stream for FILEPASS, BOUNDSHEET, HEADER and FOOTER.
fn walk_records(s: &[u8], budget: &Budget) -> ExtractResult<Walk> {
    let mut walk = Walk::default();
    let mut pos = 0usize;
    let mut biff8 = true;
    // -1: globals; n: n-th sheet substream.
    let mut substream: isize = -2;
    let mut count = 0usize;
    while let (Some(kind), Some(len)) = (le_u16(s, pos), le_u16(s, pos + 2)) {
        count += 1;
        if count % 4096 == 0 {
            budget.check_time()?;
        }
        let len = len as usize;
        let Some(data) = s.get(pos + 4..pos + 4 + len) else {
            break;
        };
        pos += 4 + len;
        match kind {
            BOF => {
                substream += 1;
                if substream == -1 {
                    biff8 = le_u16(data, 0).is_none_or(|v| v >= 0x0600);
                }
            }
            FILEPASS if substream == -1 => walk.encrypted = true,
            BOUNDSHEET if substream == -1 => {
                let name = if biff8 {
                    data.get(6..).and_then(short_unicode)
                } else {
                    data.get(6..).and_then(short_ansi)
                };
                walk.names.push(name.unwrap_or_default());
            }
            HEADER | FOOTER if substream >= 0 && !data.is_empty() => {
                let raw = if biff8 {
                    long_unicode(data)
                } else {
                    short_ansi(data)
                };
                if let Some(raw) = raw {
                    let text = strip_header_codes(&raw);
                    if !text.trim().is_empty() {
                        walk.margins
                            .push((substream as usize, kind == FOOTER, text));
                    }
                }
            }
            EOF => {}
            _ => {}
        }
    }
    Ok(walk)
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

/// Removes Excel header/footer codes: `&L`/`&C`/`&R` start a new line,
/// `&P`, `&N`, `&D`, `&T`, `&F`, `&A`, `&Z`, `&G`, formatting codes, font
/// names (`&"Arial,Bold"`) and sizes (`&12`) are dropped, `&&` is `&`.
fn strip_header_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '&' {
            if c == '\r' || c == '\n' {
                out.push('\n');
            } else {
                out.push(c);
            }
            continue;
        }
        match it.next() {
            Some('&') => out.push('&'),
            Some('L') | Some('C') | Some('R') => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            Some('"') => {
                for c in it.by_ref() {
                    if c == '"' {
                        break;
                    }
                }
            }
            Some(d) if d.is_ascii_digit() => {
                while it.peek().is_some_and(|c| c.is_ascii_digit()) {
                    it.next();
                }
            }
            _ => {}
        }
    }
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{Budget, Limits};

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
        let w = walk_records(&s, &budget).unwrap();
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
        assert!(walk_records(&e, &budget).unwrap().encrypted);
        // Truncated records end the walk quietly.
        for cut in 0..s.len() {
            let _ = walk_records(&s[..cut], &budget);
        }
    }
}
