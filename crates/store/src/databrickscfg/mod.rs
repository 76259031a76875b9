//! A lossless editor of `~/.databrickscfg`: Lakepass edits its own profiles and nothing else.
//!
//! The file is shared with the Databricks CLI, the SDKs and people's editors. Tools that
//! rewrote it through an INI library lost their users' profiles and comments, so this module
//! never re-serialises a parsed model: it keeps the file as a list of lines (text + the line's
//! own ending) and splices only the lines of sections it owns. Every other byte (other
//! profiles, `;`/`#` comments, blank lines, CRLF endings, a missing final newline, `[DEFAULT]`)
//! comes out exactly as it went in.
//!
//! Ownership is explicit: a section Lakepass creates carries [`MARKER`] on the line directly
//! under its header. A same-named section without it belongs to someone else and is refused
//! ([`CfgError::NotOwned`]), never overwritten.
//!
//! Parsing is strict where guessing could corrupt: a line that is not blank, a comment, a
//! `[section]` header, `key = value` / `key: value`, or an indented continuation line (as
//! Python's `configparser` reads them), and duplicate section names, are refused with the line
//! number, and the caller leaves the file alone. Values may be tokens, so no error message ever
//! quotes a value: only line numbers, section names and keys.
//!
//! The pure functions work on strings (`edit`); [`update_file`] is the edge that holds a
//! cross-process lock around read → edit → atomic write (`file`). Only `file` touches the disk,
//! so every edit is tested, fuzzed and round-tripped as a string.

mod edit;
mod file;

pub use edit::{
    CfgError, MARKER, ProfileUpdate, owned_profiles, read_profile, remove_profile, upsert_profile,
};
pub use file::{
    CfgFileError, EDIT_ATTEMPTS, remove_owned_profiles, remove_profiles, set_profiles, update_file,
    update_file_shared,
};

#[cfg(test)]
mod tests;
