//! The character map (`cmap` table) of an embedded TrueType font, turned
//! round: glyph id -> character. A composite font without /ToUnicode shows
//! glyph ids (through /CIDToGIDMap); the font's own map from characters to
//! glyphs tells which character each glyph draws, as pdftotext reads it.
//!
//! Every read is bounds-checked, and the number of characters visited is
//! capped: a hostile table may declare overlapping ranges of 2^32 codes.

use std::collections::HashMap;

use super::encoding::{glyph_char, BaseEncoding};

/// Most characters visited in one cmap subtable.
const MAX_CODES: usize = 1 << 20;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// What the font program says its glyphs are.
#[derive(Debug, Default)]
pub struct GlyphNames {
    /// Glyph id -> character, from the cmap or else the `post` table's
    /// glyph names.
    pub chars: HashMap<u16, char>,
    /// The program has neither a `cmap` nor a `post` table: nothing in it
    /// names a glyph.
    pub nameless: bool,
}

/// The characters of the font's glyphs: the cmap turned round, else the
/// glyph names of its `post` table (a subset often drops the cmap but
/// keeps the names).
pub fn glyph_names(font: &[u8]) -> GlyphNames {
    let mut chars = glyph_chars(font);
    let post = table(font, b"post");
    if chars.is_empty() {
        if let Some(post) = post {
            chars = post_chars(post);
        }
    }
    GlyphNames {
        chars,
        nameless: post.is_none() && table(font, b"cmap").is_none(),
    }
}

/// The character of glyph `gid` of a font laid out in the standard
/// Macintosh glyph order, for its printable ASCII glyphs only (3-97, space
/// to asciitilde). Fonts made with that order keep it at least this far;
/// past it many follow Latin-1 order instead.
pub fn mac_order_ascii(gid: u32) -> Option<char> {
    (3..=97).contains(&gid).then(|| char::from(gid as u8 + 29))
}

/// Whether glyph `gid` of the font has no outline (an empty `glyf`
/// entry, as a space has); `None` when the font says nothing of it.
pub fn glyph_is_blank(font: &[u8], gid: u16) -> Option<bool> {
    let long = u16_at(table(font, b"head")?, 50)? != 0;
    let loca = table(font, b"loca")?;
    let at = gid as usize;
    let (start, end) = if long {
        (u32_at(loca, at * 4)?, u32_at(loca, at * 4 + 4)?)
    } else {
        (
            u32::from(u16_at(loca, at * 2)?) * 2,
            u32::from(u16_at(loca, at * 2 + 2)?) * 2,
        )
    };
    Some(start == end)
}

/// Glyph id -> character from the glyph names of a `post` table: format
/// 1.0 names glyphs in the standard Macintosh order, format 2.0 names each
/// glyph by an index into that order or into its own Pascal strings.
fn post_chars(post: &[u8]) -> HashMap<u16, char> {
    let mut map = HashMap::new();
    let mut put = |gid: u16, name: &[u8]| {
        if let Some(c) = glyph_char(name).filter(|&c| c != '\0') {
            map.insert(gid, c);
        }
    };
    match u32_at(post, 0) {
        Some(0x0001_0000) => {
            for (gid, name) in MAC_GLYPHS.iter().enumerate() {
                put(gid as u16, name.as_bytes());
            }
        }
        Some(0x0002_0000) => {
            let Some(count) = u16_at(post, 32) else {
                return map;
            };
            let indices = 34;
            // The font's own names follow the index array, in order.
            let mut names: Vec<&[u8]> = Vec::new();
            let mut at = indices + count as usize * 2;
            while let Some(&len) = post.get(at) {
                let Some(name) = post.get(at + 1..at + 1 + len as usize) else {
                    break;
                };
                names.push(name);
                at += 1 + len as usize;
            }
            for gid in 0..count {
                let Some(index) = u16_at(post, indices + gid as usize * 2) else {
                    break;
                };
                let index = index as usize;
                let name = match MAC_GLYPHS.get(index) {
                    Some(name) => name.as_bytes(),
                    None => match names.get(index - MAC_GLYPHS.len()) {
                        Some(name) => name,
                        None => continue,
                    },
                };
                put(gid, name);
            }
        }
        _ => {}
    }
    map
}

/// The 258 glyph names of the standard Macintosh glyph order (TrueType
/// `post` table, format 1.0).
const MAC_GLYPHS: [&str; 258] = [
    ".notdef",
    ".null",
    "nonmarkingreturn",
    "space",
    "exclam",
    "quotedbl",
    "numbersign",
    "dollar",
    "percent",
    "ampersand",
    "quotesingle",
    "parenleft",
    "parenright",
    "asterisk",
    "plus",
    "comma",
    "hyphen",
    "period",
    "slash",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "colon",
    "semicolon",
    "less",
    "equal",
    "greater",
    "question",
    "at",
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "I",
    "J",
    "K",
    "L",
    "M",
    "N",
    "O",
    "P",
    "Q",
    "R",
    "S",
    "T",
    "U",
    "V",
    "W",
    "X",
    "Y",
    "Z",
    "bracketleft",
    "backslash",
    "bracketright",
    "asciicircum",
    "underscore",
    "grave",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "braceleft",
    "bar",
    "braceright",
    "asciitilde",
    "Adieresis",
    "Aring",
    "Ccedilla",
    "Eacute",
    "Ntilde",
    "Odieresis",
    "Udieresis",
    "aacute",
    "agrave",
    "acircumflex",
    "adieresis",
    "atilde",
    "aring",
    "ccedilla",
    "eacute",
    "egrave",
    "ecircumflex",
    "edieresis",
    "iacute",
    "igrave",
    "icircumflex",
    "idieresis",
    "ntilde",
    "oacute",
    "ograve",
    "ocircumflex",
    "odieresis",
    "otilde",
    "uacute",
    "ugrave",
    "ucircumflex",
    "udieresis",
    "dagger",
    "degree",
    "cent",
    "sterling",
    "section",
    "bullet",
    "paragraph",
    "germandbls",
    "registered",
    "copyright",
    "trademark",
    "acute",
    "dieresis",
    "notequal",
    "AE",
    "Oslash",
    "infinity",
    "plusminus",
    "lessequal",
    "greaterequal",
    "yen",
    "mu",
    "partialdiff",
    "summation",
    "product",
    "pi",
    "integral",
    "ordfeminine",
    "ordmasculine",
    "Omega",
    "ae",
    "oslash",
    "questiondown",
    "exclamdown",
    "logicalnot",
    "radical",
    "florin",
    "approxequal",
    "Delta",
    "guillemotleft",
    "guillemotright",
    "ellipsis",
    "nonbreakingspace",
    "Agrave",
    "Atilde",
    "Otilde",
    "OE",
    "oe",
    "endash",
    "emdash",
    "quotedblleft",
    "quotedblright",
    "quoteleft",
    "quoteright",
    "divide",
    "lozenge",
    "ydieresis",
    "Ydieresis",
    "fraction",
    "currency",
    "guilsinglleft",
    "guilsinglright",
    "fi",
    "fl",
    "daggerdbl",
    "periodcentered",
    "quotesinglbase",
    "quotedblbase",
    "perthousand",
    "Acircumflex",
    "Ecircumflex",
    "Aacute",
    "Edieresis",
    "Egrave",
    "Iacute",
    "Icircumflex",
    "Idieresis",
    "Igrave",
    "Oacute",
    "Ocircumflex",
    "apple",
    "Ograve",
    "Uacute",
    "Ucircumflex",
    "Ugrave",
    "dotlessi",
    "circumflex",
    "tilde",
    "macron",
    "breve",
    "dotaccent",
    "ring",
    "cedilla",
    "hungarumlaut",
    "ogonek",
    "caron",
    "Lslash",
    "lslash",
    "Scaron",
    "scaron",
    "Zcaron",
    "zcaron",
    "brokenbar",
    "Eth",
    "eth",
    "Yacute",
    "yacute",
    "Thorn",
    "thorn",
    "minus",
    "multiply",
    "onesuperior",
    "twosuperior",
    "threesuperior",
    "onehalf",
    "onequarter",
    "threequarters",
    "franc",
    "Gbreve",
    "gbreve",
    "Idotaccent",
    "Scedilla",
    "scedilla",
    "Cacute",
    "cacute",
    "Ccaron",
    "ccaron",
    "dcroat",
];

/// Glyph id -> the (lowest) character the font maps to it; empty when the
/// font has no usable Unicode or Mac Roman cmap.
pub fn glyph_chars(font: &[u8]) -> HashMap<u16, char> {
    let mut map = HashMap::new();
    let Some(cmap) = table(font, b"cmap") else {
        return map;
    };
    let Some((sub, mac_roman)) = best_subtable(cmap) else {
        return map;
    };
    let mac_table = mac_roman.then(|| BaseEncoding::MacRoman.table());
    let mut put = |code: u32, gid: u16| {
        let c = if let Some(table) = &mac_table {
            u8::try_from(code).ok().map(|b| table[b as usize])
        } else {
            char::from_u32(code)
        };
        if let Some(c) = c.filter(|&c| c != '\0' && gid != 0) {
            map.entry(gid).or_insert(c);
        }
    };
    match u16_at(sub, 0) {
        Some(0) => format0(sub, &mut put),
        Some(4) => format4(sub, &mut put),
        Some(6) => format6(sub, &mut put),
        Some(12) => format12(sub, &mut put),
        _ => {}
    }
    map
}

/// A table of the font by its tag, from the table directory.
fn table<'a>(font: &'a [u8], tag: &[u8; 4]) -> Option<&'a [u8]> {
    let count = u16_at(font, 4)? as usize;
    (0..count).find_map(|i| {
        let rec = 12 + i * 16;
        if font.get(rec..rec + 4)? != tag {
            return None;
        }
        let off = u32_at(font, rec + 8)? as usize;
        let len = u32_at(font, rec + 12)? as usize;
        font.get(off..off.checked_add(len)?.min(font.len()))
    })
}

/// The subtable to read: full Unicode, then BMP Unicode, then Mac Roman
/// (whose codes then go through Mac Roman). `true` for Mac Roman.
fn best_subtable(cmap: &[u8]) -> Option<(&[u8], bool)> {
    let count = u16_at(cmap, 2)? as usize;
    let mut best: Option<(u8, &[u8], bool)> = None;
    for i in 0..count.min(64) {
        let rec = 4 + i * 8;
        let (Some(platform), Some(encoding), Some(off)) = (
            u16_at(cmap, rec),
            u16_at(cmap, rec + 2),
            u32_at(cmap, rec + 4),
        ) else {
            break;
        };
        let rank = match (platform, encoding) {
            (3, 10) => 0,
            (0, _) => 1,
            (3, 1) => 2,
            (1, 0) => 3,
            _ => continue,
        };
        let Some(sub) = cmap.get(off as usize..) else {
            continue;
        };
        if best.is_none_or(|(r, _, _)| rank < r) {
            best = Some((rank, sub, platform == 1));
        }
    }
    best.map(|(_, sub, mac)| (sub, mac))
}

fn format0(sub: &[u8], put: &mut impl FnMut(u32, u16)) {
    for code in 0..256usize {
        match sub.get(6 + code) {
            Some(&gid) => put(code as u32, u16::from(gid)),
            None => break,
        }
    }
}

fn format4(sub: &[u8], put: &mut impl FnMut(u32, u16)) {
    let Some(seg_count) = u16_at(sub, 6).map(|x| x as usize / 2) else {
        return;
    };
    let ends = 14;
    let starts = ends + seg_count * 2 + 2;
    let deltas = starts + seg_count * 2;
    let range_offsets = deltas + seg_count * 2;
    let mut visited = 0usize;
    for seg in 0..seg_count {
        let (Some(end), Some(start), Some(delta), Some(range_offset)) = (
            u16_at(sub, ends + seg * 2),
            u16_at(sub, starts + seg * 2),
            u16_at(sub, deltas + seg * 2),
            u16_at(sub, range_offsets + seg * 2),
        ) else {
            return;
        };
        for code in start..=end.min(0xFFFE) {
            visited += 1;
            if visited > MAX_CODES {
                return;
            }
            let gid = if range_offset == 0 {
                code.wrapping_add(delta)
            } else {
                let at =
                    range_offsets + seg * 2 + range_offset as usize + (code - start) as usize * 2;
                match u16_at(sub, at) {
                    Some(0) | None => continue,
                    Some(g) => g.wrapping_add(delta),
                }
            };
            put(u32::from(code), gid);
        }
    }
}

fn format6(sub: &[u8], put: &mut impl FnMut(u32, u16)) {
    let (Some(first), Some(count)) = (u16_at(sub, 6), u16_at(sub, 8)) else {
        return;
    };
    for i in 0..count as usize {
        match u16_at(sub, 10 + i * 2) {
            Some(gid) => put(u32::from(first) + i as u32, gid),
            None => return,
        }
    }
}

fn format12(sub: &[u8], put: &mut impl FnMut(u32, u16)) {
    let Some(groups) = u32_at(sub, 12) else {
        return;
    };
    let mut visited = 0usize;
    for g in 0..groups as usize {
        let at = 16 + g * 12;
        let (Some(start), Some(end), Some(first_gid)) =
            (u32_at(sub, at), u32_at(sub, at + 4), u32_at(sub, at + 8))
        else {
            return;
        };
        for code in start..=end.min(0x10FFFF) {
            visited += 1;
            if visited > MAX_CODES {
                return;
            }
            let gid = first_gid.wrapping_add(code - start);
            if let Ok(gid) = u16::try_from(gid) {
                put(code, gid);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A font holding the given tables, in order.
    pub(crate) fn font_with_tables(tables: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut font = vec![0, 1, 0, 0];
        font.extend_from_slice(&(tables.len() as u16).to_be_bytes());
        font.extend_from_slice(&[0; 6]);
        let mut offset = 12 + 16 * tables.len();
        for (tag, data) in tables {
            font.extend_from_slice(&tag[..]);
            font.extend_from_slice(&0u32.to_be_bytes());
            font.extend_from_slice(&(offset as u32).to_be_bytes());
            font.extend_from_slice(&(data.len() as u32).to_be_bytes());
            offset += data.len();
        }
        for (_, data) in tables {
            font.extend_from_slice(data);
        }
        font
    }

    /// `head` (short `loca` offsets) and `loca` for glyphs whose outlines
    /// have the given lengths (even), and a `glyf` of zeros to match.
    pub(crate) fn outline_tables(lengths: &[u16]) -> Vec<(&'static [u8; 4], Vec<u8>)> {
        let head = vec![0u8; 54];
        let mut loca = vec![0, 0];
        let mut at = 0u16;
        for len in lengths {
            at += len;
            loca.extend_from_slice(&(at / 2).to_be_bytes());
        }
        vec![
            (b"head", head),
            (b"loca", loca),
            (b"glyf", vec![0; at as usize]),
        ]
    }

    /// A `post` table of format 2.0 naming glyphs by Macintosh index or by
    /// their own name.
    pub(crate) fn post_format2(names: &[Result<u16, &str>]) -> Vec<u8> {
        let mut post = 0x0002_0000u32.to_be_bytes().to_vec();
        post.extend_from_slice(&[0; 28]);
        post.extend_from_slice(&(names.len() as u16).to_be_bytes());
        let mut own = Vec::new();
        for name in names {
            let index = match name {
                Ok(mac) => *mac,
                Err(name) => {
                    own.push(*name);
                    257 + own.len() as u16
                }
            };
            post.extend_from_slice(&index.to_be_bytes());
        }
        for name in own {
            post.push(name.len() as u8);
            post.extend_from_slice(name.as_bytes());
        }
        post
    }

    /// A font holding only a `cmap` table with one subtable.
    pub(crate) fn font_with_cmap(platform: u16, encoding: u16, sub: &[u8]) -> Vec<u8> {
        let mut cmap = Vec::new();
        cmap.extend_from_slice(&0u16.to_be_bytes());
        cmap.extend_from_slice(&1u16.to_be_bytes());
        cmap.extend_from_slice(&platform.to_be_bytes());
        cmap.extend_from_slice(&encoding.to_be_bytes());
        cmap.extend_from_slice(&12u32.to_be_bytes());
        cmap.extend_from_slice(sub);
        let mut font = vec![0, 1, 0, 0, 0, 1, 0, 16, 0, 0, 0, 0];
        font.extend_from_slice(b"cmap");
        font.extend_from_slice(&0u32.to_be_bytes());
        font.extend_from_slice(&28u32.to_be_bytes());
        font.extend_from_slice(&(cmap.len() as u32).to_be_bytes());
        font.extend_from_slice(&cmap);
        font
    }

    /// A format 4 subtable of (first char, last char, first glyph) segments.
    pub(crate) fn format4_of(segments: &[(u16, u16, u16)]) -> Vec<u8> {
        let mut segs = segments.to_vec();
        segs.push((0xFFFF, 0xFFFF, 1));
        let n = segs.len() as u16;
        let mut s = Vec::new();
        for v in [4u16, 0, 0, n * 2, 0, 0, 0] {
            s.extend_from_slice(&v.to_be_bytes());
        }
        for &(_, end, _) in &segs {
            s.extend_from_slice(&end.to_be_bytes());
        }
        s.extend_from_slice(&0u16.to_be_bytes());
        for &(start, _, _) in &segs {
            s.extend_from_slice(&start.to_be_bytes());
        }
        for &(start, _, gid) in &segs {
            s.extend_from_slice(&gid.wrapping_sub(start).to_be_bytes());
        }
        for _ in &segs {
            s.extend_from_slice(&0u16.to_be_bytes());
        }
        s
    }

    #[test]
    fn format4_and_format12_turned_round() {
        let font = font_with_cmap(3, 1, &format4_of(&[(0x41, 0x43, 10), (0x5D0, 0x5D1, 20)]));
        let map = glyph_chars(&font);
        assert_eq!(map.get(&10), Some(&'A'));
        assert_eq!(map.get(&12), Some(&'C'));
        assert_eq!(map.get(&21), Some(&'ב'));
        assert_eq!(map.len(), 5);

        let mut f12 = Vec::new();
        f12.extend_from_slice(&12u16.to_be_bytes());
        f12.extend_from_slice(&0u16.to_be_bytes());
        f12.extend_from_slice(&28u32.to_be_bytes());
        f12.extend_from_slice(&0u32.to_be_bytes());
        f12.extend_from_slice(&1u32.to_be_bytes());
        for v in [0x1F600u32, 0x1F601, 7] {
            f12.extend_from_slice(&v.to_be_bytes());
        }
        let map = glyph_chars(&font_with_cmap(3, 10, &f12));
        assert_eq!(map.get(&8), Some(&'😁'));
    }

    #[test]
    fn post_names_stand_in_for_a_missing_cmap() {
        // Format 2.0: .notdef, space and `S` by Macintosh index, then names
        // of the font's own, one unknown to the glyph list.
        let post = post_format2(&[Ok(0), Ok(3), Ok(54), Err("uni00E4"), Err("glyph7"), Ok(999)]);
        let names = glyph_names(&font_with_tables(&[(b"post", post)]));
        assert!(!names.nameless);
        let mut chars: Vec<(u16, char)> = names.chars.into_iter().collect();
        chars.sort_unstable();
        assert_eq!(chars, [(1, ' '), (2, 'S'), (3, 'ä')]);

        // Format 1.0: the standard order itself; every name in it is known.
        let post = 0x0001_0000u32.to_be_bytes().to_vec();
        let names = glyph_names(&font_with_tables(&[(b"post", post)]));
        assert_eq!(names.chars.get(&3), Some(&' '));
        assert_eq!(names.chars.get(&36), Some(&'A'));
        assert_eq!(names.chars.get(&257), Some(&'đ'));
        assert_eq!(names.chars.len(), 258 - 3);

        // A cmap wins over the names.
        let mut font = font_with_cmap(3, 1, &format4_of(&[(0x41, 0x41, 2)]));
        font = font_with_tables(&[
            (b"cmap", table(&font, b"cmap").unwrap().to_vec()),
            (b"post", 0x0001_0000u32.to_be_bytes().to_vec()),
        ]);
        assert_eq!(glyph_names(&font).chars.get(&2), Some(&'A'));
    }

    #[test]
    fn a_font_without_names_and_its_blank_glyphs() {
        let font = font_with_tables(&outline_tables(&[4, 0, 6]));
        let names = glyph_names(&font);
        assert!(names.nameless && names.chars.is_empty());
        assert_eq!(glyph_is_blank(&font, 0), Some(false));
        assert_eq!(glyph_is_blank(&font, 1), Some(true));
        assert_eq!(glyph_is_blank(&font, 2), Some(false));
        assert_eq!(glyph_is_blank(&font, 3), None);
        assert_eq!(mac_order_ascii(54), Some('S'));
        assert_eq!(mac_order_ascii(3), Some(' '));
        assert_eq!(mac_order_ascii(97), Some('~'));
        assert_eq!(mac_order_ascii(98), None);
        assert_eq!(mac_order_ascii(2), None);
    }

    #[test]
    fn hostile_tables_stay_bounded() {
        // Every truncation of a valid font, and a format 12 claiming 2^32
        // groups of 2^32 codes.
        let font = font_with_cmap(3, 1, &format4_of(&[(0x20, 0x7E, 3)]));
        for cut in 0..font.len() {
            let _ = glyph_chars(&font[..cut]);
        }
        let mut f12 = vec![0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        for _ in 0..100 {
            f12.extend_from_slice(&[0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1]);
        }
        let map = glyph_chars(&font_with_cmap(3, 10, &f12));
        assert!(map.len() <= MAX_CODES);
        // A post table whose names run past its end, and every cut of it.
        let mut post = post_format2(&[Err("alpha"), Err("beta")]);
        post.truncate(post.len() - 2);
        let font = font_with_tables(&[(b"post", post)]);
        for cut in 0..font.len() {
            let _ = glyph_names(&font[..cut]);
        }
        let names = glyph_names(&font);
        assert_eq!(names.chars.get(&0), Some(&'α'));
        assert_eq!(names.chars.len(), 1);
    }
}
