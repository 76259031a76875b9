use axum::http::{HeaderMap, HeaderValue, Method};

use super::secrets::is_path_secret;
use super::*;
use lakepass_config::{Config, Workspace};

fn workspaces() -> Vec<Workspace> {
    let text = "[idp.i]\nissuer = \"https://idp.example\"\nclient_id = \"c\"\n\
                [workspace.dev]\nidp = \"i\"\nhost = \"https://dev.example\"\n\
                [workspace.prod]\nidp = \"i\"\nhost = \"https://prod.example\"\n";
    Config::parse(text, std::path::Path::new("t.toml")).unwrap().workspaces().unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn authorize_accepts_only_the_exact_request() {
    let wss = workspaces();
    let (a, b) = (new_path_secret(), new_path_secret());
    let secrets = vec![("dev".to_string(), a.clone()), ("prod".to_string(), b.clone())];
    let good = [("host", "127.0.0.1:8731"), (VERSION_HEADER, "1"), (HOST_HEADER, "https://DEV.example/")];
    let path = format!("/dev/{}", a.secret());
    let ok = authorize(&Method::GET, &path.parse().unwrap(), &headers(&good), &secrets, &wss).unwrap();
    assert_eq!(ok.name, "dev");
    let check = |m: &Method, p: &str, h: &[(&str, &str)]| {
        authorize(m, &p.parse().unwrap(), &headers(h), &secrets, &wss).unwrap_err()
    };
    // An absolute-form target and two Host headers (the first one loopback) are refused.
    let absolute = format!("http://127.0.0.1:8731{path}");
    assert_eq!(check(&Method::GET, &absolute, &good), Refusal::AbsoluteTarget);
    let mut two_hosts = headers(&good);
    two_hosts.append("host", HeaderValue::from_static("evil.example"));
    let err = authorize(&Method::GET, &path.parse().unwrap(), &two_hosts, &secrets, &wss).unwrap_err();
    assert_eq!(err, Refusal::DuplicateHost);
    assert_eq!(check(&Method::POST, &path, &good), Refusal::Method);
    let mut with_origin = good.to_vec();
    with_origin.push(("origin", "https://evil.example"));
    assert_eq!(check(&Method::GET, &path, &with_origin), Refusal::Browser);
    let rebinding =
        [("host", "evil.example:8731"), (VERSION_HEADER, "1"), (HOST_HEADER, "https://dev.example")];
    assert_eq!(check(&Method::GET, &path, &rebinding), Refusal::NotLoopback);
    assert_eq!(check(&Method::GET, &format!("/dev/{}", b.secret()), &good), Refusal::NotFound);
    assert_eq!(check(&Method::GET, &format!("/prod/{}", a.secret()), &good), Refusal::NotFound);
    assert_eq!(check(&Method::GET, "/dev/", &good), Refusal::NotFound);
    assert_eq!(check(&Method::GET, &format!("/dev/{}x", a.secret()), &good), Refusal::NotFound);
    assert_eq!(check(&Method::GET, &path, &good[..1]), Refusal::Version);
    let v2 = [("host", "localhost"), (VERSION_HEADER, "2"), (HOST_HEADER, "https://dev.example")];
    assert_eq!(check(&Method::GET, &path, &v2), Refusal::Version);
    assert_eq!(check(&Method::GET, &path, &good[..2]), Refusal::MissingHost);
    let other = [("host", "[::1]:1"), (VERSION_HEADER, "1"), (HOST_HEADER, "https://prod.example")];
    assert_eq!(check(&Method::GET, &path, &other), Refusal::HostMismatch);
}

#[test]
fn loopback_authorities() {
    for ok in ["127.0.0.1", "127.0.0.1:8731", "localhost:1", "LOCALHOST", "[::1]", "[::1]:80", "127.1.2.3:9"]
    {
        assert!(is_loopback_authority(ok), "{ok}");
    }
    for bad in [
        "evil.example",
        "127.0.0.1.evil.example",
        "localhost.evil:80",
        "[::2]:1",
        "127.0.0.1:x",
        "10.0.0.1",
        "",
        "localhost:",
        "[::1]x",
    ] {
        assert!(!is_loopback_authority(bad), "{bad}");
    }
}

#[test]
fn path_secrets_are_long_random_and_url_safe() {
    let a = new_path_secret();
    assert_eq!(a.secret().len(), 43);
    assert!(is_path_secret(&a));
    assert_ne!(a, new_path_secret());
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"abc", b"ab"));
    assert_eq!(format!("{:?}", service_url(1, "dev", &a)), "[redacted]");
}
