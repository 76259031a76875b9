//! The pure edits, round-tripped against a large real-world file in every line-ending form.

use super::edit::*;

const BIG: &str = include_str!("../../tests/fixtures/databrickscfg_big.ini");
const ENTRIES: &[(&str, &str)] = &[("host", "https://adb-9.9.azuredatabricks.net"), ("token", "tok-one")];

/// The fixture as LF, CRLF, and both without a final newline.
fn variants() -> Vec<String> {
    let crlf = BIG.replace('\n', "\r\n");
    let lf_open = BIG.trim_end_matches('\n').to_string();
    let crlf_open = crlf.trim_end_matches("\r\n").to_string();
    vec![BIG.to_string(), crlf, lf_open, crlf_open]
}

fn no_lone_lf(s: &str) -> bool {
    s.match_indices('\n').all(|(i, _)| i > 0 && s.as_bytes()[i - 1] == b'\r')
}

#[test]
fn foreign_bytes_survive_upsert_update_and_remove() {
    for original in variants() {
        let added = upsert_profile(&original, "lakepass-dev", ENTRIES).unwrap();
        assert!(added.starts_with(original.as_str()), "{added}");
        let eol = if original.contains("\r\n") { "\r\n" } else { "\n" };
        let tail = &added[original.len()..];
        let prefix = if original.ends_with('\n') { "" } else { eol };
        let want_tail = format!(
            "{prefix}{eol}[lakepass-dev]{eol}{MARKER}{eol}host = https://adb-9.9.azuredatabricks.net{eol}token = tok-one"
        );
        assert!(tail.starts_with(&want_tail), "{tail:?}");
        assert_eq!(added.ends_with('\n'), original.ends_with('\n'));
        if eol == "\r\n" {
            assert!(no_lone_lf(&added));
        }

        let updated =
            upsert_profile(&added, "lakepass-dev", &[("token", "tok-two"), ("auth_type", "pat")]).unwrap();
        assert!(updated.starts_with(original.as_str()));
        assert_eq!(
            read_profile(&updated, "lakepass-dev").unwrap().unwrap(),
            vec![
                ("host".to_string(), "https://adb-9.9.azuredatabricks.net".to_string()),
                ("token".to_string(), "tok-two".to_string()),
                ("auth_type".to_string(), "pat".to_string()),
            ]
        );
        assert_eq!(owned_profiles(&updated).unwrap(), vec!["lakepass-dev".to_string()]);
        assert_eq!(remove_profile(&updated, "lakepass-dev").unwrap(), original);
        assert_eq!(remove_profile(&original, "lakepass-dev").unwrap(), original);
    }
}

#[test]
fn owned_section_in_the_middle_is_edited_in_place() {
    for eol in ["\n", "\r\n"] {
        let head = format!("; top{eol}[a]{eol}x = 1{eol}");
        let ours = format!(
            "{eol}[lp]{eol}{MARKER}{eol}host = h{eol}  # user note kept{eol}Token=old{eol}    old continuation{eol}extra = kept{eol}"
        );
        let tail = format!("{eol}# about b{eol}[b]{eol}token = foreign{eol}");
        let file = format!("{head}{ours}{tail}");
        let out = upsert_profile(&file, "lp", &[("token", "new"), ("cluster_id", "c1")]).unwrap();
        let want_ours = format!(
            "{eol}[lp]{eol}{MARKER}{eol}host = h{eol}  # user note kept{eol}token = new{eol}extra = kept{eol}cluster_id = c1{eol}"
        );
        assert_eq!(out, format!("{head}{want_ours}{tail}"));
        assert_eq!(remove_profile(&out, "lp").unwrap(), format!("{head}{tail}"));
        assert_eq!(read_profile(&out, "b").unwrap().unwrap(), vec![("token".into(), "foreign".into())]);
    }
}

#[test]
fn unchanged_values_leave_the_text_identical() {
    let file = format!("[lp]\n{MARKER}\nhost=h\ntoken = t\n");
    assert_eq!(upsert_profile(&file, "lp", &[("host", "h"), ("token", "t")]).unwrap(), file);
}

#[test]
fn first_section_of_an_empty_file() {
    let out = upsert_profile("", "lp", &[("host", "h")]).unwrap();
    assert_eq!(out, format!("[lp]\n{MARKER}\nhost = h\n"));
    assert_eq!(remove_profile(&out, "lp").unwrap(), "");
    let later = format!("{out}\n[b]\nx = 1\n");
    assert_eq!(remove_profile(&later, "lp").unwrap(), "[b]\nx = 1\n");
}

#[test]
fn foreign_sections_are_refused() {
    for name in ["prod", "DEFAULT", "empty-profile", "with-inline"] {
        let err = upsert_profile(BIG, name, ENTRIES).unwrap_err();
        assert_eq!(err, CfgError::NotOwned { profile: name.into() });
        assert_eq!(remove_profile(BIG, name).unwrap_err(), err);
        assert!(err.to_string().contains("not created by Lakepass"), "{err}");
    }
    // The marker counts only directly under the header.
    let moved = format!("[lp]\nhost = h\n{MARKER}\n");
    assert!(matches!(upsert_profile(&moved, "lp", ENTRIES), Err(CfgError::NotOwned { .. })));
    assert!(owned_profiles(BIG).unwrap().is_empty());
}

#[test]
fn unreadable_lines_are_refused_with_their_number() {
    let cases = [
        ("[a]\nhost = h\njust words\n", 3, "not `key = value`"),
        ("[a]\nhost = h\n[b\n", 3, "not closed"),
        ("[a]\nx = 1\n\n[b]\n[a]\n", 5, "appears a second time (first on line 1)"),
        ("[a] trailing\n", 1, "text after"),
        ("[]\n", 1, "empty section"),
        ("[ a ]\n", 1, "spaces inside"),
        ("[a]\r\n = v\r\n", 2, "without a key"),
        ("[a]\nx = 1\ry = 2\n", 2, "carriage return"),
    ];
    for (text, line, needle) in cases {
        let err = upsert_profile(text, "lp", ENTRIES).unwrap_err();
        let CfgError::Parse { line: got, ref message } = err else { panic!("{text:?}: {err:?}") };
        assert_eq!(got, line, "{text:?}: {message}");
        assert!(err.to_string().contains(needle), "{text:?}: {err}");
        assert!(remove_profile(text, "lp").is_err());
        assert!(owned_profiles(text).is_err());
    }
}

#[test]
fn errors_never_show_values() {
    let dup = format!("[lp]\n{MARKER}\ntoken = SECRET-1\ntoken = SECRET-2\n");
    let err = upsert_profile(&dup, "lp", &[("token", "SECRET-3")]).unwrap_err();
    assert!(matches!(err, CfgError::Parse { line: 4, .. }), "{err:?}");
    let bad_value = upsert_profile("", "lp", &[("token", "SECRET\nhost = evil")]).unwrap_err();
    let bad_key = upsert_profile("", "lp", &[("to ken", "SECRET")]).unwrap_err();
    for e in [err, bad_value, bad_key] {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    let update = ProfileUpdate { profile: "lp".into(), entries: vec![("token".into(), "SECRET".into())] };
    let shown = format!("{update:?}");
    assert!(shown.contains("token") && !shown.contains("SECRET"), "{shown}");
}

#[test]
fn continuation_lines_and_inline_header_comments_are_read() {
    let staging = read_profile(BIG, "staging").unwrap().unwrap();
    assert_eq!(staging[2], ("scopes".into(), "sql\nfiles\ngenie".into()));
    assert_eq!(read_profile(BIG, "with-inline").unwrap().unwrap().len(), 1);
    assert_eq!(read_profile(BIG, "empty-profile").unwrap(), Some(vec![]));
    assert_eq!(read_profile(BIG, "nope").unwrap(), None);
    let prod = read_profile(BIG, "prod").unwrap().unwrap();
    assert_eq!(prod[2], ("cluster_id".into(), "0101-010101-abcdefgh".into()));
}

/// Small generated files: upsert → update → remove gives back the exact bytes.
#[test]
fn round_trip_over_generated_files() {
    const PIECES: &[&str] = &[
        "[s]",
        "key = v",
        "k2:v2",
        "  indented continuation",
        "; semi comment",
        "# hash comment",
        "",
        "   ",
        "[DEFAULT]",
        "host=https://x",
        "\t; tab comment",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut checked = 0;
    for _ in 0..3000 {
        let mut file = String::new();
        let (mut sections, mut defaults) = (0, false);
        for _ in 0..next(9) {
            let mut piece = PIECES[next(PIECES.len() as u64) as usize].to_string();
            if piece == "[s]" {
                sections += 1;
                piece = format!("[s{sections}]");
            } else if piece == "[DEFAULT]" {
                if defaults {
                    continue;
                }
                defaults = true;
            }
            file.push_str(&piece);
            file.push_str(["\n", "\r\n"][next(2) as usize]);
        }
        if next(3) == 0 {
            file.truncate(file.trim_end_matches(['\r', '\n']).len());
        }
        if !parses(&file) {
            continue;
        }
        checked += 1;
        let one = upsert_profile(&file, "lp", ENTRIES).unwrap();
        assert!(one.starts_with(file.as_str()), "{file:?} → {one:?}");
        let two = upsert_profile(&one, "lp", &[("token", "t2"), ("x", "y")]).unwrap();
        assert!(two.starts_with(file.as_str()), "{file:?} → {two:?}");
        assert_eq!(remove_profile(&two, "lp").unwrap(), file, "{two:?}");
        assert_eq!(remove_profile(&one, "lp").unwrap(), file, "{one:?}");
    }
    assert!(checked > 1000, "only {checked} generated files parsed");
}

/// Where new keys go and what counts as a key: after the marker of a section with no keys yet,
/// after a last key's continuation lines, and two keys indented alike are two keys. Found by
/// cargo-mutants: the section bookkeeping could be off by a line and no test noticed.
#[test]
fn new_keys_go_after_the_marker_and_after_continuations() {
    let empty_owned = format!("[lp]\n{MARKER}\n");
    assert_eq!(
        upsert_profile(&empty_owned, "lp", &[("host", "h")]).unwrap(),
        format!("[lp]\n{MARKER}\nhost = h\n")
    );

    let continued = format!("[lp]\n{MARKER}\nscopes = a\n  b\n");
    assert_eq!(
        upsert_profile(&continued, "lp", &[("host", "h")]).unwrap(),
        format!("[lp]\n{MARKER}\nscopes = a\n  b\nhost = h\n")
    );

    let indented = "[x]\n  host = h\n  token = t\n";
    assert_eq!(
        read_profile(indented, "x").unwrap().unwrap(),
        vec![("host".into(), "h".into()), ("token".into(), "t".into())]
    );
}

/// A byte-order mark before the first line (Windows editors write one) is not part of the
/// first header, and is kept.
#[test]
fn a_byte_order_mark_is_read_past_and_kept() {
    let file = format!("\u{feff}[lp]\n{MARKER}\nhost = h\n");
    assert_eq!(read_profile(&file, "lp").unwrap().unwrap(), vec![("host".into(), "h".into())]);
    let out = upsert_profile(&file, "lp", &[("token", "t")]).unwrap();
    assert!(out.starts_with('\u{feff}'), "{out:?}");
    assert_eq!(read_profile(&out, "lp").unwrap().unwrap().len(), 2);
}

/// Each character that would make a profile name mean something else is refused on its own.
#[test]
fn profile_names_with_a_bracket_or_control_character_are_refused() {
    for bad in ["a[b", "a]b", "a\tb", "a\u{7}b"] {
        let err = upsert_profile("", bad, &[("host", "h")]).unwrap_err();
        assert!(matches!(err, CfgError::InvalidProfile { .. }), "{bad:?}: {err}");
    }
    assert!(upsert_profile("", "a-b_c.d", &[("host", "h")]).is_ok());
}

/// Another program saving the file between our read and our rename (an editor, `databricks
/// configure`): the edit runs again on its version, so both changes survive; one that keeps
/// saving gets exactly `EDIT_ATTEMPTS` tries and then a clear error, never a lost save.
#[test]
fn a_save_by_another_program_mid_edit_is_kept_and_retried_a_bounded_number_of_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".databrickscfg");
    std::fs::write(&path, "[theirs]\nhost = https://a.example\n").unwrap();
    let mut calls = 0;
    super::file::update_file(&path, |text| {
        calls += 1;
        if calls == 1 {
            std::fs::write(&path, format!("{text}\n[also-theirs]\nhost = https://b.example\n")).unwrap();
        }
        upsert_profile(text, "lp", &[("host", "h")])
    })
    .unwrap();
    assert_eq!(calls, 2, "the edit ran again on the other program's version");
    let now = std::fs::read_to_string(&path).unwrap();
    for profile in ["theirs", "also-theirs", "lp"] {
        assert!(read_profile(&now, profile).unwrap().is_some(), "{profile} lost:\n{now}");
    }

    let mut calls = 0;
    let err = super::file::update_file(&path, |text| {
        calls += 1;
        std::fs::write(&path, format!("{text}; saved again {calls}\n")).unwrap();
        upsert_profile(text, "lp", &[("token", "t")])
    })
    .unwrap_err();
    assert_eq!(calls, super::file::EDIT_ATTEMPTS, "{err}");
    assert!(err.to_string().contains("changed by another program"), "{err}");
    assert!(
        std::fs::read_to_string(&path).unwrap().contains(&format!("; saved again {calls}")),
        "their last save kept"
    );
}

/// A credentials file that cannot be read is a read error, not an empty file (whose edit would
/// be written over it); one of exactly the size cap is read, one byte more is refused.
#[test]
fn an_unreadable_or_oversized_file_is_refused_and_the_cap_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("is-a-folder");
    std::fs::create_dir(&folder).unwrap();
    let err = super::file::update_file(&folder, |t| upsert_profile(t, "lp", &[("host", "h")])).unwrap_err();
    assert!(matches!(err, super::CfgFileError::Read { .. }), "{err}");
    // One that cannot even be opened (here a socket, ENXIO; as root no mode bits stop a read)
    // is a read error too, not a missing file, and is left in place.
    #[cfg(unix)]
    {
        let socket = dir.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let err =
            super::file::update_file(&socket, |t| upsert_profile(t, "lp", &[("host", "h")])).unwrap_err();
        assert!(matches!(err, super::CfgFileError::Read { .. }), "{err}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(&socket).unwrap().file_type().is_socket(), "left as it was");
    }

    let comment_file = |len: usize| {
        let line = format!("; {}\n", "x".repeat(1021)); // 1024 bytes
        let mut text = line.repeat(len / 1024);
        text.push_str(&";".repeat(len - text.len()));
        text
    };
    let path = dir.path().join("cfg");
    for (len, ok) in [
        (1024 * 1024, true),
        // The documented limit, written out: not the constant, so a changed constant shows.
        (4 * 1024 * 1024, true),
        (4 * 1024 * 1024 + 1, false),
    ] {
        std::fs::write(&path, comment_file(len)).unwrap();
        let got = super::file::update_file(&path, |t| upsert_profile(t, "lp", &[("host", "h")]));
        assert_eq!(got.is_ok(), ok, "{len} bytes: {got:?}");
        if let Err(e) = got {
            assert!(e.to_string().contains("larger than 4 MiB"), "{e}");
        }
    }
}

/// Python's configparser continues a value only on a line indented deeper than its key
/// (`cur_indent_level > indent_level`): indented keys at one depth stay separate keys.
#[test]
fn keys_indented_alike_are_separate_keys_and_only_deeper_lines_continue() {
    let text = "[team]\n  host = https://h\n  token = t\n    more\n";
    let entries = read_profile(text, "team").unwrap().unwrap();
    assert_eq!(entries, vec![("host".into(), "https://h".into()), ("token".into(), "t\nmore".into())]);
}
