//! Text decoding, in one place: byte-order marks, UTF-8, UTF-16 in either
//! byte order, Windows code pages. Every extractor that turns bytes of a
//! known or guessed encoding into text comes here. Invalid input is
//! replaced (U+FFFD), never rejected: a scan wants what text there is.

use std::borrow::Cow;

/// UTF-8 with or without a byte-order mark, or UTF-16 with one (XML parts).
pub fn bom_or_utf8(bytes: &[u8]) -> Cow<'_, str> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest);
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        // `decode` sniffs the BOM, so big-endian input is handled as well.
        let (text, _, _) = encoding_rs::UTF_16LE.decode(bytes);
        return Cow::Owned(text.into_owned());
    }
    String::from_utf8_lossy(bytes)
}

/// Bytes of unknown encoding: a byte-order mark first, then UTF-8, else
/// Windows-1252 (plain text files).
pub fn guess(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return text;
    }
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0
        }
    }
}

/// 8-bit text in a Windows code page (1252 when the page is unknown; 65001 is UTF-8).
pub fn codepage(raw: &[u8], codepage: u16) -> String {
    if codepage == 65001 {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let enc = codepage::to_encoding(codepage).unwrap_or(encoding_rs::WINDOWS_1252);
    let (text, _, _) = enc.decode(raw);
    text.into_owned()
}

/// The code page of a Windows font character set (LOGFONT `lfCharSet`, the
/// `chs` of Word's font table, RTF's `\\fcharsetN`). `None` for the sets
/// that say nothing about the text: default, symbol, OEM.
pub fn charset_codepage(charset: u8) -> Option<u16> {
    Some(match charset {
        0 => 1252,
        77 => 10000,
        128 => 932,
        129 => 949,
        134 => 936,
        136 => 950,
        161 => 1253,
        162 => 1254,
        163 => 1258,
        177 => 1255,
        178 => 1256,
        186 => 1257,
        204 => 1251,
        222 => 874,
        238 => 1250,
        _ => return None,
    })
}

/// The ANSI code page Windows uses for a language id (LCID), as Word 6/95
/// and other 8-bit Office formats wrote text in it. `None` when unknown.
pub fn lid_codepage(lid: u16) -> Option<u16> {
    let primary = lid & 0x3FF;
    Some(match primary {
        // Serbian, Bosnian in Cyrillic; Croatian and the Latin forms are 1250.
        0x1A if matches!(lid, 0x0C1A | 0x1C1A | 0x201A) => 1251,
        0x19 | 0x22 | 0x23 | 0x02 | 0x2F | 0x3F | 0x40 | 0x44 | 0x50 => 1251,
        0x05 | 0x15 | 0x0E | 0x1B | 0x24 | 0x18 | 0x1C | 0x1A => 1250,
        0x08 => 1253,
        0x1F | 0x2C | 0x43 => 1254,
        0x0D => 1255,
        0x01 | 0x29 | 0x20 => 1256,
        0x25..=0x27 => 1257,
        0x2A => 1258,
        0x1E => 874,
        0x11 => 932,
        0x12 => 949,
        0x04 if matches!(lid, 0x0804 | 0x1004) => 936,
        0x04 => 950,
        0 => return None,
        _ => 1252,
    })
}

/// Whether a code page writes a non-Latin script: its text decoded as
/// Windows-1252 would be nearly all accented letters.
pub fn is_non_latin_codepage(codepage: u16) -> bool {
    matches!(
        codepage,
        874 | 932 | 936 | 949 | 950 | 1251 | 1253 | 1255 | 1256 | 10007
    )
}

/// UTF-16 little-endian code units (an odd last byte is dropped).
pub fn utf16le(raw: &[u8]) -> String {
    let units = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

/// UTF-16 big-endian code units (an odd last byte is dropped).
pub fn utf16be(raw: &[u8]) -> String {
    let units = raw
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

/// Decodes one byte of a Windows-1252 string (used for 8-bit text runs).
pub fn cp1252_char(b: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}',
        '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}',
        '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}',
        '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    if (0x80..0xA0).contains(&b) {
        HIGH[(b - 0x80) as usize]
    } else {
        b as char
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boms_utf8_utf16_and_code_pages() {
        assert_eq!(bom_or_utf8(b"\xEF\xBB\xBF<a/>"), "<a/>");
        assert_eq!(bom_or_utf8(b"\xFF\xFE<\0a\0/\0>\0"), "<a/>");
        assert_eq!(guess(b"caf\xe9"), "café");
        assert_eq!(guess("café".as_bytes()), "café");
        assert_eq!(guess(b"\xFE\xFF\0h\0i"), "hi");
        assert_eq!(codepage(b"\xcf\xf0\xe8", 1251), "При");
        assert_eq!(codepage(b"caf\xe9", 0), "café");
        assert_eq!(utf16le(b"h\0i\0!"), "hi");
        assert_eq!(utf16be(b"\0h\0i"), "hi");
        assert_eq!(utf16le(b"\x00\xd8"), "\u{FFFD}");
        assert_eq!(cp1252_char(0x80), '\u{20AC}');
        assert_eq!(cp1252_char(b'A'), 'A');
        assert_eq!(charset_codepage(204), Some(1251));
        assert_eq!(charset_codepage(2), None);
        assert_eq!(lid_codepage(0x0419), Some(1251));
        assert_eq!(lid_codepage(0x041A), Some(1250));
        assert_eq!(lid_codepage(0x0C1A), Some(1251));
        assert_eq!(lid_codepage(0x0409), Some(1252));
        assert_eq!(lid_codepage(0x0404), Some(950));
    }
}
