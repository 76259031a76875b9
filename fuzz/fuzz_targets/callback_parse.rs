//! The sign-in callback query parser: never panics, and accepts only a query whose (last)
//! `state` is exactly ours.
#![no_main]
use lakepass_wire::Secret;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    let state = Secret::new("s3cr3t-state");
    if lakepass_wire::idp::parse_callback(query, &state, "https://idp.example").is_ok() {
        let last = url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "state").last();
        assert_eq!(last.map(|(_, v)| v.into_owned()).as_deref(), Some("s3cr3t-state"));
    }
});
