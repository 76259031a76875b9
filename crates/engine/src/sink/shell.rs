//! POSIX shell quoting, for the `apiKeyHelper` command (Claude Code runs it with `/bin/sh -c`)
//! and for `lakepass env` output (`eval "$(lakepass env)"`).
//!
//! Always single quotes, even where none are needed: one rule is easy to check, and a path with
//! a space, a `$` or a quote in it cannot change what the shell runs.

/// `s` as one POSIX shell word: `'…'`, with each `'` written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}
