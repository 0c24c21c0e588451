use super::*;
use crate::extract::{test_budget, ErrorKind};
use crate::model::budget::{Budget, Limits};

/// Builds a PDF from numbered object bodies (object i+1 = bodies[i]) with a
/// correct xref table; `trailer` is extra trailer content.
fn build_pdf(bodies: &[Vec<u8>], trailer: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", bodies.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
            bodies.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut v = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\nendstream");
    v
}

/// A two-page document: objects 1 catalog, 2 pages, 3/4 pages, 5/6 contents,
/// 7 Helvetica, 8 Info, 9 Type0 font with ToUnicode 10.
fn sample_pdf(info: &str) -> Vec<u8> {
    let page1 = b"BT /F1 12 Tf 72 720 Td (CONFIDENTIAL) Tj 0 -20 Td (Hello) Tj ( World) Tj 0 -20 Td [(Sp) -30 (lit) -800 (words)] TJ ET\n\
BT /F1 12 Tf 1 0 0 1 72 600 Tm (Caf\\351 \\200) Tj ET";
    let page2 = b"BT /F2 10 Tf 72 700 Td <00010002> Tj T* ET";
    let tounicode = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
2 beginbfchar <0001> <65E5> <0002> <672C> endbfchar\nendcmap end end";
    build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /Resources << /Font << /F1 7 0 R /F2 9 0 R >> >> >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 6 0 R >>".to_vec(),
            stream("", page1),
            stream("", page2),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
            info.as_bytes().to_vec(),
            b"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /DW 1000 >>] /ToUnicode 10 0 R >>".to_vec(),
            stream("", tounicode),
        ],
        "/Info 8 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]",
    )
}

#[test]
fn text_per_page_with_lines_and_spaces() {
    let pdf = sample_pdf("<< /Title (T) >>");
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts.len(), 2, "{:?}", out.parts);
    assert_eq!(out.parts[0].location, "page 1");
    assert_eq!(out.parts[0].kind, PartKind::Page);
    assert_eq!(
        out.parts[0].text,
        "CONFIDENTIAL\nHello World\nSplit words\nCafé €"
    );
    assert_eq!(out.parts[1].text, "日本");
    assert!(out.parts_read.contains(&"page 2".to_string()));
    assert!(out.parts_read.contains(&"Info".to_string()));
}

#[test]
fn info_custom_keys_and_utf16() {
    let info = "<< /Title <FEFF004700720075006E00DF0065> /MSIP_Label_9fbde396-1a24-4c79-8edf-9254a0f35055_Enabled (True) /MSIP_Label_9fbde396-1a24-4c79-8edf-9254a0f35055_Name (Confidential \\\\ Extended) /Custom#20Key /NameValue >>";
    let out = extract(&sample_pdf(info), &test_budget());
    let title = out.property("Title").unwrap();
    assert_eq!(title, "Grunße");
    assert_eq!(
        out.property("MSIP_Label_9fbde396-1a24-4c79-8edf-9254a0f35055_Enabled"),
        Some("True")
    );
    assert_eq!(
        out.property("MSIP_Label_9fbde396-1a24-4c79-8edf-9254a0f35055_Name"),
        Some("Confidential \\ Extended")
    );
    assert_eq!(out.property("Custom Key"), Some("NameValue"));
    assert!(out.properties.iter().all(|p| p.location == "PDF Info"));
}

#[test]
fn xmp_metadata_properties() {
    let xmp = br#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:pdfx="http://ns.adobe.com/pdfx/1.3/" xmlns:dc="http://purl.org/dc/elements/1.1/"><pdfx:MSIP_Label_abc_Enabled>True</pdfx:MSIP_Label_abc_Enabled><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Quarterly</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"#;
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R /Metadata 3 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
            stream("/Type /Metadata /Subtype /XML", xmp),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.property("MSIP_Label_abc_Enabled"), Some("True"));
    assert_eq!(out.property("dc:title"), Some("Quarterly"));
    assert!(out.parts_read.contains(&"XMP".to_string()));
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    for bytes in [
        &b""[..],
        b"%PDF-1.4\n",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>",
        b"not a pdf at all",
    ] {
        let out = extract(bytes, &test_budget());
        assert!(out.parts.is_empty());
        if let Some(e) = &out.error {
            assert_eq!(e.kind, ErrorKind::Corrupt);
        }
    }
    // Truncations of a valid file never panic.
    let pdf = sample_pdf("<< /Title (x) >>");
    for cut in (0..pdf.len()).step_by(37) {
        let _ = extract(&pdf[..cut], &test_budget());
    }
}

#[test]
fn flate_bomb_is_limit_exceeded() {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let chunk = vec![b' '; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&chunk).unwrap();
    }
    let data = enc.finish().unwrap();
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
            stream("/Filter /FlateDecode", &data),
        ],
        "",
    );
    let start = std::time::Instant::now();
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::LimitExceeded));
    assert!(start.elapsed().as_secs() < 5);
}

fn encrypt(pdf: &[u8], user: &str) -> Vec<u8> {
    let mut doc = Document::load_mem(pdf).unwrap();
    let version = lopdf::EncryptionVersion::V2 {
        document: &doc,
        owner_password: "owner-secret",
        user_password: user,
        key_length: 128,
        permissions: lopdf::Permissions::default(),
    };
    let state = lopdf::EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn owner_password_only_is_decrypted() {
    let pdf = encrypt(&sample_pdf("<< /Title (Secret title) >>"), "");
    assert!(memchr::memmem::find(&pdf, b"/Encrypt").is_some());
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert!(out.parts[0].text.starts_with("CONFIDENTIAL\nHello World"));
    assert_eq!(out.property("Title"), Some("Secret title"));
}

/// AES-256 (V5, R6) under an owner password only, its `/CF` and the
/// filter in it indirect objects, as in pdf.js's `issue7665.pdf`.
fn encrypt_aes256_with_indirect_crypt_filter(pdf: &[u8]) -> Vec<u8> {
    use std::sync::Arc;
    let mut doc = Document::load_mem(pdf).unwrap();
    let aes256: Arc<dyn lopdf::encryption::crypt_filters::CryptFilter> =
        Arc::new(lopdf::encryption::crypt_filters::Aes256CryptFilter);
    let key = [7u8; 32];
    let version = lopdf::EncryptionVersion::V5 {
        encrypt_metadata: true,
        crypt_filters: std::collections::BTreeMap::from([(b"StdCF".to_vec(), aes256)]),
        file_encryption_key: &key,
        stream_filter: b"StdCF".to_vec(),
        string_filter: b"StdCF".to_vec(),
        owner_password: "owner-secret",
        user_password: "",
        permissions: lopdf::Permissions::default(),
    };
    let state = lopdf::EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    let encrypt_id = doc.trailer.get(b"Encrypt").unwrap().as_reference().unwrap();
    let mut filters = doc
        .get_dictionary(encrypt_id)
        .unwrap()
        .get(b"CF")
        .unwrap()
        .as_dict()
        .unwrap()
        .clone();
    let std_cf = filters.get(b"StdCF").unwrap().clone();
    filters.set("StdCF", doc.add_object(std_cf));
    let filters_id = doc.add_object(filters);
    doc.get_dictionary_mut(encrypt_id)
        .unwrap()
        .set("CF", filters_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Defect 10 (`issue7665.pdf`): lopdf reads crypt filters only from an
/// inline `/CF`; with an indirect one it decrypted with RC4 and the page
/// came out empty, with no error.
#[test]
fn aes256_with_indirect_crypt_filters_is_decrypted() {
    let pdf = encrypt_aes256_with_indirect_crypt_filter(&sample_pdf("<< /Title (Secret title) >>"));
    assert!(memchr::memmem::find(&pdf, b"/AESV3").is_some());
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert!(out.parts[0].text.starts_with("CONFIDENTIAL\nHello World"));
    assert_eq!(out.property("Title"), Some("Secret title"));
}

/// Defect 7 (`auth-event-ef-open.pdf`, `encrypted-attachment.pdf`): a
/// user password that guards only embedded files (`/StmF` and `/StrF`
/// `/Identity`, `/EFF` a real filter); the pages are plain and were
/// reported `encrypted`.
#[test]
fn password_for_attachments_only_leaves_the_pages_readable() {
    use std::sync::Arc;
    let mut doc = Document::load_mem(&sample_pdf("<< /Title (Plain title) >>")).unwrap();
    let aes128: Arc<dyn lopdf::encryption::crypt_filters::CryptFilter> =
        Arc::new(lopdf::encryption::crypt_filters::Aes128CryptFilter);
    let version = lopdf::EncryptionVersion::V4 {
        document: &doc,
        encrypt_metadata: true,
        crypt_filters: std::collections::BTreeMap::from([(b"StdCF".to_vec(), aes128)]),
        stream_filter: b"Identity".to_vec(),
        string_filter: b"Identity".to_vec(),
        owner_password: "owner-secret",
        user_password: "attachment-secret",
        permissions: lopdf::Permissions::default(),
    };
    let state = lopdf::EncryptionState::try_from(version).unwrap();
    doc.encrypt(&state).unwrap();
    let encrypt_id = doc.trailer.get(b"Encrypt").unwrap().as_reference().unwrap();
    let encrypt = doc.get_dictionary_mut(encrypt_id).unwrap();
    encrypt.set("EFF", Object::Name(b"StdCF".to_vec()));
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).unwrap();
    assert!(memchr::memmem::find(&pdf, b"/EFF").is_some());
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert!(out.parts[0].text.starts_with("CONFIDENTIAL\nHello World"));
    assert_eq!(out.property("Title"), Some("Plain title"));
}

#[test]
fn user_password_is_encrypted_error() {
    let pdf = encrypt(&sample_pdf("<< /Title (Secret title) >>"), "user-secret");
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::Encrypted));
    assert!(out.parts.is_empty());
}

#[test]
fn form_xobjects_and_type3_scale() {
    let page = b"q 1 0 0 1 0 700 cm /Fm1 Do Q BT /F1 10 Tf 72 100 Td (Body) Tj ET";
    let form = b"BT /F1 9 Tf 72 0 Td (Footer mark) Tj ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 6 0 R >> /XObject << /Fm1 5 0 R >> >> >>".to_vec(),
            stream("", page),
            stream("/Type /XObject /Subtype /Form /BBox [0 0 600 50]", form),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Footer mark\nBody");
}

#[test]
fn irm_wrapper_is_encrypted_but_keeps_metadata_and_wrapper_text() {
    let page = b"BT /F1 12 Tf 72 700 Td (This PDF file is protected) Tj ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R /Collection << /View /H >> >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("", page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
            b"<< /MSIP_Label_abc_Enabled (True) >>".to_vec(),
            b"<< /Type /EncryptedPayload /Subtype /MicrosoftIRMServices /Version 2 >>".to_vec(),
        ],
        "/Info 6 0 R",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(
        out.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Encrypted)
    );
    assert_eq!(out.property("MSIP_Label_abc_Enabled"), Some("True"));
    assert_eq!(out.parts[0].text, "This PDF file is protected");
}

#[test]
fn truncated_flate_content_is_salvaged() {
    use std::io::Write;
    let content =
        b"BT /F1 12 Tf 72 700 Td (Salvaged line) Tj ET\nBT 72 680 Td (lost) Tj ET".repeat(50);
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&content).unwrap();
    let mut data = enc.finish().unwrap();
    data.truncate(data.len() - 8);
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("/Filter /FlateDecode", &data),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert!(out.parts[0].text.starts_with("Salvaged line"));
}

#[test]
fn deadline_gives_timeout() {
    let limits = Limits {
        file_timeout: std::time::Duration::ZERO,
        ..Limits::default()
    };
    let out = extract(&sample_pdf("<< /Title (x) >>"), &Budget::new(limits));
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::Timeout));
}

#[test]
fn pagination_artifacts_become_header_and_footer_parts() {
    let page = b"/Artifact <</Type /Pagination /Subtype /Footer>> BDC BT /F1 9 Tf 72 30 Td (CONFIDENTIAL footer) Tj ET EMC\n\
/Artifact <</Attached [/Top] /Type/Pagination/Subtype/Header>>BDC BT /F1 9 Tf 72 760 Td (Header line) Tj ET EMC\n\
/P <</MCID 0>> BDC BT /F1 12 Tf 72 700 Td (Body text) Tj ET EMC";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("", page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    let find = |k: PartKind| {
        out.parts
            .iter()
            .find(|p| p.kind == k)
            .map(|p| (p.location.as_str(), p.text.as_str()))
    };
    assert_eq!(find(PartKind::Page), Some(("page 1", "Body text")));
    assert_eq!(
        find(PartKind::Header),
        Some(("page 1 header", "Header line"))
    );
    assert_eq!(
        find(PartKind::Footer),
        Some(("page 1 footer", "CONFIDENTIAL footer"))
    );
}

#[test]
fn printable_ascii_check_sees_every_byte() {
    assert!(super::is_printable_ascii(b""));
    let line = b"Report customer contract quarterly ~ (all printable) ".repeat(3);
    assert!(super::is_printable_ascii(&line));
    for at in [0, 31, 32, 33, line.len() - 1] {
        for bad in [0x1f, 0x7f, 0x80, 0xff, b'\n'] {
            let mut l = line.clone();
            l[at] = bad;
            assert!(!super::is_printable_ascii(&l), "{bad:#x} at {at}");
        }
    }
}

#[test]
fn trimmed_pages_are_left_alone_and_others_trimmed() {
    let cases = [
        ("a\nb", "a\nb"),
        ("a \nb", "a\nb"),
        ("a\n\nb", "a\nb"),
        ("a\n \u{3000}\nb\n", "a\nb"),
        ("a\u{a0}", "a"),
        ("", ""),
        ("\n", ""),
        ("  x", "  x"),
    ];
    for (input, want) in cases {
        let mut text = input.to_string();
        trim_lines(&mut text);
        assert_eq!(text, want, "{input:?}");
        // The shortcut may only skip pages that trimming leaves alone.
        if lines_are_trimmed(input) {
            assert_eq!(input, want, "{input:?}");
        }
    }
    assert!(lines_are_trimmed("a\nb"));
    assert!(lines_are_trimmed("  x"));
}

#[test]
fn hyphenated_line_ends_are_rejoined() {
    let cases = [
        (
            "PDF with custom font loa-\nded successfully",
            "PDF with custom font loaded successfully",
        ),
        (
            "perfor-\nmance and compi-\nlers",
            "performance and compilers",
        ),
        // Not a word broken in two: digits, capitals, a lone letter, a dash.
        ("call 030-\n1234", "call 030-\n1234"),
        ("ACME-\nCorp", "ACME-\nCorp"),
        ("a-\nb", "a-\nb"),
        ("end -\nnext", "end -\nnext"),
        ("Stra\u{df}en-\nb\u{e4}ume", "Stra\u{df}enb\u{e4}ume"),
        ("no hyphen\nhere", "no hyphen\nhere"),
        ("ends-\n", "ends-\n"),
    ];
    for (input, want) in cases {
        let mut text = input.to_string();
        rejoin_hyphenated(&mut text);
        assert_eq!(text, want, "{input:?}");
    }
}

/// One page (object 3) drawing form 5; the form draws what `xobjects`
/// names, `draws` times, after showing `shown`.
fn drawing_pdf(xobjects: &str, draws: usize, shown: &str) -> Vec<u8> {
    let form = format!("BT ({shown}) Tj ET {}", "/X Do ".repeat(draws));
    build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /XObject << /X 5 0 R >> >> >>".to_vec(),
            stream("", b"/X Do"),
            stream(
                &format!("/Type /XObject /Subtype /Form /BBox [0 0 9 9] /Resources << /XObject << {xobjects} >> >>"),
                form.as_bytes(),
            ),
            stream("/Type /XObject /Subtype /Form /BBox [0 0 9 9]", b"BT (leaf) Tj ET"),
        ],
        "",
    )
}

#[test]
fn a_form_drawing_itself_is_drawn_once() {
    let out = extract(&drawing_pdf("/X 5 0 R", 10, "self"), &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "self");
}

#[test]
fn forms_drawn_again_are_charged_to_the_file() {
    // A leaf drawn 1,000 times fits a budget of 1,000 draws, not of 100.
    let pdf = drawing_pdf("/X 6 0 R", 1000, "top");
    let budget = |draws: u64| {
        Budget::new(Limits {
            max_total_inflated: draws * (FORM_DRAW_COST + 16) + 8192,
            ..Limits::default()
        })
    };
    let out = extract(&pdf, &budget(1000));
    assert_eq!(out.error, None);
    // Drawn 1,000 times at one place, read once (as overprinted bold text).
    assert_eq!(out.parts[0].text.matches("leaf").count(), 1);
    let out = extract(&pdf, &budget(100));
    assert_eq!(out.error.map(|e| e.kind), Some(ErrorKind::LimitExceeded));
}

#[test]
fn a_page_listed_again_is_read_once() {
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R 3 0 R 5 0 R 2 0 R 5 0 R] /Count 5 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
            stream("", b"BT (one) Tj ET"),
            b"<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>".to_vec(),
            b"<< /Type /Page /Parent 5 0 R /Contents 7 0 R >>".to_vec(),
            stream("", b"BT (two) Tj ET"),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    let texts: Vec<&str> = out.parts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["one", "two"]);
}

#[test]
fn a_stream_stops_at_what_is_left_of_the_file_total() {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b' '; 1 << 20]).unwrap();
    let data = enc.finish().unwrap();
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
            stream("/Filter /FlateDecode", &data),
        ],
        "",
    );
    let budget = Budget::new(Limits {
        max_total_inflated: 1 << 19,
        ..Limits::default()
    });
    let out = extract(&pdf, &budget);
    let error = out.error.expect("the total is exceeded");
    assert_eq!(error.kind, ErrorKind::LimitExceeded);
    assert!(error.detail.contains("total"), "{error}");
}

#[test]
fn objects_are_counted_without_their_end_keywords() {
    let pdf = sample_pdf("<< /Title (T) >>");
    assert_eq!(count_objects(&pdf), 10);
    assert_eq!(count_objects(b"obj endobj 1 0 obj"), 2);
}

#[test]
fn entries_naming_one_offset_are_counted() {
    let entry = |off: u32, generation: u32| format!("{off:010} {generation:05} n \r\n");
    let mut table = String::from("xref\n0 4\n0000000000 65535 f \r\n");
    for off in [15, 40, 40] {
        table.push_str(&entry(off, 0));
    }
    table.push_str(&entry(40, 1));
    table.push_str("0000000099 00000 f \r\n");
    assert_eq!(most_entries_at_one_offset(table.as_bytes()), 3);
    assert_eq!(most_entries_at_one_offset(b"no table here"), 0);
}

#[test]
fn numbers_of_a_stream_dictionary_end_at_any_delimiter() {
    let dict = b"<</DecodeParms<</Columns 5/Predictor 12>>/Type/XRef/W[1 3 1]/Width 9>>";
    assert_eq!(integers_after(dict, b"/W"), Some(vec![1, 3, 1]));
    assert_eq!(integers_after(dict, b"/Columns"), Some(vec![5]));
    assert_eq!(integers_after(dict, b"/Predictor"), Some(vec![12]));
    assert_eq!(integers_after(b"/W [ 1 2 ]", b"/W"), Some(vec![1, 2]));
    assert_eq!(integers_after(b"/Columns /Five", b"/Columns"), None);
    assert_eq!(integers_after(b"/Width 9", b"/W"), None);
}

/// A page in two composite TrueType fonts without /ToUnicode, whose
/// embedded font programs hold only a cmap: F1 shows glyph ids
/// (/CIDToGIDMap /Identity), F2 CIDs that a /CIDToGIDMap stream maps.
fn cid_truetype_pdf(content: &[u8]) -> Vec<u8> {
    use super::truetype::tests::{font_with_cmap, format4_of};
    let segments = [
        (0x5E9, 0x5E9, 5), // ש
        (0x5DC, 0x5DC, 6), // ל
        (0x5D5, 0x5D5, 7), // ו
        (0x5DD, 0x5DD, 8), // ם
        (0x48, 0x48, 9),   // H
        (0x69, 0x69, 10),  // i
    ];
    let font = font_with_cmap(3, 1, &format4_of(&segments));
    let cid_to_gid = [0u8, 0, 0, 9, 0, 10];
    let type0 = |descendant: &str| {
        format!("<< /Type /Font /Subtype /Type0 /BaseFont /ABCDEF+Hebrew /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /ABCDEF+Hebrew /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor << /Type /FontDescriptor /FontName /ABCDEF+Hebrew /Flags 4 /FontFile2 6 0 R >> /DW 500 {descendant} >>] >>").into_bytes()
    };
    build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R /F2 7 0 R /F3 9 0 R >> >> >>".to_vec(),
            stream("", content),
            type0("/CIDToGIDMap /Identity"),
            stream("", &font),
            type0("/CIDToGIDMap 8 0 R"),
            stream("", &cid_to_gid),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ],
        "",
    )
}

#[test]
fn cid_truetype_without_to_unicode_reads_the_font_cmap() {
    // pdf.js issue16553.pdf and others: Identity-H, no /ToUnicode.
    let pdf = cid_truetype_pdf(
        b"BT /F1 12 Tf 72 700 Td <0009000A> Tj ET BT /F2 12 Tf 72 600 Td <00010002> Tj ET",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Hi\nHi");
}

/// pdf.js `PDFJS-7562-reduced.pdf`: a composite TrueType font without
/// /ToUnicode whose subset program has neither a cmap nor a `post` table;
/// its CIDs are the original font's glyph ids (standard Macintosh order,
/// `S` = 54), mapped to the subset's by /CIDToGIDMap. pdftotext prints the
/// CIDs as characters (`6XPPD`). F2 names its glyphs in a `post` table.
/// F3's glyph for CID 3 has an outline, so its CIDs are not in that order
/// and nothing is guessed.
#[test]
fn cid_truetype_without_cmap_reads_glyph_names_or_the_macintosh_order() {
    use super::truetype::tests::{font_with_tables, outline_tables, post_format2};
    // Subset glyphs: .notdef, space (blank), S, u, m, a.
    let nameless = font_with_tables(&outline_tables(&[4, 0, 6, 6, 6, 6]));
    let mut cid_to_gid = vec![0u8; 2 * 89];
    for (cid, gid) in [(3usize, 1u8), (54, 2), (88, 3), (80, 4), (68, 5)] {
        cid_to_gid[cid * 2 + 1] = gid;
    }
    let mut named = outline_tables(&[4, 0, 6, 6]);
    named.push((
        b"post",
        post_format2(&[Ok(0), Ok(3), Err("uni00C4"), Ok(70)]),
    ));
    let named = font_with_tables(&named);
    let type0 = |file: usize, map: &str| {
        format!("<< /Type /Font /Subtype /Type0 /BaseFont /SJWCUV+Open-Sans /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /SJWCUV+Open-Sans /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor << /Type /FontDescriptor /FontName /SJWCUV+Open-Sans /Flags 32 /FontFile2 {file} 0 R >> /DW 600 /CIDToGIDMap {map} >>] >>").into_bytes()
    };
    let page = b"BT /F1 20 Tf 72 700 Td <00360058005000500044000300360058005000500044> Tj ET
BT /F2 20 Tf 72 650 Td <0002000300010002> Tj ET
BT /F3 20 Tf 72 600 Td <00360058005000500044> Tj ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R /F2 8 0 R /F3 10 0 R >> >> >>".to_vec(),
            stream("", page),
            type0(6, "7 0 R"),
            stream("", &nameless),
            stream("", &cid_to_gid),
            type0(9, "/Identity"),
            stream("", &named),
            type0(6, "/Identity"),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(
        out.parts[0].text,
        "Summa Summa
Äc Ä"
    );
}

/// Defect 10: a PDF whose pages draw glyphs no font maps to characters,
/// or whose content stream cannot be decoded, is empty but not silent:
/// the extraction says why (counts only), for the verdict's reason.
#[test]
fn pages_that_draw_undecodable_glyphs_say_so() {
    let font = b"<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /X /DW 1000 >>] >>";
    let pdf = |content: Vec<u8>| {
        build_pdf(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
                content,
                font.to_vec(),
            ],
            "",
        )
    };
    let out = extract(
        &pdf(stream(
            "",
            b"BT /F1 12 Tf 72 700 Td <000100020003> Tj [<0004>] TJ ET",
        )),
        &test_budget(),
    );
    assert_eq!(out.error, None);
    assert!(out.parts.is_empty());
    assert_eq!(
        out.no_text_cause.as_deref(),
        Some("its pages draw 4 glyphs whose fonts map them to no character")
    );
    assert!(out
        .parts_read
        .contains(&"page 1 (no text: 4 glyphs whose fonts map them to no character)".to_string()));

    let out = extract(
        &pdf(stream("/Filter /FlateDecode", b"\x78\x9c\xff\xff\xff\xff")),
        &test_budget(),
    );
    assert_eq!(out.error, None, "{:?}", out.parts_read);
    assert_eq!(
        out.no_text_cause.as_deref(),
        Some("1 of its content streams could not be decoded"),
        "{:?}",
        out.parts_read
    );

    // An image-only page, and a page with text, give no cause.
    let out = extract(&pdf(stream("", b"q 100 0 0 100 0 0 cm Q")), &test_budget());
    assert_eq!(out.no_text_cause, None);
    let out = extract(&sample_pdf("<< >>"), &test_budget());
    assert_eq!(out.no_text_cause, None);
}

#[test]
fn right_to_left_text_drawn_in_visual_order_is_read_in_logical_order() {
    // pdf.js issue11656.pdf: "שלום" drawn left to right as "םולש"; a
    // number inside keeps its order.
    let pdf = cid_truetype_pdf(
        b"BT /F1 12 Tf 72 700 Td <0008000700060005> Tj ET\n\
BT /F1 12 Tf 72 600 Td <00080007> Tj /F3 12 Tf ( 42 ) Tj /F1 12 Tf <00060005> Tj ET",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "שלום\nשל 42 ום");
}

#[test]
fn type3_glyphs_with_numeric_or_private_names_are_read() {
    // pdf.js issue918.pdf and TeX bitmap fonts: glyphs named /a72 /a105,
    // /C33, /g6F, ligature slot 12 (fi), and names that say nothing.
    let font = b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1000 1000] /FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << >> /Encoding << /Type /Encoding /Differences [33 /C33 65 /glyphA 72 /a72 105 /a105 111 /g6F 12 /a12 101 /e] >> /FirstChar 0 /LastChar 255 /Widths [] /Resources << >> >>";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /T3 5 0 R >> >> >>".to_vec(),
            stream("", b"BT /T3 12 Tf 72 700 Td (Hi!) Tj 0 -20 Td (\\014le Aloe) Tj ET"),
            font.to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Hi!\nfile Aloe");
}

#[test]
fn unmapped_space_glyphs_part_words_and_bold_overprint_is_read_once() {
    // pdf.js issue4304.pdf: the space's glyph has a name no list knows.
    // issue19634.pdf: "guest" filled twice, a quarter point apart, for bold.
    let page = b"BT /F1 12 Tf 72 700 Td (Words that part) Tj ET\n\
BT /F2 12 Tf 72 600 Td (guest) Tj ET BT /F2 12 Tf 72.25 600 Td (guest) Tj ET\n\
BT /F2 12 Tf 72 500 Td (guest) Tj (guest) Tj ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>".to_vec(),
            stream("", page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Differences [32 /spacealt01] >> >>".to_vec(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Words that part\nguest\nguestguest");
}

#[test]
fn text_drawn_back_over_a_line_is_a_separate_word() {
    // Tika testOverlappingText.pdf: the second string starts where the first did.
    let page =
        b"BT /F1 24 Tf 100 700 Td (Text the first time) Tj 0 0 Td (Text the second time) Tj ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("", page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(
        out.parts[0].text,
        "Text the first time Text the second time"
    );
}

/// Defect 10: an operator inside a TJ array (pdf.js
/// `operator-in-TJ-array.pdf`) and a stray `-` operand (`bug1953099.pdf`)
/// gave a silently empty page; pdftotext reads both lines.
#[test]
fn operator_in_a_tj_array_and_a_stray_minus_keep_the_page_text() {
    let page = b"BT /F1 12 Tf 72 700 Td [(Hello) -250 (World) 0 Tc (Again)] TJ 0 -20 Td - (Stray minus) Tj ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("", page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Hello WorldAgain\nStray minus");
}

/// Defect 11 (pdf.js `issue6132.pdf`: `Ecient`): ligature glyphs named in
/// an encoding's differences are read and spelled out, so that words match.
#[test]
fn ligature_glyphs_are_spelled_out() {
    let page = b"BT /F1 12 Tf 72 700 Td (E\\214cient \\215le) Tj ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("", page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding << /Differences [140 /ffi /fi] >> >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Efficient file");
}

/// Defect 5 (pdf.js `issue14999_reduced.pdf`, empty despite its
/// /ToUnicode): a Type 3 font with a bogus /FontBBox, a tiny /FontMatrix
/// and glyph names that say nothing (`/a1` is code 1, a control
/// character); its /ToUnicode map gives the text.
#[test]
fn type3_font_text_comes_from_its_to_unicode_map() {
    let font = b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 0 0] /FontMatrix [0.01 0 0 0.01 0 0] /CharProcs << >> /Encoding << /Type /Encoding /Differences [1 /a1 /a2 /a3 /a4] >> /FirstChar 1 /LastChar 4 /Widths [50 50 50 25] /Resources << >> /ToUnicode 6 0 R >>";
    let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
1 begincodespacerange <00> <FF> endcodespacerange\n\
4 beginbfchar <01> <0043> <02> <0061> <03> <0074> <04> <0020> endbfchar\nendcmap end end";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /T3 5 0 R >> >> >>".to_vec(),
            stream("", b"BT /T3 12 Tf 72 700 Td <01020304010203> Tj ET"),
            font.to_vec(),
            stream("", cmap),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Cat Cat");
}

/// Defect 6 (Tika `testPDF_acroform3.pdf`): form fields are separate text
/// pieces; a field's value shown beside its label, or in a field placed
/// left of the one before it, is a word of its own, not glued to the last.
#[test]
fn form_field_values_beside_other_text_are_separate_words() {
    let field = |x: u32, id: u32| {
        format!("<< /Type /Annot /Subtype /Widget /FT /Tx /Rect [{x} 695 {} 715] /AP << /N {id} 0 R >> >>", x + 100)
            .into_bytes()
    };
    let appearance = |value: &str| {
        stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 100 20] /Resources << /Font << /F1 5 0 R >> >>",
            format!("/Tx BMC BT /F1 12 Tf 2 5 Td ({value}) Tj ET EMC").as_bytes(),
        )
    };
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots [6 0 R 7 0 R] /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("", b"BT /F1 12 Tf 72 700 Td (Name:) Tj ET"),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
            field(110, 8),
            field(10, 9),
            appearance("Alice"),
            appearance("Smith"),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(out.parts[0].text, "Name: Alice Smith");
}

/// Issue 17 (pdf.js `bug1873345.pdf`: `1. Asection`): Ghostscript sets the
/// character spacing to the gap after `A` and takes it back after every
/// other glyph with the TJ array's numbers, so the gap inside `(As)` parts
/// words. Letter-spaced text that no number takes back stays whole.
#[test]
fn character_spacing_taken_back_between_strings_parts_the_words_it_leaves() {
    let page = b"BT /F1 12 Tf 72 700 Td (1.) Tj 4 Tc 14 0 Td [(As) 333 (e) 333 (c) 333 (t) 333 (i) 333 (o) 333 (n)] TJ ET\n\
BT /F1 12 Tf 72 680 Td 4 Tc (SAMPLE) Tj ET\n\
BT /F1 12 Tf 72 660 Td 4 Tc [(SA) 50 (MPLE) -300 (TITLE)] TJ ET\n\
BT /F1 12 Tf 72 640 Td 0.5 Tc [(Ti) 200 (ght)] TJ ET";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
            stream("", page),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    assert_eq!(
        out.parts[0].text,
        "1. A section\nSAMPLE\nSAMPLE TITLE\nTight"
    );
}

/// Issue 17 (pdf.js `bug1871353.pdf`, a free text annotation without an
/// appearance stream, read as nothing): a free text annotation's text is
/// read from /Contents or its rich text where no appearance draws it, on a
/// line of its own after the page content, and once where its appearance
/// does; the comments of other markup annotations (a sticky note, a
/// highlight) are a comment part of the page, each once. Popups, hidden
/// annotations, widgets' and links' descriptions are not read.
#[test]
fn annotation_text_and_comments_are_read_once_each() {
    let annot =
        |rest: &str| format!("<< /Type /Annot /Rect [100 600 200 620] {rest} >>").into_bytes();
    let rich = "<?xml version=\"1.0\"?><body xmlns=\"http://www.w3.org/1999/xhtml\"><p dir=\"ltr\">Rich <span style=\"font-weight:bold\">&amp; plain</span></p><p>Second</p></body>";
    let pdf = build_pdf(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> \
/Annots [6 0 R 7 0 R 8 0 R 10 0 R 10 0 R 11 0 R 12 0 R 13 0 R 14 0 R 15 0 R] >>".to_vec(),
            stream("", b"BT /F1 12 Tf 72 700 Td (Page text) Tj ET"),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
            // 6: free text without appearance, UTF-16BE with a no-break space.
            annot("/Subtype /FreeText /DA (/Helv 10 Tf 0 g) /Contents <FEFF004100A00042>"),
            // 7: free text with rich text only.
            annot(&format!("/Subtype /FreeText /RC ({rich})")),
            // 8: free text whose appearance (9) draws its contents.
            annot("/Subtype /FreeText /Contents (Drawn) /AP << /N 9 0 R >>"),
            stream(
                "/Type /XObject /Subtype /Form /BBox [0 0 100 20] /Resources << /Font << /F1 5 0 R >> >>",
                b"BT /F1 10 Tf 2 5 Td (Drawn) Tj ET",
            ),
            // 10: a sticky note in PDFDocEncoding, listed twice.
            annot("/Subtype /Text /Name /Comment /Contents (Note: r\\351sum\\351) /Popup 12 0 R"),
            // 11: a highlight, UTF-8 with its byte order mark.
            annot("/Subtype /Highlight /Contents <EFBBBF436865636B2074686973>"),
            // 12: the sticky note's popup.
            annot("/Subtype /Popup /Contents (Popup copy) /Parent 10 0 R"),
            // 13: a hidden sticky note.
            annot("/Subtype /Text /F 2 /Contents (Hidden note)"),
            annot("/Subtype /Widget /FT /Tx /Contents (Field description)"),
            annot("/Subtype /Link /Contents (Link description)"),
        ],
        "",
    );
    let out = extract(&pdf, &test_budget());
    assert_eq!(out.error, None);
    let texts: Vec<_> = out
        .parts
        .iter()
        .map(|p| (p.kind, p.location.as_str(), p.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            (
                PartKind::Page,
                "page 1",
                "Page text\nA B\nRich & plain\nSecond\nDrawn"
            ),
            (
                PartKind::Comment,
                "page 1 comments",
                "Note: résumé\nCheck this"
            ),
        ]
    );
}
