//! Small text rules that several stages share.

/// A boolean as document metadata writes it: `true`, `1`, `yes`, and `-1`
/// (OLE's VARIANT_TRUE); anything else is false.
pub fn parse_bool(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "-1"
    )
}

#[cfg(test)]
mod tests {
    use super::parse_bool;

    #[test]
    fn booleans_as_metadata_writes_them() {
        for yes in ["true", "TRUE", " 1", "yes", "-1"] {
            assert!(parse_bool(yes), "{yes}");
        }
        for no in ["false", "0", "", "no", "2"] {
            assert!(!parse_bool(no), "{no}");
        }
    }
}
