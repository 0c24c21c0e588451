//! Masking of matched values, so that a report never becomes a new copy of
//! the sensitive data it found.

/// Masks a matched value, keeping just enough to recognise it:
/// `4111 **** **** 1111`, `a***@example.com`, `DE89 **** **** **** **** 00`.
pub fn mask(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        if !local.is_empty() && !domain.is_empty() && !domain.contains(char::is_whitespace) {
            let first: String = local.chars().take(1).collect();
            return format!("{first}***@{domain}");
        }
    }
    let chars: Vec<char> = value.chars().collect();
    let alnum = chars.iter().filter(|c| c.is_alphanumeric()).count();
    if alnum <= 4 {
        return chars
            .iter()
            .map(|c| if c.is_alphanumeric() { '*' } else { *c })
            .collect();
    }
    // Keep the first and last few alphanumerics; longer values keep four at each end.
    let keep = if alnum >= 12 { 4 } else { 2 }.min(alnum / 4).max(1);
    let mut seen = 0;
    chars
        .iter()
        .map(|&c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen <= keep || seen > alnum - keep {
                    c
                } else {
                    '*'
                }
            } else {
                c
            }
        })
        .collect::<String>()
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_cards_emails_and_short_values() {
        assert_eq!(mask("4111 1111 1111 1111"), "4111 **** **** 1111");
        assert_eq!(mask("anna.schmidt@example.com"), "a***@example.com");
        assert_eq!(mask("078-05-1120"), "07*-**-**20");
        assert_eq!(mask("1234"), "****");
        assert!(!mask("AKIAIOSFODNN7EXAMPLE").contains("IOSFODNN7"));
    }
}
