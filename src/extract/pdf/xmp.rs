//! XMP metadata packets: simple properties as `prefix:name` (custom `pdfx:`
//! keys by their bare name, as in the Info dictionary), values of `rdf:Alt`,
//! `rdf:Seq` and `rdf:Bag` joined with "; ".

use quick_xml::events::Event;
use quick_xml::Reader;

/// Most properties kept from one packet.
const MAX_PROPS: usize = 10_000;
/// Longest value kept.
const MAX_VALUE: usize = 64 * 1024;

fn prop_name(qname: &str) -> String {
    match qname.split_once(':') {
        Some(("pdfx", local)) => local.to_string(),
        _ => qname.to_string(),
    }
}

fn is_structural(qname: &str) -> bool {
    qname.starts_with("rdf:") || qname.starts_with("x:") || qname == "xmpmeta"
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// Properties of one XMP packet, in document order.
pub fn parse(xml: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut reader = Reader::from_str(xml);
    // Open elements: (qualified name, collected text, number of rdf:li seen).
    let mut stack: Vec<(String, String, usize)> = Vec::new();
    let push_attrs = |e: &quick_xml::events::BytesStart<'_>, out: &mut Vec<(String, String)>| {
        for attr in e.attributes().flatten() {
            let key = attr.key.as_ref();
            if key.starts_with("xmlns") || is_structural(key) || !key.contains(':') {
                continue;
            }
            if out.len() < MAX_PROPS {
                let value = attr
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map(|v| v.into_owned())
                    .unwrap_or_else(|_| attr.value.to_string());
                out.push((prop_name(key), value));
            }
        }
    };
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                if name == "rdf:Description" {
                    push_attrs(&e, &mut out);
                }
                if name == "rdf:li" {
                    if let Some(prop) = stack.iter_mut().rev().find(|(n, _, _)| !is_structural(n)) {
                        if prop.2 > 0 && !prop.1.is_empty() {
                            prop.1.push_str("; ");
                        }
                        prop.2 += 1;
                    }
                }
                if stack.len() < 64 {
                    stack.push((name, String::new(), 0));
                }
            }
            Event::Empty(e) if e.name().as_ref() == "rdf:Description" => {
                push_attrs(&e, &mut out);
            }
            Event::Text(t) => {
                let text = t.xml10_content();
                append_text(&mut stack, &text);
            }
            Event::CData(t) => {
                let text = t.xml10_content();
                append_text(&mut stack, &text);
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten()
                } else {
                    entity(&r.xml10_content())
                };
                if let Some(c) = c {
                    append_text(&mut stack, c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::End(_) => {
                if let Some((name, text, _)) = stack.pop() {
                    if !is_structural(&name) {
                        let value = text.trim();
                        if !value.is_empty() && out.len() < MAX_PROPS {
                            out.push((prop_name(&name), value.to_string()));
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn append_text(stack: &mut [(String, String, usize)], text: &str) {
    if text.trim().is_empty() {
        return;
    }
    if let Some((name, value, _)) = stack.iter_mut().rev().find(|(n, _, _)| !is_structural(n)) {
        let _ = name;
        if value.len() < MAX_VALUE {
            value.push_str(text);
        }
    }
}

/// Finds XMP packets in raw bytes (for files whose objects cannot be read,
/// such as encrypted PDFs that leave their metadata stream in clear text).
pub fn scan_raw(bytes: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    for _ in 0..8 {
        let Some(start) = memchr::memmem::find(&bytes[from..], b"<x:xmpmeta") else {
            break;
        };
        let start = from + start;
        let Some(end) = memchr::memmem::find(&bytes[start..], b"</x:xmpmeta>") else {
            break;
        };
        let end = start + end + b"</x:xmpmeta>".len();
        if let Ok(xml) = std::str::from_utf8(&bytes[start..end]) {
            out.extend(parse(xml));
        }
        from = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_simple_alt_and_attribute_properties() {
        let xml = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfx="http://ns.adobe.com/pdfx/1.3/" pdfx:Attr="A &amp; B">
<pdfx:MSIP_Label_abc_Enabled>True</pdfx:MSIP_Label_abc_Enabled>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title><rdf:Alt><rdf:li xml:lang="x-default">Grüße &amp; more</rdf:li></rdf:Alt></dc:title>
<dc:creator><rdf:Seq><rdf:li>Ann</rdf:li><rdf:li>Bob</rdf:li></rdf:Seq></dc:creator>
</rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let props = parse(xml);
        let get = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Attr"), Some("A & B"));
        assert_eq!(get("MSIP_Label_abc_Enabled"), Some("True"));
        assert_eq!(get("dc:title"), Some("Grüße & more"));
        assert_eq!(get("dc:creator"), Some("Ann; Bob"));
    }
}
