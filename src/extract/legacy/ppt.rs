//! PowerPoint 97-2003 presentations (MS-PPT): a walk over the records of
//! the `PowerPoint Document` stream collecting text atoms by where they sit
//! (slide list, slide, notes, master, header/footer, comment).

use super::bytes::{le_u16, le_u32};
use super::{read_stream, read_stream_opt, Ole};
use crate::budget::Budget;
use crate::extract::{ExtractError, ExtractResult, Extracted, PartKind};

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
const CRYPT_SESSION: u16 = 0x2F14;

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
    if ole.is_stream("/EncryptedSummary") {
        return Err(ExtractError::encrypted("PowerPoint presentation encrypted"));
    }
    if let Some(cu) = read_stream_opt(ole, "/Current User", budget)? {
        if le_u32(&cu, 12) == Some(0xF3D1_C4DF) {
            return Err(ExtractError::encrypted(
                "PowerPoint presentation encrypted (Current User token)",
            ));
        }
    }
    let s = read_stream(ole, "/PowerPoint Document", budget)?;
    out.parts_read.push("PowerPoint Document".into());
    let mut c = Collected::default();
    walk(&s, 0, s.len(), Ctx::None, 0, budget, &mut c)?;
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
    out.push_part(PartKind::Header, "headers", c.headers.join("\n"));
    out.push_part(PartKind::Footer, "footers", c.footers.join("\n"));
    out.push_part(PartKind::Comment, "comments", c.comments.join("\n"));
    Ok(())
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
    let max_chars = budget.limits.max_text_chars;
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
        let is_container = ver_inst & 0x0F == 0x0F;
        if kind == CRYPT_SESSION {
            c.encrypted = true;
            return Ok(());
        }
        if is_container {
            if depth >= MAX_DEPTH {
                continue;
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
            SLIDE_PERSIST => match ctx {
                Ctx::SlideList => c.list_slides.push(Vec::new()),
                Ctx::NotesList => c.list_notes.push(Vec::new()),
                _ => {}
            },
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
                    (_, Ctx::SlideList) => c.list_slides.last_mut(),
                    (_, Ctx::NotesList) => c.list_notes.last_mut(),
                    (_, Ctx::Slide) => c.slides.last_mut(),
                    (_, Ctx::Notes) => c.notes.last_mut(),
                    (_, Ctx::Master) => c.masters.last_mut(),
                    _ => None,
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
    let units = d.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
    clean(char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')))
}

fn latin1(d: &[u8]) -> String {
    clean(d.iter().map(|&b| b as char))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{Budget, Limits};

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
}
