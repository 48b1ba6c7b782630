//! Text for terminals and logs. Names in a checkpoint (`comm`, file paths,
//! tar member names, container labels) are chosen by whoever ran in the
//! container: printed raw, an ESC sequence could rewrite the terminal (OSC
//! 52 sets the clipboard, OSC 8 fakes links) and a newline could forge a
//! line of output or of a log. Every text output goes through [`escape`];
//! JSON output does not need it (its strings are escaped by JSON itself).

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with control characters made visible, as GNU `ls -b` does:
/// `\n`, `\r`, `\t`, `\x1b` and `\xNN` for the other C0 controls and DEL,
/// `\u009b` for C1 controls and `\u202e` for the bidirectional overrides
/// that reorder what is displayed. Everything else, including non-ASCII
/// text, is kept; text without such characters is returned as is.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `writeln!` whose line is escaped as a whole: whatever the arguments
/// hold, one call writes exactly one line.
macro_rules! outln {
    ($dst:expr, $($arg:tt)*) => {
        writeln!($dst, "{}", $crate::cli::text::escape(&format!($($arg)*)))
    };
}
pub(crate) use outln;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible_and_the_rest_stays() {
        assert_eq!(escape("counter"), "counter");
        assert!(matches!(escape("/tmp/é ü"), Cow::Borrowed(_)));
        assert_eq!(escape("a\nb\tc\r"), "a\\nb\\tc\\r");
        assert_eq!(escape("\x1b]52;c;aGk=\x07x"), "\\x1b]52;c;aGk=\\x07x");
        assert_eq!(escape("\x7f\0"), "\\x7f\\x00");
        assert_eq!(escape("\u{9b}2J"), "\\u009b2J");
        assert_eq!(escape("evil\u{202e}gpj.exe"), "evil\\u202egpj.exe");
    }
}
