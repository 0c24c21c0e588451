//! XMP metadata packets: simple properties as `prefix:name` (custom `pdfx:`
//! keys by their bare name, as in the Info dictionary), values of `rdf:Alt`,
//! `rdf:Seq` and `rdf:Bag` joined with "; ".

use crate::extract::xml::{self, Tag, Token, Tokens};

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

/// Properties of one XMP packet, in document order.
pub fn parse(packet: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut tokens = Tokens::new(packet);
    // Open elements: (qualified name, collected text, number of rdf:li seen).
    let mut stack: Vec<(String, String, usize)> = Vec::new();
    let mut scratch = String::new();
    while let Ok(Some(token)) = tokens.next_token() {
        match token {
            Token::Start(e) => {
                if e.name == "rdf:Description" {
                    push_attrs(&e, &mut out);
                }
                if e.name == "rdf:li" {
                    if let Some(prop) = stack.iter_mut().rev().find(|(n, _, _)| !is_structural(n)) {
                        if prop.2 > 0 && !prop.1.is_empty() {
                            prop.1.push_str("; ");
                        }
                        prop.2 += 1;
                    }
                }
                if stack.len() < 64 {
                    stack.push((e.name.to_string(), String::new(), 0));
                }
            }
            Token::Empty(e) if e.name == "rdf:Description" => push_attrs(&e, &mut out),
            Token::Text(t) => {
                scratch.clear();
                xml::unescape_into(t, &mut scratch);
                append_text(&mut stack, &scratch);
            }
            Token::CData(t) => append_text(&mut stack, t),
            Token::End(_) => {
                if let Some((name, text, _)) = stack.pop() {
                    // Thumbnails are base64 images, not text.
                    if !is_structural(&name) && name != "xmpGImg:image" {
                        let value = text.trim();
                        if !value.is_empty() && out.len() < MAX_PROPS {
                            out.push((prop_name(&name), value.to_string()));
                        }
                    }
                }
            }
            Token::Empty(_) => {}
        }
    }
    out
}

/// Properties written as attributes of `rdf:Description` (the short form).
fn push_attrs(e: &Tag<'_>, out: &mut Vec<(String, String)>) {
    for (key, raw) in e.attributes() {
        if key.starts_with("xmlns") || is_structural(key) || !key.contains(':') {
            continue;
        }
        if out.len() < MAX_PROPS {
            // Attribute-value normalisation: white space becomes a space.
            let value = xml::unescape(raw).replace(['\t', '\n', '\r'], " ");
            out.push((prop_name(key), value));
        }
    }
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
<xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType="Resource">
<xmpGImg:image>/9j/4AAQSkZJRgABAgEASABIAAD&#xA;AQBIAAAAAQAB</xmpGImg:image>
</rdf:li></rdf:Alt></xmp:Thumbnails>
</rdf:Description></rdf:RDF></x:xmpmeta>"#;
        let props = parse(xml);
        let get = |k: &str| props.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("Attr"), Some("A & B"));
        assert_eq!(get("MSIP_Label_abc_Enabled"), Some("True"));
        assert_eq!(get("dc:title"), Some("Grüße & more"));
        assert_eq!(get("dc:creator"), Some("Ann; Bob"));
        assert!(props.iter().all(|(_, v)| !v.contains("/9j/")), "{props:?}");
    }
}
