//! Text a server sent, made safe to print, store and show: [`server_text`].
//!
//! An IdP's `error_description`, a workspace's REST error `message`, a discovery document's
//! `issuer`: Lakepass puts such text into its errors, and from there into the terminal
//! (`refresh`, `status`, `log`), `audit.jsonl`, `state.json` and desktop notifications. A
//! hostile server could put terminal escape sequences in it (`ESC[2J` clears the screen, OSC 8
//! makes a link that reads one URL and opens another) or bidi overrides that make text read
//! backwards. So every such string passes [`server_text`] where it enters Lakepass (the wire's
//! OAuth error and body excerpts, the REST error parsers), once, and nothing downstream has to
//! think about it.

/// The longest server text kept, in characters; longer text ends in `…`. An error description
/// is a sentence; a page of it only pushes the useful part of the message off the screen.
pub const SERVER_TEXT_MAX_CHARS: usize = 500;

/// `text` with every control character (C0, DEL, C1) and every bidi control (U+061C, U+200E,
/// U+200F, U+202A–U+202E, U+2066–U+2069) and line/paragraph separator replaced by a visible
/// escape (`\u{1b}`), tabs and line breaks by a space, capped at [`SERVER_TEXT_MAX_CHARS`].
pub fn server_text(text: &str) -> String {
    server_text_capped(text, SERVER_TEXT_MAX_CHARS)
}

/// [`server_text`] with another cap (in characters of the input).
pub fn server_text_capped(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        match c {
            '\t' | '\n' | '\r' => out.push(' '),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// True for the characters [`server_text`] escapes.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL and C1 (general category Cc)
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_controls_become_visible_and_plain_text_is_kept() {
        assert_eq!(server_text("token expired (ünïcode ok)"), "token expired (ünïcode ok)");
        assert_eq!(server_text("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        let osc8 = "\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}";
        let clean = server_text(osc8);
        assert!(!clean.contains('\u{1b}') && !clean.contains('\u{7}'), "{clean}");
        assert_eq!(server_text("x\u{9b}31m\u{7f}"), "x\\u{9b}31m\\u{7f}");
        assert_eq!(server_text("evil\u{202e}txt.exe\u{2066}"), "evil\\u{202e}txt.exe\\u{2066}");
        assert_eq!(server_text("line one\nline two\ttab\r"), "line one line two tab ");
    }

    #[test]
    fn long_text_is_capped() {
        let long = "é".repeat(SERVER_TEXT_MAX_CHARS + 10);
        let clean = server_text(&long);
        assert_eq!(clean.chars().count(), SERVER_TEXT_MAX_CHARS + 1);
        assert!(clean.ends_with('…'));
        assert_eq!(server_text(&"é".repeat(SERVER_TEXT_MAX_CHARS)).chars().count(), SERVER_TEXT_MAX_CHARS);
    }
}
