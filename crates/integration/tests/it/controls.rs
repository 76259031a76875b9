//! The controls of the bad-input corpus: the good inputs next to its bad ones, each accepted.
//!
//! Why apart from `bad_input`: a control proves the corpus's rows fail for their reason and not
//! because nothing is ever accepted (a verifier that refuses every token would pass every
//! `jwt_verification` row). It is not a bad input rejected, so `scripts/faults.sh` counts it on
//! its own line, "controls passed".

use axum::http::Method;

use crate::bad_input::{jwt_verification, metadata_requests};

#[test]
fn a_good_token_verifies() {
    // The rows of `bad_input::jwt_verification` fail for their reason, not because nothing verifies.
    jwt_verification::verify(&jwt_verification::signed(|_| {}))
        .expect("a correctly signed token with the right claims");
}

#[test]
fn the_sdks_own_request_is_served() {
    // The rows of `bad_input::metadata_requests` change one thing each of this request.
    let served = metadata_requests::ask(Method::GET, &metadata_requests::dev_path(), &[]);
    assert_eq!(served.unwrap(), "dev");
}
