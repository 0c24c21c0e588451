//! The report's charts as inline SVG, drawn here: a few bars and a grid
//! need no plotting library, and every label goes through maud's escaping
//! like the rest of the page.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::run::Counts;

const WIDTH: f64 = 760.0;
const LABEL_WIDTH: f64 = 240.0;
const COUNT_WIDTH: f64 = 60.0;
const BAR_HEIGHT: f64 = 18.0;
const BAR_GAP: f64 = 6.0;
/// Folders and partners beyond this many are listed as a count only: the
/// chart is a picture, the table below has them all.
const MAX_BARS: usize = 40;

/// The colour of a verdict code or release status; the same in the table.
pub fn colour(key: &str) -> &'static str {
    match key {
        "OK" | "covered" => "#3a8a4a",
        "UNREADABLE" => "#8c8c8c",
        "UNLABELED" => "#d9a400",
        "UNKNOWN_LABEL" => "#b38600",
        "LABEL_CONFLICT" => "#c96b00",
        "UNDER_CLASSIFIED" => "#c0392b",
        "RELEASE_WITHOUT_LEVEL" => "#8e44ad",
        "RELEASE_UNAUTHORIZED" | "unknown_partner" => "#6c3483",
        "RELEASE_EXCEEDS_AGREEMENT" | "exceeds" => "#a93226",
        "RELEASE_AGREEMENT_EXPIRED" | "expired" => "#7b241c",
        "NOT_RELEASED_TO_LOCATION" => "#2e86c1",
        "TLP_VIOLATION" => "#1b4f72",
        _ => "#555555",
    }
}

/// A label cut to fit the label column; the full text is in the title.
fn short(label: &str) -> String {
    const MAX: usize = 34;
    if label.chars().count() <= MAX {
        return label.to_string();
    }
    let tail: String = label
        .chars()
        .rev()
        .take(MAX - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// One horizontal bar per entry, stacked by key in `order`, scaled to the
/// largest total. Entries are drawn as given.
pub fn stacked_bars(title: &str, entries: &[(String, Counts)], order: &[String]) -> Markup {
    let shown = &entries[..entries.len().min(MAX_BARS)];
    let max = shown
        .iter()
        .map(|(_, c)| c.values().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let scale = (WIDTH - LABEL_WIDTH - COUNT_WIDTH) / max;
    let height = shown.len() as f64 * (BAR_HEIGHT + BAR_GAP) + BAR_GAP;
    html! {
        svg.chart role="img" aria-label=(title) width=(WIDTH) height=(height)
            viewBox=(format!("0 0 {WIDTH} {height}")) xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, (label, counts)) in shown.iter().enumerate() {
                @let y = BAR_GAP + i as f64 * (BAR_HEIGHT + BAR_GAP);
                text x=(LABEL_WIDTH - 6.0) y=(y + 13.0) text-anchor="end" {
                    title { (label) } (short(label))
                }
                (segments(counts, order, y, scale))
                @let total: u64 = counts.values().sum();
                @let end = LABEL_WIDTH + total as f64 * scale;
                text x=(fmt(end + 4.0)) y=(y + 13.0) { (total) }
            }
        }
        @if entries.len() > shown.len() {
            p.note { (entries.len() - shown.len()) " more not drawn; the table has them all." }
        }
        (legend(order, entries))
    }
}

fn segments(counts: &Counts, order: &[String], y: f64, scale: f64) -> Markup {
    let mut x = LABEL_WIDTH;
    let mut parts = Vec::new();
    for key in order {
        let n = counts.get(key).copied().unwrap_or(0);
        if n > 0 {
            parts.push((key, n, x, n as f64 * scale));
            x += n as f64 * scale;
        }
    }
    html! {
        @for (key, n, x, w) in parts {
            rect x=(fmt(x)) y=(y) width=(fmt(w)) height=(BAR_HEIGHT) fill=(colour(key)) {
                title { (key) ": " (n) }
            }
        }
    }
}

/// The keys that occur in any entry, in `order`.
fn legend(order: &[String], entries: &[(String, Counts)]) -> Markup {
    let used = order.iter().filter(|k| {
        entries
            .iter()
            .any(|(_, c)| c.get(*k).is_some_and(|n| *n > 0))
    });
    html! {
        ul.legend {
            @for key in used {
                li { span.swatch style=(format!("background:{}", colour(key))) {} (key) }
            }
        }
    }
}

/// The labelled level against the suggested level, as a grid of counts:
/// rows are labelled levels, columns suggested ones, lowest first. Cells
/// where the content calls for more than the label says are marked.
pub fn level_matrix(levels: &[String], matrix: &BTreeMap<(String, String), u64>) -> Markup {
    let rows = axis(levels, matrix.keys().map(|(l, _)| l));
    let cols = axis(levels, matrix.keys().map(|(_, s)| s));
    let max = matrix.values().copied().max().unwrap_or(0).max(1) as f64;
    const CELL: f64 = 86.0;
    const HEAD: f64 = 150.0;
    let width = HEAD + cols.len() as f64 * CELL;
    let height = 40.0 + rows.len() as f64 * 36.0;
    html! {
        svg.chart.matrix role="img" aria-label="labelled level against suggested level"
            width=(width) height=(height) viewBox=(format!("0 0 {width} {height}"))
            xmlns="http://www.w3.org/2000/svg" {
            title { "Labelled level (rows) against suggested level (columns)" }
            @for (j, col) in cols.iter().enumerate() {
                text x=(fmt(HEAD + j as f64 * CELL + CELL / 2.0)) y="24" text-anchor="middle" { (short(col)) }
            }
            @for (i, row) in rows.iter().enumerate() {
                @let y = 36.0 + i as f64 * 36.0;
                text x=(HEAD - 8.0) y=(y + 21.0) text-anchor="end" { (short(row)) }
                @for (j, col) in cols.iter().enumerate() {
                    @let n = matrix.get(&(row.clone(), col.clone())).copied().unwrap_or(0);
                    @let x = HEAD + j as f64 * CELL;
                    @let under = is_under(levels, row, col);
                    rect x=(fmt(x + 2.0)) y=(y) width=(fmt(CELL - 4.0)) height="32"
                        fill=(cell_fill(n, max, under)) class=(if under { "under" } else { "" }) {
                        title { "labelled " (row) ", suggested " (col) ": " (n) }
                    }
                    text x=(fmt(x + CELL / 2.0)) y=(y + 21.0) text-anchor="middle" { (n) }
                }
            }
        }
        p.note { "Red cells: documents labelled lower than their content calls for. "
            "Rows are the labelled level (" (super::rows::NO_LEVEL) ": no label), columns the suggested level ("
            (super::rows::NO_SUGGESTION) ": no text could be read)." }
    }
}

/// The scheme's levels, lowest first, then any other key seen (a level no
/// longer in the scheme, or none), in name order.
fn axis<'a>(levels: &[String], seen: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = levels.to_vec();
    let mut extra: Vec<String> = seen.filter(|k| !levels.contains(k)).cloned().collect();
    extra.sort();
    extra.dedup();
    out.extend(extra);
    out
}

fn is_under(levels: &[String], labelled: &str, suggested: &str) -> bool {
    let rank = |l: &str| levels.iter().position(|x| x == l);
    match (rank(labelled), rank(suggested)) {
        (Some(l), Some(s)) => s > l,
        (None, Some(s)) => labelled == super::rows::NO_LEVEL && s > 0,
        _ => false,
    }
}

fn cell_fill(n: u64, max: f64, under: bool) -> String {
    if n == 0 {
        return "#f4f4f4".to_string();
    }
    let strength = 0.15 + 0.75 * (n as f64 / max);
    let (r, g, b) = if under { (192, 57, 43) } else { (46, 134, 193) };
    format!("rgba({r},{g},{b},{strength:.2})")
}

/// A coordinate with at most one decimal, the same on every platform.
fn fmt(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_cut_to_fit() {
        let entries = vec![("<b>x</b>".to_string(), Counts::from([("OK".into(), 2)]))];
        let svg = stacked_bars("t", &entries, &["OK".to_string()]).into_string();
        assert!(svg.contains("&lt;b&gt;x&lt;/b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"));
        assert_eq!(short(&"a".repeat(40)).chars().count(), 34);
    }

    #[test]
    fn under_classified_cells_are_above_the_diagonal() {
        let levels = vec!["PUBLIC".to_string(), "SECRET".to_string()];
        assert!(is_under(&levels, "PUBLIC", "SECRET"));
        assert!(!is_under(&levels, "SECRET", "PUBLIC"));
        assert!(is_under(&levels, "none", "SECRET"));
        assert!(!is_under(&levels, "none", "PUBLIC"));
    }
}
