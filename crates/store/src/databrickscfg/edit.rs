//! The pure string edits of `~/.databrickscfg`: parse it into lines, splice the lines of our own
//! sections, and render every other byte as it came.
//!
//! Nothing here reads or writes a file, so the edits are round-trip tested and fuzzed on strings;
//! the locked, atomic write around them is `file`'s.

use std::borrow::Cow;
use std::collections::HashMap;

/// The comment line under the header of every section Lakepass created and may rewrite.
pub const MARKER: &str = "; managed by lakepass: this profile is rewritten when tokens refresh";

/// Why an edit of the file's text was refused. Never contains a value from the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfgError {
    /// A line Lakepass cannot edit around without risking the file.
    #[error(
        "line {line}: {message}; Lakepass left the file unchanged: fix that line by hand, then \
         try again"
    )]
    Parse {
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line (never its content).
        message: String,
    },
    /// A section with this name exists but was not created by Lakepass.
    #[error(
        "a profile named [{profile}] already exists and was not created by Lakepass; choose \
         another profile name in the workspace config (`profile = \"...\"`) or remove it"
    )]
    NotOwned {
        /// The profile name.
        profile: String,
    },
    /// The profile name cannot be written as a section header.
    #[error("`{profile}` cannot be used as a profile name: {reason}; pick a plain name like `dev`")]
    InvalidProfile {
        /// The profile name.
        profile: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key or its value cannot be written as one `key = value` line.
    #[error("cannot write key `{key}` in profile [{profile}]: {reason}")]
    InvalidEntry {
        /// The profile name.
        profile: String,
        /// The key (never the value).
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The entries Lakepass writes into one profile. `Debug` shows keys only: values are tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// Section name in the file.
    pub profile: String,
    /// `key = value` lines, in the order they are first written.
    pub entries: Vec<(String, String)>,
}

impl std::fmt::Debug for ProfileUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self.entries.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ProfileUpdate")
            .field("profile", &self.profile)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// Adds or updates the Lakepass-owned profile `profile` with `entries`.
///
/// A missing section is appended (after a blank separator line) with [`MARKER`] under its
/// header. A marked section gets the given keys replaced in place and missing ones appended at
/// the end of its content; its other lines stay. An unmarked section is refused.
pub fn upsert_profile(ini: &str, profile: &str, entries: &[(&str, &str)]) -> Result<String, CfgError> {
    check_profile(profile)?;
    check_entries(profile, entries)?;
    let doc = parse(ini)?;
    let mut out: Vec<OutLine<'_>> = Vec::with_capacity(doc.lines.len() + entries.len() + 3);
    let Some(section) = doc.section(profile) else {
        out.extend(doc.lines.iter().map(|l| (Cow::Borrowed(l.text), l.ending)));
        if !ini.is_empty() {
            out.push((Cow::Borrowed(""), doc.eol));
        }
        out.push((format!("[{profile}]").into(), doc.eol));
        out.push((MARKER.into(), doc.eol));
        out.extend(entries.iter().map(|(k, v)| (Cow::Owned(format!("{k} = {v}")), doc.eol)));
        return Ok(doc.render(&out));
    };
    if !section.marked {
        return Err(CfgError::NotOwned { profile: profile.into() });
    }
    let existing = doc.keys(section)?;
    // first line of an existing entry → (its last line, the new line)
    let mut replace: HashMap<usize, (usize, String)> = HashMap::new();
    let mut missing = Vec::new();
    for (key, value) in entries {
        match existing.iter().find(|e| e.key.eq_ignore_ascii_case(key)) {
            Some(e) if e.first == e.last && e.value == *value => {}
            Some(e) => {
                replace.insert(e.first, (e.last, format!("{key} = {value}")));
            }
            None => missing.push(format!("{key} = {value}")),
        }
    }
    let mut i = 0;
    while i <= doc.lines.len() {
        if i == section.content_end {
            out.extend(missing.drain(..).map(|l| (Cow::Owned(l), doc.eol)));
        }
        let Some(line) = doc.lines.get(i) else { break };
        if let Some((last, text)) = replace.remove(&i) {
            out.push((text.into(), doc.lines[last].ending));
            i = last + 1;
        } else {
            out.push((Cow::Borrowed(line.text), line.ending));
            i += 1;
        }
    }
    Ok(doc.render(&out))
}

/// Removes the Lakepass-owned profile `profile` (its header through its last entry, plus the
/// blank separator line before it). Absent: returns the text unchanged. Unmarked: refused.
pub fn remove_profile(ini: &str, profile: &str) -> Result<String, CfgError> {
    let doc = parse(ini)?;
    let Some(section) = doc.section(profile) else {
        return Ok(ini.to_string());
    };
    if !section.marked {
        return Err(CfgError::NotOwned { profile: profile.into() });
    }
    let (mut start, mut end) = (section.header, section.content_end);
    if start > 0 && doc.lines[start - 1].kind == Kind::Blank {
        start -= 1;
    } else if start == 0 && doc.lines.get(end).is_some_and(|l| l.kind == Kind::Blank) {
        // At the top of the file, take the separator after it so the file does not start blank.
        end += 1;
    }
    let out: Vec<OutLine<'_>> = doc.lines[..start]
        .iter()
        .chain(&doc.lines[end..])
        .map(|l| (Cow::Borrowed(l.text), l.ending))
        .collect();
    Ok(doc.render(&out))
}

/// Names of the profiles Lakepass created (those carrying [`MARKER`]), in file order.
pub fn owned_profiles(ini: &str) -> Result<Vec<String>, CfgError> {
    let doc = parse(ini)?;
    Ok(doc.sections.iter().filter(|s| s.marked).map(|s| s.name.to_string()).collect())
}

/// The `key, value` pairs of any profile, in file order (continuation lines joined with `\n`);
/// `None` when there is no such section.
pub fn read_profile(ini: &str, profile: &str) -> Result<Option<Vec<(String, String)>>, CfgError> {
    let doc = parse(ini)?;
    let Some(section) = doc.section(profile) else {
        return Ok(None);
    };
    let entries = doc.keys(section)?;
    Ok(Some(entries.into_iter().map(|e| (e.key.to_string(), e.value)).collect()))
}

// ---------------------------------------------------------------------------------------------
// The line model.

/// One output line: text without its ending, and the ending (`""` = take the file's).
type OutLine<'a> = (Cow<'a, str>, &'a str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Header,
    Key,
    Continuation,
}

#[derive(Debug)]
struct Line<'a> {
    text: &'a str,
    ending: &'a str,
    kind: Kind,
    /// For `Key` lines: the key and the trimmed value; for `Continuation`: the trimmed text.
    key: &'a str,
    value: &'a str,
}

#[derive(Debug)]
struct Section<'a> {
    name: &'a str,
    header: usize,
    /// Next header or end of file.
    end: usize,
    /// After the last header/marker/key/continuation line: trailing blanks and comments belong
    /// to whatever comes next.
    content_end: usize,
    marked: bool,
}

struct Entry<'a> {
    key: &'a str,
    value: String,
    first: usize,
    last: usize,
}

struct Doc<'a> {
    lines: Vec<Line<'a>>,
    sections: Vec<Section<'a>>,
    /// The ending new lines get: the file's first one, else `\n`.
    eol: &'a str,
    trailing_newline: bool,
}

impl<'a> Doc<'a> {
    fn section(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The entries of `section`; a key twice (as `configparser` would refuse) is an error.
    fn keys(&self, section: &Section<'a>) -> Result<Vec<Entry<'a>>, CfgError> {
        let mut entries: Vec<Entry<'a>> = Vec::new();
        for i in section.header + 1..section.end {
            let line = &self.lines[i];
            match line.kind {
                Kind::Key => {
                    if let Some(prev) = entries.iter().find(|e| e.key.eq_ignore_ascii_case(line.key)) {
                        return Err(CfgError::Parse {
                            line: i + 1,
                            message: format!(
                                "key `{}` appears a second time in [{}] (first on line {}); \
                                 readers disagree on which one wins",
                                line.key,
                                section.name,
                                prev.first + 1
                            ),
                        });
                    }
                    let value = line.value.to_string();
                    entries.push(Entry { key: line.key, value, first: i, last: i });
                }
                Kind::Continuation => {
                    if let Some(e) = entries.last_mut() {
                        e.value.push('\n');
                        e.value.push_str(line.value);
                        e.last = i;
                    }
                }
                _ => {}
            }
        }
        Ok(entries)
    }

    /// Joins lines back; a line without ending gets the file's, and the last line gets none if
    /// the original file had no final newline.
    fn render(&self, out: &[OutLine<'_>]) -> String {
        let mut s = String::with_capacity(out.iter().map(|(t, _)| t.len() + 2).sum());
        for (i, (text, ending)) in out.iter().enumerate() {
            s.push_str(text);
            if i + 1 == out.len() && !self.trailing_newline {
                break;
            }
            s.push_str(if ending.is_empty() { self.eol } else { ending });
        }
        s
    }
}

fn parse(ini: &str) -> Result<Doc<'_>, CfgError> {
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut sections: Vec<Section<'_>> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    // Indentation of the current key: a more indented line continues its value.
    let mut key_indent: Option<usize> = None;
    for (idx, raw) in ini.split_inclusive('\n').enumerate() {
        let n = idx + 1;
        let err = |message: &str| CfgError::Parse { line: n, message: message.into() };
        let (text, ending) = match raw.strip_suffix('\n') {
            Some(t) => match t.strip_suffix('\r') {
                Some(t) => (t, "\r\n"),
                None => (t, "\n"),
            },
            None => (raw, ""),
        };
        if text.contains('\r') {
            return Err(err("a carriage return in the middle of the line (old Mac line endings?)"));
        }
        let body = if idx == 0 { text.strip_prefix('\u{feff}').unwrap_or(text) } else { text };
        let trimmed = body.trim();
        let indent = body.len() - body.trim_start().len();
        let mut line = Line { text, ending, kind: Kind::Blank, key: "", value: "" };
        if trimmed.is_empty() {
            // Blank: nothing to record.
        } else if trimmed.starts_with(';') || trimmed.starts_with('#') {
            line.kind = Kind::Comment;
            if let Some(s) = sections.last_mut()
                && s.header + 1 == idx
                && trimmed == MARKER
            {
                s.marked = true;
                s.content_end = idx + 1;
            }
        } else if key_indent.is_some_and(|k| indent > k) {
            line.kind = Kind::Continuation;
            line.value = trimmed;
            if let Some(s) = sections.last_mut() {
                s.content_end = idx + 1;
            }
        } else if let Some(inner) = trimmed.strip_prefix('[') {
            let name = parse_header(inner).map_err(err)?;
            if let Some(first) = seen.insert(name, n) {
                return Err(err(&format!(
                    "section [{name}] appears a second time (first on line {first}); merge or \
                     rename one of them"
                )));
            }
            if let Some(prev) = sections.last_mut() {
                prev.end = idx;
            }
            sections.push(Section { name, header: idx, end: idx + 1, content_end: idx + 1, marked: false });
            line.kind = Kind::Header;
            key_indent = None;
        } else {
            let Some(at) = trimmed.find(['=', ':']) else {
                return Err(err(
                    "not `key = value`, a `[section]` header, a `;`/`#` comment or a blank line",
                ));
            };
            let key = trimmed[..at].trim_end();
            if key.is_empty() {
                return Err(err("a `key = value` line without a key"));
            }
            line.kind = Kind::Key;
            line.key = key;
            line.value = trimmed[at + 1..].trim();
            key_indent = Some(indent);
            if let Some(s) = sections.last_mut() {
                s.content_end = idx + 1;
            }
        }
        lines.push(line);
    }
    if let Some(last) = sections.last_mut() {
        last.end = lines.len();
    }
    let eol = lines.iter().map(|l| l.ending).find(|e| !e.is_empty()).unwrap_or("\n");
    let trailing_newline = ini.is_empty() || ini.ends_with('\n');
    Ok(Doc { lines, sections, eol, trailing_newline })
}

/// The name inside `[name]`; `inner` is the text after `[`. A comment may follow the `]`.
fn parse_header(inner: &str) -> Result<&str, &'static str> {
    let Some(close) = inner.find(']') else {
        return Err("a `[` that is not closed by `]` on the same line");
    };
    let (name, rest) = (&inner[..close], inner[close + 1..].trim());
    if !(rest.is_empty() || rest.starts_with(';') || rest.starts_with('#')) || rest.contains(']') {
        return Err("text after the `]` of a section header");
    }
    if name.is_empty() {
        return Err("an empty section name `[]`");
    }
    if name.trim() != name {
        return Err("spaces inside the brackets of a section header (tools disagree on the name)");
    }
    Ok(name)
}

fn check_profile(profile: &str) -> Result<(), CfgError> {
    let reason = if profile.is_empty() {
        "it is empty"
    } else if profile.trim() != profile {
        "it starts or ends with spaces"
    } else if profile.chars().any(|c| c == '[' || c == ']' || c.is_control()) {
        "it contains `[`, `]` or a control character"
    } else {
        return Ok(());
    };
    Err(CfgError::InvalidProfile { profile: profile.into(), reason })
}

fn check_entries(profile: &str, entries: &[(&str, &str)]) -> Result<(), CfgError> {
    for (i, (key, value)) in entries.iter().enumerate() {
        let reason = if key.is_empty()
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            Some("keys are letters, digits, `_`, `-` and `.`")
        } else if entries[..i].iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some("the key is given twice")
        } else if value.chars().any(char::is_control) {
            Some("the value contains a line break or control character")
        } else if value.trim() != *value {
            Some("the value starts or ends with spaces, which readers would drop")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(CfgError::InvalidEntry { profile: profile.into(), key: key.to_string(), reason });
        }
    }
    Ok(())
}

/// Whether `ini` parses as a credentials file (for the round-trip tests' generator).
#[cfg(test)]
pub(super) fn parses(ini: &str) -> bool {
    parse(ini).is_ok()
}
