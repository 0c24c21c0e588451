//! The report's markup (maud escapes every value it inserts). The page is
//! written in three parts so that the findings can be streamed between
//! them: [`before_rows`] up to the findings data block, the rows (see
//! `rows.rs`), then [`after_rows`].

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

use super::charts;
use super::rows::Aggregates;
use super::run::{ChangeLine, Counts, RunSummary};
use crate::model::VerdictCode;

/// Loads nothing from anywhere: scripts and styles are inline, images are
/// data: URIs (none yet), and no request may leave the page.
pub const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// How many changes are listed in the page; the counts cover them all.
pub const MAX_CHANGES_LISTED: usize = 2000;

/// Everything the page shows above the findings table.
pub struct Context<'a> {
    pub summary: &'a RunSummary,
    /// `labelscan policy show --json` of the policy the run applied.
    pub policy: &'a Value,
    pub aggregates: &'a Aggregates,
    /// The first changes since the baseline and how many there are.
    pub changes: Option<(Vec<ChangeLine>, u64)>,
}

/// The page up to and including the opening tag of the findings block.
/// It depends on nothing of the run, so that a scan can write the rows
/// straight into the page as the records come (see `ahead.rs`): the
/// findings are a data block, invisible wherever it stands, so it comes
/// first in the head (after the character set and the security policy,
/// which must lead) and what shows the run follows it.
pub fn before_rows() -> String {
    let head = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
            }
        }
    }
    .into_string();
    let open = head
        .strip_suffix("</head></html>")
        .expect("the markup ends with its closing tags");
    format!("{open}<script type=\"application/json\" id=\"findings-data\">")
}

/// The page after the findings block: the rest of the head, the body
/// showing the run, and the script.
pub fn after_rows(cx: &Context) -> String {
    let s = cx.summary;
    let head_rest = html! {
        title { "labelscan report " (s.run_id) }
        style { (PreEscaped(STYLE)) }
    };
    let body = html! {
        body {
            (header(s))
            main {
                (counts(s))
                (warnings(s))
                (scope(s))
                (charts_section(cx))
                (changes(cx))
                (findings_section(s))
                (methodology(cx))
            }
            footer { "Written by " (s.tool) " " (s.version) " from run " (s.run_id)
                " (summary.json, findings.jsonl). Re-render with: labelscan report DIR" }
            (meta_block(cx))
        }
    }
    .into_string();
    // The markup closes body; the script goes before that closing tag.
    let body = body
        .strip_suffix("</body>")
        .expect("the body ends with its closing tag");
    format!(
        "</script>{}</head>{body}<script>{SCRIPT}</script></body></html>\n",
        head_rest.into_string()
    )
}

/// The facts the script needs besides the rows, as JSON.
fn meta_block(cx: &Context) -> Markup {
    let meta = serde_json::json!({
        "columns": super::rows::COLUMNS,
        "levels": levels(cx.policy),
        "verdicts": verdict_order(cx.summary),
        "documents": cx.summary.documents,
        "colours": cx.summary.verdicts.keys()
            .map(|code| (code.clone(), charts::colour(code)))
            .collect::<std::collections::BTreeMap<_, _>>(),
    });
    html! {
        script type="application/json" id="report-meta" {
            (PreEscaped(super::rows::script_safe_json(&meta)))
        }
    }
}

fn levels(policy: &Value) -> Vec<String> {
    match policy.get("levels") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|l| l.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn header(s: &RunSummary) -> Markup {
    html! {
        header {
            h1 { "Classification audit report" }
            p.sub {
                (s.policy_name.as_deref().unwrap_or("policy: ")) " "
                @if s.policy_name.is_none() { (s.policy) }
                @if let Some(v) = &s.policy_version { " version " (v) }
                " · as of " (s.as_of) " · run " (s.run_id)
            }
            p.badges {
                @if s.complete { span.badge.good #run-complete { "complete run" } }
                @else { span.badge.bad #run-complete { "INCOMPLETE: some PATHs were not scanned" } }
                @if s.show_values { span.badge.bad #values-shown { "values shown unmasked" } }
                @else { span.badge.good #values-shown { "values masked" } }
            }
            nav {
                a href="#scope" { "Scope" } a href="#counts" { "Counts" } a href="#charts" { "Charts" }
                a href="#changes" { "Changes" } a href="#findings" { "Findings" } a href="#method" { "Methodology" }
            }
        }
    }
}

fn list(items: &[String]) -> Markup {
    html! { @for (i, item) in items.iter().enumerate() { @if i > 0 { br; } code { (item) } } }
}

fn scope(s: &RunSummary) -> Markup {
    let policy_name = match (&s.policy_name, &s.policy_version) {
        (Some(n), Some(v)) => format!("{n}, version {v}"),
        (Some(n), None) => n.clone(),
        (None, Some(v)) => format!("version {v}"),
        (None, None) => "(unnamed)".to_string(),
    };
    html! {
        section #scope {
            h2 { "Scope and provenance" }
            table.facts {
                tr { th { "PATHs given" } td { (list(&s.paths)) } }
                tr { th { "PATHs walked (resolved)" } td { (list(&s.paths_resolved)) } }
                @if !s.paths_not_walked.is_empty() {
                    tr { th { "PATHs not walked" } td {
                        @for note in &s.paths_not_walked {
                            code { (note.path) } " — " (note.reason)
                            @if let Some(outer) = &note.covered_by { " " code { (outer) } }
                            br;
                        }
                    } }
                }
                tr { th { "Complete" } td #fact-complete { (if s.complete { "yes" } else { "no" }) } }
                tr { th { "Policy" } td { (policy_name) " — " code { (s.policy) } } }
                tr { th { "Policy SHA-256" } td { code { (s.policy_sha256) } } }
                tr { th { "Detectors SHA-256" } td { code { (s.detectors_sha256) } } }
                tr { th { "As-of date" } td { (s.as_of) } }
                tr { th { "Tool" } td { (s.tool) " " (s.version) } }
                tr { th { "Run" } td { code { (s.run_id) } } }
                tr { th { "Host, user" } td { (s.host) ", " (s.user) } }
                tr { th { "Started, finished (UTC)" } td { (s.started_at) " — " (s.finished_at) " (" (s.duration_seconds) " s)" } }
                tr { th { "Values from documents" } td { (if s.show_values { "shown unmasked (--show-values)" } else { "masked" }) } }
                @if let Some(state) = &s.state { tr { th { "State store" } td { code { (state) } } } }
                @if !s.fail_on.is_empty() { tr { th { "--fail-on" } td { (s.fail_on.join(", ")) } } }
            }
        }
    }
}

fn warnings(s: &RunSummary) -> Markup {
    html! {
        @if !s.warnings.is_empty() {
            section #warnings.warn {
                h2 { "Warnings" }
                ul { @for w in &s.warnings { li { (w) } } }
            }
        }
    }
}

fn card(id: &str, label: &str, n: u64) -> Markup {
    html! { div.card { div.n id=(id) { (n) } div.l { (label) } } }
}

fn counts(s: &RunSummary) -> Markup {
    let unlabelled = s.levels.get(super::rows::NO_LEVEL).copied().unwrap_or(0);
    html! {
        section #counts {
            h2 { "Headline counts" }
            div.cards {
                (card("count-documents", "documents", s.documents))
                (card("count-files", "files scanned", s.files_scanned))
                (card("count-unlabelled", "documents without a level", unlabelled))
                (card("count-skipped", "paths skipped", s.files_skipped))
                (card("count-failing", "documents failing --fail-on", s.documents_failing))
            }
            table.counts #verdict-counts {
                thead { tr { th { "Verdict" } th.num { "Documents" } th { "Meaning" } } }
                tbody {
                    @for code in verdict_order(s) {
                        @let n = s.verdicts[&code];
                        tr {
                            td { span.swatch style=(format!("background:{}", charts::colour(&code))) {} (code) }
                            td.num data-verdict=(code) { (n) }
                            td { (verdict_meaning(&code)) }
                        }
                    }
                }
            }
            p.note { "A document may have several verdicts; each counts once per verdict." }
            div.side-by-side {
                (count_table("Documents per level", "Level", &s.levels))
                (count_table("Suggested levels", "Level", &s.suggested_levels))
                (count_table("Formats", "Format", &s.formats))
                @if !s.errors.is_empty() { (count_table("Unreadable by cause", "Error", &s.errors)) }
                @if !s.skipped.is_empty() { (count_table("Paths skipped by reason", "Reason", &s.skipped)) }
                @if !s.exceptions.is_empty() { (count_table("Verdicts accepted by exceptions", "Exception", &s.exceptions)) }
            }
        }
    }
}

fn count_table(title: &str, key: &str, counts: &Counts) -> Markup {
    html! {
        details.counts open {
            summary { (title) }
            table.counts {
                thead { tr { th { (key) } th.num { "Documents" } } }
                tbody { @for (k, n) in counts { tr { td { (k) } td.num { (n) } } } }
            }
        }
    }
}

/// What each verdict code means (SPEC "Verdicts").
pub fn verdict_meaning(code: &str) -> &'static str {
    match code {
        "OK" => "no problem found",
        "UNLABELED" => "no protection level from any source",
        "UNKNOWN_LABEL" => "a label the scheme cannot map to a level",
        "LABEL_CONFLICT" => "label sources disagree on the level",
        "UNDER_CLASSIFIED" => "level lower than the content calls for",
        "RELEASE_WITHOUT_LEVEL" => "a release marking but no protection level",
        "RELEASE_UNAUTHORIZED" => "released to a party that is not a partner in the policy",
        "RELEASE_EXCEEDS_AGREEMENT" => "level higher than the partner's agreement allows",
        "RELEASE_AGREEMENT_EXPIRED" => "the partner's agreement is not valid on the as-of date",
        "NOT_RELEASED_TO_LOCATION" => {
            "in a partner's exchange location without a release to that partner"
        }
        "TLP_VIOLATION" => "a TLP marking that the location or content forbids",
        "UNREADABLE" => "the file could not be inspected",
        _ => "",
    }
}

/// The run's verdict codes in the order of the SPEC's table (OK first,
/// UNREADABLE last); codes this version does not know go at the end.
fn verdict_order(s: &RunSummary) -> Vec<String> {
    let rank = |code: &str| {
        VerdictCode::ALL
            .iter()
            .position(|c| c.as_str() == code)
            .unwrap_or(VerdictCode::ALL.len())
    };
    let mut codes: Vec<String> = s.verdicts.keys().cloned().collect();
    codes.sort_by_key(|code| rank(code));
    codes
}

/// Per run, oldest first and this one last: its finish time and verdicts.
fn trend(s: &RunSummary) -> Vec<(String, Counts)> {
    let earlier = s
        .earlier_runs
        .iter()
        .map(|r| (r.finished_at.clone(), r.verdicts.clone()));
    let this = (format!("{} (this run)", s.finished_at), s.verdicts.clone());
    earlier.chain(std::iter::once(this)).collect()
}

fn charts_section(cx: &Context) -> Markup {
    let s = cx.summary;
    let mut folders: Vec<(String, Counts)> = s.by_folder.clone().into_iter().collect();
    folders.sort_by_key(|(name, counts)| (std::cmp::Reverse(problems(counts)), name.clone()));
    let partners: Vec<(String, Counts)> = s.releases.clone().into_iter().collect();
    let statuses: Vec<String> = ["covered", "exceeds", "expired", "unknown_partner"]
        .map(String::from)
        .to_vec();
    html! {
        section #charts {
            h2 { "Charts" }
            h3 { "Verdicts per top-level folder" }
            p.note { "Folders with the most problems first. Hover a bar for its counts." }
            @if folders.is_empty() { p { "No documents." } }
            @else { (charts::stacked_bars("Verdicts per top-level folder", &folders, &verdict_order(s))) }
            @if !s.earlier_runs.is_empty() {
                h3 { "Verdicts over earlier runs" }
                p.note { "The earlier completed runs over the same PATHs in the state store, then this one: verdict counts per run (a document may count under several verdicts)." }
                (charts::stacked_bars("Verdicts over earlier runs", &trend(s), &verdict_order(s)))
            }
            h3 { "Labelled level against suggested level" }
            (charts::level_matrix(&levels(cx.policy), &cx.aggregates.matrix))
            h3 { "Releases per partner by agreement status" }
            @if partners.is_empty() { p #no-releases { "No document names a recipient in a release marking." } }
            @else { (charts::stacked_bars("Releases per partner by agreement status", &partners, &statuses)) }
            @if !s.locations.is_empty() {
                details.counts open {
                    summary { "Partner exchange locations" }
                    table.counts {
                        thead { tr { th { "Location" } th { "Partner" } th.num { "Files" } } }
                        tbody { @for l in &s.locations { tr { td { code { (l.path) } } td { (l.partner) } td.num { (l.files) } } } }
                    }
                }
            }
        }
    }
}

/// Documents with a verdict other than OK, counted per verdict.
fn problems(counts: &Counts) -> u64 {
    counts
        .iter()
        .filter(|(code, _)| code.as_str() != "OK")
        .map(|(_, n)| n)
        .sum()
}

fn changes(cx: &Context) -> Markup {
    let s = cx.summary;
    html! {
        section #changes {
            h2 { "Changes since the previous run" }
            @match (&cx.changes, &s.baseline_run_id) {
                (None, _) => p { "This run kept no state store, so it was not compared with earlier runs." },
                (Some(_), None) => p { "No earlier completed run over the same PATHs: every document is new ("
                    (s.changes.get("NEW").copied().unwrap_or(0)) ")." },
                (Some((listed, total)), Some(baseline)) => {
                    p { "Compared with run " code { (baseline) } ": "
                        @for (i, (kind, n)) in s.changes.iter().enumerate() {
                            @if i > 0 { ", " } (n) " " (kind.to_lowercase())
                        } "." }
                    @if !listed.is_empty() { (change_table(listed)) }
                    @if *total > listed.len() as u64 {
                        p.note { "The first " (listed.len()) " of " (total) " changes are listed; changes.csv has all." }
                    }
                }
            }
        }
    }
}

fn change_table(changes: &[ChangeLine]) -> Markup {
    html! {
        div.scroll {
            table.counts.changes {
                thead { tr { th { "Change" } th { "Path" } th { "Level" } th { "Suggested" } th { "Verdicts" } th { "Cause" } } }
                tbody {
                    @for c in changes {
                        tr {
                            td { (c.change) } td.path { (c.path) }
                            td { (arrow(&c.level_before, &c.level_after)) }
                            td { (arrow(&c.suggested_before, &c.suggested_after)) }
                            td { (arrow(&c.verdicts_before.join(" "), &c.verdicts_after.join(" "))) }
                            td { (c.cause) }
                        }
                    }
                }
            }
        }
    }
}

fn arrow(before: &str, after: &str) -> String {
    if before == after {
        after.to_string()
    } else {
        format!("{} → {}", dash(before), dash(after))
    }
}

fn dash(text: &str) -> &str {
    if text.is_empty() {
        "–"
    } else {
        text
    }
}

fn findings_section(s: &RunSummary) -> Markup {
    html! {
        section #findings {
            h2 { "Findings" }
            p.note.screen-only { "Every document scanned. Click a column head to sort, a row for its evidence and reasons." }
            div.filters.screen-only {
                label { "Verdict " select #filter-verdict data-col="verdicts" { option value="" { "all" } } }
                label { "Folder " select #filter-folder data-col="folder" { option value="" { "all" } } }
                label { "Level " select #filter-level data-col="level" { option value="" { "all" } } }
                label { "Suggested " select #filter-suggested data-col="suggested" { option value="" { "all" } } }
                label { "Partner " select #filter-partner data-col="partners" { option value="" { "all" } } }
                label { "Detector " select #filter-detector data-col="detectors" { option value="" { "all" } } }
                label { "Search " input #filter-text type="search" placeholder="path, verdict, reason…"; }
                button #filter-reset type="button" { "Reset" }
            }
            p #shown { span #shown-count { (s.documents) } " of " span #total-count { (s.documents) } " documents shown" }
            div.grid #grid role="table" aria-label="Findings" {
                div.grid-head role="row" {
                    div role="columnheader" data-sort="path" { "Path" }
                    div role="columnheader" data-sort="format" { "Format" }
                    div role="columnheader" data-sort="level" { "Level" }
                    div role="columnheader" data-sort="suggested" { "Suggested" }
                    div role="columnheader" data-sort="verdicts" { "Verdicts" }
                    div role="columnheader" data-sort="partners" { "Released to" }
                }
                div.grid-body #grid-body { div #grid-space { div #grid-rows {} } }
            }
            div #detail.detail hidden {}
            noscript { p { "The table needs JavaScript; findings.csv holds the same rows." } }
        }
    }
}

fn methodology(cx: &Context) -> Markup {
    let p = cx.policy;
    html! {
        section #method {
            h2 { "Methodology: the policy as applied" }
            p { "Each document's labels (custom properties, Microsoft Purview labels, visual markings), "
                "its content (detectors below) and its release markings were read and judged against this "
                "policy on the as-of date " (cx.summary.as_of) ". The suggested level is the highest level "
                "called for by a detector that fired." }
            table.facts {
                tr { th { "Policy file" } td { code { (str_of(p, "origin")) } } }
                tr { th { "SHA-256" } td { code { (str_of(p, "sha256")) } } }
                tr { th { "Levels, lowest first" } td { (levels(p).join(" < ")) } }
                tr { th { "Default suggestion" } td { (str_of(p, "default_suggestion")) } }
                tr { th { "Aliases" } td { (pairs(p.get("aliases"))) } }
                tr { th { "Label properties" } td { (strings(&p["labels"]["custom_properties"])) } }
                tr { th { "Release properties" } td { (strings(&p["labels"]["release_properties"])) } }
                tr { th { "Purview label GUIDs" } td { (pairs(p["labels"].get("msip"))) } }
            }
            (object_table("Partners and agreements", &p["partners"],
                &["name", "aliases", "agreement", "max_level", "valid_from", "valid_until", "status"]))
            (object_table("Exchange locations", &p["locations"], &["path", "partner"]))
            (object_table("Exceptions", &p["exceptions"],
                &["id", "path", "codes", "reason", "approved_by", "expires", "in_force"]))
            h3 { "Detectors" }
            (object_table_bare(&p["detectors"],
                &["id", "kind", "category", "level", "min_count", "enabled", "description"], "detectors"))
            (object_table("Keyword lists", &p["keywords"], &["id", "terms", "case_sensitive"]))
            (object_table("Patterns", &p["patterns"], &["id", "regex"]))
            h3 { "Verdicts" }
            table.counts {
                tbody { @for code in verdict_order(cx.summary) { tr { td { code { (code) } } td { (verdict_meaning(&code)) } } } }
            }
        }
    }
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A JSON value as table text: strings as they are, lists joined.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn strings(value: &Value) -> String {
    cell(value)
}

fn pairs(value: Option<&Value>) -> Markup {
    let Some(Value::Object(map)) = value else {
        return html! { "none" };
    };
    html! {
        @if map.is_empty() { "none" }
        @for (k, v) in map { code { (k) } " → " (cell(v)) br; }
    }
}

fn object_table(title: &str, items: &Value, keys: &[&str]) -> Markup {
    html! {
        h3 { (title) }
        (object_table_bare(items, keys, ""))
    }
}

fn object_table_bare(items: &Value, keys: &[&str], id: &str) -> Markup {
    let rows = items.as_array().map(Vec::as_slice).unwrap_or(&[]);
    html! {
        @if rows.is_empty() { p { "None." } }
        @else {
            div.scroll {
                table.counts id=[(!id.is_empty()).then_some(id)] {
                    thead { tr { @for k in keys { th { (k.replace('_', " ")) } } } }
                    tbody { @for row in rows { tr { @for k in keys { td { (cell(&row[*k])) } } } } }
                }
            }
        }
    }
}
