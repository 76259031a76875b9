//! The controls of the bad-input corpus: the good inputs next to its bad ones, each accepted,
//! and the hostile values Lakepass accepts and clamps rather than refuses.
//!
//! Why apart from `bad_input`: a control proves the corpus's rows fail for their reason and not
//! because nothing is ever accepted (a verifier that refuses every token would pass every
//! `jwt_verification` row); a clamp is a defence, but by accepting. Neither is a bad input
//! rejected, so `scripts/faults.sh` counts them on their own line, "controls passed".

use axum::http::Method;

use crate::bad_input::{hostile_responses, jwt_verification, metadata_requests};

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

#[tokio::test]
async fn an_overflowing_expires_in_is_accepted_and_clamped_to_a_day() {
    // Was `bad_input::hostile_responses::an_overflowing_expires_in_is_clamped_to_a_day`: the
    // exchange succeeds, so it is no rejection (the review's finding 5: it once panicked).
    assert_eq!(hostile_responses::exchanged_expiry("9223372036854775807").await, 1_000 + 24 * 3600);
}

#[tokio::test]
async fn a_negative_expires_in_is_accepted_and_clamped_to_one_second() {
    assert_eq!(hostile_responses::exchanged_expiry("-9223372036854775808").await, 1_001);
}
