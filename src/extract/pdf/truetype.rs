//! The character map (`cmap` table) of an embedded TrueType font, turned
//! round: glyph id -> character. A composite font without /ToUnicode shows
//! glyph ids (through /CIDToGIDMap); the font's own map from characters to
//! glyphs tells which character each glyph draws, as pdftotext reads it.
//!
//! Every read is bounds-checked, and the number of characters visited is
//! capped: a hostile table may declare overlapping ranges of 2^32 codes.

use std::collections::HashMap;

use super::encoding::BaseEncoding;

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
    }
}
