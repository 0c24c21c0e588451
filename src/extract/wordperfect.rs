//! WordPerfect 4.2 documents (DOS, 1986): no header at all, text as bytes
//! with function codes between them, often named `.doc` (Tika's
//! `testWordPerfect_42.doc`; LibreOffice reads it through libwpd). Later
//! WordPerfect versions (`\xFFWPC` header) are not read here.
//!
//! Bytes 0x20-0x7E are text, 0x09 a tab, 0x0A a hard return, 0x0D a soft
//! return (a line wrapped by the program: a space), 0x0B/0x0C page breaks;
//! 0x80-0xBF are one-byte function codes (0xA9 is a hard hyphen, 0xA0 a
//! hard space, 0x8C a hard return at a page end); 0xC0-0xFE open a
//! multi-byte function (margins, tabs, fonts, headers' settings ...) that
//! the same byte closes: skipped whole, as libwpd does.

use super::{ExtractError, Extracted, Layout, PartKind};
use crate::model::budget::Budget;

/// Longest multi-byte function group accepted (libwpd's largest fixed one
/// is under 100 bytes; variable ones, such as a header's text, are longer).
const MAX_GROUP: usize = 4096;

/// Whether `bytes` parse as WordPerfect 4.2: every multi-byte function
/// closes, almost no byte outside them is a control character WordPerfect
/// does not use, and there is some text. Only asked of files whose name
/// says `.doc` (or `.wpd`) and whose content is no other known format.
pub fn looks_like_wp42(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let (mut text, mut bad, mut groups) = (0usize, 0usize, 0usize);
    let mut i = 0;
    while i < sample.len() {
        let b = sample[i];
        match b {
            0xC0..=0xFE => {
                let Some(len) = group_len(sample, i) else {
                    // A group cut off by the sample's end is fine; one that
                    // never closes in the whole file is not WordPerfect.
                    return sample.len() < bytes.len() && groups > 0;
                };
                groups += 1;
                i += len;
                continue;
            }
            0x20..=0x7E => text += 1,
            0x09 | 0x0A | 0x0B | 0x0C | 0x0D | 0x7F..=0xBF | 0xFF => {}
            _ => bad += 1,
        }
        i += 1;
    }
    text >= 16 && groups > 0 && bad * 100 <= text
}

/// The length of the multi-byte function group opening at `at`, through
/// the closing byte; `None` when it does not close.
fn group_len(bytes: &[u8], at: usize) -> Option<usize> {
    let code = bytes[at];
    let rest = &bytes[at + 1..bytes.len().min(at + 1 + MAX_GROUP)];
    memchr::memchr(code, rest).map(|end| end + 2)
}

pub fn extract(bytes: &[u8], budget: &Budget) -> Extracted {
    if !looks_like_wp42(bytes) {
        return Extracted::failed(ExtractError::corrupt(
            "WordPerfect function codes do not parse",
        ));
    }
    let mut out = Extracted::default();
    if let Err(e) = budget.check_time() {
        out.error = Some(e);
        return out;
    }
    let limit = budget.text_room();
    let mut text = String::with_capacity(bytes.len().min(limit));
    let mut i = 0;
    while i < bytes.len() && text.len() < limit {
        let b = bytes[i];
        match b {
            0xC0..=0xFE => {
                // Unclosed at the end of the file: the rest is the group.
                i += group_len(bytes, i).unwrap_or(bytes.len() - i);
                continue;
            }
            0x20..=0x7E => text.push(b as char),
            0x09 => text.push('\t'),
            0x0A | 0x0B | 0x0C | 0x8C => text.push('\n'),
            0x0D | 0xA0 => text.push(' '),
            0xA9 => text.push('-'),
            _ => {}
        }
        i += 1;
    }
    out.parts_read.push("WordPerfect 4.2 text".to_string());
    out.push_part_laid_out(PartKind::Body, "main text", text, Layout::Lines);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_between_function_codes() {
        // A margin group (0xC0 ... 0xC0), a tab-set group with a byte that
        // is no text inside, bold on/off (0x9D/0x9C), a soft and a hard
        // return, a hard hyphen.
        let doc = b"\xC0\x0A\x4A\x09\x4A\xC0\x9DHello\x9C world,\rwrapped line\x0Aself\xA9made text.\xCB\x0A\x01\xF6\x01\xCB";
        assert!(looks_like_wp42(doc));
        let x = extract(doc, &crate::extract::test_budget());
        assert!(x.error.is_none());
        assert_eq!(
            x.parts[0].text,
            "Hello world, wrapped line\nself-made text."
        );
    }

    #[test]
    fn other_bytes_are_not_wordperfect() {
        assert!(!looks_like_wp42(
            b"plain text with no function codes at all"
        ));
        // A group that never closes.
        assert!(!looks_like_wp42(
            b"\xC5 some text that goes on and on and on"
        ));
        // Control bytes WordPerfect 4.2 does not use.
        let mut noise = b"\xC0ab\xC0".to_vec();
        noise.extend(std::iter::repeat_n(b"\x01\x02\x03text", 40).flatten());
        assert!(!looks_like_wp42(&noise));
        assert!(!looks_like_wp42(b""));
    }
}
