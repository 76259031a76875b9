//! Workspace and IdP hosts: normalised and validated before any request is made.
//!
//! A host decides where a token is sent, so it is parsed once into a [`WorkspaceHost`] and only
//! that type reaches the network code. Rules: `https` only, except `http` on a loopback address
//! (the devstack); no user info (`https://evil.com@ws`), no path beyond `/`, no query or
//! fragment; ASCII names only (no homographs). The normal form has no trailing slash, a
//! lowercase name and no default port, so the same workspace always maps to the same vault key.
//!
//! A workspace URL as the browser shows it (`https://adb-1.2.azuredatabricks.net/?o=1#job/5`,
//! `https://x.cloud.databricks.com/browse/folders/1?o=42`) is read by [`WorkspaceUrl::parse`]
//! where a person types one (`workspace add`): the path, query and fragment go, `?o=` is kept as
//! the workspace id, and every other rule stays.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// Why a host was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostError {
    /// Not a URL at all.
    #[error("`{input}` is not a valid host URL: {reason}")]
    Invalid {
        /// What the user wrote.
        input: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A scheme other than https (or http on loopback).
    #[error("`{input}` must use https:// (plain http is only allowed for 127.0.0.1/localhost)")]
    Scheme {
        /// What the user wrote.
        input: String,
    },
    /// user:password@ in the URL.
    #[error("`{input}` contains user info before `@`; write just https://<workspace-host>")]
    UserInfo {
        /// What the user wrote.
        input: String,
    },
    /// A path, query or fragment.
    #[error("`{input}` has a path, query or fragment; write just https://<workspace-host>")]
    Path {
        /// What the user wrote.
        input: String,
    },
    /// Non-ASCII name.
    #[error("`{input}` contains non-ASCII characters; workspace hosts are plain ASCII names")]
    NonAscii {
        /// What the user wrote.
        input: String,
    },
    /// A browser URL whose `?o=` is not a workspace id.
    #[error("`{input}` has `?o=` that is not a numeric workspace id")]
    WorkspaceId {
        /// What the user wrote.
        input: String,
    },
}

/// A validated, normalised `scheme://host[:port]` of a Databricks workspace (or an IdP origin).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct WorkspaceHost(String);

impl WorkspaceHost {
    /// Parses and validates `input`. A bare name gets `https://`.
    pub fn parse(input: &str) -> Result<Self, HostError> {
        let url = parse_url(input)?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(HostError::Path { input: input.into() });
        }
        let Some(host) = url.host_str() else {
            return Err(HostError::Invalid { input: input.into(), reason: "no host name".into() });
        };
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            _ => return Err(HostError::Scheme { input: input.into() }),
        }
        let mut out = format!("{}://{}", url.scheme(), host.to_ascii_lowercase());
        if let Some(port) = url.port() {
            out.push_str(&format!(":{port}"));
        }
        Ok(WorkspaceHost(out))
    }

    /// What `input` most likely meant, when [`WorkspaceHost::parse`] refuses it: the same
    /// host with the path, query, fragment and user info dropped and `https://` (a workspace
    /// URL copied from the browser's address bar). `None` when no host name can be found.
    pub fn cleaned(input: &str) -> Option<WorkspaceHost> {
        let t = input.trim();
        let with_scheme = if t.contains("://") { t.to_string() } else { format!("https://{t}") };
        let url = Url::parse(&with_scheme).ok()?;
        let host = url.host_str()?;
        let scheme = if url.scheme() == "http" && is_loopback(host) { "http" } else { "https" };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        WorkspaceHost::parse(&format!("{scheme}://{host}{port}")).ok()
    }

    /// The normal form, `scheme://host[:port]`, no trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self` joined with an absolute path such as `/oidc/v1/token`.
    pub fn join(&self, path: &str) -> String {
        debug_assert!(path.starts_with('/'));
        format!("{}{}", self.0, path)
    }

    /// True for the devstack and other servers on this machine.
    pub fn is_loopback(&self) -> bool {
        Url::parse(&self.0).ok().and_then(|u| u.host_str().map(is_loopback)).unwrap_or(false)
    }
}

/// A workspace URL as pasted from the browser: the host, and the workspace id of its `?o=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceUrl {
    /// The workspace host (path, query and fragment dropped).
    pub host: WorkspaceHost,
    /// The numeric workspace id (`?o=` on Azure and in links the workspace UI shares).
    pub workspace_id: Option<u64>,
}

impl WorkspaceUrl {
    /// Reads `input` as [`WorkspaceHost::parse`] does, except that a path, query and fragment
    /// are dropped, `?o=<digits>` becomes the workspace id and any other `o` is refused. Scheme,
    /// user info and non-ASCII names are refused as strictly as ever.
    pub fn parse(input: &str) -> Result<Self, HostError> {
        let url = parse_url(input)?;
        let workspace_id = match url.query_pairs().find(|(k, _)| k == "o") {
            None => None,
            Some((_, v)) => {
                Some(v.parse::<u64>().map_err(|_| HostError::WorkspaceId { input: input.into() })?)
            }
        };
        let Some(host) = url.host_str() else {
            return Err(HostError::Invalid { input: input.into(), reason: "no host name".into() });
        };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let host = WorkspaceHost::parse(&format!("{}://{host}{port}", url.scheme()))
            .map_err(|e| with_input(e, input))?;
        Ok(WorkspaceUrl { host, workspace_id })
    }
}

/// The first checks both parsers share: ASCII only, `https://` when no scheme is given, a URL
/// that parses, and no user info.
fn parse_url(input: &str) -> Result<Url, HostError> {
    let trimmed = input.trim();
    if !trimmed.is_ascii() {
        return Err(HostError::NonAscii { input: input.into() });
    }
    let with_scheme =
        if trimmed.contains("://") { trimmed.to_string() } else { format!("https://{trimmed}") };
    let url = Url::parse(&with_scheme)
        .map_err(|e| HostError::Invalid { input: input.into(), reason: e.to_string() })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(HostError::UserInfo { input: input.into() });
    }
    Ok(url)
}

/// `e`, naming what the user wrote rather than the URL rebuilt from it.
fn with_input(e: HostError, input: &str) -> HostError {
    let input = input.to_string();
    match e {
        HostError::Invalid { reason, .. } => HostError::Invalid { input, reason },
        HostError::Scheme { .. } => HostError::Scheme { input },
        HostError::UserInfo { .. } => HostError::UserInfo { input },
        HostError::Path { .. } => HostError::Path { input },
        HostError::NonAscii { .. } => HostError::NonAscii { input },
        HostError::WorkspaceId { .. } => HostError::WorkspaceId { input },
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

impl fmt::Display for WorkspaceHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WorkspaceHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkspaceHost({})", self.0)
    }
}

impl std::str::FromStr for WorkspaceHost {
    type Err = HostError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The rule for every URL Lakepass sends a secret to that is not a workspace (an issuer, the
/// endpoints its discovery document names): `https://`, or plain `http://` only on a loopback
/// host (the devstack); a host, and no user info. Returns why not, in words.
pub fn check_secure_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("`{url}` is not a valid URL ({e})"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(format!("`{url}` must use https:// (plain http only on 127.0.0.1/localhost)")),
    }
    if parsed.host().is_none() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("`{url}` needs a host name and no user info"));
    }
    Ok(parsed)
}

/// The DNS zones of Databricks workspaces, production deployments only, as the Databricks SDKs
/// list them: databricks/databricks-sdk-go `common/environment/environments.go` (`envs`: AWS
/// `.cloud.databricks.com` and `.cloud.databricks.us`, Azure `.azuredatabricks.net`,
/// `.databricks.azure.us` and `.databricks.azure.cn`, GCP `.gcp.databricks.com`; the `.dev.` and
/// `.staging.` zones beside them are Databricks' own test deployments and left out), and
/// databricks/databricks-sdk-java `NEXT_CHANGELOG.md`, release v0.51.0: "Added support for
/// .cloud.databricks.mil domains (#435)" (AWS GovCloud DoD).
pub const DATABRICKS_DNS_ZONES: &[&str] = &[
    ".cloud.databricks.com",
    ".cloud.databricks.us",
    ".cloud.databricks.mil",
    ".azuredatabricks.net",
    ".databricks.azure.us",
    ".databricks.azure.cn",
    ".gcp.databricks.com",
];

impl WorkspaceHost {
    /// True for an `https` host inside one of [`DATABRICKS_DNS_ZONES`]: a Databricks workspace
    /// domain, which may be sent the user's IdP token without asking. Any other host (a loopback
    /// address included: another local user may hold the port) must be confirmed by name.
    pub fn is_databricks_domain(&self) -> bool {
        let Ok(url) = Url::parse(&self.0) else { return false };
        let Some(name) = url.host_str().filter(|_| url.scheme() == "https") else { return false };
        DATABRICKS_DNS_ZONES.iter().any(|zone| name.len() > zone.len() && name.ends_with(zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databricks_domains_are_the_sdks_zones_and_nothing_that_only_looks_like_them() {
        for good in [
            "https://adb-123.4.azuredatabricks.net",
            "https://dbc-1.cloud.databricks.com",
            "https://x.cloud.databricks.us:443",
            "https://x.cloud.databricks.mil",
            "https://adb-1.databricks.azure.cn",
            "https://adb-1.databricks.azure.us",
            "https://1.2.gcp.databricks.com",
        ] {
            assert!(WorkspaceHost::parse(good).unwrap().is_databricks_domain(), "{good}");
        }
        for bad in [
            "https://azuredatabricks.net",
            "https://evil-azuredatabricks.net",
            "https://adb-1.azuredatabricks.net.evil.example",
            "https://cloud.databricks.com.evil.example",
            "https://databricks.com",
            "https://x.dev.databricks.com",
            "http://127.0.0.1:8080",
            "http://localhost:9000",
            "https://evil.example",
        ] {
            assert!(!WorkspaceHost::parse(bad).unwrap().is_databricks_domain(), "{bad}");
        }
    }

    #[test]
    fn a_refused_host_suggests_the_cleaned_one() {
        let cleaned = |i: &str| WorkspaceHost::cleaned(i).map(|h| h.to_string());
        let copied = "https://adb-123.4.azuredatabricks.net/?o=123#";
        assert!(WorkspaceHost::parse(copied).is_err());
        assert_eq!(cleaned(copied).as_deref(), Some("https://adb-123.4.azuredatabricks.net"));
        assert_eq!(cleaned("http://dev.example/browse").as_deref(), Some("https://dev.example"));
        assert_eq!(cleaned("https://me@ws.example:8443/x").as_deref(), Some("https://ws.example:8443"));
        assert_eq!(cleaned("http://127.0.0.1:9/x").as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(cleaned("://"), None);
    }

    #[test]
    fn normalises_good_hosts() {
        for (input, want) in [
            ("adb-1.azuredatabricks.net", "https://adb-1.azuredatabricks.net"),
            ("https://ADB-1.azuredatabricks.net/", "https://adb-1.azuredatabricks.net"),
            ("  https://x.cloud.databricks.com  ", "https://x.cloud.databricks.com"),
            ("https://x.cloud.databricks.com:443", "https://x.cloud.databricks.com"),
            ("https://x.example:8443", "https://x.example:8443"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://localhost:9/", "http://localhost:9"),
            ("http://[::1]:7000", "http://[::1]:7000"),
        ] {
            assert_eq!(WorkspaceHost::parse(input).unwrap().as_str(), want, "{input}");
        }
    }

    #[test]
    fn refuses_hostile_hosts() {
        let bad = [
            ("https://evil.com@ws.cloud.databricks.com", "user info"),
            ("https://ws.cloud.databricks.com/api", "path"),
            ("https://ws.cloud.databricks.com/?x=1", "path"),
            ("https://ws.cloud.databricks.com/#f", "path"),
            ("http://ws.cloud.databricks.com", "https"),
            ("http://127.0.0.1.evil.com", "https"),
            ("ftp://ws.cloud.databricks.com", "https"),
            ("https://wѕ.cloud.databricks.com", "ASCII"),
            ("https://", "not a valid"),
            ("", "not a valid"),
        ];
        for (input, needle) in bad {
            let err = WorkspaceHost::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn browser_urls_give_the_host_and_the_workspace_id() {
        for (input, host, id) in [
            (
                "https://adb-123.4.azuredatabricks.net/?o=123#job/5",
                "https://adb-123.4.azuredatabricks.net",
                Some(123),
            ),
            (
                "https://x.cloud.databricks.com/browse/folders/1?o=42",
                "https://x.cloud.databricks.com",
                Some(42),
            ),
            ("x.cloud.databricks.com/sql/editor", "https://x.cloud.databricks.com", None),
            ("https://x.cloud.databricks.com", "https://x.cloud.databricks.com", None),
            ("http://127.0.0.1:8401/?o=7", "http://127.0.0.1:8401", Some(7)),
        ] {
            let u = WorkspaceUrl::parse(input).unwrap();
            assert_eq!((u.host.as_str(), u.workspace_id), (host, id), "{input}");
        }
        for (input, needle) in [
            ("http://x.cloud.databricks.com/?o=1", "https"),
            ("https://evil.com@x.cloud.databricks.com/?o=1", "user info"),
            ("https://x.cloud.databricks.com/?o=abc", "workspace id"),
            ("https://wѕ.cloud.databricks.com/?o=1", "ASCII"),
            ("ftp://x.cloud.databricks.com/", "https"),
        ] {
            let err = WorkspaceUrl::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(input), "{input}: {err}");
        }
    }

    #[test]
    fn loopback_is_recognised() {
        assert!(WorkspaceHost::parse("http://127.0.0.1:1").unwrap().is_loopback());
        assert!(!WorkspaceHost::parse("x.example").unwrap().is_loopback());
    }
}
