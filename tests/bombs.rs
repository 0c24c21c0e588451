//! Archives built to cost memory, time or rows (issue 16): each is
//! generated here, scanned by the real binary, and must keep the bounds of
//! `common::bounds` (exit 0 or 1, 1 to 20,000 rows, under 2 s of CPU and
//! under 100 MB of peak RSS beyond a scan of one small file).

mod common;

use std::io::Write;

use common::bounds::{assert_scan_bounded, baseline_kb, quiet_scan, rows, run_measured, MAX_ROWS};

/// A zip written byte by byte, so that a test controls what the central
/// directory says: several entries may point at one local header.
#[derive(Default)]
struct RawZip {
    bytes: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

/// A member's data, compressed once and reusable at many offsets.
#[derive(Clone)]
struct Data {
    method: u16,
    crc: u32,
    compressed: Vec<u8>,
    size: u32,
}

impl Data {
    fn deflated(plain: &[u8]) -> Data {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(plain).unwrap();
        Data {
            method: 8,
            crc: crc32(plain),
            compressed: enc.finish().unwrap(),
            size: plain.len() as u32,
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

impl RawZip {
    /// Writes a local header and its data; returns the header's offset.
    fn local(&mut self, name: &str, data: &Data) -> u32 {
        let at = self.bytes.len() as u32;
        let b = &mut self.bytes;
        b.extend_from_slice(b"PK\x03\x04");
        b.extend_from_slice(&20u16.to_le_bytes()); // version needed
        b.extend_from_slice(&0u16.to_le_bytes()); // flags
        b.extend_from_slice(&data.method.to_le_bytes());
        b.extend_from_slice(&[0; 4]); // time, date
        b.extend_from_slice(&data.crc.to_le_bytes());
        b.extend_from_slice(&(data.compressed.len() as u32).to_le_bytes());
        b.extend_from_slice(&data.size.to_le_bytes());
        b.extend_from_slice(&(name.len() as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes()); // extra length
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&data.compressed);
        at
    }

    /// Lists `name` in the central directory, its data at `offset`.
    fn central(&mut self, name: &str, data: &Data, offset: u32) {
        let c = &mut self.central;
        c.extend_from_slice(b"PK\x01\x02");
        c.extend_from_slice(&20u16.to_le_bytes()); // made by
        c.extend_from_slice(&20u16.to_le_bytes()); // needed
        c.extend_from_slice(&0u16.to_le_bytes());
        c.extend_from_slice(&data.method.to_le_bytes());
        c.extend_from_slice(&[0; 4]);
        c.extend_from_slice(&data.crc.to_le_bytes());
        c.extend_from_slice(&(data.compressed.len() as u32).to_le_bytes());
        c.extend_from_slice(&data.size.to_le_bytes());
        c.extend_from_slice(&(name.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0; 4]); // extra, comment lengths
        c.extend_from_slice(&[0; 4]); // disk, internal attributes
        c.extend_from_slice(&[0; 4]); // external attributes
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    fn member(&mut self, name: &str, data: &Data) {
        let at = self.local(name, data);
        self.central(name, data, at);
    }

    fn finish(mut self) -> Vec<u8> {
        let cd_at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&self.central);
        let b = &mut self.bytes;
        b.extend_from_slice(b"PK\x05\x06");
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&self.entries.to_le_bytes());
        b.extend_from_slice(&self.entries.to_le_bytes());
        b.extend_from_slice(&(self.central.len() as u32).to_le_bytes());
        b.extend_from_slice(&cd_at.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        self.bytes
    }
}

/// A zip whose central directory lists `entries` names, all pointing at
/// the one local entry holding `plain`.
fn overlapping(plain: &[u8], entries: usize) -> Vec<u8> {
    let data = Data::deflated(plain);
    let mut zip = RawZip::default();
    let at = zip.local("m0.txt", &data);
    for i in 0..entries {
        zip.central(&format!("m{i}.txt"), &data, at);
    }
    zip.finish()
}

/// What one scan cost and gave.
struct Scanned {
    header: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
}

/// Scans a tree holding `bytes` as `name` and checks the bounds every
/// hostile file must keep; returns the scan for the case's own checks.
fn bounded(name: &str, bytes: &[u8]) -> Scanned {
    let dir = tempfile::tempdir().unwrap();
    let baseline = baseline_kb(dir.path());
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join(name), bytes).unwrap();
    let out = dir.path().join("tree.out");
    let m = run_measured(&mut quiet_scan(&tree, &out));
    eprintln!("{name}: {} bytes", bytes.len());
    assert_scan_bounded(name, &m, &out, baseline);
    let (header, rows) = rows(&out);
    Scanned { header, rows }
}

impl Scanned {
    /// Rows whose `column` contains `needle`.
    fn count(&self, column: &str, needle: &str) -> usize {
        self.rows
            .iter()
            .filter(|r| self.cell(r, column).contains(needle))
            .count()
    }

    fn cell<'a>(&self, row: &'a csv::StringRecord, column: &str) -> &'a str {
        let at = self
            .header
            .iter()
            .position(|c| c.trim_start_matches('\u{feff}') == column);
        &row[at.unwrap_or_else(|| panic!("no column {column}"))]
    }
}

#[test]
fn entries_sharing_one_member_are_read_once() {
    // 1,000 names for one 1 MiB member: once 1 GB of inflated text.
    let plain = "quarterly figures 4111 1111 1111 1111\n".repeat(28_000);
    let zip = overlapping(plain.as_bytes(), 1_000);
    assert!(zip.len() < 100 * 1024);
    let s = bounded("shared.zip", &zip);
    assert_eq!(s.rows.len(), 1_000);
    assert_eq!(
        s.count("reasons", "overlaps"),
        999,
        "all but the first entry are refused"
    );
}

#[test]
fn a_row_bomb_ends_at_the_row_limit() {
    // 100 inner zips, each listing 20,000 names for one tiny member:
    // 2 million rows before the limit.
    let inner = overlapping(b"x", 20_000);
    let inner = Data::deflated(&inner);
    let mut outer = RawZip::default();
    for i in 0..100 {
        outer.member(&format!("inner{i}.zip"), &inner);
    }
    let outer = outer.finish();
    assert!(outer.len() < 8 * 1024 * 1024, "{} bytes", outer.len());
    let s = bounded("bomb.zip", &outer);
    assert_eq!(s.rows.len(), MAX_ROWS);
    let last = s.rows.last().unwrap();
    assert!(s.cell(last, "path").ends_with("bomb.zip"), "{last:?}");
    assert_eq!(s.cell(last, "error"), "limit_exceeded", "{last:?}");
}

#[test]
fn many_large_members_are_read_one_at_a_time() {
    // 1,100 members of 1 MiB: more than the file's inflated total, which
    // once was 1 GiB read and held at once.
    let plain = vec![b'a'; 1024 * 1024];
    let data = Data::deflated(&plain);
    let mut zip = RawZip::default();
    for i in 0..1_100 {
        zip.member(&format!("m{i}.txt"), &data);
    }
    let s = bounded("many.zip", &zip.finish());
    assert_eq!(s.rows.len(), 1_100);
    assert!(
        s.count("error", "limit_exceeded") > 0,
        "the inflated total must run out"
    );
}

// ---- documents built to cost time or memory ----

/// A zip holding the given members, each deflated.
fn package(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = RawZip::default();
    for (name, plain) in members {
        zip.member(name, &Data::deflated(plain));
    }
    zip.finish()
}

const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#;

/// A docx whose body holds `n` paragraph properties never closed, each
/// under a prefix of its own: no later start tag of the same name stops
/// a search for its end tag.
fn unclosed_properties_docx(n: usize) -> Vec<u8> {
    let mut body = String::from(
        r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>INTERNAL</w:t></w:r></w:p>"#,
    );
    for i in 0..n {
        body.push_str(&format!("<p{i}:pPr><w:r><w:t>x</w:t></w:r>"));
    }
    body.push_str("</w:body></w:document>");
    package(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("word/document.xml", body.as_bytes()),
    ])
}

#[test]
fn unclosed_properties_under_many_prefixes_take_linear_time() {
    // Once 56 s of CPU: each skip searched to the end of the part for its
    // end tag.
    let s = bounded("unclosed.docx", &unclosed_properties_docx(200_000));
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "", "{:?}", s.rows[0]);
    assert_eq!(s.cell(&s.rows[0], "level"), "INTERNAL", "{:?}", s.rows[0]);
}

/// A PDF stream object: `dict` entries, then `data` as is.
fn pdf_stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut v = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\nendstream");
    v
}

/// A form XObject drawing `draws` `/X` and showing a line of text.
fn pdf_form(next: Option<usize>, draws: usize) -> Vec<u8> {
    let resources = match next {
        Some(id) => format!("/Resources << /XObject << /X {id} 0 R >> >>"),
        None => String::new(),
    };
    let content = format!("BT (INTERNAL text) Tj ET {}", "/X Do ".repeat(draws));
    pdf_stream(
        &format!("/Type /XObject /Subtype /Form /BBox [0 0 10 10] {resources}"),
        content.as_bytes(),
    )
}

/// One page (object 3) drawing form object 5 (content 4); `forms` are
/// objects 5 on.
fn pdf_drawing(forms: Vec<Vec<u8>>) -> Vec<u8> {
    let mut bodies = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << /X 5 0 R >> >> >>"
            .to_vec(),
        pdf_stream("", b"/X Do"),
    ];
    bodies.extend(forms);
    common::pdf(&bodies)
}

#[test]
fn a_chain_of_forms_drawing_each_other_is_bounded() {
    // Form n draws form n+1 ten times: 10^8 runs of the last form. Once
    // 12 s of CPU and 230 MB.
    let depth = 12;
    let forms = (0..depth)
        .map(|i| pdf_form((i + 1 < depth).then_some(6 + i), 10))
        .collect();
    let pdf = pdf_drawing(forms);
    assert!(pdf.len() < 4096, "{} bytes", pdf.len());
    let s = bounded("chain.pdf", &pdf);
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "limit_exceeded");
}

#[test]
fn a_form_drawing_itself_is_drawn_once() {
    // Once 12 s of CPU, 225 MB and millions of characters of text.
    let pdf = pdf_drawing(vec![pdf_form(Some(5), 10)]);
    assert!(pdf.len() < 1024, "{} bytes", pdf.len());
    let s = bounded("self.pdf", &pdf);
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "", "{:?}", s.rows[0]);
    assert_eq!(
        s.cell(&s.rows[0], "text_chars"),
        "INTERNAL text".len().to_string()
    );
}

/// A page tree whose one Pages node lists `kids` pages: the same page
/// over and over when `distinct` is false, else a page object each; a
/// page shows `page_lines` lines.
/// There are as many objects as kids either way (lopdf's page iterator
/// stops after as many kids as the file has objects).
fn pdf_page_tree(kids: usize, distinct: bool, page_lines: usize) -> Vec<u8> {
    let ids: Vec<usize> = (0..kids)
        .map(|i| if distinct { 4 + i } else { 4 })
        .collect();
    let list: String = ids.iter().map(|id| format!("{id} 0 R ")).collect();
    let mut bodies = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!("<< /Type /Pages /Kids [{list}] /Count {kids} >>").into_bytes(),
        // Each line in a place of its own: text drawn again in one place
        // is read once (bold by overprinting).
        pdf_stream("", page_text(page_lines).as_bytes()),
    ];
    let page = b"<< /Type /Page /Parent 2 0 R /Contents 3 0 R >>".to_vec();
    if distinct {
        bodies.extend(std::iter::repeat_n(page, kids));
    } else {
        bodies.push(page);
        bodies.extend(std::iter::repeat_n(b"null".to_vec(), kids));
    }
    common::pdf(&bodies)
}

/// `lines` lines of `INTERNAL`, one under the other.
fn page_text(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("BT 1 0 0 1 10 {} Tm (INTERNAL) Tj ET\n", 10 + 12 * i))
        .collect()
}

#[test]
fn a_page_listed_60_000_times_is_read_once() {
    // Once read 60,000 times: 4 s of CPU and 109 MB.
    let s = bounded("kids.pdf", &pdf_page_tree(60_000, false, 200));
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "", "{:?}", s.rows[0]);
    // 200 words and at most a line break between two.
    let chars: usize = s.cell(&s.rows[0], "text_chars").parse().unwrap();
    let words = "INTERNAL".len() * 200;
    assert!((words..words + 200).contains(&chars), "{chars} characters");
}

#[test]
fn a_page_tree_of_many_pages_is_bounded() {
    // 100,000 pages once took 145 MB: more objects than the limit now.
    let s = bounded("pages.pdf", &pdf_page_tree(60_000, true, 1));
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "", "{:?}", s.rows[0]);
    let s = bounded("more.pdf", &pdf_page_tree(100_000, true, 1));
    assert_eq!(s.cell(&s.rows[0], "error"), "limit_exceeded");
}

#[test]
fn a_million_objects_are_refused_in_bounded_memory() {
    let mut bodies = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
    ];
    bodies.extend(std::iter::repeat_n(b"<< /A [1 2 3] >>".to_vec(), 1_000_000));
    let s = bounded("objects.pdf", &common::pdf(&bodies));
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "limit_exceeded");
}

/// A PDF whose `streams` object streams each pack `per_stream` one-byte
/// objects: no `obj` keyword in the file shows them.
fn pdf_object_streams(streams: usize, per_stream: usize) -> Vec<u8> {
    let mut bodies = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
    ];
    let mut id = 3 + streams;
    for _ in 0..streams {
        let (mut index, mut objects) = (String::new(), String::new());
        for _ in 0..per_stream {
            index.push_str(&format!("{id} {} ", objects.len()));
            objects.push_str("1 ");
            id += 1;
        }
        let first = index.len();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all((index + &objects).as_bytes()).unwrap();
        let dict = format!("/Type /ObjStm /N {per_stream} /First {first} /Filter /FlateDecode");
        bodies.push(pdf_stream(&dict, &z.finish().unwrap()));
    }
    common::pdf(&bodies)
}

#[test]
fn objects_packed_in_object_streams_are_counted() {
    // 2 million objects in 20 object streams: 1.2 GB before they were
    // counted as they load.
    let s = bounded("packed.pdf", &pdf_object_streams(20, 100_000));
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "limit_exceeded");
}

#[test]
fn a_table_naming_one_large_object_many_times_is_refused() {
    // 300,000 entries naming one object of a 100,000-number array: lopdf
    // parsed the array once per entry.
    let numbers = "1 ".repeat(100_000);
    let mut pdf = common::pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
        format!("[{numbers}]").into_bytes(),
    ]);
    let object = memchr::memmem::find(&pdf, b"3 0 obj").unwrap();
    let entries = 300_000;
    let xref = pdf.len();
    pdf.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", entries + 1).as_bytes());
    for _ in 0..entries {
        pdf.extend_from_slice(format!("{object:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            entries + 1
        )
        .as_bytes(),
    );
    let s = bounded("one-object.pdf", &pdf);
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "limit_exceeded");
}

/// A zlib stream of `gib` GiB of spaces, built from one deflated MiB
/// repeated (each copy ends byte-aligned by a sync flush).
fn zlib_bomb(gib: usize) -> Vec<u8> {
    let mut z = flate2::Compress::new(flate2::Compression::best(), false);
    let mut mib = Vec::with_capacity(8192);
    z.compress_vec(&vec![b' '; 1 << 20], &mut mib, flate2::FlushCompress::Sync)
        .unwrap();
    let mut out = vec![0x78, 0xda];
    for _ in 0..gib * 1024 {
        out.extend_from_slice(&mib);
    }
    out.extend_from_slice(&[0x03, 0x00]); // an empty final block
    out.extend_from_slice(&[0; 4]); // no checksum: inflating never gets there
    out
}

/// A PDF with a 2 GiB Flate stream as page content, XMP metadata or
/// object stream.
fn pdf_inflating(role: &str) -> Vec<u8> {
    let bomb = zlib_bomb(2);
    let catalog = if role == "xmp" {
        "<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>"
    } else {
        "<< /Type /Catalog /Pages 2 0 R >>"
    };
    let dict = match role {
        "objects" => "/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode",
        "xmp" => "/Type /Metadata /Subtype /XML /Filter /FlateDecode",
        _ => "/Filter /FlateDecode",
    };
    common::pdf(&[
        catalog.as_bytes().to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
        pdf_stream(dict, &bomb),
    ])
}

#[test]
fn two_gib_streams_are_refused_in_bounded_memory() {
    for role in ["content", "xmp", "objects"] {
        let s = bounded(&format!("{role}.pdf"), &pdf_inflating(role));
        assert_eq!(s.rows.len(), 1, "{role}");
        assert_eq!(s.cell(&s.rows[0], "error"), "limit_exceeded", "{role}");
    }
}

// ---- single parts of 250 MiB ----

/// Raw deflate of `head`, then `block` `copies` times, then `tail`, each
/// compressed on its own (ended byte-aligned by a sync flush, the tail
/// final), with the whole's CRC-32 and size: a part of hundreds of MiB in
/// a small file, built in a fraction of the time deflating it whole takes.
fn repeated_deflate(head: &[u8], block: &[u8], copies: usize, tail: &[u8]) -> Data {
    let deflate = |plain: &[u8], flush| {
        let mut z = flate2::Compress::new(flate2::Compression::best(), false);
        let mut out = Vec::with_capacity(plain.len() + 64);
        z.compress_vec(plain, &mut out, flush).unwrap();
        out
    };
    let one = deflate(block, flate2::FlushCompress::Sync);
    let mut compressed = deflate(head, flate2::FlushCompress::Sync);
    let mut crc = flate2::Crc::new();
    crc.update(head);
    for _ in 0..copies {
        compressed.extend_from_slice(&one);
        crc.update(block);
    }
    compressed.extend_from_slice(&deflate(tail, flate2::FlushCompress::Finish));
    crc.update(tail);
    Data {
        method: 8,
        crc: crc.sum(),
        compressed,
        size: (head.len() + block.len() * copies + tail.len()) as u32,
    }
}

/// About 1 MiB of `unit(i)` for i = 0, 1, ...: text that varies enough
/// to compress about 130:1 when each MiB is deflated on its own.
fn mib_of(unit: impl Fn(usize) -> String) -> Vec<u8> {
    let mut block = String::with_capacity(1 << 20);
    let mut i = 0;
    while block.len() < (1 << 20) - 200 {
        block.push_str(&unit(i));
        i += 1;
    }
    block.into_bytes()
}

/// A package of small members and one member `big` of 250 MiB: `head`,
/// then about 1 MiB of `unit` repeated, then `tail`.
fn package_with_huge_part(
    small: &[(&str, &[u8])],
    big: &str,
    head: &str,
    unit: impl Fn(usize) -> String,
    tail: &str,
) -> Vec<u8> {
    let block = mib_of(unit);
    let copies = (250 << 20) / block.len();
    let data = repeated_deflate(head.as_bytes(), &block, copies, tail.as_bytes());
    let ratio = data.size as usize / data.compressed.len();
    assert!(
        (100..200).contains(&ratio),
        "{big}: {ratio}:1, {} bytes inflated",
        data.size
    );
    let mut zip = RawZip::default();
    for (name, plain) in small {
        zip.member(name, &Data::deflated(plain));
    }
    zip.member(big, &data);
    zip.finish()
}

/// The checks of a document one 250 MiB part of which was read only in
/// part: one row, `limit_exceeded`, the start of the text read.
fn partly_read(name: &str, file: &[u8]) {
    let s = bounded(name, file);
    assert_eq!(s.rows.len(), 1, "{name}");
    let row = &s.rows[0];
    assert_eq!(s.cell(row, "error"), "limit_exceeded", "{name}: {row:?}");
    assert!(
        s.cell(row, "reasons").contains("only its first"),
        "{name}: {row:?}"
    );
    let chars: usize = s.cell(row, "text_chars").parse().unwrap();
    assert!(chars > 1_000_000, "{name}: {chars} characters read");
}

/// A line of words and a number: the text of one paragraph, cell or line.
fn words(i: usize) -> String {
    format!("INTERNAL quarterly figures for region {} ", i % 200)
}

#[test]
fn a_docx_part_of_250_mib_is_read_in_part() {
    let docx = package_with_huge_part(
        &[("[Content_Types].xml", CONTENT_TYPES)],
        "word/document.xml",
        r#"<w:document xmlns:w="w"><w:body>"#,
        |i| format!("<w:p><w:r><w:t>{}</w:t></w:r></w:p>", words(i)),
        "</w:body></w:document>",
    );
    partly_read("huge.docx", &docx);
}

#[test]
fn an_xlsx_sheet_of_250_mib_is_read_in_part() {
    let xlsx = package_with_huge_part(
        &[
            ("[Content_Types].xml", CONTENT_TYPES),
            (
                "xl/workbook.xml",
                br#"<workbook xmlns="s"><sheets/></workbook>"#,
            ),
        ],
        "xl/worksheets/sheet1.xml",
        r#"<worksheet xmlns="s"><sheetData>"#,
        |i| {
            format!(
                r#"<row><c t="inlineStr"><is><t>{}</t></is></c></row>"#,
                words(i)
            )
        },
        "</sheetData></worksheet>",
    );
    partly_read("huge.xlsx", &xlsx);
}

#[test]
fn a_pptx_slide_of_250_mib_is_read_in_part() {
    let pptx = package_with_huge_part(
        &[
            ("[Content_Types].xml", CONTENT_TYPES),
            ("ppt/presentation.xml", br#"<p:presentation xmlns:p="p"/>"#),
        ],
        "ppt/slides/slide1.xml",
        r#"<p:sld xmlns:p="p" xmlns:a="a"><p:cSld><p:spTree><p:sp><p:txBody>"#,
        |i| format!("<a:p><a:r><a:t>{}</a:t></a:r></a:p>", words(i)),
        "</p:txBody></p:sp></p:spTree></p:cSld></p:sld>",
    );
    partly_read("huge.pptx", &pptx);
}

#[test]
fn an_odt_content_of_250_mib_is_read_in_part() {
    let odt = package_with_huge_part(
        &[("mimetype", b"application/vnd.oasis.opendocument.text")],
        "content.xml",
        r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text>"#,
        |i| format!("<text:p>{}</text:p>", words(i)),
        "</office:text></office:body></office:document-content>",
    );
    partly_read("huge.odt", &odt);
}

#[test]
fn a_pdf_content_stream_at_the_stream_limit_is_bounded() {
    // Just under the 16 MiB a PDF stream may inflate to, all of it text:
    // at 31 MiB (the limit was 32) this took 140 MB.
    let block = mib_of(|i| format!("BT 1 0 0 1 10 {} Tm ({}) Tj ET\n", i % 50, words(i)));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    for _ in 0..15 {
        z.write_all(&block).unwrap();
    }
    let content = z.finish().unwrap();
    let pdf = common::pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
        pdf_stream("/Filter /FlateDecode", &content),
    ]);
    let s = bounded("stream.pdf", &pdf);
    assert_eq!(s.rows.len(), 1);
}

#[test]
fn a_stream_table_naming_one_large_object_many_times_is_refused() {
    // The compressed form of the table above (PDF 1.5): 300,000 entries
    // of a cross-reference stream, PNG-predicted as writers do, naming
    // one object of a 100,000-number array. Unchecked, lopdf parsed the
    // array once per entry (to the file's timeout).
    let numbers = "1 ".repeat(100_000);
    let mut pdf = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [] /Count 0 >>".to_string(),
        format!("[{numbers}]"),
    ]
    .iter()
    .enumerate()
    {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let entries = 300_000;
    let xref_at = pdf.len();
    offsets.push(xref_at);
    let mut rows = vec![[0u8, 0, 0, 0, 0, 0xff, 0xff]];
    for n in 1..4 + entries {
        let offset = offsets.get(n - 1).copied().unwrap_or(offsets[2]) as u32;
        let o = offset.to_be_bytes();
        rows.push([1, o[0], o[1], o[2], o[3], 0, 0]);
    }
    // PNG "Up" rows: each byte less the one above it.
    let mut predicted = Vec::new();
    let mut above = [0u8; 7];
    for row in &rows {
        predicted.push(2);
        predicted.extend(row.iter().zip(above).map(|(b, a)| b.wrapping_sub(a)));
        above = *row;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&predicted).unwrap();
    let data = z.finish().unwrap();
    let dict = format!(
        "/Type /XRef /Size {} /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 7 >>",
        rows.len()
    );
    pdf.extend_from_slice(b"4 0 obj\n");
    pdf.extend_from_slice(&pdf_stream(&dict, &data));
    pdf.extend_from_slice(format!("\nendobj\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    let s = bounded("one-object-stream.pdf", &pdf);
    assert_eq!(s.rows.len(), 1);
    assert_eq!(s.cell(&s.rows[0], "error"), "limit_exceeded");
}

// ---- one budget per top-level file: members, embedded documents, text ----

#[test]
fn a_plain_member_of_250_mib_of_text_is_read_in_part() {
    // Inflated whole, this member once cost its 250 MiB and more.
    let block = mib_of(|i| format!("{}\n", words(i)));
    let data = repeated_deflate(b"", &block, (250 << 20) / block.len(), b"");
    let mut zip = RawZip::default();
    zip.member("notes.txt", &Data::deflated(b"INTERNAL\nhello\n"));
    zip.member("huge.txt", &data);
    let s = bounded("members.zip", &zip.finish());
    assert_eq!(s.rows.len(), 2);
    let huge = &s.rows[1];
    assert!(s.cell(huge, "path").ends_with("huge.txt"), "{huge:?}");
    assert_eq!(s.cell(huge, "error"), "limit_exceeded", "{huge:?}");
    assert!(
        s.cell(huge, "reasons").contains("only its first"),
        "{huge:?}"
    );
    let chars: usize = s.cell(huge, "text_chars").parse().unwrap();
    assert!(chars > 1_000_000, "{chars} characters read");
    assert_eq!(s.cell(&s.rows[0], "error"), "", "the small member is whole");
}

/// A docx holding `text` and, under `word/embeddings/`, `inner` `count`
/// times (each copy a member of its own: shared data would be refused).
fn docx_embedding(text: &str, inner: Option<&[u8]>, count: usize) -> Vec<u8> {
    let body = format!(
        r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>"#
    );
    let mut zip = RawZip::default();
    zip.member("[Content_Types].xml", &Data::deflated(CONTENT_TYPES));
    zip.member("word/document.xml", &Data::deflated(body.as_bytes()));
    if let Some(inner) = inner {
        let inner = Data::deflated(inner);
        for i in 0..count {
            zip.member(&format!("word/embeddings/e{i}.docx"), &inner);
        }
    }
    zip.finish()
}

#[test]
fn nested_embedded_documents_share_the_files_budget() {
    // 30 documents per level, 3 levels deep: 27,930 embedded documents
    // and 84,000 parts, more than the pieces one file may have read.
    let mut doc = docx_embedding("INTERNAL leaf", None, 0);
    for level in 0..3 {
        doc = docx_embedding(&format!("INTERNAL level {level}"), Some(&doc), 30);
    }
    let s = bounded("nested.docx", &doc);
    assert_eq!(s.rows.len(), 1);
    let row = &s.rows[0];
    assert_eq!(s.cell(row, "error"), "limit_exceeded", "{row:?}");
}

/// A text file far longer than a document's text may be: only its start is
/// held (16 MiB), the rest is read to be hashed, and what was read is
/// scanned (a card number in it fires).
#[test]
fn a_text_file_of_128_mib_is_held_in_part_and_scanned() {
    let mut text = b"Card 4111 1111 1111 1111 paid\n".to_vec();
    let line = "no secrets in this line, only words and words and words\n";
    while text.len() < 128 << 20 {
        text.extend_from_slice(line.as_bytes());
    }
    let s = bounded("huge.log", &text);
    assert_eq!(s.rows.len(), 1);
    let row = &s.rows[0];
    assert_eq!(s.cell(row, "error"), "limit_exceeded", "{row:?}");
    assert!(
        s.cell(row, "reasons")
            .contains("only the first 16 MiB of the file were read"),
        "{row:?}"
    );
    assert_eq!(s.cell(row, "size"), text.len().to_string());
    use sha2::Digest;
    let sha = sha2::Sha256::digest(&text);
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(s.cell(row, "sha256"), hex);
    assert_eq!(s.cell(row, "detections"), "credit_card:1", "{row:?}");
    assert_eq!(s.cell(row, "suggested_level"), "CONFIDENTIAL", "{row:?}");
    assert_eq!(s.cell(row, "verdicts"), "UNLABELED;UNREADABLE", "{row:?}");
}

/// `n` bytes no compressor shrinks (a xorshift stream).
fn incompressible(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Zip files larger than 32 MiB are read in place, an entry at a time,
/// never held whole: a docx of 96 MiB (a picture of 96 MiB beside its
/// text) and an archive of 12 text members of 8 MiB. Their text is read,
/// their SHA-256 is the file's.
#[test]
fn large_zip_files_are_read_in_place() {
    let docx = zip_with_stored(&[
        ("[Content_Types].xml", CONTENT_TYPES.to_vec()),
        (
            "word/document.xml",
            br#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>Card 4111 1111 1111 1111</w:t></w:r></w:p></w:body></w:document>"#.to_vec(),
        ),
        ("word/media/scan.bin", incompressible(96 << 20, 7)),
    ]);
    let s = bounded("big.docx", &docx);
    assert_eq!(s.rows.len(), 1);
    let row = &s.rows[0];
    assert_eq!(s.cell(row, "format"), "docx", "{row:?}");
    assert_eq!(s.cell(row, "error"), "", "{row:?}");
    assert_eq!(s.cell(row, "detections"), "credit_card:1", "{row:?}");
    use sha2::Digest;
    let hex = |b: &[u8]| -> String {
        sha2::Sha256::digest(b)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(s.cell(row, "sha256"), hex(&docx));

    let line = "nothing to see in this line of a long export\n";
    let mut members = Vec::new();
    for i in 0..12 {
        let mut text = line.repeat((8 << 20) / line.len());
        if i == 5 {
            text.push_str("mail a.b@example.com card 4111 1111 1111 1111\n");
        }
        members.push((format!("export-{i:02}.txt"), text.into_bytes()));
    }
    let named: Vec<(&str, Vec<u8>)> = members
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let archive = zip_with_stored(&named);
    let s = bounded("exports.zip", &archive);
    assert_eq!(s.rows.len(), 12);
    assert_eq!(s.count("error", "limit_exceeded"), 0);
    assert_eq!(s.count("detections", "credit_card:1"), 1);
}

/// A zip of stored (uncompressed) members.
fn zip_with_stored(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    for (name, data) in members {
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Files held whole above 32 MiB (PDF, OLE, RTF) take turns, whatever
/// `--jobs`: two RTF files of 40 MiB scanned by two workers cost about one.
#[test]
fn large_files_held_whole_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let body = "Quarterly figures for the region and nothing else. \\par\n";
    let rtf = format!("{{\\rtf1\\ansi {}}}", body.repeat((40 << 20) / body.len()));
    let scan_peak = |files: usize| -> i64 {
        let tree = dir.path().join(format!("tree-{files}"));
        std::fs::create_dir_all(&tree).unwrap();
        for i in 0..files {
            std::fs::write(tree.join(format!("r{i}.rtf")), &rtf).unwrap();
        }
        let out = dir.path().join(format!("out-{files}"));
        let m = run_measured(quiet_scan(&tree, &out).args(["--jobs", "2"]));
        assert_eq!(m.code, 0, "{}", m.stderr);
        assert_eq!(rows(&out).1.len(), files);
        common::bounds::peak_rss_kb(&out)
    };
    let (one, two) = (scan_peak(1), scan_peak(2));
    eprintln!("peak RSS: one file {one} KB, two files {two} KB");
    // Held at once, the second file adds 68 MB here; one after the other,
    // 34 MB (what the allocator keeps of the first file's memory).
    assert!(two - one < 55_000, "one file {one} KB, two files {two} KB");
}
