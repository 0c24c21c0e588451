//! Plain text: UTF-8, UTF-16 with a byte-order mark, Latin-1 (Windows-1252) fallback.

use super::{Extracted, Layout, PartKind};
use crate::model::budget::Budget;

pub fn extract(bytes: &[u8], budget: &Budget) -> Extracted {
    let head = &bytes[..bytes.len().min(8192)];
    if encoding_rs::Encoding::for_bom(bytes).is_none() && head.contains(&0) {
        return Extracted::failed(super::ExtractError::corrupt(
            "binary content in a file named as text",
        ));
    }
    let mut out = Extracted::default();
    let limit = budget.text_room();
    let text = decode(bytes);
    let text = if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_string()
    } else {
        text
    };
    out.parts_read.push("text".to_string());
    // Hits are located by line, as an editor numbers them.
    out.push_part_laid_out(PartKind::Body, "body", text, Layout::Lines);
    out
}

/// Decodes bytes of unknown encoding: BOMs first, then UTF-8, else Windows-1252.
pub fn decode(bytes: &[u8]) -> String {
    normalise_newlines(&super::decode::guess(bytes))
}

fn normalise_newlines(s: &str) -> String {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn binary_content_is_corrupt() {
        let budget = crate::model::budget::Budget::new(crate::model::budget::Limits::default());
        let out = super::extract(b"\x00\x01garbage\x00", &budget);
        assert_eq!(out.error.unwrap().kind, crate::extract::ErrorKind::Corrupt);
        assert!(super::extract(b"plain text", &budget).error.is_none());
    }

    #[test]
    fn decodes_utf16_and_latin1() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("Größe".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert_eq!(decode(&utf16), "Größe");
        assert_eq!(decode(b"Gr\xf6\xdfe\r\nx"), "Größe\nx");
    }
}
