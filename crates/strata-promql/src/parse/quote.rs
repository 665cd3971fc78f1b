//! Quoting as Go's `fmt` verbs `%q` (strings and runes) and `%#U` print, for error texts that
//! must read exactly as Prometheus' do.

use super::INVALID_BYTE_BASE;

/// Whether Go would print the character as is (an approximation of `strconv.IsPrint`:
/// everything but control, format, surrogate, private-use and unassigned-looking code points).
fn printable(c: char) -> bool {
    let cp = c as u32;
    !(c.is_control()
        || cp == 0xAD
        || (0x200B..=0x200F).contains(&cp)
        || (0x2028..=0x202E).contains(&cp)
        || (0x2060..=0x206F).contains(&cp)
        || cp == 0xFEFF
        || (0xE000..=0xF8FF).contains(&cp)
        || cp >= 0xF_0000
        || (0xFFF9..=0xFFFB).contains(&cp))
}

/// Appends the escaped form of `c` for a Go quoted literal delimited by `quote`.
fn push_escaped(out: &mut String, c: char, quote: char) {
    let cp = c as u32;
    if (INVALID_BYTE_BASE..INVALID_BYTE_BASE + 0x100).contains(&cp) {
        out.push_str(&format!("\\x{:02x}", cp - INVALID_BYTE_BASE));
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if printable(c) => out.push(c),
        _ if cp < 0x80 => out.push_str(&format!("\\x{cp:02x}")),
        c if cp < 0x1_0000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Quotes a string as Go's `%q` (`strconv.Quote`).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Quotes a character as Go's `%q` for runes (`strconv.QuoteRune`).
pub(crate) fn go_quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// Formats a character as Go's `%#U`: `U+0071 'q'`, or just `U+000A` when not printable.
pub(crate) fn go_rune_u(c: char) -> String {
    if printable(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(go_quote("é\u{1}"), "\"é\\x01\"");
        assert_eq!(go_quote_rune('\''), r"'\''");
        assert_eq!(go_quote_rune('"'), "'\"'");
        assert_eq!(go_rune_u('q'), "U+0071 'q'");
        assert_eq!(go_rune_u('\n'), "U+000A");
    }
}
