//! Labels in ODF packages (odt, ods, odp): the same properties as in OOXML
//! (the Purview set and the policy's property), as `meta:user-defined`
//! entries of `meta.xml`, where LibreOffice keeps custom properties and
//! where labelscan (and Purview's ODF support) read them.

use super::label::Label;
use super::ooxml::{read_text, Edits};
use super::xmledit::{self, Element};
use super::zipraw::RawZip;
use super::Refusal;

const META: &str = "meta.xml";
const MANIFEST: &str = "META-INF/manifest.xml";
const META_NS: &str = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0";
const OFFICE_NS: &str = "urn:oasis:names:tc:opendocument:xmlns:office:1.0";

/// Whether the package carries an XML signature (document or macros).
pub fn is_signed(zip: &RawZip) -> bool {
    zip.entries().iter().any(|e| {
        let name = e.name_str().to_ascii_lowercase();
        name.starts_with("meta-inf/") && name.ends_with("signatures.xml")
    })
}

/// The package with `label` written into its `meta.xml`.
pub fn label_package(zip: &RawZip, label: &Label) -> Result<Vec<u8>, Refusal> {
    if is_signed(zip) {
        return Err(Refusal::signed());
    }
    let mut edits = Edits::default();
    match read_text(zip, META)? {
        Some(meta) => edits.put(zip, META, meta_xml(&meta, label)?),
        None => {
            let manifest = read_text(zip, MANIFEST)?
                .ok_or_else(|| Refusal::broken("no META-INF/manifest.xml"))?;
            edits.put(zip, META, meta_xml(&fresh_meta(), label)?);
            edits.put(zip, MANIFEST, manifest_with_meta(&manifest)?);
        }
    }
    Ok(zip.rewrite(&edits.replace, &edits.add))
}

fn fresh_meta() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<office:document-meta xmlns:office=\"{OFFICE_NS}\" xmlns:meta=\"{META_NS}\" office:version=\"1.2\"><office:meta></office:meta></office:document-meta>"
    )
}

/// `meta.xml` with the label's user-defined properties; earlier entries of
/// the same names (and the tenant's earlier Purview label) are replaced.
pub fn meta_xml(text: &str, label: &Label) -> Result<String, Refusal> {
    let malformed = || Refusal::broken("meta.xml is malformed");
    let defined = xmledit::elements(text, "user-defined").ok_or_else(malformed)?;
    let ours = our_names(text, &defined, label);
    let gone: Vec<(usize, usize)> = defined
        .iter()
        .filter(|d| ours(&d.attr("name").unwrap_or_default()))
        .map(|d| (d.start, d.end))
        .collect();
    let kept = xmledit::without(text, &gone);
    let (meta_prefix, declare) = match xmledit::prefix_of(&kept, META_NS) {
        Some(p) => (p, String::new()),
        None => ("meta".to_string(), format!(" xmlns:meta=\"{META_NS}\"")),
    };
    let added: String = label
        .properties()
        .iter()
        .map(|(name, value)| {
            format!(
                "<{meta_prefix}:user-defined{declare} {meta_prefix}:name=\"{}\" {meta_prefix}:value-type=\"string\">{}</{meta_prefix}:user-defined>",
                xmledit::escape(name),
                xmledit::escape(value)
            )
        })
        .collect();
    let office = xmledit::elements(&kept, "meta")
        .ok_or_else(malformed)?
        .into_iter()
        .next()
        .ok_or_else(|| Refusal::broken("meta.xml has no office:meta"))?;
    Ok(insert_in(&kept, &office, &added))
}

/// Names this label replaces: its own properties, and every
/// `MSIP_Label_<G>_*` of a label `G` of the same tenant.
fn our_names<'l>(
    text: &str,
    defined: &[Element<'_>],
    label: &'l Label,
) -> impl Fn(&str) -> bool + 'l {
    let mut prefixes: Vec<String> = Vec::new();
    if let Some(m) = &label.msip {
        prefixes.push(format!("msip_label_{}_", m.guid));
        for d in defined {
            let name = d.attr("name").unwrap_or_default().to_ascii_lowercase();
            let Some(guid) = name
                .strip_prefix("msip_label_")
                .and_then(|r| r.strip_suffix("_siteid"))
            else {
                continue;
            };
            let value = &text[d.start..d.end];
            let inner = value.find('>').map(|i| &value[i + 1..]).unwrap_or("");
            let inner = inner.split('<').next().unwrap_or("");
            if crate::model::hash::normalise_guid(inner) == m.site_id {
                prefixes.push(format!("msip_label_{guid}_"));
            }
        }
    }
    let own: Vec<String> = label
        .properties()
        .into_iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    move |name: &str| {
        let lower = name.trim().to_ascii_lowercase();
        own.contains(&lower) || prefixes.iter().any(|p| lower.starts_with(p))
    }
}

/// `text` with `insert` at the end of `element`'s content.
fn insert_in(text: &str, element: &Element<'_>, insert: &str) -> String {
    let span = &text[element.start..element.end];
    if let Some(open) = span.strip_suffix("/>") {
        let open = open.trim_end();
        let name = open[1..]
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        return format!(
            "{}{open}>{insert}</{name}>{}",
            &text[..element.start],
            &text[element.end..]
        );
    }
    let close = span
        .rfind("</")
        .map(|i| element.start + i)
        .unwrap_or(element.end);
    format!("{}{insert}{}", &text[..close], &text[close..])
}

/// The manifest with an entry for a new `meta.xml`.
fn manifest_with_meta(manifest: &str) -> Result<String, Refusal> {
    let prefix = xmledit::root(manifest)
        .map(|r| r.2)
        .and_then(|n| n.split_once(':').map(|(p, _)| format!("{p}:")))
        .unwrap_or_default();
    let entry = format!(
        "<{prefix}file-entry {prefix}full-path=\"meta.xml\" {prefix}media-type=\"text/xml\"/>"
    );
    xmledit::insert_in_root(manifest, &entry)
        .ok_or_else(|| Refusal::broken("META-INF/manifest.xml is malformed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::label::Msip;

    fn label() -> Label {
        Label {
            level_name: "INTERNAL".into(),
            msip: Some(Msip {
                guid: "g0000000-0000-4000-8000-000000000000".into(),
                site_id: "s0000000-0000-4000-8000-000000000000".into(),
            }),
            method: "Standard",
            set_date: "2026-12-03T10:15:00Z".into(),
            action_id: "a".into(),
            content_bits: 0,
            property: Some("Classification".into()),
        }
    }

    #[test]
    fn user_defined_entries_replace_their_namesakes() {
        let meta = format!("<?xml version=\"1.0\"?><office:document-meta xmlns:office=\"{OFFICE_NS}\" xmlns:meta=\"{META_NS}\"><office:meta><meta:user-defined meta:name=\"Classification\">PUBLIC</meta:user-defined><meta:user-defined meta:name=\"Project\">X &amp; Y</meta:user-defined></office:meta></office:document-meta>");
        let out = meta_xml(&meta, &label()).unwrap();
        assert!(!out.contains(">PUBLIC<"));
        assert!(
            out.contains("<meta:user-defined meta:name=\"Project\">X &amp; Y</meta:user-defined>")
        );
        assert!(out.contains("<meta:user-defined meta:name=\"Classification\" meta:value-type=\"string\">INTERNAL</meta:user-defined></office:meta>"));
        assert!(
            out.contains("meta:name=\"MSIP_Label_g0000000-0000-4000-8000-000000000000_SiteId\"")
        );
    }

    #[test]
    fn an_empty_office_meta_and_a_missing_one() {
        let meta = format!("<office:document-meta xmlns:office=\"{OFFICE_NS}\" xmlns:meta=\"{META_NS}\"><office:meta/></office:document-meta>");
        let out = meta_xml(&meta, &label()).unwrap();
        assert!(out.ends_with("</meta:user-defined></office:meta></office:document-meta>"));
        let none = format!("<office:document-meta xmlns:office=\"{OFFICE_NS}\"/>");
        assert!(meta_xml(&none, &label()).is_err());
        let manifest = "<manifest:manifest xmlns:manifest=\"m\"><manifest:file-entry manifest:full-path=\"/\"/></manifest:manifest>";
        assert!(manifest_with_meta(manifest).unwrap().ends_with("<manifest:file-entry manifest:full-path=\"meta.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>"));
    }
}
