//! The label `apply` writes into one document: the Purview properties as
//! Microsoft's labelling clients write them, and the policy's own property.

use sha2::{Digest, Sha256};

/// MSIP content-marking bits (Microsoft's "ContentBits"): 1 header, 2 footer.
pub const CONTENT_BITS_HEADER_FOOTER: u32 = 3;

/// A Purview sensitivity label: the label's GUID and the tenant's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msip {
    /// Lower-case, no braces.
    pub guid: String,
    pub site_id: String,
}

/// Everything written for one document.
#[derive(Debug, Clone)]
pub struct Label {
    /// The level as the policy names it (written as `_Name` and as the
    /// custom property's value).
    pub level_name: String,
    pub msip: Option<Msip>,
    /// `Standard` for a level chosen by rule (the suggestion), `Privileged`
    /// for one a person chose (`--level LEVEL`), as Microsoft defines them.
    pub method: &'static str,
    /// `2026-12-03T10:15:00Z`, the form Office writes.
    pub set_date: String,
    /// A fresh GUID per labelling action.
    pub action_id: String,
    pub content_bits: u32,
    /// The policy's first `labels.custom_properties` entry.
    pub property: Option<String>,
}

impl Label {
    /// The custom properties to write, in the order Purview writes them.
    pub fn properties(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(m) = &self.msip {
            let name = |attr: &str| format!("MSIP_Label_{}_{attr}", m.guid);
            out.push((name("Enabled"), "true".to_string()));
            out.push((name("SetDate"), self.set_date.clone()));
            out.push((name("Method"), self.method.to_string()));
            out.push((name("Name"), self.level_name.clone()));
            out.push((name("SiteId"), m.site_id.clone()));
            out.push((name("ActionId"), self.action_id.clone()));
            out.push((name("ContentBits"), self.content_bits.to_string()));
        }
        if let Some(p) = &self.property {
            out.push((p.clone(), self.level_name.clone()));
        }
        out
    }
}

/// A random-looking version 4 GUID, unique per call: SHA-256 over the
/// time, the process, a counter and `salt` (no randomness crate needed
/// for an id that only has to differ between labelling actions).
pub fn action_id(salt: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(now.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(salt.as_bytes());
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_ids_are_v4_guids_and_differ() {
        let (a, b) = (action_id("x"), action_id("x"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn purview_order_then_the_policy_property() {
        let label = Label {
            level_name: "CONFIDENTIAL".into(),
            msip: Some(Msip {
                guid: "g".into(),
                site_id: "s".into(),
            }),
            method: "Standard",
            set_date: "2026-12-03T10:15:00Z".into(),
            action_id: "a".into(),
            content_bits: 0,
            property: Some("Classification".into()),
        };
        let names: Vec<String> = label.properties().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "MSIP_Label_g_Enabled",
                "MSIP_Label_g_SetDate",
                "MSIP_Label_g_Method",
                "MSIP_Label_g_Name",
                "MSIP_Label_g_SiteId",
                "MSIP_Label_g_ActionId",
                "MSIP_Label_g_ContentBits",
                "Classification"
            ]
        );
    }
}
