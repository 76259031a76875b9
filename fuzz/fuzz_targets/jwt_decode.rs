//! `jwt::decode_unverified` on arbitrary text: it must refuse, never panic or blow the stack.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(jwt) = lakepass_wire::jwt::decode_unverified(text) {
            let _ = (jwt.alg(), jwt.kid(), jwt.exp(), jwt.audiences());
        }
    }
});
