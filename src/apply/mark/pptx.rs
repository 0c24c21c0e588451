//! PowerPoint: the marking as a text box across the top and one across the
//! bottom of every slide master, which every slide shows, and of every
//! layout that hides its master's shapes (`showMasterSp="0"`). The scan
//! reads such text (not placeholders) as `master` parts.

use super::{is_on, namespace_prefix, prefix_of_tag, related};
use crate::apply::ooxml::Edits;
use crate::apply::xmledit;
use crate::apply::zipraw::RawZip;
use crate::apply::Refusal;

const A_NS: &str = "http://schemas.openxmlformats.org/drawingml/2006/main";
/// A 4:3 slide (ECMA-376's default `sldSz`), when the presentation names none.
const DEFAULT_SLIDE: (u64, u64) = (9_144_000, 6_858_000);
/// The text box's height: one line of 12 pt text with its insets (EMU).
const BOX_HEIGHT: u64 = 369_332;

pub fn mark(zip: &RawZip, main: &str, line: &str, edits: &mut Edits) -> Result<(), Refusal> {
    let presentation = edits
        .text(zip, main)?
        .ok_or_else(|| Refusal::broken("no presentation part"))?;
    let size = slide_size(&presentation);
    let masters = related(zip, edits, main, "/slideMaster")?;
    if masters.is_empty() {
        return Err(Refusal::skip(
            "--mark: the presentation has no slide master to carry the marking",
        ));
    }
    let mut parts = Vec::new();
    for (_, master) in &masters {
        parts.push(master.clone());
        for (_, layout) in related(zip, edits, master, "/slideLayout")? {
            let hides_master = edits
                .text(zip, &layout)?
                .is_some_and(|t| hides_master_shapes(&t));
            if hides_master && !parts.contains(&layout) {
                parts.push(layout);
            }
        }
    }
    for part in parts {
        let text = edits
            .text(zip, &part)?
            .ok_or_else(|| Refusal::broken(&format!("{part} is named but missing")))?;
        let marked = with_marking_boxes(&text, line, size)
            .ok_or_else(|| Refusal::broken(&format!("{part} is malformed")))?;
        edits.put(zip, &part, marked);
    }
    Ok(())
}

/// The slide size (`p:sldSz`), in EMU.
fn slide_size(presentation: &str) -> (u64, u64) {
    let size = xmledit::elements(presentation, "sldSz")
        .unwrap_or_default()
        .first()
        .and_then(|s| {
            let dimension = |name| s.attr(name)?.trim().parse::<u64>().ok();
            Some((dimension("cx")?, dimension("cy")?))
        });
    size.filter(|(cx, cy)| *cx > 0 && *cy > BOX_HEIGHT)
        .unwrap_or(DEFAULT_SLIDE)
}

fn hides_master_shapes(layout: &str) -> bool {
    let Some((start, end, _)) = xmledit::root(layout) else {
        return false;
    };
    let root = xmledit::Element {
        start,
        end,
        tag: &layout[start..end],
    };
    root.attr("showMasterSp").is_some() && !is_on(root.attr("showMasterSp"))
}

/// A master or layout with the two text boxes at the end of its shape
/// tree (drawn over the rest); `None` when it has no shape tree.
fn with_marking_boxes(text: &str, line: &str, (cx, cy): (u64, u64)) -> Option<String> {
    let tree = xmledit::elements(text, "spTree")?.into_iter().next()?;
    let p = prefix_of_tag(tree.tag);
    let next_id = xmledit::elements(text, "cNvPr")?
        .iter()
        .filter_map(|e| e.attr("id")?.trim().parse::<u64>().ok())
        .max()
        .unwrap_or(1)
        + 1;
    let boxes = [("top", 0), ("bottom", cy - BOX_HEIGHT)]
        .iter()
        .enumerate()
        .map(|(i, (edge, y))| {
            let shape = TextBox {
                id: next_id + i as u64,
                name: format!("labelscan marking ({edge})"),
                y: *y,
                width: cx,
            };
            shape.xml(text, &p, line)
        })
        .collect::<String>();
    Some(xmledit::append_to(text, &tree, &boxes))
}

struct TextBox {
    id: u64,
    name: String,
    y: u64,
    width: u64,
}

impl TextBox {
    /// The shape as PresentationML, `p` the part's prefix (`p:`): no
    /// placeholder, no fill, one centred bold 12 pt line.
    fn xml(&self, part: &str, p: &str, line: &str) -> String {
        let (a, declare) = namespace_prefix(part, A_NS, "a");
        format!(
            "<{p}sp{declare}><{p}nvSpPr><{p}cNvPr id=\"{id}\" name=\"{name}\"/><{p}cNvSpPr txBox=\"1\"/><{p}nvPr userDrawn=\"1\"/></{p}nvSpPr>\
<{p}spPr><{a}xfrm><{a}off x=\"0\" y=\"{y}\"/><{a}ext cx=\"{cx}\" cy=\"{BOX_HEIGHT}\"/></{a}xfrm><{a}prstGeom prst=\"rect\"><{a}avLst/></{a}prstGeom><{a}noFill/></{p}spPr>\
<{p}txBody><{a}bodyPr wrap=\"square\" anchor=\"ctr\"/><{a}lstStyle/><{a}p><{a}pPr algn=\"ctr\"/><{a}r><{a}rPr lang=\"en-US\" sz=\"1200\" b=\"1\"/><{a}t>{text}</{a}t></{a}r></{a}p></{p}txBody></{p}sp>",
            id = self.id,
            name = xmledit::escape(&self.name),
            y = self.y,
            cx = self.width,
            text = xmledit::escape(line),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTER: &str = "<p:sldMaster xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\" xmlns:p=\"urn:p\"><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id=\"1\" name=\"\"/></p:nvGrpSpPr><p:sp><p:nvSpPr><p:cNvPr id=\"7\" name=\"Title\"/></p:nvSpPr></p:sp></p:spTree></p:cSld></p:sldMaster>";

    #[test]
    fn two_boxes_end_the_shape_tree_with_fresh_ids() {
        let text = with_marking_boxes(MASTER, "INTERNAL", (12_192_000, 6_858_000)).unwrap();
        assert!(text.ends_with("</p:sp></p:spTree></p:cSld></p:sldMaster>"));
        assert!(text.contains("<p:cNvPr id=\"8\" name=\"labelscan marking (top)\"/>"));
        assert!(text.contains("<p:cNvPr id=\"9\" name=\"labelscan marking (bottom)\"/>"));
        assert!(
            text.contains("<a:off x=\"0\" y=\"6488668\"/><a:ext cx=\"12192000\" cy=\"369332\"/>")
        );
        assert_eq!(text.matches("<a:t>INTERNAL</a:t>").count(), 2);
        assert!(!text.contains(
            "xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\"><p:nvSpPr>"
        ));
        let bare = MASTER.replace(
            " xmlns:a=\"http://schemas.openxmlformats.org/drawingml/2006/main\"",
            "",
        );
        let text = with_marking_boxes(&bare, "A", DEFAULT_SLIDE).unwrap();
        assert!(text.contains(&format!("<p:sp xmlns:a=\"{A_NS}\"><p:nvSpPr>")));
        assert!(with_marking_boxes("<p:sldMaster/>", "A", DEFAULT_SLIDE).is_none());
    }

    #[test]
    fn slide_size_and_hidden_master_shapes() {
        assert_eq!(
            slide_size(
                "<p:presentation><p:sldSz cx=\"12192000\" cy=\"6858000\"/></p:presentation>"
            ),
            (12_192_000, 6_858_000)
        );
        assert_eq!(slide_size("<p:presentation/>"), DEFAULT_SLIDE);
        assert!(hides_master_shapes(
            "<p:sldLayout showMasterSp=\"0\"><p:cSld/></p:sldLayout>"
        ));
        assert!(!hides_master_shapes("<p:sldLayout><p:cSld/></p:sldLayout>"));
    }
}
