//! The fuzz targets' properties (`fuzz/fuzz_targets/`) as bounded property tests, so CI checks
//! them on every run without a nightly toolchain: each parser's answer matches what the input
//! says it should be, and an edit of `~/.databrickscfg` round-trips to the identical bytes.
//!
//! Why a suite of its own, apart from the bad-input corpus: a property holds for accepted and
//! refused inputs alike, so counting it as "a bad input rejected" would claim too much
//! (`scripts/faults.sh` prints "properties held" on its own line). Why each property counts its
//! branches: a generator that never reaches the accepting branch (or never the refusing one)
//! checks half the property and still passes; [`Branches::require`] fails it instead.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lakepass_config::Config;
use lakepass_store::databrickscfg;
use lakepass_wire::idp::{self, CallbackError};
use lakepass_wire::{Secret, jwt};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};

/// How often each branch of a property ran.
#[derive(Default)]
struct Branches(Mutex<BTreeMap<&'static str, usize>>);

impl Branches {
    fn hit(&self, branch: &'static str) {
        *self.0.lock().unwrap().entry(branch).or_default() += 1;
    }

    /// Fails unless every one of `branches` ran at least once.
    fn require(&self, branches: &[&'static str]) {
        let seen = self.0.lock().unwrap();
        for b in branches {
            assert!(seen.get(b).copied().unwrap_or(0) > 0, "branch `{b}` never ran: {seen:?}");
        }
    }
}

/// Runs `property` over 512 generated inputs (no persisted failures: CI starts clean).
fn check<S: Strategy>(strategy: S, property: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner =
        TestRunner::new(RunnerConfig { cases: 512, failure_persistence: None, ..RunnerConfig::default() });
    if let Err(e) = runner.run(&strategy, property) {
        panic!("{e}");
    }
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

/// Lines that look like a real `~/.databrickscfg`, in any order and with any endings, including
/// a hand-written section with the name Lakepass wants (which it must refuse to take over).
fn ini_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,6}".prop_map(|s| format!("[{s}]")),
        "[a-z_]{1,8} ?[=:] ?[ -~]{0,20}".prop_map(|s| s),
        "[;#][ -~]{0,20}".prop_map(|s| s),
        "[ \t]{1,3}[a-z]{1,8}".prop_map(|s| s),
        Just("[DEFAULT]".to_string()),
        Just("[lakepass-prop]".to_string()),
    ]
}

fn ini_text() -> impl Strategy<Value = String> {
    (proptest::collection::vec((ini_line(), prop_oneof![Just("\n"), Just("\r\n")]), 0..12), any::<bool>())
        .prop_map(|(lines, final_newline)| {
            let mut s: String = lines.iter().map(|(l, e)| format!("{l}{e}")).collect();
            if !final_newline && s.ends_with('\n') {
                s.pop();
                if s.ends_with('\r') {
                    s.pop();
                }
            }
            s
        })
}

#[test]
fn databrickscfg_upsert_then_remove_gives_back_the_same_bytes() {
    let branches = Branches::default();
    check((ini_text(), "[A-Za-z0-9._-]{1,40}"), |(ini, token)| {
        let name = "lakepass-prop";
        match databrickscfg::upsert_profile(&ini, name, &[("host", "https://x.example"), ("token", &token)]) {
            Ok(with) => {
                branches.hit("accepted");
                let read = databrickscfg::read_profile(&with, name).unwrap().unwrap();
                prop_assert!(read.contains(&("token".to_string(), token.clone())));
                let back = databrickscfg::remove_profile(&with, name).unwrap();
                prop_assert_eq!(back, ini);
            }
            Err(refused) => {
                branches.hit("refused");
                // Refused for a reason the reader sees too: the same text cannot be cleaned up.
                prop_assert_eq!(databrickscfg::remove_profile(&ini, name).unwrap_err(), refused);
            }
        }
        Ok(())
    });
    branches.require(&["accepted", "refused"]);
}

#[test]
fn databrickscfg_reader_and_editor_agree_on_any_text() {
    let branches = Branches::default();
    check(prop_oneof![ini_text(), "\\PC{0,300}"], |ini| {
        let read = databrickscfg::read_profile(&ini, "dev");
        let owned = databrickscfg::owned_profiles(&ini);
        let upsert = databrickscfg::upsert_profile(&ini, "dev", &[("token", "t")]);
        match read {
            Ok(_) => {
                branches.hit("read");
                prop_assert!(owned.is_ok(), "owned_profiles refused what read_profile read");
                if let Ok(with) = upsert {
                    branches.hit("edited");
                    let entries = databrickscfg::read_profile(&with, "dev").unwrap().unwrap();
                    prop_assert!(entries.contains(&("token".to_string(), "t".to_string())));
                    prop_assert_eq!(databrickscfg::remove_profile(&with, "dev").unwrap(), ini);
                }
            }
            Err(refused) => {
                branches.hit("refused");
                prop_assert_eq!(owned.unwrap_err(), refused.clone());
                prop_assert_eq!(upsert.unwrap_err(), refused.clone());
                prop_assert_eq!(databrickscfg::remove_profile(&ini, "dev").unwrap_err(), refused);
            }
        }
        Ok(())
    });
    branches.require(&["read", "edited", "refused"]);
}

/// A JSON object, or text that is not one.
fn json_or_not() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        proptest::collection::btree_map("[a-z]{1,5}", "[ -~]{0,10}", 0..4)
            .prop_map(|m| serde_json::to_string(&m).unwrap()),
    ]
}

/// What `part` decodes to, independently of the decoder under test.
fn object_of(part: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[test]
fn jwt_decoder_accepts_exactly_three_parts_of_json_objects() {
    let branches = Branches::default();
    let token = prop_oneof![
        "[A-Za-z0-9_=+/.-]{0,200}",
        (json_or_not(), json_or_not(), "[ -~]{0,10}").prop_map(|(h, p, s)| format!(
            "{}.{}.{}",
            b64(&h),
            b64(&p),
            b64(&s)
        )),
    ];
    check(token, |token| {
        let parts: Vec<&str> = token.split('.').collect();
        let expected = match parts.as_slice() {
            [h, p, s] if URL_SAFE_NO_PAD.decode(s).is_ok() => object_of(h).zip(object_of(p)),
            _ => None,
        };
        match (jwt::decode_unverified(&token), expected) {
            (Ok(decoded), Some((header, claims))) => {
                branches.hit("accepted");
                prop_assert_eq!(decoded.header, header);
                prop_assert_eq!(decoded.claims, claims);
            }
            (Err(_), None) => branches.hit("refused"),
            (Ok(_), None) => prop_assert!(false, "accepted a token that is not three JSON parts: {token}"),
            (Err(e), Some(_)) => prop_assert!(false, "refused a well-formed token ({e}): {token}"),
        }
        Ok(())
    });
    branches.require(&["accepted", "refused"]);
}

/// What the callback contract says a query yields: the last `state` must be ours exactly, an
/// `iss` must be the issuer, an `error` is a denial, and the last non-empty `code` is taken.
fn callback_oracle(query: &str, state: &str, issuer: &str) -> Result<String, &'static str> {
    let last = |key: &str| {
        url::form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .last()
    };
    if last("state").as_deref() != Some(state) {
        return Err("state");
    }
    if last("iss").is_some_and(|i| i != issuer) {
        return Err("issuer");
    }
    if last("error").is_some() {
        return Err("denied");
    }
    last("code").filter(|c| !c.is_empty()).ok_or("missing_code")
}

#[test]
fn callback_parser_accepts_only_the_exact_state() {
    let branches = Branches::default();
    let piece = prop_oneof![
        "[a-z=&%0-9]{0,12}",
        Just("state=s3cr3t-state".to_string()),
        Just("state=s3cr3t-statf".to_string()),
        Just("code=c1".to_string()),
        Just("code=".to_string()),
        Just("iss=https%3A%2F%2Fi".to_string()),
        Just("iss=https%3A%2F%2Fevil".to_string()),
        Just("error=access_denied".to_string()),
    ];
    check(proptest::collection::vec(piece, 0..6).prop_map(|p| p.join("&")), |query| {
        let st = Secret::new("s3cr3t-state");
        let got = idp::parse_callback(&query, &st, "https://i");
        match (got, callback_oracle(&query, "s3cr3t-state", "https://i")) {
            (Ok(code), Ok(want)) => {
                branches.hit("accepted");
                prop_assert_eq!(code.secret(), want.as_str());
            }
            (Err(CallbackError::State), Err("state")) => branches.hit("wrong state"),
            (Err(CallbackError::Issuer(_)), Err("issuer")) => branches.hit("wrong issuer"),
            (Err(CallbackError::Denied { .. }), Err("denied")) => branches.hit("denied"),
            (Err(CallbackError::MissingCode), Err("missing_code")) => branches.hit("no code"),
            (got, want) => prop_assert!(false, "{query:?}: got {got:?}, the contract says {want:?}"),
        }
        Ok(())
    });
    branches.require(&["accepted", "wrong state", "wrong issuer", "denied", "no code"]);
}

/// Config-shaped text: real sections and keys, mixed with lines that are not TOML.
fn config_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[idp.corp]\nissuer = \"https://idp.example\"\nclient_id = \"c\"".to_string()),
        Just("[workspace.dev]\nidp = \"corp\"\nhost = \"https://dev.example\"".to_string()),
        Just("redirect_port = 8020".to_string()),
        "[a-z]{1,6} = \"[ -~&&[^\"\\\\]]{0,10}\"".prop_map(|s| s),
        "\\PC{0,30}",
    ];
    prop_oneof![proptest::collection::vec(line, 0..5).prop_map(|l| l.join("\n")), "\\PC{0,300}"]
}

#[test]
fn config_parser_accepts_only_toml_and_names_the_file_when_it_refuses() {
    let branches = Branches::default();
    check(config_text(), |text| {
        match Config::parse(&text, Path::new("c.toml")) {
            Ok(_) => {
                branches.hit("accepted");
                prop_assert!(text.parse::<toml::Table>().is_ok(), "accepted text that is not TOML: {text:?}");
            }
            Err(e) => {
                branches.hit("refused");
                prop_assert!(e.to_string().contains("c.toml"), "the error does not name the file: {e}");
            }
        }
        Ok(())
    });
    branches.require(&["accepted", "refused"]);
}
