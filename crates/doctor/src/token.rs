//! The token steps: the subject token is a JWT that has not expired, and it is signed by a key
//! of the issuer's JWKS with an algorithm Databricks accepts.
//!
//! The JWT step also fills the report's [`Claims`], the part of the token a user may share; the
//! token itself never enters the report.

use jsonwebtoken::jwk::JwkSet;

use super::problems::{Problem, span};
use super::report::{Claims, Run, StepId, StepStatus, Stopped};
use super::signin::key_ids;
use lakepass_config::{SubjectTokenKind, Workspace};
use lakepass_engine::engine::Engine;
use lakepass_wire::Secret;
use lakepass_wire::jwt::{self, UnverifiedJwt};

/// The JWT step: the subject token decodes, carries `exp`, and has not expired. The claims go
/// into the report whatever the outcome after decoding.
pub(super) fn jwt(
    engine: &Engine,
    ws: &Workspace,
    subject: &Secret,
    subject_claim: &str,
    refreshable: bool,
    run: &mut Run,
) -> Result<UnverifiedJwt, Stopped> {
    const TITLE: &str = "JWT";
    let now = || engine.clock().now();
    let access_token = ws.token == SubjectTokenKind::AccessToken;
    let jwt = match jwt::decode_unverified(subject.secret()) {
        Ok(j) => j,
        Err(e) => {
            return Err(run.fail(
                StepId::Jwt,
                TITLE,
                Problem::NotAJwt { reason: e.to_string(), access_token },
            ));
        }
    };
    let claims = claims_of(&jwt, subject_claim);
    run.report.claims = Some(claims.clone());
    let exp_text = match claims.exp {
        Some(exp) if exp >= now() => format!("in {}", span(exp.saturating_sub(now()))),
        Some(exp) => format!("{} ago", span(now().saturating_sub(exp))),
        None => "missing".into(),
    };
    // The policy's subject claim, unless it is `sub` itself (already shown).
    let subject = match claims.subject_claim.as_str() {
        "sub" => String::new(),
        c => format!(" {c}={}", claims.subject.as_deref().unwrap_or("(missing)")),
    };
    let detail = format!(
        "iss={} aud={} sub={}{subject} exp={} ({exp_text}) iat={} alg={} kid={}",
        claims.iss.as_deref().unwrap_or("-"),
        claims.aud.join(","),
        claims.sub.as_deref().unwrap_or("-"),
        claims.exp.map(|e| e.to_string()).unwrap_or("-".into()),
        claims.iat.map(|e| e.to_string()).unwrap_or("-".into()),
        claims.alg.as_deref().unwrap_or("-"),
        claims.kid.as_deref().unwrap_or("-"),
    );
    match claims.exp.map(|exp| (exp, jwt::expired_for(exp, now()))) {
        Some((_, Some(seconds_ago))) => {
            let stop = run.fail(StepId::Jwt, TITLE, Problem::Expired { seconds_ago, refreshable });
            run.amend_last(|d| format!("{d} ({detail})"));
            Err(stop)
        }
        None => Err(run.fail(
            StepId::Jwt,
            TITLE,
            Problem::NotAJwt { reason: "it has no `exp` claim".into(), access_token },
        )),
        _ => {
            run.step(StepId::Jwt, TITLE, StepStatus::Ok, detail);
            Ok(jwt)
        }
    }
}

fn claims_of(jwt: &UnverifiedJwt, subject_claim: &str) -> Claims {
    Claims {
        iss: jwt.str_claim("iss").map(String::from),
        aud: jwt.audiences(),
        sub: jwt.str_claim("sub").map(String::from),
        subject_claim: subject_claim.into(),
        subject: jwt.str_claim(subject_claim).map(String::from),
        exp: jwt.exp(),
        iat: jwt.iat(),
        alg: jwt.alg().map(String::from),
        kid: jwt.kid().map(String::from),
    }
}

/// The signature step: alg, kid and signature against the issuer's JWKS.
pub(super) fn signature(
    jwt: &UnverifiedJwt,
    subject: &Secret,
    jwks: &JwkSet,
    run: &mut Run,
) -> Result<(), Stopped> {
    const TITLE: &str = "Signature";
    if let Some(p) = signature_problem(jwt, subject.secret(), jwks) {
        return Err(run.fail(StepId::Signature, TITLE, p));
    }
    run.step(
        StepId::Signature,
        TITLE,
        StepStatus::Ok,
        format!(
            "{} with key {} from the issuer's JWKS; the signature verifies",
            jwt.alg().unwrap_or("-"),
            jwt.kid().unwrap_or("(only key)")
        ),
    );
    Ok(())
}

/// alg, kid and signature; `None` when all is well.
fn signature_problem(jwt: &UnverifiedJwt, token: &str, jwks: &JwkSet) -> Option<Problem> {
    let alg = match jwt.alg() {
        Some("RS256") => jsonwebtoken::Algorithm::RS256,
        Some("ES256") => jsonwebtoken::Algorithm::ES256,
        other => return Some(Problem::AlgorithmNotAllowed { alg: other.unwrap_or("(missing)").into() }),
    };
    let jwk = match jwt.kid() {
        Some(kid) => match jwks.find(kid) {
            Some(k) => k,
            None => return Some(Problem::UnknownKid { kid: kid.into(), known: key_ids(jwks) }),
        },
        None if jwks.keys.len() == 1 => &jwks.keys[0],
        None => {
            return Some(Problem::UnknownKid {
                kid: "(none in the token header)".into(),
                known: key_ids(jwks),
            });
        }
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_jwk(jwk) else {
        return Some(Problem::BadSignature);
    };
    let mut v = jsonwebtoken::Validation::new(alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    match jsonwebtoken::decode::<serde_json::Value>(token.trim(), &key, &v) {
        Ok(_) => None,
        Err(_) => Some(Problem::BadSignature),
    }
}
