use super::*;

#[test]
fn a_grant_never_debug_prints_its_key() {
    let g = ProxyGrant {
        base_url: Secret::new("http://127.0.0.1:9/the-secret-key"),
        host: WorkspaceHost::parse("https://ws.example").unwrap(),
    };
    assert!(!format!("{g:?}").contains("the-secret-key"), "{g:?}");
    assert_eq!(g.url("/ai-gateway/gemini").secret(), "http://127.0.0.1:9/the-secret-key/ai-gateway/gemini");
}

#[test]
fn grants_are_bounded_and_their_keys_are_path_secrets() {
    let mut grants = grants::Grants::default();
    let first = grants.add("dev");
    assert_eq!(first.secret().len(), 43);
    for _ in 0..MAX_GRANTS + 5 {
        grants.add("dev");
    }
    assert_eq!(grants.len(), MAX_GRANTS);
    assert!(!grants.keys().iter().any(|k| k.secret() == first.secret()), "the oldest grant is forgotten");
}
