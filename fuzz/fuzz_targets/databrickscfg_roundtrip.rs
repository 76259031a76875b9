//! The `~/.databrickscfg` editor on arbitrary files: whatever it accepts, adding our profile
//! and removing it again gives back the identical bytes, and the profile reads back as written.
#![no_main]
use lakepass_store::databrickscfg::{read_profile, remove_profile, upsert_profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(ini) = std::str::from_utf8(data) else { return };
    let entries = [("host", "https://x.example"), ("token", "dapi-fuzz")];
    let Ok(with) = upsert_profile(ini, "lakepass-fuzz", &entries) else { return };
    let read = read_profile(&with, "lakepass-fuzz").expect("our own output parses").expect("profile present");
    assert!(read.iter().any(|(k, v)| k == "token" && v == "dapi-fuzz"));
    let back = remove_profile(&with, "lakepass-fuzz").expect("our own output parses");
    assert_eq!(back, ini, "parse → upsert → remove must give back identical bytes");
});
