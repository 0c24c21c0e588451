//! Labels in OOXML packages (docx, xlsx, pptx and their macro variants),
//! written the way Microsoft 365 writes them: the `MSIP_Label_<GUID>_*`
//! custom properties in `docProps/custom.xml` (Enabled, SetDate, Method,
//! Name, SiteId, ActionId, ContentBits, as `vt:lpwstr`), the
//! `docMetadata/LabelInfo.xml` part (MS-OFFCRYPTO 2.6.4, found through its
//! package relationship) and the policy's custom property. Parts and
//! relationships that do not exist are created with their content-type
//! overrides; everything else in the package stays as it was.

use super::label::{Label, Msip};
use super::xmledit::{self, Element};
use super::zipraw::RawZip;
use super::Refusal;
use crate::extract::ooxml::resolve_target;

const CUSTOM_REL: &str =
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties";
const CUSTOM_DEFAULT: &str = "docProps/custom.xml";
const CUSTOM_TYPE: &str = "application/vnd.openxmlformats-officedocument.custom-properties+xml";
const CUSTOM_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties";
const VT_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes";
/// The format id every custom property carries.
const FMTID: &str = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}";
const LABELINFO_REL: &str =
    "http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels";
const LABELINFO_DEFAULT: &str = "docMetadata/LabelInfo.xml";
/// The content type Office writes for LabelInfo (MS-OI29500 says
/// `application/xml`; the real files of shared/reference/labels.md 1.2 say this).
const LABELINFO_TYPE: &str = "application/vnd.ms-office.classificationlabels+xml";
const LABELINFO_NS: &str = "http://schemas.microsoft.com/office/2020/mipLabelMetadata";
pub const CONTENT_TYPES: &str = "[Content_Types].xml";
const RELS_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const ROOT_RELS: &str = "_rels/.rels";
/// The XML declaration Office writes before these parts.
pub const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n";

/// Whether the package carries an XML digital signature: labelling would
/// break it, so such documents are left alone.
pub fn is_signed(zip: &RawZip) -> bool {
    zip.entries().iter().any(|e| {
        e.name_str()
            .to_ascii_lowercase()
            .starts_with("_xmlsignatures/")
    })
}

/// The package with `label` written into it, after the `extra` edits
/// (a visual marking's parts).
pub fn label_package(zip: &RawZip, label: &Label, extra: Edits) -> Result<Vec<u8>, Refusal> {
    if is_signed(zip) {
        return Err(Refusal::signed());
    }
    let mut edits = extra;
    let rels = edits
        .text(zip, ROOT_RELS)?
        .ok_or_else(|| Refusal::broken("no _rels/.rels"))?;
    let types = edits
        .text(zip, CONTENT_TYPES)?
        .ok_or_else(|| Refusal::broken("no [Content_Types].xml"))?;
    let custom = part_named(&rels, CUSTOM_REL, CUSTOM_DEFAULT)?;
    let existing = edits.text(zip, &custom)?;
    let text = custom_xml(existing.as_deref(), label)?;
    edits.put(zip, &custom, text);
    let mut parts = vec![(custom, CUSTOM_REL, CUSTOM_TYPE)];
    if let Some(msip) = &label.msip {
        let info = part_named(&rels, LABELINFO_REL, LABELINFO_DEFAULT)?;
        let existing = edits.text(zip, &info)?;
        let text = label_info_xml(existing.as_deref(), msip, label)?;
        edits.put(zip, &info, text);
        parts.push((info, LABELINFO_REL, LABELINFO_TYPE));
    }
    let (mut rels, mut types) = (rels, types);
    for (part, rel_type, content_type) in &parts {
        rels = ensure_rel(&rels, rel_type, part)?;
        types = ensure_override(&types, part, content_type)?;
    }
    edits.put_if_changed(zip, ROOT_RELS, rels)?;
    edits.put_if_changed(zip, CONTENT_TYPES, types)?;
    Ok(zip.rewrite(&edits.replace, &edits.add))
}

/// The parts a labelling changes: existing ones replaced, new ones added.
#[derive(Default)]
pub struct Edits {
    pub replace: Vec<(String, Vec<u8>)>,
    pub add: Vec<(String, Vec<u8>)>,
}

impl Edits {
    /// Sets a part's new text (an earlier edit of it is superseded).
    pub fn put(&mut self, zip: &RawZip, name: &str, text: String) {
        self.replace.retain(|(n, _)| n != name);
        self.add.retain(|(n, _)| n != name);
        let entry = (name.to_string(), text.into_bytes());
        if zip.has(name) {
            self.replace.push(entry);
        } else {
            self.add.push(entry);
        }
    }

    fn put_if_changed(&mut self, zip: &RawZip, name: &str, text: String) -> Result<(), Refusal> {
        if self.text(zip, name)?.as_deref() != Some(text.as_str()) {
            self.put(zip, name, text);
        }
        Ok(())
    }

    /// A part as these edits leave it: its new text, else the package's.
    pub fn text(&self, zip: &RawZip, name: &str) -> Result<Option<String>, Refusal> {
        let edited = self
            .replace
            .iter()
            .chain(&self.add)
            .find(|(n, _)| n == name);
        match edited {
            // Edits hold text that was a String.
            Some((_, bytes)) => Ok(Some(String::from_utf8_lossy(bytes).into_owned())),
            None => read_text(zip, name),
        }
    }

    /// Whether the package has `name`, or these edits add it.
    pub fn has(&self, zip: &RawZip, name: &str) -> bool {
        zip.has(name) || self.add.iter().any(|(n, _)| n == name)
    }

    /// The names of every part replaced or added.
    pub fn names(&self) -> Vec<String> {
        self.replace
            .iter()
            .chain(&self.add)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// A part as UTF-8 text (a byte-order mark kept out of the way).
pub fn read_text(zip: &RawZip, name: &str) -> Result<Option<String>, Refusal> {
    let Some(bytes) = zip.read(name).map_err(Refusal::from)? else {
        return Ok(None);
    };
    let text =
        String::from_utf8(bytes).map_err(|_| Refusal::broken(&format!("{name} is not UTF-8")))?;
    Ok(Some(text))
}

/// The part the root relationships name for `rel_type`, else `default`.
fn part_named(rels: &str, rel_type: &str, default: &str) -> Result<String, Refusal> {
    let found = relationships(rels)?
        .iter()
        .find(|r| r.attr("Type").as_deref() == Some(rel_type))
        .and_then(|r| r.attr("Target"))
        .map(|t| resolve_target("", &t))
        .filter(|t| !t.is_empty());
    Ok(found.unwrap_or_else(|| default.to_string()))
}

fn relationships(rels: &str) -> Result<Vec<Element<'_>>, Refusal> {
    xmledit::elements(rels, "Relationship")
        .ok_or_else(|| Refusal::broken("_rels/.rels is malformed"))
}

/// The root relationships with one of `rel_type` to `part` (added when
/// there is none).
fn ensure_rel(rels: &str, rel_type: &str, part: &str) -> Result<String, Refusal> {
    if relationships(rels)?
        .iter()
        .any(|r| r.attr("Type").as_deref() == Some(rel_type))
    {
        return Ok(rels.to_string());
    }
    Ok(add_rel(rels, rel_type, part)?.0)
}

/// `rels` with a new relationship of `rel_type` to `target` (as written
/// in the part, relative to its source), and the new relationship's id.
pub fn add_rel(rels: &str, rel_type: &str, target: &str) -> Result<(String, String), Refusal> {
    let malformed = || Refusal::broken("a relationships part is malformed");
    let ids: Vec<String> = xmledit::elements(rels, "Relationship")
        .ok_or_else(malformed)?
        .iter()
        .filter_map(|r| r.attr("Id"))
        .collect();
    let id = (1..)
        .map(|n| format!("rId{n}"))
        .find(|id| !ids.contains(id))
        .unwrap_or_default();
    let prefix = element_prefix(rels);
    let element = format!(
        "<{prefix}Relationship Id=\"{id}\" Type=\"{rel_type}\" Target=\"{}\"/>",
        xmledit::escape(target)
    );
    let text = xmledit::insert_in_root(rels, &element).ok_or_else(malformed)?;
    Ok((text, id))
}

/// An empty relationships part, for a part that had none.
pub fn empty_rels() -> String {
    format!("{DECLARATION}<Relationships xmlns=\"{RELS_NS}\"></Relationships>")
}

/// `[Content_Types].xml` with an override for `part` (added when missing).
pub fn ensure_override(types: &str, part: &str, content_type: &str) -> Result<String, Refusal> {
    let malformed = || Refusal::broken("[Content_Types].xml is malformed");
    let overrides = xmledit::elements(types, "Override").ok_or_else(malformed)?;
    let name = format!("/{part}");
    if overrides.iter().any(|o| {
        o.attr("PartName")
            .is_some_and(|p| p.eq_ignore_ascii_case(&name))
    }) {
        return Ok(types.to_string());
    }
    let prefix = element_prefix(types);
    let element = format!(
        "<{prefix}Override PartName=\"{}\" ContentType=\"{content_type}\"/>",
        xmledit::escape(&name)
    );
    xmledit::insert_in_root(types, &element).ok_or_else(malformed)
}

/// `p:` when the root element is `<p:Name>`, else empty: new elements
/// join the root's namespace the way its own name does.
pub fn element_prefix(text: &str) -> String {
    match xmledit::root(text).map(|r| r.2) {
        Some(name) if name.contains(':') => {
            format!("{}:", name.split(':').next().unwrap_or(""))
        }
        _ => String::new(),
    }
}

/// `docProps/custom.xml` with the label's properties: the tenant's
/// earlier Purview label and an earlier value of the policy's property
/// are replaced, every other property is kept as it was.
pub fn custom_xml(existing: Option<&str>, label: &Label) -> Result<String, Refusal> {
    let fresh = format!(
        "{DECLARATION}<Properties xmlns=\"{CUSTOM_NS}\" xmlns:vt=\"{VT_NS}\"></Properties>"
    );
    let text = existing.unwrap_or(&fresh);
    let malformed = || Refusal::broken("docProps/custom.xml is malformed");
    let props = xmledit::elements(text, "property").ok_or_else(malformed)?;
    let replaced = replaced_names(text, &props, label);
    let mut gone = Vec::new();
    let mut last_pid = 1;
    for p in &props {
        let name = p.attr("name").unwrap_or_default();
        if replaced(&name) {
            gone.push((p.start, p.end));
        } else if let Some(pid) = p.attr("pid").and_then(|v| v.trim().parse::<u32>().ok()) {
            last_pid = last_pid.max(pid);
        }
    }
    let kept = xmledit::without(text, &gone);
    let prefix = element_prefix(&kept);
    let (vt, declare) = match xmledit::prefix_of(&kept, VT_NS) {
        Some(p) => (p, String::new()),
        None => ("vt".to_string(), format!(" xmlns:vt=\"{VT_NS}\"")),
    };
    let mut added = String::new();
    for (i, (name, value)) in label.properties().iter().enumerate() {
        added.push_str(&format!(
            "<{prefix}property fmtid=\"{FMTID}\" pid=\"{}\" name=\"{}\"{declare}><{vt}:lpwstr>{}</{vt}:lpwstr></{prefix}property>",
            last_pid + 1 + i as u32,
            xmledit::escape(name),
            xmledit::escape(value)
        ));
    }
    xmledit::insert_in_root(&kept, &added).ok_or_else(malformed)
}

/// Which existing properties the label replaces: every `MSIP_Label_<G>_*`
/// of a label `G` of the same tenant (one label per tenant), and the
/// policy's property.
fn replaced_names<'l>(
    text: &str,
    props: &[Element<'_>],
    label: &'l Label,
) -> impl Fn(&str) -> bool + 'l {
    let mut ours: Vec<String> = Vec::new();
    if let Some(m) = &label.msip {
        ours.push(m.guid.clone());
        for p in props {
            let name = p.attr("name").unwrap_or_default();
            let Some(guid) = msip_guid(&name, "_SiteId") else {
                continue;
            };
            if normalise(&property_value(text, p)) == m.site_id {
                ours.push(guid);
            }
        }
    }
    move |name: &str| {
        let lower = name.to_ascii_lowercase();
        ours.iter()
            .any(|g| lower.starts_with(&format!("msip_label_{g}_")))
            || label
                .property
                .as_ref()
                .is_some_and(|p| p.eq_ignore_ascii_case(name.trim()))
    }
}

/// `G` of `MSIP_Label_G<suffix>`, lower-cased.
fn msip_guid(name: &str, suffix: &str) -> Option<String> {
    let rest = name
        .get(..11)?
        .eq_ignore_ascii_case("MSIP_Label_")
        .then(|| &name[11..])?;
    let guid = rest.strip_suffix(suffix)?;
    Some(normalise(guid))
}

fn normalise(guid: &str) -> String {
    crate::model::hash::normalise_guid(guid)
}

/// The text inside a property element (its `vt:*` child's), unescaped.
fn property_value(text: &str, p: &Element<'_>) -> String {
    use crate::extract::xml::tokens::{Token, Tokens};
    let mut tokens = Tokens::new(&text[p.start..p.end]);
    let mut value = String::new();
    while let Ok(Some(token)) = tokens.next_token() {
        if let Token::Text(t) = token {
            crate::extract::xml::unescape_into(t, &mut value);
        }
    }
    value.trim().to_string()
}

/// `docMetadata/LabelInfo.xml` with the tenant's label: labels of other
/// tenants are kept, an earlier one of the same tenant is replaced.
pub fn label_info_xml(
    existing: Option<&str>,
    msip: &Msip,
    label: &Label,
) -> Result<String, Refusal> {
    let fresh = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?><clbl:labelList xmlns:clbl=\"{LABELINFO_NS}\"></clbl:labelList>"
    );
    let text = existing.unwrap_or(&fresh);
    let malformed = || Refusal::broken("docMetadata/LabelInfo.xml is malformed");
    let labels = xmledit::elements(text, "label").ok_or_else(malformed)?;
    let gone: Vec<(usize, usize)> = labels
        .iter()
        .filter(|l| l.attr("siteId").map(|s| normalise(&s)).as_deref() == Some(&msip.site_id))
        .map(|l| (l.start, l.end))
        .collect();
    let kept = xmledit::without(text, &gone);
    let prefix = element_prefix(&kept);
    let element = format!(
        "<{prefix}label id=\"{{{}}}\" enabled=\"1\" method=\"{}\" siteId=\"{{{}}}\" contentBits=\"{}\" removed=\"0\" />",
        msip.guid, label.method, msip.site_id, label.content_bits
    );
    xmledit::insert_in_root(&kept, &element).ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "a6a1e5f2-3c1d-4b7e-9f10-2d3c4b5a6e01";
    const SITE: &str = "5c1d3e2f-0000-4000-8000-00000000abcd";

    fn label() -> Label {
        Label {
            level_name: "CONFIDENTIAL".into(),
            msip: Some(Msip {
                guid: GUID.into(),
                site_id: SITE.into(),
            }),
            method: "Standard",
            set_date: "2026-12-03T10:15:00Z".into(),
            action_id: "11111111-2222-4333-8444-555555555555".into(),
            content_bits: 0,
            property: Some("Classification".into()),
        }
    }

    #[test]
    fn a_new_custom_part_holds_the_purview_set_and_the_property() {
        let text = custom_xml(None, &label()).unwrap();
        assert!(text.starts_with(DECLARATION));
        assert!(text.contains(&format!(
            "<property fmtid=\"{FMTID}\" pid=\"2\" name=\"MSIP_Label_{GUID}_Enabled\"><vt:lpwstr>true</vt:lpwstr></property>"
        )));
        assert!(text.contains(&format!(
            "pid=\"5\" name=\"MSIP_Label_{GUID}_Name\"><vt:lpwstr>CONFIDENTIAL<"
        )));
        assert!(
            text.contains("pid=\"9\" name=\"Classification\"><vt:lpwstr>CONFIDENTIAL</vt:lpwstr>")
        );
        assert!(text.ends_with("</property></Properties>"));
    }

    #[test]
    fn the_tenants_old_label_goes_other_tenants_and_properties_stay() {
        let old = "old00000-0000-4000-8000-000000000000";
        let other = "0ther000-0000-4000-8000-000000000000";
        let existing = format!(
            "<?xml version=\"1.0\"?><op:Properties xmlns:op=\"{CUSTOM_NS}\" xmlns:v=\"{VT_NS}\">\
<op:property fmtid=\"{FMTID}\" pid=\"2\" name=\"Author note\"><v:lpwstr>keep &amp; me</v:lpwstr></op:property>\
<op:property fmtid=\"{FMTID}\" pid=\"3\" name=\"MSIP_Label_{old}_Enabled\"><v:lpwstr>true</v:lpwstr></op:property>\
<op:property fmtid=\"{FMTID}\" pid=\"4\" name=\"MSIP_Label_{old}_SiteId\"><v:lpwstr>{{{}}}</v:lpwstr></op:property>\
<op:property fmtid=\"{FMTID}\" pid=\"5\" name=\"MSIP_Label_{other}_SiteId\"><v:lpwstr>99999999-0000-4000-8000-000000000000</v:lpwstr></op:property>\
<op:property fmtid=\"{FMTID}\" pid=\"6\" name=\"classification\"><v:lpwstr>PUBLIC</v:lpwstr></op:property></op:Properties>",
            SITE.to_uppercase()
        );
        let text = custom_xml(Some(&existing), &label()).unwrap();
        assert!(text.contains("name=\"Author note\"><v:lpwstr>keep &amp; me</v:lpwstr>"));
        assert!(!text.contains(old));
        assert!(text.contains(&format!("MSIP_Label_{other}_SiteId")));
        assert!(!text.contains(">PUBLIC<"));
        assert!(text.contains(&format!(
            "<op:property fmtid=\"{FMTID}\" pid=\"6\" name=\"MSIP_Label_{GUID}_Enabled\"><v:lpwstr>true</v:lpwstr></op:property>"
        )));
        assert!(text.ends_with("</op:property></op:Properties>"));
    }

    #[test]
    fn label_info_as_office_writes_it() {
        let text = label_info_xml(None, label().msip.as_ref().unwrap(), &label()).unwrap();
        assert_eq!(
            text,
            format!("<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?><clbl:labelList xmlns:clbl=\"{LABELINFO_NS}\"><clbl:label id=\"{{{GUID}}}\" enabled=\"1\" method=\"Standard\" siteId=\"{{{SITE}}}\" contentBits=\"0\" removed=\"0\" /></clbl:labelList>")
        );
        let other = format!("<clbl:labelList xmlns:clbl=\"{LABELINFO_NS}\"><clbl:label id=\"{{x}}\" enabled=\"1\" method=\"Standard\" siteId=\"{{{SITE}}}\" removed=\"0\" /><clbl:label id=\"{{y}}\" enabled=\"1\" method=\"Standard\" siteId=\"{{z}}\" removed=\"0\" /></clbl:labelList>");
        let text = label_info_xml(Some(&other), label().msip.as_ref().unwrap(), &label()).unwrap();
        assert!(!text.contains("{x}"));
        assert!(text.contains("{y}"));
        assert_eq!(text.matches(GUID).count(), 1);
        let empty = format!("<clbl:labelList xmlns:clbl=\"{LABELINFO_NS}\" />");
        let text = label_info_xml(Some(&empty), label().msip.as_ref().unwrap(), &label()).unwrap();
        assert!(text.ends_with("removed=\"0\" /></clbl:labelList>"));
    }

    #[test]
    fn relationships_and_overrides_are_added_once() {
        let rels = "<Relationships xmlns=\"r\"><Relationship Id=\"rId1\" Type=\"t\" Target=\"word/document.xml\"/><Relationship Id=\"rId3\" Type=\"u\" Target=\"x\"/></Relationships>";
        let once = ensure_rel(rels, CUSTOM_REL, "docProps/custom.xml").unwrap();
        assert!(once.contains(&format!("<Relationship Id=\"rId2\" Type=\"{CUSTOM_REL}\" Target=\"docProps/custom.xml\"/></Relationships>")));
        assert_eq!(
            ensure_rel(&once, CUSTOM_REL, "docProps/custom.xml").unwrap(),
            once
        );
        let types = "<Types xmlns=\"t\"><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/DOCPROPS/custom.xml\" ContentType=\"c\"/></Types>";
        assert_eq!(
            ensure_override(types, "docProps/custom.xml", CUSTOM_TYPE).unwrap(),
            types
        );
        let added = ensure_override(types, LABELINFO_DEFAULT, LABELINFO_TYPE).unwrap();
        assert!(added.ends_with(&format!("<Override PartName=\"/docMetadata/LabelInfo.xml\" ContentType=\"{LABELINFO_TYPE}\"/></Types>")));
        assert_eq!(
            part_named(rels, CUSTOM_REL, CUSTOM_DEFAULT).unwrap(),
            CUSTOM_DEFAULT
        );
        let named = "<Relationships><Relationship Id=\"a\" Type=\"http://schemas.microsoft.com/office/2020/02/relationships/classificationlabels\" Target=\"/meta/L.xml\"/></Relationships>";
        assert_eq!(
            part_named(named, LABELINFO_REL, LABELINFO_DEFAULT).unwrap(),
            "meta/L.xml"
        );
    }
}
