//! Differential test of labelscan's XML tokenizer against roxmltree, a
//! conforming parser, on the XML parts of real documents: every OOXML and
//! ODF file of the real-world corpus (`../shared/corpus/realworld` beside
//! the repository) and of `examples/`.
//!
//! For each part roxmltree accepts, both must read the same elements
//! (expanded names, start and end), the same attributes (expanded names,
//! values after entity decoding) and the same character data in document
//! order (entities decoded, CDATA taken literally, adjacent pieces joined).
//! What XML asks of a parser and the tokenizer leaves to its callers is
//! applied to the tokenizer's side first: line ends normalised in text,
//! white space normalised in attribute values, namespaces resolved.
//!
//! The corpus is required: without it the test fails rather than passing
//! on nothing.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use labelscan::extract::xml::{self, Token, Tokens};

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// One event in document order. Names are `{namespace}local`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Open(String, Vec<(String, String)>),
    Close(String),
    Text(String),
}

fn expanded(ns: Option<&str>, local: &str) -> String {
    match ns {
        Some(ns) if !ns.is_empty() => format!("{{{ns}}}{local}"),
        _ => local.to_string(),
    }
}

fn push_text(out: &mut Vec<Ev>, t: &str) {
    if t.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Ev::Text(last)) => last.push_str(t),
        _ => out.push(Ev::Text(t.to_string())),
    }
}

// ---------------------------------------------------------------------------
// The reference.

fn reference_events(doc: &roxmltree::Document<'_>) -> Vec<Ev> {
    fn walk(node: roxmltree::Node<'_, '_>, out: &mut Vec<Ev>) {
        let name = expanded(node.tag_name().namespace(), node.tag_name().name());
        let attrs = node
            .attributes()
            .map(|a| (expanded(a.namespace(), a.name()), a.value().to_string()))
            .collect();
        out.push(Ev::Open(name.clone(), attrs));
        for child in node.children() {
            if child.is_element() {
                walk(child, out);
            } else if child.is_text() {
                push_text(out, child.text().unwrap_or(""));
            }
        }
        out.push(Ev::Close(name));
    }
    let mut out = Vec::new();
    walk(doc.root_element(), &mut out);
    out
}

// ---------------------------------------------------------------------------
// labelscan's tokenizer, with namespaces resolved from its attributes.

/// XML's line-end normalisation: `\r\n` and a lone `\r` read as `\n`.
fn normalise_line_ends(raw: &str) -> String {
    raw.replace("\r\n", "\n").replace('\r', "\n")
}

/// XML's attribute-value normalisation of literal white space (character
/// references are decoded afterwards and stay as they are).
fn normalise_attr(raw: &str) -> String {
    normalise_line_ends(raw).replace(['\n', '\t'], " ")
}

struct Scopes {
    /// (prefix or "" for the default namespace, namespace), innermost last.
    bindings: Vec<(String, String)>,
    /// How many bindings each open element added.
    added: Vec<usize>,
}

impl Scopes {
    fn lookup(&self, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, ns)| ns.as_str())
            .filter(|ns| !ns.is_empty())
    }

    fn element_name(&self, qname: &str) -> String {
        match qname.split_once(':') {
            Some((prefix, local)) => expanded(self.lookup(prefix), local),
            None => expanded(self.lookup(""), qname),
        }
    }

    /// Enters an element: binds its namespace declarations and returns its
    /// name and other attributes, expanded.
    fn enter(&mut self, tag: &xml::Tag<'_>) -> Ev {
        let mut added = 0;
        let mut plain = Vec::new();
        for (key, raw) in tag.attributes() {
            let value = xml::unescape(&normalise_attr(raw));
            if key == "xmlns" {
                self.bindings.push((String::new(), value));
                added += 1;
            } else if let Some(prefix) = key.strip_prefix("xmlns:") {
                self.bindings.push((prefix.to_string(), value));
                added += 1;
            } else {
                plain.push((key, value));
            }
        }
        self.added.push(added);
        let attrs = plain
            .into_iter()
            .map(|(key, value)| {
                let name = match key.split_once(':') {
                    Some((prefix, local)) => expanded(self.lookup(prefix), local),
                    // Unprefixed attributes are in no namespace.
                    None => key.to_string(),
                };
                (name, value)
            })
            .collect();
        Ev::Open(self.element_name(tag.name), attrs)
    }

    fn leave(&mut self) {
        let n = self.added.pop().unwrap_or(0);
        self.bindings.truncate(self.bindings.len() - n);
    }
}

fn labelscan_events(text: &str) -> Result<Vec<Ev>, String> {
    let mut tokens = Tokens::new(text);
    let mut scopes = Scopes {
        bindings: Vec::new(),
        added: Vec::new(),
    };
    let mut out = Vec::new();
    loop {
        let depth = scopes.added.len();
        match tokens.next_token() {
            Ok(None) => return Ok(out),
            Err(_) => return Err(format!("malformed after {} events", out.len())),
            Ok(Some(Token::Start(tag))) => out.push(scopes.enter(&tag)),
            Ok(Some(Token::Empty(tag))) => {
                let open = scopes.enter(&tag);
                let Ev::Open(name, _) = &open else {
                    unreachable!()
                };
                let close = Ev::Close(name.clone());
                out.push(open);
                out.push(close);
                scopes.leave();
            }
            Ok(Some(Token::End(name))) => {
                out.push(Ev::Close(scopes.element_name(name)));
                scopes.leave();
            }
            // Character data outside the root element is not content.
            Ok(Some(Token::Text(t))) if depth > 0 => {
                push_text(&mut out, &xml::unescape(&normalise_line_ends(t)))
            }
            Ok(Some(Token::CData(t))) if depth > 0 => push_text(&mut out, &normalise_line_ends(t)),
            Ok(Some(_)) => {}
        }
    }
}

// ---------------------------------------------------------------------------
// The corpus.

fn is_package(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    matches!(
        ext.as_deref(),
        Some(
            "docx"
                | "docm"
                | "dotx"
                | "dotm"
                | "xlsx"
                | "xlsm"
                | "xltx"
                | "pptx"
                | "pptm"
                | "potx"
                | "odt"
                | "ods"
                | "odp"
                | "odg"
                | "ott"
        )
    )
}

fn is_xml_part(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".xml") || name.ends_with(".rels") || name.ends_with(".vml")
}

fn packages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("../shared/corpus/realworld");
    assert!(
        corpus.is_dir(),
        "the real-world corpus is missing: {} (shared/ beside the repository)",
        corpus.display()
    );
    let mut files: Vec<PathBuf> = [corpus, root.join("examples")]
        .iter()
        .flat_map(|dir| walkdir::WalkDir::new(dir).sort_by_file_name())
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.is_file() && is_package(p))
        .collect();
    files.sort();
    files
}

/// Where two event lists first differ, with a little context.
fn first_difference(want: &[Ev], got: &[Ev]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    let show = |evs: &[Ev]| {
        evs.iter()
            .skip(at.saturating_sub(2))
            .take(4)
            .map(|e| {
                let s = format!("{e:?}");
                s.chars().take(200).collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n      ")
    };
    format!(
        "event {at} of {} (reference) / {} (labelscan)\n    reference: {}\n    labelscan: {}",
        want.len(),
        got.len(),
        show(want),
        show(got)
    )
}

#[test]
fn tokenizer_reads_real_parts_as_roxmltree_does() {
    let files = packages();
    let mut packages_read = 0;
    let mut not_zip = Vec::new();
    let mut compared = 0usize;
    let mut events = 0usize;
    let mut bytes = 0usize;
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let archive = File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| zip::ZipArchive::new(f).map_err(|e| e.to_string()));
        let mut archive = match archive {
            Ok(a) => a,
            // Encrypted OOXML is an OLE file; broken examples are meant so.
            Err(e) => {
                not_zip.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        packages_read += 1;
        for i in 0..archive.len() {
            let mut entry = match archive.by_index(i) {
                Ok(e) => e,
                Err(_) => continue,
            };
            let part = String::from_utf8_lossy(entry.name_raw()).into_owned();
            if !entry.is_file() || !is_xml_part(&part) {
                continue;
            }
            let mut raw = Vec::new();
            if entry.read_to_end(&mut raw).is_err() {
                *rejected.entry("unreadable zip entry".into()).or_default() += 1;
                continue;
            }
            let text = xml::decode(&raw);
            // DTDs allowed: an entity one declares would be expanded by
            // roxmltree and dropped by labelscan (a difference the test
            // would show); no part of the corpus uses one.
            let opts = roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            };
            let doc = match roxmltree::Document::parse_with_options(&text, opts) {
                Ok(d) => d,
                Err(e) => {
                    let kind = format!("{e:?}");
                    let kind = kind.split(['(', ' ']).next().unwrap_or("").to_string();
                    *rejected.entry(kind).or_default() += 1;
                    continue;
                }
            };
            let want = reference_events(&doc);
            compared += 1;
            bytes += text.len();
            events += want.len();
            match labelscan_events(&text) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{} [{part}]: {}",
                    path.display(),
                    first_difference(&want, &got)
                )),
                Err(e) => failures.push(format!("{} [{part}]: {e}", path.display())),
            }
        }
    }
    println!(
        "{} packages ({} read as zip), {compared} XML parts compared ({} MB, {events} events), \
         rejected by roxmltree: {rejected:?}",
        files.len(),
        packages_read,
        bytes / 1_000_000
    );
    for n in &not_zip {
        println!("not a zip: {n}");
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} parts read differently:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The corpus holds 163 OOXML and ODF files: a handful of parts means
    // the corpus or the zip reading went wrong.
    assert!(compared >= 1000, "only {compared} parts compared");
}
