//! OOXML packages (docx/docm/dotx, xlsx/xlsm, pptx/pptm and other packages):
//! text of the body, headers, footers, comments, notes, deleted text, sheets
//! and slides; core/app/custom properties; `LabelInfo.xml`; embedded documents.
//! Every XML part is streamed once by [`xml::Tokens`]; zip members are read
//! through the bounded [`Package`] reader.

use super::legacy::{field_code_text, FieldText, MAX_FIELD_CODE};
use super::numfmt::{self, NumFmt, StyleFormats};
use super::xml::{self, local, short_scan, Tag, TextBuf, Ticker, Token, Tokens};
use super::zipread::Package;
use super::{
    CellAnchors, ErrorKind, ExtractError, ExtractResult, Extracted, Format, LabelInfoEntry, Layout,
    PartKind,
};
use crate::model::budget::Budget;
use crate::model::document::parse_cell_reference;

const LABELINFO_REL: &str =
    "http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels";
const LABELINFO_DEFAULT: &str = "docMetadata/LabelInfo.xml";

pub fn extract(format: Format, bytes: &[u8], budget: &Budget) -> Extracted {
    match Package::open(bytes, budget) {
        Ok(pkg) => extract_package(format, pkg, budget),
        Err(e) => Extracted::failed(e),
    }
}

/// [`extract`] of a package already opened (in memory or on disk).
pub fn extract_package(format: Format, pkg: Package<'_>, budget: &Budget) -> Extracted {
    let mut cx = Ctx::new(pkg, budget);
    let r = run(format, &mut cx);
    cx.finish(r)
}

pub(crate) struct Ctx<'a, 'b> {
    pub pkg: Package<'a>,
    pub budget: &'b Budget,
    pub out: Extracted,
    /// Set when a part was larger than the budget's `max_part_kept` and
    /// only its start was read: the document is then `limit_exceeded`.
    pub cut: Option<ExtractError>,
}

impl<'a, 'b> Ctx<'a, 'b> {
    pub fn new(pkg: Package<'a>, budget: &'b Budget) -> Self {
        Ctx {
            pkg,
            budget,
            out: Extracted::default(),
            cut: None,
        }
    }

    /// Most text the next part may hold: what the document may still
    /// keep, less the parts read so far.
    pub fn cap(&self) -> usize {
        let kept: usize = (self.out.parts.iter())
            .filter(|p| p.kind != PartKind::Embedded)
            .map(|p| p.text.len())
            .sum();
        self.budget.text_room().saturating_sub(kept)
    }

    /// What was read, with the error that stopped the reading. A part
    /// read only in part makes the document `limit_exceeded` (also when
    /// its cut end then failed as malformed XML); its text is kept.
    pub fn finish(mut self, r: ExtractResult<()>) -> Extracted {
        self.out.error = match (r, self.cut) {
            (Ok(()), cut) => cut,
            (Err(e), Some(cut)) if e.kind == ErrorKind::Corrupt => Some(cut),
            (Err(e), _) => Some(e),
        };
        self.out
    }

    /// Reads and decodes a part; `Ok(None)` if it does not exist. A part
    /// larger than the budget's `max_part_kept` is read only that far
    /// (see [`Ctx::cut`]).
    pub fn read_required(&mut self, name: &str) -> ExtractResult<Option<String>> {
        let Some(i) = self.pkg.find(name) else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        let cut = self.pkg.read_text_index_into(i, self.budget, &mut bytes)?;
        let part = self.pkg.name(i).into_owned();
        if cut {
            let mib = self.budget.limits.max_part_kept >> 20;
            self.out
                .parts_read
                .push(format!("{part} (only its first {mib} MiB read)"));
            self.cut.get_or_insert_with(|| {
                ExtractError::limit(format!(
                    "a part is larger than {mib} MiB; only its first {mib} MiB were read"
                ))
            });
        } else {
            self.out.parts_read.push(part);
        }
        Ok(Some(bytes_to_string(bytes)))
    }

    /// Whether a part was cut short so far: a malformed end is then no
    /// reason to stop reading the other parts.
    pub fn was_cut(&self) -> bool {
        self.cut.is_some()
    }

    /// Reads a secondary part: missing or damaged parts are skipped (and
    /// noted in `parts_read`); limits, timeouts and encryption still fail.
    pub fn read_optional(&mut self, name: &str) -> ExtractResult<Option<String>> {
        match self.read_required(name) {
            Ok(v) => Ok(v),
            Err(e) if e.kind == ErrorKind::Corrupt => {
                self.out
                    .parts_read
                    .push(format!("{name} (unreadable: {e})"));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Turns an inflated part into text without copying valid UTF-8.
pub fn bytes_to_string(bytes: Vec<u8>) -> String {
    if bytes.starts_with(b"\xEF\xBB\xBF")
        || bytes.starts_with(b"\xFF\xFE")
        || bytes.starts_with(b"\xFE\xFF")
    {
        return xml::decode(&bytes).into_owned();
    }
    if simdutf8::basic::from_utf8(&bytes).is_ok() {
        // SAFETY: the bytes were just checked to be UTF-8.
        return unsafe { String::from_utf8_unchecked(bytes) };
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---------------------------------------------------------------------------
// Relationships

#[derive(Debug, Clone)]
pub struct Rel {
    pub id: String,
    pub rel_type: String,
    /// Resolved part name inside the package (no leading `/`).
    pub target: String,
}

/// The `.rels` part of `part` (`word/document.xml` -> `word/_rels/document.xml.rels`).
pub fn rels_name(part: &str) -> String {
    match part.rfind('/') {
        Some(i) => format!("{}/_rels/{}.rels", &part[..i], &part[i + 1..]),
        None => format!("_rels/{part}.rels"),
    }
}

fn dir_of(part: &str) -> &str {
    match part.rfind('/') {
        Some(i) => &part[..i + 1],
        None => "",
    }
}

/// Resolves a relationship target against the source part's folder.
pub fn resolve_target(base_dir: &str, target: &str) -> String {
    let target = target.split(['#', '?']).next().unwrap_or("");
    let joined = if let Some(abs) = target.strip_prefix('/') {
        abs.to_string()
    } else {
        format!("{base_dir}{target}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Parses a `.rels` part; `base_dir` is the folder of its source part.
pub fn parse_rels(text: &str, base_dir: &str, budget: &Budget) -> ExtractResult<Vec<Rel>> {
    let mut rels = Vec::new();
    xml::each_element(text, "Relationship", budget, |e| {
        if e.attr("TargetMode")
            .is_some_and(|m| m.eq_ignore_ascii_case("External"))
        {
            return;
        }
        if let (Some(id), Some(t), Some(target)) = (e.attr("Id"), e.attr("Type"), e.attr("Target"))
        {
            rels.push(Rel {
                id,
                rel_type: t,
                target: resolve_target(base_dir, &target),
            });
        }
    })?;
    Ok(rels)
}

/// The targets of the hyperlinks of `part` (whose text is `text`): its
/// relationships of the hyperlink type, (id, URL). Read only when the part
/// has a hyperlink element.
fn hyperlink_targets(cx: &mut Ctx, part: &str, text: &str) -> ExtractResult<Vec<(String, String)>> {
    let mut links = Vec::new();
    if memchr::memmem::find(text.as_bytes(), b"hyperlink ").is_none() {
        return Ok(links);
    }
    let Some(rels) = cx.read_optional(&rels_name(part))? else {
        return Ok(links);
    };
    xml::each_element(&rels, "Relationship", cx.budget, |e| {
        let is_link = e
            .attr_raw("Type")
            .is_some_and(|t| t.ends_with("/hyperlink"));
        if let (true, Some(id), Some(target)) = (is_link, e.attr("Id"), e.attr("Target")) {
            links.push((id, target));
        }
    })?;
    Ok(links)
}

fn read_rels(cx: &mut Ctx, part: &str) -> ExtractResult<Vec<Rel>> {
    let name = rels_name(part);
    match cx.read_optional(&name)? {
        Some(text) => parse_rels(&text, dir_of(part), cx.budget),
        None => Ok(Vec::new()),
    }
}

fn find_rel<'r>(rels: &'r [Rel], type_suffix: &str) -> Option<&'r Rel> {
    rels.iter().find(|r| r.rel_type.ends_with(type_suffix))
}

// ---------------------------------------------------------------------------
// Driver

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Sheet,
    Slides,
    Other,
}

fn run(format: Format, cx: &mut Ctx) -> ExtractResult<()> {
    let root_rels = match cx.read_optional("_rels/.rels")? {
        Some(t) => parse_rels(&t, "", cx.budget)?,
        None => Vec::new(),
    };
    let main_rel = root_rels
        .iter()
        .find(|r| r.rel_type.ends_with("/officeDocument") && cx.pkg.has(&r.target))
        .map(|r| r.target.clone());
    let (kind, main) = match format {
        Format::Docx => (
            Kind::Word,
            main_rel.unwrap_or_else(|| "word/document.xml".into()),
        ),
        Format::Xlsx => (
            Kind::Sheet,
            main_rel.unwrap_or_else(|| "xl/workbook.xml".into()),
        ),
        Format::Pptx => (
            Kind::Slides,
            main_rel.unwrap_or_else(|| "ppt/presentation.xml".into()),
        ),
        _ => match main_rel {
            Some(m) => (kind_of_main(&m), m),
            None => {
                // No usable package relationships: guess from well-known names.
                if cx.pkg.has("word/document.xml") {
                    (Kind::Word, "word/document.xml".into())
                } else if cx.pkg.has("xl/workbook.xml") {
                    (Kind::Sheet, "xl/workbook.xml".into())
                } else if cx.pkg.has("ppt/presentation.xml") {
                    (Kind::Slides, "ppt/presentation.xml".into())
                } else {
                    (Kind::Other, String::new())
                }
            }
        },
    };

    properties(cx, &root_rels)?;
    label_info(cx, &root_rels)?;

    match kind {
        Kind::Word => word(cx, &main)?,
        Kind::Sheet => workbook(cx, &main)?,
        Kind::Slides => presentation(cx, &main)?,
        Kind::Other => {
            if main.is_empty() {
                if cx.out.properties.is_empty() && cx.out.label_info.is_empty() {
                    return Err(ExtractError::corrupt("OOXML main part not found"));
                }
            } else if let Some(text) = cx.read_required(&main)? {
                let mut body = TextBuf::new(cx.cap());
                let r = walk_flow(&text, cx.budget, &FLOW_DOC, &mut body, None);
                cx.out.push_part(PartKind::Body, main.clone(), body.take());
                r.map_err(|_| xml::malformed(&main))?;
            }
        }
    }
    drawings(cx)?;
    embedded(cx);
    Ok(())
}

/// Text a reader sees outside the main flow: SmartArt data, worksheet
/// drawings (text boxes, shapes). Kept as `Other` parts.
fn drawings(cx: &mut Ctx) -> ExtractResult<()> {
    let mut names = cx.pkg.names_where(|n| {
        let lower = n.to_ascii_lowercase();
        lower.ends_with(".xml")
            && !lower.contains("/_rels/")
            && (lower.contains("/diagrams/data") || lower.starts_with("xl/drawings/drawing"))
    });
    names.sort_by_key(|n| natural_key(n));
    for name in names {
        cx.budget.check_time()?;
        flow_part(cx, &name, PartKind::Other, &FLOW_DOC)?;
    }
    Ok(())
}

fn kind_of_main(main: &str) -> Kind {
    let file = main.rsplit('/').next().unwrap_or(main).to_ascii_lowercase();
    if file.starts_with("document") {
        Kind::Word
    } else if file.starts_with("workbook") {
        Kind::Sheet
    } else if file.starts_with("presentation") {
        Kind::Slides
    } else {
        Kind::Other
    }
}

// ---------------------------------------------------------------------------
// Paragraph flow (WordprocessingML and DrawingML text)

/// What a flow walk treats as text and as line ends.
#[derive(Clone, Copy)]
pub struct FlowOpts<'l> {
    /// Comment parts: `text` elements hold text too (besides `t`), and a
    /// comment (`comment`, `cm`, `threadedComment`) ends a line.
    pub comments: bool,
    /// The part's hyperlink relationships: (id, target URL).
    pub links: &'l [(String, String)],
}

pub const FLOW_DOC: FlowOpts<'static> = FlowOpts {
    comments: false,
    links: &[],
};

const FLOW_COMMENTS: FlowOpts<'static> = FlowOpts {
    comments: true,
    links: &[],
};

impl FlowOpts<'_> {
    /// Elements whose text content is collected. Compares with constants,
    /// which compile to a few instructions; a list walked at run time costs a
    /// `memcmp` call per element of every part.
    #[inline]
    fn is_text_elem(&self, name: &str) -> bool {
        name == "t" || (self.comments && name == "text")
    }

    /// Elements whose end also ends a line.
    #[inline]
    fn is_line_elem(&self, name: &str) -> bool {
        self.comments && matches!(name, "comment" | "cm" | "threadedComment")
    }
}

/// Streams paragraphs of `text` into `main` (one line per paragraph, table
/// cells tab-separated, rows as lines), deleted text into `deleted`.
/// On malformed XML the text read so far stays in the buffers.
pub fn walk_flow(
    text: &str,
    budget: &Budget,
    opts: &FlowOpts,
    main: &mut TextBuf,
    mut deleted: Option<&mut TextBuf>,
) -> ExtractResult<()> {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(budget);
    let mut text_depth: u32 = 0;
    let mut del_depth: u32 = 0;
    let mut skip: u32 = 0; // inside mc:Fallback, rPh, w:tabs ...
    let mut cells: u32 = 0;
    let mut run_names: Option<RunNames> = None;
    let mut marks = Marks::default();
    loop {
        tick.tick()?;
        if marks.pending.is_some() {
            marks.settle(main, false);
        }
        let token = match tokens.next_token() {
            Ok(Some(t)) => t,
            Ok(None) => break,
            Err(_) => return Err(ExtractError::corrupt("malformed XML")),
        };
        match token {
            Token::Start(e) => {
                let name = e.local();
                if skip > 0 {
                    if is_skipped(name) {
                        skip += 1;
                    }
                    continue;
                }
                match name {
                    // Runs and paragraphs, most of the start tags: first.
                    "r" => {
                        let names = match &mut run_names {
                            Some(n) if short_scan::same(n.run.as_bytes(), e.name.as_bytes()) => n,
                            slot => slot.insert(RunNames::new(e.name)),
                        };
                        read_run_start(&mut tokens, names, del_depth, main, &mut deleted);
                    }
                    "p" => {}
                    _ if is_skipped(name) => skip = 1,
                    _ if holds_no_text(name) => tokens.skip_past_end(e.name),
                    "delText" => {
                        let into = sink(1, text_depth, main, &mut deleted);
                        if !take_text(&mut tokens, e.name, into) {
                            del_depth += 1;
                        }
                    }
                    "tc" => cells += 1,
                    "tab" => main.push('\t'),
                    "br" | "cr" => main.push('\n'),
                    _ if opts.is_text_elem(name) => {
                        let into = sink(del_depth, 1, main, &mut deleted);
                        if !take_text(&mut tokens, e.name, into) {
                            text_depth += 1;
                        }
                    }
                    "instrText" => marks.field_code(&mut tokens, e.name),
                    _ => marks.start(&e, opts, main),
                }
            }
            Token::Empty(e) => {
                if skip > 0 {
                    continue;
                }
                match e.local() {
                    "tab" | "ptab" => main.push('\t'),
                    "br" | "cr" => main.push('\n'),
                    "noBreakHyphen" => main.push('-'),
                    "tc" => main.cell_end(),
                    "fldChar" => marks.field_char(&e, main),
                    _ => {}
                }
            }
            Token::End(name) => {
                let name = local(name);
                if skip > 0 {
                    if is_skipped(name) {
                        skip -= 1;
                    }
                    continue;
                }
                match name {
                    "p" => {
                        marks.settle(main, true);
                        if cells > 0 {
                            main.soft_break();
                        } else {
                            main.newline();
                        }
                        if let Some(d) = deleted.as_deref_mut() {
                            d.newline();
                        }
                    }
                    "tc" => {
                        cells = cells.saturating_sub(1);
                        main.cell_end();
                    }
                    "tr" => main.newline(),
                    "delText" => del_depth = del_depth.saturating_sub(1),
                    _ if opts.is_text_elem(name) => text_depth = text_depth.saturating_sub(1),
                    _ if opts.is_line_elem(name) => main.newline(),
                    _ => marks.end(name, main),
                }
            }
            Token::Text(t) if skip == 0 => {
                if let Some(b) = sink(del_depth, text_depth, main, &mut deleted) {
                    b.push_escaped(t);
                }
            }
            Token::CData(t) if skip == 0 => {
                if let Some(b) = sink(del_depth, text_depth, main, &mut deleted) {
                    b.push_str(t);
                }
            }
            _ => {}
        }
    }
    marks.settle(main, true);
    Ok(())
}

/// What a flow shows beside its runs' text: a hyperlink's target after
/// the link text, `text (URL)`, as the `.doc` reader writes it (from
/// `w:hyperlink` and its relationship, or a HYPERLINK field); a phonetic
/// guide (`w:ruby`) after its base text, `base(guide)`, not glued to it.
#[derive(Default)]
struct Marks {
    /// Open `w:hyperlink` and `w:fldSimple` elements: what each adds at
    /// its end.
    links: Vec<Option<String>>,
    /// Open complex fields (`w:fldChar` begin ... end), innermost last.
    fields: Vec<FlowField>,
    /// Where the phonetic guide being read started in the text.
    guide_at: Option<usize>,
    /// The guide read, waiting for the end of its base text.
    guide: String,
    /// A link's target waiting for the end of the word its text ends in
    /// (a link over part of a word), and where the link text ended.
    pending: Option<(usize, String)>,
}

#[derive(Default)]
struct FlowField {
    in_code: bool,
    code: String,
    after_result: Option<String>,
}

/// Most fields open at once; deeper ones are read as plain runs.
const MAX_OPEN_FIELDS: usize = 64;

impl Marks {
    /// A start tag the flow walk has no use of its own for.
    #[inline]
    fn start(&mut self, e: &Tag<'_>, opts: &FlowOpts<'_>, main: &mut TextBuf) {
        match e.local() {
            "hyperlink" if self.links.len() < MAX_OPEN_FIELDS => {
                let target = e
                    .attr_prefixed("id")
                    .and_then(|id| opts.links.iter().find(|(i, _)| *i == id))
                    .map(|(_, url)| url.clone());
                let shown: Vec<String> = target
                    .into_iter()
                    .chain(e.attr("tooltip"))
                    .filter(|s| !s.trim().is_empty())
                    .collect();
                self.links
                    .push((!shown.is_empty()).then(|| shown.join(" ")));
            }
            "fldSimple" if self.links.len() < MAX_OPEN_FIELDS => {
                let code = e.attr("instr").unwrap_or_default();
                let after = match field_code_text(&code) {
                    Some(FieldText::AfterResult(text)) => Some(text),
                    _ => None,
                };
                self.links.push(after);
            }
            "fldChar" => self.field_char(e, main),
            "rt" => self.guide_at = Some(main.text.len()),
            _ => {}
        }
    }

    /// An end tag the flow walk has no use of its own for.
    #[inline]
    fn end(&mut self, name: &str, main: &mut TextBuf) {
        match name {
            "hyperlink" | "fldSimple" => {
                if let Some(Some(after)) = self.links.pop() {
                    self.after_link(main, after);
                }
            }
            "rt" => {
                if let Some(at) = self.guide_at.take().filter(|&at| at <= main.text.len()) {
                    if main.text.is_char_boundary(at) {
                        self.guide = main.text.split_off(at);
                    }
                }
            }
            "rubyBase" => {
                let guide = std::mem::take(&mut self.guide);
                let guide = guide.trim();
                if !guide.is_empty() {
                    main.push('(');
                    main.push_str(guide);
                    main.push(')');
                }
            }
            _ => {}
        }
    }

    /// `w:fldChar`: a field's begin, the separator before its result, or
    /// its end. Its code shows what Word shows of it (see
    /// [`field_code_text`]).
    fn field_char(&mut self, e: &Tag<'_>, main: &mut TextBuf) {
        match e.attr_raw("fldCharType") {
            Some("begin") if self.fields.len() < MAX_OPEN_FIELDS => {
                self.fields.push(FlowField {
                    in_code: true,
                    ..FlowField::default()
                });
            }
            Some("separate") => self.end_code(main),
            Some("end") => {
                self.end_code(main);
                if let Some(after) = self.fields.pop().and_then(|f| f.after_result) {
                    self.after_link(main, after);
                }
            }
            _ => {}
        }
    }

    /// Ends the code of the innermost field; a field inside another
    /// field's code shows nothing.
    fn end_code(&mut self, main: &mut TextBuf) {
        let outer_in_code = self.fields.iter().rev().skip(1).any(|f| f.in_code);
        let Some(top) = self.fields.last_mut().filter(|f| f.in_code) else {
            return;
        };
        top.in_code = false;
        let code = std::mem::take(&mut top.code);
        if outer_in_code {
            return;
        }
        match field_code_text(&code) {
            Some(FieldText::Shown(text)) => main.push_str(&text),
            Some(FieldText::AfterResult(text)) => top.after_result = Some(text),
            None => {}
        }
    }

    /// `w:instrText`: a piece of the innermost field's code, kept while
    /// that field reads its code; never text of its own.
    fn field_code(&mut self, tokens: &mut Tokens<'_>, qname: &str) {
        let before = tokens.clone();
        match tokens.text_before_end(qname) {
            Some(raw) => {
                if let Some(top) = self.fields.last_mut().filter(|f| f.in_code) {
                    if top.code.len() < MAX_FIELD_CODE {
                        xml::unescape_into(raw, &mut top.code);
                    }
                }
            }
            None => {
                *tokens = before;
                tokens.skip_past_end(qname);
            }
        }
    }
}

impl Marks {
    /// Writes a link's target after its text, once the word the text ends
    /// in ends: a link over part of a word leaves the word whole.
    fn after_link(&mut self, main: &mut TextBuf, after: String) {
        self.settle(main, true);
        if main.text.ends_with(char::is_alphanumeric) {
            self.pending = Some((main.text.len(), after));
        } else {
            push_after(main, &after);
        }
    }

    /// Writes the waiting target where the word it follows ended, if it
    /// has; at the end of a paragraph (`force`), after what there is.
    #[inline]
    fn settle(&mut self, main: &mut TextBuf, force: bool) {
        let Some((at, _)) = &self.pending else {
            return;
        };
        let at = (*at).min(main.text.len());
        let tail = main.text.get(at..).unwrap_or("");
        let end = match tail.find(|c: char| !c.is_alphanumeric()) {
            Some(i) => at + i,
            None if force => main.text.len(),
            None => return,
        };
        if let Some((_, after)) = self.pending.take() {
            let mut piece = String::with_capacity(after.len() + 3);
            piece.push_str(" (");
            piece.push_str(&after);
            piece.push(')');
            main.insert_str(end, &piece);
        }
    }
}

/// ` (what)` after a link's text.
fn push_after(main: &mut TextBuf, what: &str) {
    main.push_str(" (");
    main.push_str(what);
    main.push(')');
}

/// Qualified names of a run's common children, with the prefix the part
/// uses (`w:` in Word, `a:` in PowerPoint).
struct RunNames {
    run: String,
    props: String,
    text: String,
}

impl RunNames {
    fn new(run: &str) -> RunNames {
        let prefix = &run[..run.len() - 1];
        RunNames {
            run: run.to_string(),
            props: format!("{prefix}rPr"),
            text: format!("{prefix}t"),
        }
    }
}

/// Right after a run's start tag: the most common run, formatting then one
/// text element, read without the token loop's general dispatch. Whatever
/// else the run holds is left to the loop, which reads it as before.
fn read_run_start(
    tokens: &mut Tokens<'_>,
    names: &RunNames,
    del_depth: u32,
    main: &mut TextBuf,
    deleted: &mut Option<&mut TextBuf>,
) {
    if tokens.eat_start(&names.props) {
        tokens.skip_past_end(&names.props);
    } else {
        tokens.eat_empty(&names.props);
    }
    let before = tokens.clone();
    if tokens.start_tag(&names.text).is_some() {
        let into = sink(del_depth, 1, main, deleted);
        if !take_text(tokens, &names.text, into) {
            // Markup inside the text element: the loop reads it from its
            // start tag, as it would have without this shortcut.
            *tokens = before;
        }
    }
}

/// Right after the start tag of a text element: takes its text into `into`
/// (nowhere if `None`) when it is plain character data up to the end tag.
/// False when the element holds markup, which the token loop then reads.
#[inline]
fn take_text(tokens: &mut Tokens<'_>, qname: &str, into: Option<&mut TextBuf>) -> bool {
    match tokens.text_before_end(qname) {
        Some(t) => {
            if let Some(b) = into {
                b.push_escaped(t);
            }
            true
        }
        None => false,
    }
}

/// The buffer text goes to: deleted text first, then ordinary text elements.
#[inline]
fn sink<'s>(
    del_depth: u32,
    text_depth: u32,
    main: &'s mut TextBuf,
    deleted: &'s mut Option<&mut TextBuf>,
) -> Option<&'s mut TextBuf> {
    if del_depth > 0 {
        deleted.as_deref_mut()
    } else if text_depth > 0 {
        Some(main)
    } else {
        None
    }
}

/// Property elements: formatting only, never text, and a good part of the
/// markup of a Word or PowerPoint part; skipped in one search each.
#[inline]
fn holds_no_text(name: &str) -> bool {
    matches!(
        name,
        "rPr"
            | "pPr"
            | "tblPr"
            | "trPr"
            | "tcPr"
            | "sectPr"
            | "tblGrid"
            | "spPr"
            | "bodyPr"
            | "lstStyle"
            | "nvSpPr"
            | "nvPicPr"
            | "blipFill"
    )
}

#[inline]
fn is_skipped(name: &str) -> bool {
    matches!(name, "Fallback" | "rPh" | "tabs" | "delInstrText")
}

/// Walks a flow part and pushes its text (and deleted text) as parts.
fn flow_part(cx: &mut Ctx, name: &str, kind: PartKind, opts: &FlowOpts) -> ExtractResult<()> {
    flow_part_at(cx, name, kind, name, opts)
}

/// Like [`flow_part`], with the parts located at `location`.
fn flow_part_at(
    cx: &mut Ctx,
    name: &str,
    kind: PartKind,
    location: &str,
    opts: &FlowOpts,
) -> ExtractResult<()> {
    let Some(text) = cx.read_optional(name)? else {
        return Ok(());
    };
    let links = hyperlink_targets(cx, name, &text)?;
    let opts = FlowOpts {
        links: &links,
        ..*opts
    };
    let mut main = TextBuf::for_part(cx.cap(), text.len());
    let mut deleted = TextBuf::new(cx.cap());
    let r = walk_flow(&text, cx.budget, &opts, &mut main, Some(&mut deleted));
    cx.out.push_part(kind, location, main.take());
    cx.out
        .push_part(PartKind::Deleted, location, deleted.take());
    match r {
        Err(e) if e.kind == ErrorKind::Corrupt => {
            cx.out
                .parts_read
                .push(format!("{name} (malformed XML, partly read)"));
            Ok(())
        }
        Err(e) => Err(e),
        Ok(()) => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Word

fn word(cx: &mut Ctx, main: &str) -> ExtractResult<()> {
    let Some(text) = cx.read_required(main)? else {
        return Err(ExtractError::corrupt("word document part not found"));
    };
    let links = hyperlink_targets(cx, main, &text)?;
    let opts = FlowOpts {
        links: &links,
        ..FLOW_DOC
    };
    let mut body = TextBuf::for_part(cx.cap(), text.len());
    let mut deleted = TextBuf::new(cx.cap());
    let r = walk_flow(&text, cx.budget, &opts, &mut body, Some(&mut deleted));
    drop(text);
    cx.out.push_part(PartKind::Body, main, body.take());
    cx.out.push_part(PartKind::Deleted, main, deleted.take());
    match r {
        // The end of a part read only in part: the other parts still count.
        Err(e) if e.kind == ErrorKind::Corrupt && cx.was_cut() => {}
        Err(e) if e.kind == ErrorKind::Corrupt => return Err(xml::malformed(main)),
        r => r?,
    }

    let dir = dir_of(main).to_string();
    let in_dir = |n: &str, prefix: &str| -> bool {
        n.strip_prefix(dir.as_str()).is_some_and(|rest| {
            !rest.contains('/')
                && rest.len() > prefix.len()
                // Bytes, not str: a part name may have a multi-byte
                // character across the prefix's end (fuzz regression).
                && rest.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
                && rest.to_ascii_lowercase().ends_with(".xml")
        })
    };
    let mut jobs: Vec<(String, PartKind)> = Vec::new();
    for (prefix, kind) in [
        ("header", PartKind::Header),
        ("footer", PartKind::Footer),
        ("comments.", PartKind::Comment),
        ("footnotes", PartKind::Footnote),
        ("endnotes", PartKind::Endnote),
    ] {
        let mut names = cx.pkg.names_where(|n| in_dir(n, prefix));
        names.sort_by_key(|n| natural_key(n));
        jobs.extend(names.into_iter().map(|n| (n, kind)));
    }
    for (name, kind) in jobs {
        cx.budget.check_time()?;
        flow_part(cx, &name, kind, &FLOW_DOC)?;
    }
    Ok(())
}

/// Sort key that orders `header2` before `header10`.
fn natural_key(name: &str) -> (String, u64) {
    let stem = name.trim_end_matches(|c: char| !c.is_ascii_digit());
    let digits_start = stem
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_ascii_digit())
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0);
    let num = stem[digits_start..].parse().unwrap_or(0);
    (name[..digits_start].to_string(), num)
}

// ---------------------------------------------------------------------------
// Excel

struct SharedStrings {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl SharedStrings {
    fn get(&self, idx: &str) -> Option<&str> {
        // Indexes are ASCII digits: the Unicode trim only for anything else.
        let i = parse_index(idx.trim_ascii()).or_else(|| parse_index(idx.trim()))?;
        let (a, b) = *self.spans.get(i)?;
        self.text.get(a..b)
    }
}

/// A shared-string index: what `str::parse::<usize>` takes, by hand, as
/// there is one for every text cell of a workbook.
fn parse_index(digits: &str) -> Option<usize> {
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    if digits.is_empty() || digits.len() > 18 {
        return digits.parse().ok();
    }
    digits.bytes().try_fold(0usize, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

fn parse_shared_strings(text: &str, budget: &Budget) -> ExtractResult<SharedStrings> {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(budget);
    let mut out = SharedStrings {
        text: String::with_capacity(text.len() / 3),
        spans: Vec::new(),
    };
    let mut start = 0usize;
    let mut in_t = false;
    let mut skip = 0u32;
    let mut scratch = String::new();
    loop {
        tick.tick()?;
        match tokens.next_token() {
            Ok(Some(Token::Start(e))) => match e.local() {
                "si" => {
                    start = out.text.len();
                    // Most strings are `<si><t>text</t></si>`.
                    if skip == 0 {
                        in_t |= enter_cell_child(&mut tokens, "t", &mut out.text, &mut scratch);
                    }
                }
                "rPh" => skip += 1,
                "t" if skip == 0 => in_t = true,
                _ => {}
            },
            Ok(Some(Token::Empty(e))) if e.local() == "si" => {
                out.spans.push((out.text.len(), out.text.len()));
            }
            Ok(Some(Token::End(name))) => match local(name) {
                "si" => out.spans.push((start, out.text.len())),
                "rPh" => skip = skip.saturating_sub(1),
                "t" => in_t = false,
                _ => {}
            },
            Ok(Some(Token::Text(t))) if in_t => push_cell_escaped(&mut out.text, t, &mut scratch),
            Ok(Some(Token::CData(t))) if in_t => push_cell_text(&mut out.text, t),
            Ok(None) | Err(_) => break,
            _ => {}
        }
    }
    Ok(out)
}

/// When the input goes on with the unprefixed child `<name>`, reads it and
/// its text into `out` as cell text. True when that leaves the reader inside
/// the child (its text holds markup, which the token loop then reads).
fn enter_cell_child(
    tokens: &mut Tokens<'_>,
    name: &str,
    out: &mut String,
    scratch: &mut String,
) -> bool {
    if !tokens.eat_start(name) {
        return false;
    }
    match tokens.text_before_end(name) {
        Some(t) => {
            push_cell_escaped(out, t, scratch);
            false
        }
        None => true,
    }
}

/// Like [`push_cell_text`] for character data with entity references
/// (`&#10;` is a line break too).
fn push_cell_escaped(out: &mut String, raw: &str, scratch: &mut String) {
    // Cell values are short: `short_scan` rather than memchr's set-up.
    if short_scan::find1(raw.as_bytes(), b'&').is_some() {
        scratch.clear();
        xml::unescape_into(raw, scratch);
        push_cell_text(out, scratch);
    } else {
        push_cell_text(out, raw);
    }
}

/// Cell text keeps rows on one line: line breaks inside a cell become spaces.
fn push_cell_text(out: &mut String, s: &str) {
    if has_break(s) {
        out.extend(s.chars().map(|c| if c.is_whitespace() { ' ' } else { c }));
    } else {
        out.push_str(s);
    }
}

/// Whether cell text holds a line break or tab, which [`push_cell_text`]
/// turns into spaces.
fn has_break(s: &str) -> bool {
    short_scan::find3(s.as_bytes(), b'\n', b'\r', b'\t').is_some()
}

struct SheetRef {
    name: String,
    rid: String,
}

fn workbook(cx: &mut Ctx, main: &str) -> ExtractResult<()> {
    let wb = cx.read_required(main)?;
    let rels = read_rels(cx, main)?;
    let mut sheets: Vec<SheetRef> = Vec::new();
    if let Some(text) = &wb {
        xml::each_element(text, "sheet", cx.budget, |e| {
            sheets.push(SheetRef {
                name: e.attr("name").unwrap_or_default(),
                rid: e.attr_prefixed("id").unwrap_or_default(),
            });
        })?;
    }
    let sst = match rels.iter().find(|r| r.rel_type.ends_with("/sharedStrings")) {
        Some(r) => r.target.clone(),
        None => "xl/sharedStrings.xml".to_string(),
    };
    let sst = match cx.read_optional(&sst)? {
        Some(t) => parse_shared_strings(&t, cx.budget)?,
        None => SharedStrings {
            text: String::new(),
            spans: Vec::new(),
        },
    };
    let styles_part = match rels.iter().find(|r| r.rel_type.ends_with("/styles")) {
        Some(r) => r.target.clone(),
        None => "xl/styles.xml".to_string(),
    };
    let mut styles = match cx.read_optional(&styles_part)? {
        Some(t) => parse_styles(&t, cx.budget)?,
        None => CellStyles::default(),
    };
    if let Some(text) = &wb {
        styles.date1904 = uses_1904_dates(text, cx.budget)?;
    }

    let mut targets: Vec<(String, String)> = Vec::new(); // (sheet name, part)
                                                         // A worksheet part is read once however many sheets name it: 2,000
                                                         // sheets pointing at one part once cost 2,000 copies of its text.
    let mut read = std::collections::HashSet::new();
    for s in &sheets {
        if let Some(r) = rels.iter().find(|r| r.id == s.rid) {
            if read.insert(r.target.trim_start_matches('/').to_ascii_lowercase()) {
                targets.push((s.name.clone(), r.target.clone()));
            }
        }
    }
    if targets.is_empty() {
        let mut names = cx.pkg.names_where(|n| {
            n.starts_with("xl/worksheets/") && n.ends_with(".xml") && !n[14..].contains('/')
        });
        names.sort_by_key(|n| natural_key(n));
        for n in names {
            let label = n[14..n.len() - 4].to_string();
            targets.push((label, n));
        }
    }
    if wb.is_none() && targets.is_empty() {
        return Err(ExtractError::corrupt("workbook part not found"));
    }
    let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
    cx.out
        .push_part(PartKind::SheetName, main, names.join("\n"));

    for (name, part) in targets {
        cx.budget.check_time()?;
        let Some(text) = cx.read_optional(&part)? else {
            continue;
        };
        let loc = format!("sheet \"{name}\"");
        let book = Book {
            sst: &sst,
            styles: &styles,
        };
        match worksheet(cx, &text, &book, &loc) {
            Err(e) if e.kind == ErrorKind::Corrupt && cx.was_cut() => {}
            r => r?,
        }
    }

    let mut comments = cx.pkg.names_where(|n| {
        let lower = n.to_ascii_lowercase();
        lower.ends_with(".xml")
            && (lower.starts_with("xl/comments") || lower.starts_with("xl/threadedcomments/"))
    });
    comments.sort_by_key(|n| natural_key(n));
    for name in comments {
        cx.budget.check_time()?;
        flow_part(cx, &name, PartKind::Comment, &FLOW_COMMENTS)?;
    }
    Ok(())
}

/// What every sheet of a workbook needs to write its cells.
struct Book<'a> {
    sst: &'a SharedStrings,
    styles: &'a CellStyles,
}

/// How the workbook shows numbers: each cell style's number format
/// (`styles.xml`) and the date system (`workbook.xml`).
#[derive(Default)]
struct CellStyles {
    /// Per `cellXfs` entry (a cell's `s`), its number format.
    formats: StyleFormats,
    date1904: bool,
}

impl CellStyles {
    fn format_of(&self, style: u32) -> &NumFmt {
        self.formats.of_style(style as usize)
    }

    /// Writes a numeric cell's stored value as its format shows it.
    fn write_number(&self, out: &mut TextBuf, raw: &str, style: u32) {
        let format = self.format_of(style);
        if format.is_general() && numfmt::general_as_stored(raw) {
            out.push_str(raw);
            return;
        }
        match raw.parse::<f64>() {
            Ok(v) => out.write_with(|text| format.write(v, self.date1904, text)),
            Err(_) => out.push_str(raw),
        }
    }
}

/// Reads the custom number formats and the cell styles' format ids.
fn parse_styles(text: &str, budget: &Budget) -> ExtractResult<CellStyles> {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(budget);
    let mut custom: Vec<(u16, String)> = Vec::new();
    let mut xf_ids: Vec<u16> = Vec::new();
    let (mut in_num_fmts, mut in_cell_xfs) = (false, false);
    loop {
        tick.tick()?;
        match tokens.next_token() {
            Ok(Some(Token::Start(e))) if matches!(e.local(), "numFmts" | "cellXfs") => {
                in_num_fmts |= e.local() == "numFmts";
                in_cell_xfs |= e.local() == "cellXfs";
            }
            Ok(Some(Token::Start(e) | Token::Empty(e))) => match e.local() {
                "numFmt" if in_num_fmts => {
                    if let (Some(id), Some(code)) = (
                        e.attr_raw("numFmtId").and_then(|v| v.trim().parse().ok()),
                        e.attr("formatCode"),
                    ) {
                        custom.push((id, code));
                    }
                }
                "xf" if in_cell_xfs => xf_ids.push(
                    e.attr_raw("numFmtId")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0),
                ),
                _ => {}
            },
            Ok(Some(Token::End(name))) => match local(name) {
                "numFmts" => in_num_fmts = false,
                "cellXfs" => in_cell_xfs = false,
                _ => {}
            },
            Ok(None) | Err(_) => break,
            _ => {}
        }
    }
    Ok(CellStyles {
        formats: StyleFormats::compile(&custom, &xf_ids),
        date1904: false,
    })
}

/// `<workbookPr date1904="1"/>`: serial dates count from 1904.
fn uses_1904_dates(workbook: &str, budget: &Budget) -> ExtractResult<bool> {
    let mut yes = false;
    xml::each_element(workbook, "workbookPr", budget, |e| {
        yes |= e
            .attr_raw("date1904")
            .is_some_and(|v| matches!(v.trim(), "1" | "true" | "on"));
    })?;
    Ok(yes)
}

fn worksheet(cx: &mut Ctx, text: &str, book: &Book, loc: &str) -> ExtractResult<()> {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(cx.budget);
    let mut out = TextBuf::for_part(cx.cap(), text.len());
    let mut value = String::new();
    let mut scratch = String::new();
    let mut in_v = false;
    let mut in_is_t = false;
    let mut in_is = false;
    let mut skip = 0u32;
    let mut hf: Option<(&str, PartKind)> = None;
    let mut hf_raw = String::new();
    let mut margins: Vec<(PartKind, &str, String)> = Vec::new();
    let mut cursor = CellCursor::default();
    let mut cell = Cell {
        cell_type: CellType::Number,
        at: (0, 0),
        style: 0,
    };
    let mut cells = CellAnchors::default();
    let mut result = Ok(());
    loop {
        if let Err(e) = tick.tick() {
            result = Err(e);
            break;
        }
        // Most cells are `<c ...><v>value</v></c>`: read without tokens.
        if let Some(e) = tokens.start_tag("c") {
            cell = Cell {
                cell_type: cell_type_of(&e),
                at: cursor.cell(&e),
                style: style_of(&e),
            };
            if let Some(raw) = plain_value_cell(&mut tokens) {
                write_cell(&mut out, &mut cells, raw, cell, book);
                continue;
            }
            value.clear();
            in_v |= enter_cell_child(&mut tokens, "v", &mut value, &mut scratch);
            if !in_v && tokens.eat("</c>") {
                end_cell(&mut out, &mut cells, &mut value, cell, book);
            }
            continue;
        }
        let token = match tokens.next_token() {
            Ok(Some(t)) => t,
            Ok(None) | Err(_) => break, // keep what was read
        };
        match token {
            Token::Start(e) => match e.local() {
                "c" => {
                    cell = Cell {
                        cell_type: cell_type_of(&e),
                        at: cursor.cell(&e),
                        style: style_of(&e),
                    };
                    value.clear();
                }
                "row" => cursor.row(&e),
                "v" => in_v = true,
                "is" => in_is = true,
                "rPh" => skip += 1,
                "t" if in_is && skip == 0 => in_is_t = true,
                n @ ("oddHeader" | "evenHeader" | "firstHeader") => {
                    hf = Some((n, PartKind::Header));
                    hf_raw.clear();
                }
                n @ ("oddFooter" | "evenFooter" | "firstFooter") => {
                    hf = Some((n, PartKind::Footer));
                    hf_raw.clear();
                }
                _ => {}
            },
            Token::End(name) => match local(name) {
                "v" => in_v = false,
                "t" => in_is_t = false,
                "is" => in_is = false,
                "rPh" => skip = skip.saturating_sub(1),
                "c" => end_cell(&mut out, &mut cells, &mut value, cell, book),
                "row" => out.newline(),
                "oddHeader" | "evenHeader" | "firstHeader" | "oddFooter" | "evenFooter"
                | "firstFooter" => {
                    if let Some((which, kind)) = hf.take() {
                        let decoded = decode_header_footer(&hf_raw);
                        margins.push((kind, which, decoded));
                    }
                }
                _ => {}
            },
            Token::Text(t) | Token::CData(t) => {
                let literal = matches!(token, Token::CData(_));
                if in_v || (in_is_t && skip == 0) {
                    if literal {
                        push_cell_text(&mut value, t);
                    } else {
                        push_cell_escaped(&mut value, t, &mut scratch);
                    }
                } else if hf.is_some() {
                    if literal {
                        hf_raw.push_str(t);
                    } else {
                        xml::unescape_into(t, &mut hf_raw);
                    }
                }
            }
            Token::Empty(e) => {
                if e.local() == "row" {
                    cursor.row(&e);
                }
            }
        }
    }
    let text = out.take();
    cx.out
        .push_part_laid_out(PartKind::Sheet, loc, text, Layout::Cells(cells));
    for (kind, which, text) in margins {
        cx.out.push_part(kind, format!("{loc} {which}"), text);
    }
    result
}

/// Right after a cell's start tag: when the cell is `<v>value</v></c>` with
/// a value that needs no decoding (no entity, no line break), moves past
/// the cell and returns the value. Most cells are such, and skip the copy
/// into the value buffer.
fn plain_value_cell<'a>(tokens: &mut Tokens<'a>) -> Option<&'a str> {
    let before = tokens.clone();
    let raw = tokens
        .eat_start("v")
        .then(|| tokens.text_before_end("v"))
        .flatten()
        .filter(|raw| short_scan::find1(raw.as_bytes(), b'&').is_none() && !has_break(raw));
    match raw {
        Some(raw) if tokens.eat("</c>") => Some(raw),
        _ => {
            *tokens = before;
            None
        }
    }
}

/// Writes a cell's value (the shared string it points to, for `t="s"`).
fn end_cell(
    out: &mut TextBuf,
    cells: &mut CellAnchors,
    value: &mut String,
    cell: Cell,
    book: &Book,
) {
    write_cell(out, cells, value, cell, book);
    value.clear();
}

/// Writes a cell's value as Excel shows it (the shared string it points
/// to, for `t="s"`; a number in its cell style's format), and notes where
/// it starts.
fn write_cell(out: &mut TextBuf, cells: &mut CellAnchors, value: &str, cell: Cell, book: &Book) {
    let cell_type = cell.cell_type;
    // Numbers, booleans and string indexes are ASCII.
    let v = match cell_type {
        CellType::Inline => value.trim(),
        _ => value.trim_ascii(),
    };
    if !v.is_empty() {
        // Cell texts hold no tabs or line breaks (`push_cell_text`).
        cells.cell_in_plain_text(&out.text, cell.at.0, cell.at.1);
        match cell_type {
            CellType::Shared => {
                if let Some(s) = book.sst.get(v) {
                    out.push_str(s);
                }
            }
            CellType::Bool => out.push_str(if v == "1" { "TRUE" } else { "FALSE" }),
            CellType::Number => book.styles.write_number(out, v, cell.style),
            CellType::Inline => out.push_str(v),
        }
        out.cell_end();
    }
}

/// The cell being read: its type, its zero-based (row, column) and its
/// cell style (an index into `cellXfs`).
#[derive(Clone, Copy)]
struct Cell {
    cell_type: CellType,
    at: (u32, u32),
    style: u32,
}

/// The `s` attribute of a cell (0, the default style, when absent).
#[inline]
fn style_of(e: &Tag<'_>) -> u32 {
    let attrs = e.raw_attributes().as_bytes();
    // Excel writes `r`, then `s`, then `t`: read those shapes without a
    // search (there is one for every cell).
    if let Some(after_ref) = attrs
        .strip_prefix(b" r=\"")
        .and_then(|rest| Some(&rest[short_scan::find1(rest, b'"')? + 1..]))
    {
        if let Some(value) = after_ref.strip_prefix(b" s=\"") {
            return leading_number(value);
        }
        let only_type = after_ref
            .strip_prefix(b" t=\"")
            .and_then(|rest| short_scan::find1(rest, b'"').map(|q| q + 1 == rest.len()));
        if after_ref.is_empty() || only_type == Some(true) {
            return 0;
        }
    }
    let mut from = 0;
    while let Some(i) = short_scan::find1(&attrs[from..], b's') {
        let at = from + i;
        if at > 0 && attrs[at - 1].is_ascii_whitespace() && attrs[at + 1..].starts_with(b"=\"") {
            return leading_number(&attrs[at + 3..]);
        }
        from = at + 1;
    }
    0
}

/// The number its leading digits spell (0 for none), saturating.
#[inline]
fn leading_number(digits: &[u8]) -> u32 {
    digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u32, |n, &d| {
            n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        })
}

/// Where the cells of a worksheet are: from the `r` attributes of rows and
/// cells, which Excel always writes, else counted (rows in order, each cell
/// right of the one before).
#[derive(Default)]
struct CellCursor {
    /// Zero-based row of the current row; `None` before the first.
    row: Option<u32>,
    /// Zero-based column the next cell without a reference goes to.
    next_col: u32,
}

impl CellCursor {
    fn row(&mut self, e: &Tag<'_>) {
        let next = self.row.map_or(0, |r| r.saturating_add(1));
        let numbered = row_number_of(e).and_then(|r| u32::try_from(r).ok()?.checked_sub(1));
        self.row = Some(numbered.unwrap_or(next));
        self.next_col = 0;
    }

    /// The position of the cell whose start tag is `e`.
    #[inline]
    fn cell(&mut self, e: &Tag<'_>) -> (u32, u32) {
        let (row, col) = match cell_reference_of(e) {
            Some(at) => at,
            None => (self.row.unwrap_or(0), self.next_col),
        };
        self.next_col = col.saturating_add(1);
        (row, col)
    }
}

/// The `r` attribute of a row, parsed; Excel writes it first
/// (`<row r="7" spans="1:3">`), and there is one for every row.
#[inline]
fn row_number_of(e: &Tag<'_>) -> Option<usize> {
    let raw = match e.raw_attributes().strip_prefix(" r=\"") {
        Some(rest) => &rest[..short_scan::find1(rest.as_bytes(), b'"')?],
        None => e.attr_raw("r")?,
    };
    parse_index(raw.trim())
}

/// The `r` attribute of a cell, parsed; Excel writes it first (`<c r="B7" s="1">`).
#[inline]
fn cell_reference_of(e: &Tag<'_>) -> Option<(u32, u32)> {
    let attrs = e.raw_attributes();
    match attrs.strip_prefix(" r=\"") {
        Some(rest) => parse_cell_reference_until_quote(rest.as_bytes()),
        None => parse_cell_reference(e.attr_raw("r")?),
    }
}

/// A plain cell reference (`B7`) up to the closing quote, in one pass: there
/// is one for every cell of a workbook.
#[inline]
fn parse_cell_reference_until_quote(b: &[u8]) -> Option<(u32, u32)> {
    let mut col: u32 = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_uppercase()) {
        col = col * 26 + u32::from(c - b'A') + 1;
        i += 1;
        if i > 3 {
            return None;
        }
    }
    let mut row: u32 = 0;
    let digits_start = i;
    while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        row = row * 10 + u32::from(d - b'0');
        i += 1;
        if i - digits_start > 7 {
            return None;
        }
    }
    if b.get(i) != Some(&b'"') || i == digits_start {
        // Anything unusual (`$B$7`, lower case): the general parser.
        let end = short_scan::find1(b, b'"')?;
        return parse_cell_reference(std::str::from_utf8(&b[..end]).ok()?);
    }
    Some((row.checked_sub(1)?, col.checked_sub(1)?))
}

#[derive(Clone, Copy)]
enum CellType {
    Shared,
    Bool,
    Number,
    Inline,
}

fn cell_type_of(e: &Tag<'_>) -> CellType {
    // The type attribute is the only one of a cell with a lowercase `t`
    // (`r`, `s`, `cm`, `vm`, `ph`; references are uppercase), and it is
    // nearly always written ` t="..."`.
    let attrs = e.raw_attributes();
    // Excel writes the type last: `<c r="A1" s="2" t="s">`.
    if attrs.as_bytes().ends_with(b" t=\"s\"") {
        return CellType::Shared;
    }
    let Some(at) = short_scan::find1(attrs.as_bytes(), b't') else {
        return CellType::Number;
    };
    let value = match attrs[at..].strip_prefix("t=\"") {
        Some(v) if attrs[..at].ends_with(' ') => {
            short_scan::find1(v.as_bytes(), b'"').map(|end| &v[..end])
        }
        _ => e.attr_raw("t"),
    };
    match value {
        Some("s") => CellType::Shared,
        Some("b") => CellType::Bool,
        // Inline strings, formula strings, errors (`#DIV/0!`) and ISO
        // dates are written as stored.
        Some("inlineStr" | "str" | "e" | "d") => CellType::Inline,
        _ => CellType::Number,
    }
}

/// Decodes an Excel header/footer string: `&L`, `&C`, `&R` start sections
/// (each its own line); formatting and field codes are dropped; `&&` is `&`.
pub fn decode_header_footer(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '&' {
            out.push(if c == '\r' { '\n' } else { c });
            continue;
        }
        match chars.next() {
            Some('&') => out.push('&'),
            Some('L' | 'C' | 'R') => {
                let keep = out.trim_end_matches([' ', '\t']).len();
                out.truncate(keep);
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
            }
            Some('"') => {
                // &"font,style": skip to the closing quote.
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                }
            }
            Some(d) if d.is_ascii_digit() => {
                while chars.peek().is_some_and(|c| c.is_ascii_digit()) {
                    chars.next();
                }
            }
            Some('K') => {
                // &Krrggbb or &Ktt+sss colour codes.
                for _ in 0..6 {
                    if chars
                        .peek()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '-')
                    {
                        chars.next();
                    }
                }
            }
            Some(_) | None => {} // &P &N &D &T &F &A &Z &G &B &I &U &E &S &X &Y &O &H
        }
    }
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

// ---------------------------------------------------------------------------
// PowerPoint

fn presentation(cx: &mut Ctx, main: &str) -> ExtractResult<()> {
    let pres = cx.read_required(main)?;
    let rels = read_rels(cx, main)?;
    let mut slides: Vec<String> = Vec::new();
    if let Some(text) = &pres {
        let pkg = &cx.pkg;
        xml::each_element(text, "sldId", cx.budget, |e| {
            let target = e
                .attr_prefixed("id")
                .and_then(|rid| rels.iter().find(|r| r.id == rid))
                .filter(|r| pkg.has(&r.target));
            if let Some(r) = target {
                slides.push(r.target.clone());
            }
        })?;
    }
    if slides.is_empty() {
        let mut names = cx.pkg.names_where(|n| {
            n.starts_with("ppt/slides/") && n.ends_with(".xml") && !n[11..].contains('/')
        });
        names.sort_by_key(|n| natural_key(n));
        slides = names;
    }
    if pres.is_none() && slides.is_empty() {
        return Err(ExtractError::corrupt("presentation part not found"));
    }
    for (i, slide) in slides.iter().enumerate() {
        cx.budget.check_time()?;
        let loc = format!("slide {}", i + 1);
        flow_part_at(cx, slide, PartKind::Slide, &loc, &FLOW_DOC)?;
        let srels = read_rels(cx, slide)?;
        if let Some(notes) = find_rel(&srels, "/notesSlide") {
            let notes = notes.target.clone();
            flow_part_at(cx, &notes, PartKind::Notes, &loc, &FLOW_DOC)?;
        }
    }
    let mut comments = cx.pkg.names_where(|n| {
        n.starts_with("ppt/comments/") && n.ends_with(".xml") && !n[13..].contains('/')
    });
    comments.sort_by_key(|n| natural_key(n));
    for name in comments {
        cx.budget.check_time()?;
        flow_part(cx, &name, PartKind::Comment, &FLOW_COMMENTS)?;
    }
    masters(cx, &rels)
}

/// The text of slide masters and their layouts outside placeholders (a
/// classification banner, a release marking): every slide shows it.
/// Placeholders there hold prompts ("Click to edit Master title style")
/// that no slide shows, so they are left out.
fn masters(cx: &mut Ctx, presentation_rels: &[Rel]) -> ExtractResult<()> {
    let mut parts: Vec<String> = Vec::new();
    for master in presentation_rels
        .iter()
        .filter(|r| r.rel_type.ends_with("/slideMaster"))
    {
        parts.push(master.target.clone());
        for layout in read_rels(cx, &master.target)?
            .into_iter()
            .filter(|r| r.rel_type.ends_with("/slideLayout"))
        {
            parts.push(layout.target);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for name in parts {
        if !seen.insert(name.clone()) {
            continue;
        }
        cx.budget.check_time()?;
        let Some(text) = cx.read_optional(&name)? else {
            continue;
        };
        let shapes = without_placeholders(&text);
        let mut main = TextBuf::new(cx.cap());
        let r = walk_flow(&shapes, cx.budget, &FLOW_DOC, &mut main, None);
        cx.out
            .push_part(PartKind::Master, name.as_str(), main.take());
        match r {
            Err(e) if e.kind == ErrorKind::Corrupt => cx
                .out
                .parts_read
                .push(format!("{name} (malformed XML, partly read)")),
            Err(e) => return Err(e),
            Ok(()) => {}
        }
    }
    Ok(())
}

/// A master or layout without its placeholder shapes (`sp` elements that
/// hold a `ph`). Shapes do not nest in shapes, so each one ends at the
/// first end tag of its name.
fn without_placeholders(text: &str) -> std::borrow::Cow<'_, str> {
    let mut kept = String::new();
    let mut copied = 0;
    let mut at = 0;
    while let Some(i) = text[at..].find('<') {
        let start = at + i;
        at = start + 1;
        let rest = &text[start + 1..];
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let qname = &rest[..name_len];
        if local(qname) != "sp" || rest[name_len..].starts_with('/') {
            continue;
        }
        let close = format!("</{qname}>");
        let Some(len) = text[start..].find(&close) else {
            break;
        };
        let end = start + len + close.len();
        let prefix = &qname[..qname.len() - 2];
        let shape = &text[start..end];
        let placeholder = shape.match_indices(&format!("<{prefix}ph")).any(|(j, m)| {
            shape[j + m.len()..].starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>')
        });
        if placeholder {
            kept.push_str(&text[copied..start]);
            copied = end;
        }
        at = end;
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(text);
    }
    kept.push_str(&text[copied..]);
    std::borrow::Cow::Owned(kept)
}

// ---------------------------------------------------------------------------
// Properties and labels

fn properties(cx: &mut Ctx, root_rels: &[Rel]) -> ExtractResult<()> {
    for (suffix, default) in [
        ("/core-properties", "docProps/core.xml"),
        ("/extended-properties", "docProps/app.xml"),
        ("/custom-properties", "docProps/custom.xml"),
    ] {
        let name = find_rel(root_rels, suffix)
            .map(|r| r.target.clone())
            .filter(|t| cx.pkg.has(t))
            .unwrap_or_else(|| default.to_string());
        let Some(text) = cx.read_optional(&name)? else {
            continue;
        };
        match suffix {
            "/custom-properties" => custom_properties(cx, &text, &name)?,
            "/core-properties" => simple_properties(cx, &text, &name, |n| {
                !matches!(n, "created" | "modified" | "lastPrinted" | "revision")
            })?,
            _ => simple_properties(cx, &text, &name, |n| matches!(n, "Company" | "Manager"))?,
        }
    }
    Ok(())
}

/// Properties that are direct children of the root element.
fn simple_properties(
    cx: &mut Ctx,
    text: &str,
    location: &str,
    keep: impl Fn(&str) -> bool,
) -> ExtractResult<()> {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(cx.budget);
    let mut depth = 0u32;
    let mut current: Option<String> = None;
    let mut value = String::new();
    loop {
        tick.tick()?;
        match tokens.next_token() {
            Ok(Some(Token::Start(e))) => {
                depth += 1;
                if depth == 2 {
                    let n = e.local();
                    current = keep(n).then(|| n.to_string());
                    value.clear();
                }
            }
            Ok(Some(Token::End(_))) => {
                if depth == 2 {
                    if let Some(name) = current.take() {
                        cx.out.push_property(name, value.trim(), location);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Ok(Some(Token::Text(t))) if current.is_some() => xml::unescape_into(t, &mut value),
            Ok(Some(Token::CData(t))) if current.is_some() => value.push_str(t),
            Ok(None) | Err(_) => break,
            _ => {}
        }
    }
    Ok(())
}

/// `<property name="X"><vt:lpwstr>value</vt:lpwstr></property>`, any `vt:*` child.
fn custom_properties(cx: &mut Ctx, text: &str, location: &str) -> ExtractResult<()> {
    let mut tokens = Tokens::new(text);
    let mut tick = Ticker::new(cx.budget);
    let mut current: Option<String> = None;
    let mut value = String::new();
    loop {
        tick.tick()?;
        match tokens.next_token() {
            Ok(Some(Token::Start(e))) if e.local() == "property" => {
                current = e.attr("name");
                value.clear();
            }
            Ok(Some(Token::End(n))) if local(n) == "property" => {
                if let Some(name) = current.take() {
                    cx.out.push_property(name, value.trim(), location);
                }
            }
            Ok(Some(Token::Text(t))) if current.is_some() => xml::unescape_into(t, &mut value),
            Ok(Some(Token::CData(t))) if current.is_some() => value.push_str(t),
            Ok(None) | Err(_) => break,
            _ => {}
        }
    }
    Ok(())
}

fn label_info(cx: &mut Ctx, root_rels: &[Rel]) -> ExtractResult<()> {
    let name = root_rels
        .iter()
        .find(|r| r.rel_type == LABELINFO_REL && cx.pkg.has(&r.target))
        .map(|r| r.target.clone())
        .unwrap_or_else(|| LABELINFO_DEFAULT.to_string());
    let Some(text) = cx.read_optional(&name)? else {
        return Ok(());
    };
    cx.out
        .label_info
        .extend(parse_label_info(&text, &name, cx.budget)?);
    Ok(())
}

pub fn parse_label_info(
    text: &str,
    location: &str,
    budget: &Budget,
) -> ExtractResult<Vec<LabelInfoEntry>> {
    let guid = |v: Option<String>| {
        v.map(|s| crate::model::hash::normalise_guid(&s))
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    xml::each_element(text, "label", budget, |e| {
        out.push(LabelInfoEntry {
            id: guid(e.attr("id")),
            site_id: guid(e.attr("siteId")),
            enabled: e
                .attr("enabled")
                .is_some_and(|v| crate::model::text::parse_bool(&v)),
            removed: e
                .attr("removed")
                .is_some_and(|v| crate::model::text::parse_bool(&v)),
            method: e.attr("method").unwrap_or_default(),
            location: location.to_string(),
        });
    })?;
    Ok(out)
}

// ---------------------------------------------------------------------------
// Embedded documents

fn embedded(cx: &mut Ctx) {
    let mut names = cx.pkg.names_where(|n| n.contains("/embeddings/"));
    names.sort();
    for name in names {
        if cx.budget.check_time().is_err() {
            return;
        }
        let Some(i) = cx.pkg.find(&name) else {
            continue;
        };
        let bytes = match cx.pkg.read_index(i, cx.budget) {
            Ok(b) => b,
            Err(e) => {
                cx.out.parts_read.push(format!("{name} (not read: {e})"));
                note_limit(cx, e);
                continue;
            }
        };
        let format = super::sniff(&bytes, &name);
        if matches!(format, Format::Unsupported | Format::Zip) {
            cx.out
                .parts_read
                .push(format!("{name} (skipped: not a document)"));
            continue;
        }
        let prefix = format!("embedded {name}");
        match super::embed(format, &bytes, &prefix, cx.budget, &mut cx.out) {
            Some(e) => {
                cx.out.parts_read.push(format!("{prefix} (error: {e})"));
                note_limit(cx, e);
            }
            None => cx.out.parts_read.push(prefix),
        }
    }
}

/// An embedded document cut short by a limit of the file's budget (its
/// pieces, text or inflated bytes): the container is only partly read too.
fn note_limit(cx: &mut Ctx, e: ExtractError) {
    if e.kind == ErrorKind::LimitExceeded {
        cx.cut.get_or_insert(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::test_budget;
    use crate::extract::zipread::testzip;

    #[test]
    fn shared_string_index_parses_as_usize_does() {
        let cases = [
            "0",
            "7",
            "42",
            "+5",
            "++5",
            "",
            "+",
            "-1",
            "1a",
            " 1",
            "007",
            "123456789012345678",
            "1234567890123456789",
            "99999999999999999999",
        ];
        for idx in cases {
            assert_eq!(parse_index(idx), idx.parse::<usize>().ok(), "{idx:?}");
        }
    }

    #[test]
    fn plain_cells_and_cells_that_need_decoding_read_alike() {
        let sheet = |cells: &str| {
            let wb = br#"<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
            let rels = br#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="x/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
            let sst = br#"<sst><si><t>Tom &amp; Jerry</t></si></sst>"#;
            let s1 = format!("<worksheet><sheetData><row>{cells}</row></sheetData></worksheet>");
            let z = testzip::build(&[
                ("[Content_Types].xml", CT),
                ("xl/workbook.xml", wb),
                ("xl/_rels/workbook.xml.rels", rels),
                ("xl/sharedStrings.xml", sst),
                ("xl/worksheets/sheet1.xml", s1.as_bytes()),
            ]);
            let x = extract(Format::Xlsx, &z, &test_budget());
            x.part_text(PartKind::Sheet, "sheet \"S\"")
                .expect("the sheet")
                .to_string()
        };
        let plain = sheet(
            r#"<c r="A1" t="s"><v>0</v></c><c r="B1"><v> 12 </v></c><c t="b"><v>1</v></c><c><v></v></c><c><v>x</v></c>"#,
        );
        assert_eq!(plain, "Tom & Jerry\t12\tTRUE\tx");
        let decoded = sheet(
            "<c r=\"A1\" t=\"s\"><v>&#48;</v></c><c r=\"B1\"><v>1&#10;2</v></c>\
             <c t=\"b\"><v>1</v></c><c><v>a\tb</v></c>",
        );
        assert_eq!(decoded, "Tom & Jerry\t1 2\tTRUE\ta b");
    }

    const CT: &[u8] = br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;

    const ROOT_RELS_DOCX: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>
<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties" Target="docProps/custom.xml"/>
<Relationship Id="rId4" Type="http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels" Target="meta/Labels.xml"/>
</Relationships>"#;

    const DOCUMENT: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">
<w:body>
<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>CONFIDENTIAL</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Fish &amp; Chips </w:t></w:r><w:r><w:t>f&#x00E4;r</w:t><w:tab/><w:t>x</w:t><w:br/><w:t>next</w:t></w:r></w:p>
<w:p><w:ins w:id="1"><w:r><w:t>inserted</w:t></w:r></w:ins><w:del w:id="2"><w:r><w:delText>secret removed</w:delText></w:r></w:del></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a1</w:t></w:r></w:p><w:p><w:r><w:t>more</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b1</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>a2</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc><w:tc><w:p><w:r><w:t>c2</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t>boxed</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>boxed</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>
<w:p><w:r><w:fldChar w:fldCharType="begin"/><w:instrText>PAGE</w:instrText><w:t>last line</w:t></w:r></w:p>
</w:body></w:document>"#;

    #[test]
    fn run_shortcut_reads_like_the_token_loop() {
        let flow = |xml: &str| {
            let mut main = TextBuf::new(1 << 20);
            let mut deleted = TextBuf::new(1 << 20);
            walk_flow(
                xml,
                &test_budget(),
                &FLOW_DOC,
                &mut main,
                Some(&mut deleted),
            )
            .unwrap();
            (main.take(), deleted.take())
        };
        let word = r#"<w:p><w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">a &amp; b</w:t></w:r><w:r><w:rPr><w:i/></w:rPr><w:t>c<!-- note -->d</w:t><w:tab/><w:t>e</w:t></w:r></w:p>"#;
        assert_eq!(flow(word).0.trim(), "a & bcd\te");
        let slide = r#"<a:p><a:r><a:rPr lang="en-US" dirty="0"/><a:t>slide text</a:t></a:r><a:r><a:rPr lang="de"></a:rPr><a:t>mehr</a:t></a:r></a:p>"#;
        assert_eq!(flow(slide).0.trim(), "slide textmehr");
        let deleted = r#"<w:p><w:del><w:r><w:rPr><w:b/></w:rPr><w:delText>gone</w:delText></w:r></w:del><w:r><w:t>kept</w:t></w:r></w:p>"#;
        let (main, gone) = flow(deleted);
        assert_eq!((main.trim(), gone.trim()), ("kept", "gone"));
        let math =
            r#"<w:p><m:r><m:t>x</m:t></m:r><w:r><w:t>y</w:t></w:r><m:r><m:t>z</m:t></m:r></w:p>"#;
        assert_eq!(flow(math).0.trim(), "xyz");
    }

    fn wml(body: &str) -> Vec<u8> {
        format!(r#"<w:hdr xmlns:w="w"><w:p><w:r><w:t>{body}</w:t></w:r></w:p></w:hdr>"#)
            .into_bytes()
    }

    fn sample_docx() -> Vec<u8> {
        let header = wml("INTERNAL // RELEASED TO: Alpha");
        let footer = wml("TLP:AMBER");
        let comments = br#"<w:comments xmlns:w="w"><w:comment w:id="0"><w:p><w:r><w:t>check this</w:t></w:r></w:p></w:comment></w:comments>"#;
        let footnotes = br#"<w:footnotes xmlns:w="w"><w:footnote w:type="separator"><w:p><w:r><w:separator/></w:r></w:p></w:footnote><w:footnote w:id="1"><w:p><w:r><w:t>a note</w:t></w:r></w:p></w:footnote></w:footnotes>"#;
        let glossary = wml("glossary text");
        let core = br#"<cp:coreProperties xmlns:cp="cp" xmlns:dc="dc" xmlns:dcterms="t"><dc:title>My &amp; Title</dc:title><dc:creator>Alice</dc:creator><cp:keywords>k1</cp:keywords><dcterms:created>2020</dcterms:created></cp:coreProperties>"#;
        let custom = br#"<Properties xmlns:vt="vt"><property fmtid="{D5CDD505}" pid="2" name="MSIP_Label_a6a1e5f2-3c1d-4b7e-9f10-2d3c4b5a6e01_Enabled"><vt:lpwstr>true</vt:lpwstr></property><property pid="3" name="Classification"><vt:lpwstr>Internal</vt:lpwstr></property><property pid="4" name="Flag"><vt:bool>1</vt:bool></property></Properties>"#;
        let labels = br#"<clbl:labelList xmlns:clbl="http://schemas.microsoft.com/office/2020/mipLabelMetadata"><clbl:label id="{D0CB1E24-A0E2-4A4C-9340-733297C9CD7C}" enabled="1" method="Privileged" siteId="{db1e96a8-a3da-442a-930b-235cac24cd5c}" contentBits="0" removed="false" /></clbl:labelList>"#;
        testzip::build(&[
            ("[Content_Types].xml", CT),
            ("_rels/.rels", ROOT_RELS_DOCX),
            ("word/document.xml", DOCUMENT),
            ("word/header1.xml", &header),
            ("word/footer2.xml", &footer),
            ("word/comments.xml", comments),
            ("word/footnotes.xml", footnotes),
            ("word/glossary/document.xml", &glossary),
            ("docProps/core.xml", core),
            ("docProps/custom.xml", custom),
            ("meta/Labels.xml", labels),
        ])
    }

    #[test]
    fn docx_parts_properties_and_labels() {
        let x = extract(Format::Docx, &sample_docx(), &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        let body = x.part_text(PartKind::Body, "word/document.xml").unwrap();
        assert_eq!(
            body,
            "CONFIDENTIAL\nFish & Chips fär\tx\nnext\ninserted\na1 more\tb1\na2\tc2\nboxed\nlast line"
        );
        assert_eq!(
            x.part_text(PartKind::Deleted, "word/document.xml"),
            Some("secret removed")
        );
        assert_eq!(
            x.part_text(PartKind::Header, "word/header1.xml"),
            Some("INTERNAL // RELEASED TO: Alpha")
        );
        assert_eq!(
            x.part_text(PartKind::Footer, "word/footer2.xml"),
            Some("TLP:AMBER")
        );
        assert_eq!(
            x.part_text(PartKind::Comment, "word/comments.xml"),
            Some("check this")
        );
        assert_eq!(
            x.part_text(PartKind::Footnote, "word/footnotes.xml"),
            Some("a note")
        );
        assert!(!x.parts.iter().any(|p| p.text.contains("glossary")));
        assert_eq!(x.property("title"), Some("My & Title"));
        assert_eq!(x.property("creator"), Some("Alice"));
        assert_eq!(x.property("created"), None);
        assert_eq!(x.property("Classification"), Some("Internal"));
        assert_eq!(x.property("Flag"), Some("1"));
        let msip = x
            .properties
            .iter()
            .find(|p| p.name.starts_with("MSIP_Label_"))
            .unwrap();
        assert_eq!(msip.value, "true");
        assert_eq!(msip.location, "docProps/custom.xml");
        assert_eq!(x.label_info.len(), 1);
        let l = &x.label_info[0];
        assert_eq!(l.id, "d0cb1e24-a0e2-4a4c-9340-733297c9cd7c");
        assert_eq!(l.site_id, "db1e96a8-a3da-442a-930b-235cac24cd5c");
        assert!(l.enabled && !l.removed);
        assert_eq!(l.method, "Privileged");
        assert_eq!(l.location, "meta/Labels.xml");
        assert!(x.parts_read.iter().any(|p| p == "word/header1.xml"));
    }

    /// Defect 11: hyperlinks read as the `.doc` reader writes them, `text
    /// (URL)`, from a `w:hyperlink` relationship (with its screen tip), a
    /// HYPERLINK field or a simple field; a bookmark link adds nothing; a
    /// phonetic guide follows its base text instead of being glued to it.
    #[test]
    fn docx_hyperlinks_and_phonetic_guides() {
        let document = r#"<w:document xmlns:w="w" xmlns:r="r"><w:body>
<w:p><w:r><w:t xml:space="preserve">Mail </w:t></w:r><w:hyperlink r:id="rId7" w:tooltip="Write to us"><w:r><w:t>the desk</w:t></w:r></w:hyperlink><w:r><w:t>.</w:t></w:r></w:p>
<w:p><w:hyperlink w:anchor="_Toc1"><w:r><w:t>Chapter</w:t></w:r></w:hyperlink></w:p>
<w:p><w:r><w:t xml:space="preserve">By the </w:t></w:r><w:hyperlink r:id="rId7"><w:r><w:t>Konstitu</w:t></w:r></w:hyperlink><w:r><w:t>tion itself</w:t></w:r></w:p>
<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> HYPERLINK "https://example.org/a?token=</w:instrText></w:r><w:r><w:instrText>x&amp;y" </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>the site</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t xml:space="preserve"> and </w:t></w:r><w:fldSimple w:instr=" HYPERLINK &quot;http://b.example/&quot; "><w:r><w:t>b</w:t></w:r></w:fldSimple></w:p>
<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>7</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>
<w:p><w:r><w:ruby><w:rubyPr><w:hps w:val="10"/></w:rubyPr><w:rt><w:r><w:t>たんとうしゃ</w:t></w:r></w:rt><w:rubyBase><w:r><w:t>担当者</w:t></w:r></w:rubyBase></w:ruby></w:r><w:r><w:t>氏名</w:t></w:r></w:p>
</w:body></w:document>"#;
        let rels = br#"<Relationships><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="mailto:desk@example.org?subject=a&amp;b" TargetMode="External"/><Relationship Id="rId8" Type="x/styles" Target="styles.xml"/></Relationships>"#;
        let z = testzip::build(&[
            ("word/document.xml", document.as_bytes()),
            ("word/_rels/document.xml.rels", rels),
        ]);
        let x = extract(Format::Docx, &z, &test_budget());
        assert_eq!(x.error, None);
        assert_eq!(
            x.part_text(PartKind::Body, "word/document.xml"),
            Some(
                "Mail the desk (mailto:desk@example.org?subject=a&b Write to us).\n\
                 Chapter\n\
                 By the Konstitution (mailto:desk@example.org?subject=a&b) itself\n\
                 the site (https://example.org/a?token=x&y) and b (http://b.example/)\n\
                 7\n\
                 担当者(たんとうしゃ)氏名"
            )
        );
    }

    /// Defect 11: a slide's slide-number and date fields show their cached
    /// text, as PowerPoint shows it.
    #[test]
    fn pptx_field_text_is_read() {
        let slide = r#"<p:sld xmlns:a="a" xmlns:p="p"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:fld id="{1}" type="slidenum"><a:rPr lang="en-US"/><a:t>4</a:t></a:fld><a:r><a:t xml:space="preserve"> of the deck, </a:t></a:r><a:fld id="{2}" type="datetime1"><a:rPr lang="en-US"/><a:t>12/4/2026</a:t></a:fld></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#;
        let mut main = TextBuf::new(1 << 20);
        walk_flow(slide, &test_budget(), &FLOW_DOC, &mut main, None).unwrap();
        assert_eq!(main.take().trim(), "4 of the deck, 12/4/2026");
    }

    #[test]
    fn labelinfo_default_path() {
        let labels = br#"<x:labelList xmlns:x="m"><x:label id="{AB}" enabled="0" method="Standard" siteId="{CD}" removed="1"/></x:labelList>"#;
        let z = testzip::build(&[
            ("word/document.xml", DOCUMENT),
            ("docMetadata/LabelInfo.xml", labels),
        ]);
        let x = extract(Format::Docx, &z, &test_budget());
        assert_eq!(x.label_info.len(), 1);
        assert_eq!(x.label_info[0].id, "ab");
        assert!(!x.label_info[0].enabled && x.label_info[0].removed);
    }

    fn sample_xlsx(extra: &[(&str, &[u8])]) -> Vec<u8> {
        let wb = br#"<workbook xmlns:r="r"><sheets><sheet name="Budget" sheetId="1" r:id="rId1"/><sheet name="Secret &amp; Hidden" sheetId="2" state="hidden" r:id="rId2"/></sheets></workbook>"#;
        let rels = br#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="x/worksheet" Target="/xl/worksheets/sheet2.xml"/><Relationship Id="rId3" Type="x/sharedStrings" Target="sharedStrings.xml"/></Relationships>"#;
        let sst = br#"<sst><si><t>Name</t></si><si><r><t>Am</t></r><r><t>ount</t></r><rPh><t>PHON</t></rPh></si><si><t>Tom &amp; Jerry</t></si></sst>"#;
        let s1 = br#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><f>1+1</f><v>42.5</v></c><c r="C2" t="inlineStr"><is><t>inline</t></is></c><c r="D2" t="b"><v>1</v></c></row></sheetData>
<headerFooter><oddHeader>&amp;L&amp;"Arial,Bold"&amp;12CONFIDENTIAL&amp;C&amp;P of &amp;N&amp;RR&amp;&amp;D</oddHeader><oddFooter>&amp;CTLP:RED</oddFooter></headerFooter></worksheet>"#;
        let s2 = br#"<worksheet><sheetData><row><c t="str"><v>hidden value</v></c></row></sheetData></worksheet>"#;
        let comments = br#"<comments><authors><author>Bob</author></authors><commentList><comment ref="A1" authorId="0"><text><r><t>Bob:</t></r><r><t xml:space="preserve"> a cell note</t></r></text></comment></commentList></comments>"#;
        let mut members: Vec<(&str, &[u8])> = vec![
            ("[Content_Types].xml", CT),
            ("xl/workbook.xml", wb),
            ("xl/_rels/workbook.xml.rels", rels),
            ("xl/sharedStrings.xml", sst),
            ("xl/worksheets/sheet1.xml", s1),
            ("xl/worksheets/sheet2.xml", s2),
            ("xl/comments1.xml", comments),
            (
                "xl/drawings/drawing1.xml",
                br#"<xdr:wsDr xmlns:xdr="x" xmlns:a="a"><xdr:sp><xdr:txBody><a:p><a:r><a:t>box text</a:t></a:r></a:p></xdr:txBody></xdr:sp></xdr:wsDr>"#,
            ),
        ];
        members.extend_from_slice(extra);
        testzip::build(&members)
    }

    #[test]
    fn a_worksheet_part_named_by_many_sheets_is_read_once() {
        let sheets: String = (0..50)
            .map(|i| format!(r#"<sheet name="S{i}" sheetId="{i}" r:id="rId1"/>"#))
            .collect();
        let wb = format!(r#"<workbook xmlns:r="r"><sheets>{sheets}</sheets></workbook>"#);
        let rels = br#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
        let s1 = br#"<worksheet><sheetData><row><c t="inlineStr"><is><t>once</t></is></c></row></sheetData></worksheet>"#;
        let xlsx = testzip::build(&[
            ("[Content_Types].xml", CT),
            ("xl/workbook.xml", wb.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels),
            ("xl/worksheets/sheet1.xml", s1),
        ]);
        let x = extract(Format::Xlsx, &xlsx, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        let sheets: Vec<&crate::model::Part> = x
            .parts
            .iter()
            .filter(|p| p.kind == PartKind::Sheet)
            .collect();
        assert_eq!(sheets.len(), 1);
        assert_eq!(sheets[0].text, "once");
    }

    #[test]
    fn xlsx_sheets_headers_comments() {
        let x = extract(Format::Xlsx, &sample_xlsx(&[]), &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        assert_eq!(
            x.part_text(PartKind::Sheet, "sheet \"Budget\""),
            Some("Name\tAmount\nTom & Jerry\t42.5\tinline\tTRUE")
        );
        assert_eq!(
            x.part_text(PartKind::Sheet, "sheet \"Secret & Hidden\""),
            Some("hidden value")
        );
        assert_eq!(
            x.part_text(PartKind::SheetName, "xl/workbook.xml"),
            Some("Budget\nSecret & Hidden")
        );
        assert_eq!(
            x.part_text(PartKind::Header, "sheet \"Budget\" oddHeader"),
            Some("CONFIDENTIAL\nof\nR&D")
        );
        assert_eq!(
            x.part_text(PartKind::Footer, "sheet \"Budget\" oddFooter"),
            Some("TLP:RED")
        );
        assert_eq!(
            x.part_text(PartKind::Comment, "xl/comments1.xml"),
            Some("Bob: a cell note")
        );
        assert_eq!(
            x.part_text(PartKind::Other, "xl/drawings/drawing1.xml"),
            Some("box text")
        );
    }

    #[test]
    fn cell_types_however_written() {
        let type_of = |tag: &str| {
            let mut t = crate::extract::xml::tokens::Tokens::new(tag);
            match t.next_token() {
                Ok(Some(Token::Start(e))) => cell_type_of(&e),
                other => panic!("{other:?}"),
            }
        };
        for (tag, want) in [
            ("<c r=\"A1\" t=\"s\">", "s"),
            ("<c r=\"A1\" s=\"3\" t='b'>", "b"),
            ("<c t = \"inlineStr\" r=\"A1\">", "inline"),
            ("<c\tt=\"s\">", "s"),
            ("<c r=\"A1\" s=\"3\">", "number"),
            ("<c r=\"A1\" t=\"n\">", "number"),
        ] {
            let got = match type_of(tag) {
                CellType::Shared => "s",
                CellType::Bool => "b",
                CellType::Inline => "inline",
                CellType::Number => "number",
            };
            assert_eq!(got, want, "{tag}");
        }
    }

    /// A workbook of numbers in many formats, in the 1900 or 1904 date system.
    fn formatted_xlsx(date1904: bool) -> Vec<u8> {
        let wb = format!(
            r#"<workbook xmlns:r="r"><workbookPr date1904="{}"/><sheets><sheet name="N" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            u8::from(date1904)
        );
        let rels = br#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="x/styles" Target="styles.xml"/></Relationships>"#;
        // Styles: 0 General, 1 d-mmm-yy (15), 2 custom dd-mmm-yyyy, 3 0.00%,
        // 4 k-scaling, 5 euro currency, 6 M-scaling; the numFmt of a dxf and
        // the cellStyleXfs must not shift the cell styles.
        let styles = br##"<styleSheet><numFmts count="3"><numFmt numFmtId="164" formatCode="dd\-mmm\-yyyy"/><numFmt numFmtId="165" formatCode="#,##0,&quot;k&quot;"/><numFmt numFmtId="166" formatCode="[$&#8364;-407]#,##0.00;[Red]\-[$&#8364;-407]#,##0.00"/><numFmt numFmtId="167" formatCode="0.0,,&quot;M&quot;"/></numFmts>
<cellStyleXfs count="1"><xf numFmtId="10"/></cellStyleXfs>
<cellXfs count="7"><xf numFmtId="0"/><xf numFmtId="15" applyNumberFormat="1"/><xf numFmtId="164"/><xf numFmtId="10"/><xf numFmtId="165"/><xf numFmtId="166"/><xf numFmtId="167"/></cellXfs>
<dxfs><dxf><numFmt numFmtId="168" formatCode="0.000"/></dxf></dxfs></styleSheet>"##;
        let serial = if date1904 { "43524" } else { "44986" };
        let sheet = format!(
            r#"<worksheet><sheetData><row r="1"><c r="A1" s="1"><v>{serial}</v></c><c r="B1" s="2"><v>{serial}</v></c><c r="C1" s="3"><v>0.125</v></c><c r="D1" s="4"><v>1234567</v></c><c r="E1" s="5"><v>-1234.5</v></c><c r="F1" s="6"><v>2500000</v></c></row><row r="2"><c r="A2"><v>0.6901686683866837</v></c><c r="B2" t="e"><v>#DIV/0!</v></c><c r="C2" t="b"><v>0</v></c><c r="D2" t="str"><v>0.6901686683866837</v></c><c r="E2" s="99"><v>7</v></c><c r="F2" s="1"><v>-5</v></c></row></sheetData></worksheet>"#
        );
        testzip::build(&[
            ("[Content_Types].xml", CT),
            ("xl/workbook.xml", wb.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels),
            ("xl/styles.xml", styles),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ])
    }

    #[test]
    fn numeric_cells_read_as_excel_shows_them() {
        for date1904 in [false, true] {
            let out = extract(Format::Xlsx, &formatted_xlsx(date1904), &test_budget());
            assert!(out.error.is_none(), "{:?}", out.error);
            let sheet = out
                .parts
                .iter()
                .find(|p| p.kind == PartKind::Sheet)
                .unwrap();
            assert_eq!(
                sheet.text,
                "1-Mar-23\t01-Mar-2023\t12.50%\t1,235k\t-\u{20ac}1,234.50\t2.5M\n\
                 0.690168668\t#DIV/0!\tFALSE\t0.6901686683866837\t7\t-5",
                "date1904 = {date1904}"
            );
        }
    }

    /// OPC part names are case-insensitive (issue 17, defect 12; POI's
    /// 49609.xlsx stores `[content_types].xml`).
    #[test]
    fn part_names_in_another_case_are_the_same_parts() {
        let zip = testzip::build(&[
            ("[content_types].xml", CT),
            (
                "_rels/.rels",
                br#"<Relationships><Relationship Id="rId1" Type="x/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
            ),
            (
                "XL/Workbook.xml",
                br#"<workbook xmlns:r="r"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            ),
            (
                "XL/_rels/Workbook.xml.rels",
                br#"<Relationships><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
            ),
            (
                "XL/Worksheets/Sheet1.xml",
                br#"<worksheet><sheetData><row><c t="inlineStr"><is><t>read</t></is></c></row></sheetData></worksheet>"#,
            ),
        ]);
        assert_eq!(crate::extract::sniff(&zip, "49609.xlsx"), Format::Xlsx);
        assert_eq!(crate::extract::sniff(&zip, "49609.zip"), Format::Xlsx);
        let out = extract(Format::Xlsx, &zip, &test_budget());
        assert!(out.error.is_none(), "{:?}", out.error);
        assert!(out
            .parts
            .iter()
            .any(|p| p.kind == PartKind::Sheet && p.text == "read"));
    }

    #[test]
    fn a_cell_style_is_read_from_its_attributes() {
        for (tag, want) in [
            ("<c r=\"A1\" s=\"3\" t=\"s\">", 3),
            ("<c r=\"A1\">", 0),
            ("<c s=\"12\" r=\"A1\">", 12),
            ("<c r=\"A1\" t=\"s\" s='4'>", 0),
            ("<c r=\"A1\"\ts=\"7\">", 7),
            ("<c r=\"A1\" t=\"s\">", 0),
            ("<c r=\"A1\" t=\"s\" s=\"9\">", 9),
            ("<c r=\"B7\" cm=\"1\" s=\"5\">", 5),
            ("<c r=\"A1\" s=\"\">", 0),
        ] {
            let mut t = crate::extract::xml::tokens::Tokens::new(tag);
            let Ok(Some(Token::Start(e))) = t.next_token() else {
                panic!("{tag}")
            };
            assert_eq!(style_of(&e), want, "{tag}");
        }
    }

    #[test]
    fn a_row_number_is_read_from_its_attributes() {
        for (tag, want) in [
            ("<row r=\"7\" spans=\"1:3\">", Some(7)),
            ("<row r=\"12\">", Some(12)),
            ("<row spans=\"1:3\" r=\"4\">", Some(4)),
            ("<row r='5'>", Some(5)),
            ("<row r=\" 6 \">", Some(6)),
            ("<row r=\"x\">", None),
            ("<row>", None),
        ] {
            let mut t = crate::extract::xml::tokens::Tokens::new(tag);
            let Ok(Some(Token::Start(e))) = t.next_token() else {
                panic!("{tag}")
            };
            assert_eq!(row_number_of(&e), want, "{tag}");
        }
    }

    #[test]
    fn header_footer_codes() {
        assert_eq!(decode_header_footer("&LA&CB&RC"), "A\nB\nC");
        assert_eq!(
            decode_header_footer("&C&\"-,Bold\"&14&KFF0000Secret &&Co&D &T"),
            "Secret &Co"
        );
        assert_eq!(decode_header_footer("Page &P"), "Page");
    }

    #[test]
    fn pptx_slides_in_presentation_order() {
        let pres = br#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="257" r:id="rId3"/><p:sldId id="256" r:id="rId2"/></p:sldIdLst></p:presentation>"#;
        let rels = br#"<Relationships><Relationship Id="rId2" Type="x/slide" Target="slides/slide1.xml"/><Relationship Id="rId3" Type="x/slide" Target="slides/slide2.xml"/></Relationships>"#;
        // Tab stops in paragraph properties are not tabs.
        let slide = |t: &str| {
            format!(r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:pPr><a:tabLst><a:tab pos="770255"/></a:tabLst></a:pPr><a:r><a:rPr lang="nl-BE"/><a:t>{t}</a:t></a:r></a:p><a:p><a:r><a:t>line</a:t></a:r><a:br/><a:r><a:t>two</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#).into_bytes()
        };
        let s1 = slide("first file");
        let s2 = slide("second file");
        let s1rels = br#"<Relationships><Relationship Id="rId1" Type="x/notesSlide" Target="../notesSlides/notesSlide1.xml"/></Relationships>"#;
        let notes = br#"<p:notes xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>speaker says</a:t></a:r></a:p></p:notes>"#;
        let cm = br#"<p:cmLst xmlns:p="p"><p:cm authorId="0"><p:pos x="1" y="1"/><p:text>fix this</p:text></p:cm></p:cmLst>"#;
        let z = testzip::build(&[
            ("ppt/presentation.xml", pres),
            ("ppt/_rels/presentation.xml.rels", rels),
            ("ppt/slides/slide1.xml", &s1),
            ("ppt/slides/slide2.xml", &s2),
            ("ppt/slides/_rels/slide1.xml.rels", s1rels),
            ("ppt/notesSlides/notesSlide1.xml", notes),
            ("ppt/comments/comment1.xml", cm),
        ]);
        let x = extract(Format::Pptx, &z, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        assert_eq!(
            x.part_text(PartKind::Slide, "slide 1"),
            Some("second file\nline\ntwo")
        );
        assert_eq!(
            x.part_text(PartKind::Slide, "slide 2"),
            Some("first file\nline\ntwo")
        );
        assert_eq!(
            x.part_text(PartKind::Notes, "slide 2"),
            Some("speaker says")
        );
        assert_eq!(
            x.part_text(PartKind::Comment, "ppt/comments/comment1.xml"),
            Some("fix this")
        );
    }

    #[test]
    fn master_and_layout_text_outside_placeholders() {
        let pres = br#"<p:presentation xmlns:p="p"/>"#;
        let rels = br#"<Relationships><Relationship Id="rId1" Type="x/slideMaster" Target="slideMasters/slideMaster1.xml"/></Relationships>"#;
        let shape = |ph: &str, t: &str| {
            format!(
                r#"<p:sp><p:nvSpPr><p:cNvPr id="2" name="s"/><p:nvPr>{ph}</p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:txBody></p:sp>"#
            )
        };
        let part = |root: &str, shapes: &[String]| {
            format!(r#"<p:{root} xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree>{}</p:spTree></p:cSld></p:{root}>"#, shapes.concat()).into_bytes()
        };
        let master = part(
            "sldMaster",
            &[
                shape(
                    r#"<p:ph type="title"/>"#,
                    "Click to edit Master title style",
                ),
                shape("", "INTERNAL // RELEASED TO: Precision Systems"),
                shape(r#"<p:ph type="ftr" idx="3"></p:ph>"#, "footer prompt"),
            ],
        );
        let layout = part("sldLayout", &[shape("<p:phAnim/>", "Layout banner")]);
        let mrels = br#"<Relationships><Relationship Id="rId1" Type="x/slideLayout" Target="../slideLayouts/slideLayout1.xml"/></Relationships>"#;
        let z = testzip::build(&[
            ("ppt/presentation.xml", pres),
            ("ppt/_rels/presentation.xml.rels", rels),
            ("ppt/slideMasters/slideMaster1.xml", &master),
            ("ppt/slideMasters/_rels/slideMaster1.xml.rels", mrels),
            ("ppt/slideLayouts/slideLayout1.xml", &layout),
        ]);
        let x = extract(Format::Pptx, &z, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        assert_eq!(
            x.part_text(PartKind::Master, "ppt/slideMasters/slideMaster1.xml"),
            Some("INTERNAL // RELEASED TO: Precision Systems")
        );
        assert_eq!(
            x.part_text(PartKind::Master, "ppt/slideLayouts/slideLayout1.xml"),
            Some("Layout banner")
        );
    }

    #[test]
    fn embedded_xlsx_in_docx() {
        let inner = sample_xlsx(&[(
            "docMetadata/LabelInfo.xml",
            br#"<c:labelList xmlns:c="m"><c:label id="{AA}" enabled="1" method="Standard" siteId="{BB}" removed="0"/></c:labelList>"#,
        )]);
        let outer = testzip::build(&[
            ("word/document.xml", DOCUMENT),
            ("word/embeddings/Microsoft_Excel_Worksheet.xlsx", &inner),
            ("word/embeddings/broken.docx", b"PK\x03\x04 not really"),
        ]);
        let x = extract(Format::Docx, &outer, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        let emb = x
            .parts
            .iter()
            .find(|p| {
                p.kind == PartKind::Embedded
                    && p.location
                        == "embedded word/embeddings/Microsoft_Excel_Worksheet.xlsx sheet \"Budget\""
            })
            .unwrap();
        assert!(emb.text.contains("Tom & Jerry"));
        assert_eq!(x.label_info.len(), 1);
        assert_eq!(
            x.label_info[0].location,
            "embedded word/embeddings/Microsoft_Excel_Worksheet.xlsx docMetadata/LabelInfo.xml"
        );
        assert!(x
            .parts_read
            .iter()
            .any(|p| p.starts_with("embedded word/embeddings/broken.docx (error: corrupt")));
    }

    #[test]
    fn embedded_properties_and_labels_are_read_once_at_every_depth() {
        let inner = sample_docx();
        let middle = testzip::build(&[
            ("word/document.xml", DOCUMENT),
            ("word/embeddings/inner.docx", &inner),
        ]);
        let outer = testzip::build(&[
            ("word/document.xml", DOCUMENT),
            ("word/embeddings/middle.docx", &middle),
        ]);
        let x = super::super::extract_document(Format::Docx, &outer, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        let property_text: String = x
            .parts
            .iter()
            .filter(|p| p.text.contains("Classification: Internal"))
            .map(|p| p.describe())
            .collect::<Vec<_>>()
            .join(" | ");
        assert_eq!(property_text, "other document properties");
        assert_eq!(
            x.parts
                .iter()
                .map(|p| p.text.matches("Classification: Internal").count())
                .sum::<usize>(),
            1
        );
        assert_eq!(x.label_info.len(), 1);
        assert_eq!(
            x.label_info[0].location,
            "embedded word/embeddings/middle.docx embedded word/embeddings/inner.docx meta/Labels.xml"
        );
    }

    #[test]
    fn bomb_part_is_limit_exceeded_fast() {
        let big = vec![0u8; 32 * 1024 * 1024];
        let z = testzip::build(&[("word/document.xml", DOCUMENT), ("word/header1.xml", &big)]);
        let budget = test_budget();
        let x = extract(Format::Docx, &z, &budget);
        assert_eq!(x.error.as_ref().unwrap().kind, ErrorKind::LimitExceeded);
        // Fast: refused from its declared size, never inflated (what was
        // inflated is the small document part).
        let inflated = crate::model::budget::Limits::default().max_total_inflated - budget.room();
        assert!(inflated < 64 * 1024, "{inflated} bytes inflated");
    }

    #[test]
    fn garbage_and_missing_main_part_are_corrupt() {
        let x = extract(Format::Docx, b"PK\x03\x04garbage", &test_budget());
        assert_eq!(x.error.unwrap().kind, ErrorKind::Corrupt);
        let z = testzip::build(&[("other.xml", b"<a/>")]);
        let x = extract(Format::Docx, &z, &test_budget());
        assert_eq!(x.error.unwrap().kind, ErrorKind::Corrupt);
    }

    #[test]
    fn ooxml_other_follows_rels() {
        let rels = br#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="/word/document2.xml"/></Relationships>"#;
        let z = testzip::build(&[
            ("[Content_Types].xml", CT),
            ("_rels/.rels", rels),
            ("word/document2.xml", DOCUMENT),
        ]);
        let x = extract(Format::OoxmlOther, &z, &test_budget());
        assert!(x.error.is_none(), "{:?}", x.error);
        assert!(x
            .part_text(PartKind::Body, "word/document2.xml")
            .unwrap()
            .starts_with("CONFIDENTIAL"));
    }

    #[test]
    fn mutated_packages_never_panic() {
        let b = test_budget();
        let docx = sample_docx();
        let xlsx = sample_xlsx(&[]);
        for (format, z) in [(Format::Docx, docx), (Format::Xlsx, xlsx)] {
            for cut in (0..z.len()).step_by(37) {
                let _ = extract(format, &z[..cut], &b);
            }
            for i in (0..z.len()).step_by(13) {
                let mut m = z.clone();
                m[i] ^= 0x5A;
                let _ = extract(format, &m, &b);
            }
        }
        // Stored members: XML damage reaches the parsers.
        let stored = testzip::build_with(
            &[
                ("word/document.xml", DOCUMENT),
                (
                    "xl/worksheets/sheet1.xml",
                    b"<worksheet><sheetData><row><c t=\"s\"><v>99</v></c>",
                ),
            ],
            zip::CompressionMethod::Stored,
        );
        for i in (0..stored.len()).step_by(7) {
            let mut m = stored.clone();
            m[i] = b'<';
            let _ = extract(Format::Docx, &m, &b);
            let _ = extract(Format::Xlsx, &m, &b);
            let _ = extract(Format::OoxmlOther, &m, &b);
        }
    }

    #[test]
    fn resolves_targets() {
        assert_eq!(
            resolve_target("ppt/slides/", "../notesSlides/n1.xml"),
            "ppt/notesSlides/n1.xml"
        );
        assert_eq!(
            resolve_target("xl/", "/xl/worksheets/s.xml"),
            "xl/worksheets/s.xml"
        );
        assert_eq!(
            rels_name("word/document.xml"),
            "word/_rels/document.xml.rels"
        );
    }
}
