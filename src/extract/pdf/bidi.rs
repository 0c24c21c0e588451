//! Right-to-left text. A PDF page draws glyphs where they show, and
//! writers lay out Hebrew and Arabic lines in visual order, left to right:
//! read in drawing order, `שלום` comes out `םולש`. Each line holding
//! right-to-left letters is put back into logical (reading) order with the
//! Unicode bidirectional algorithm, as pdftotext does: right-to-left runs
//! are reversed, numbers and Latin words inside them keep their order.
//! Arabic presentation forms (the shaped glyphs fonts map to) become the
//! letters they are, after reordering so that a lam-alef keeps its order.

use unicode_bidi::{Level, ParagraphBidiInfo};
use unicode_normalization::char::decompose_compatible;

/// Letters of right-to-left scripts: Hebrew, Arabic, Syriac, Thaana, NKo,
/// Samaritan, Mandaic, their presentation forms, and the historic scripts
/// of the supplementary planes.
pub fn is_rtl_letter(c: char) -> bool {
    matches!(c as u32,
        0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF | 0x10800..=0x10FFF | 0x1E800..=0x1EFFF)
}

fn is_presentation_form(c: char) -> bool {
    matches!(c as u32, 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF)
}

/// Puts each line of page text that holds right-to-left letters into
/// logical order; other lines, and text without such letters, are left alone.
pub fn visual_to_logical(text: &mut String) {
    if text.is_ascii() || !text.chars().any(is_rtl_letter) {
        return;
    }
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        logical_line(line, &mut out);
    }
    *text = out;
}

/// One line: its direction is that of most of its letters (a visual line
/// may start with either script, so its first letter says little).
fn logical_line(line: &str, out: &mut String) {
    let rtl = line.chars().filter(|&c| is_rtl_letter(c)).count();
    if rtl == 0 {
        out.push_str(line);
        return;
    }
    let ltr = line
        .chars()
        .filter(|&c| c.is_alphabetic() && !is_rtl_letter(c))
        .count();
    let level = if rtl >= ltr {
        Level::rtl()
    } else {
        Level::ltr()
    };
    // Reordering is its own inverse for the levels a visual line gives:
    // runs at odd levels are reversed, runs at even levels inside them
    // reversed back.
    let info = ParagraphBidiInfo::new(line, Some(level));
    let logical = info.reorder_line(0..line.len());
    for c in logical.chars() {
        if is_presentation_form(c) {
            decompose_compatible(c, |d| out.push(d));
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical(visual: &str) -> String {
        let mut s = visual.to_string();
        visual_to_logical(&mut s);
        s
    }

    #[test]
    fn hebrew_lines_are_read_right_to_left() {
        // pdf.js issue11656.pdf: "שלום" drawn as "םולש".
        assert_eq!(logical("םולש"), "שלום");
        assert_eq!(logical("םלוע םולש"), "שלום עולם");
        // Numbers inside keep their order.
        assert_eq!(logical("לקש 100 ריחמ"), "מחיר 100 שקל");
        // A Hebrew word inside a Latin line.
        assert_eq!(logical("Hello םולש world"), "Hello שלום world");
        // Lines without right-to-left letters are untouched.
        assert_eq!(logical("abc\nםולש\n123"), "abc\nשלום\n123");
        assert_eq!(logical("plain ascii"), "plain ascii");
    }

    #[test]
    fn arabic_presentation_forms_become_letters_in_order() {
        // pdf.js issue5677.pdf, first line as drawn: ".ًارﺬﻋ" is "عذراً."
        assert_eq!(logical(".ًارﺬﻋ"), "عذراً.");
        // Lam-alef ligature: lam then alef once reordered.
        assert_eq!(logical("ﻻ"), "لا");
    }
}
