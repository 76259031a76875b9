//! Which Claude models a workspace serves: asked at launch, the newest of each family pinned,
//! the answer cached for a day.
//!
//! Why ask: workspaces differ (a region without Opus, a newer Sonnet rolled out), and Claude
//! Code sends whatever `ANTHROPIC_DEFAULT_*_MODEL` names; a name the workspace does not serve is
//! a 404 on every turn. Databricks' own launcher, `ucode` (databricks/ucode `src/ucode/cli.py`,
//! "UC-first, best-effort"), asks in this order, and so do we:
//! 1. Unity Catalog's model-services listing, scoped to the `system.ai` schema:
//!    `GET <host>/api/2.1/unity-catalog/model-services?parent=schemas/system.ai&page_size=100`
//!    (then `&page_token=<next_page_token>` until none), `Authorization: Bearer <token>`; the
//!    answer is `{"model_services": [{"name": "model-services/system.ai.claude-opus-4-8", …}],
//!    "next_page_token": "…"}`, and the part after `model-services/` is the model id Claude Code
//!    sends to AI Gateway (databricks/ucode `src/ucode/databricks.py`, `list_model_services`:
//!    a bounded `page_size` is required, the endpoint 499s without one; names outside
//!    `system.ai.` are skipped).
//! 2. When that listing is missing, fails or names no Claude model: AI Gateway's
//!    `GET <host>/ai-gateway/anthropic/v1/models` (`discover_claude_models`), the reply in
//!    Anthropic's models-list shape (`data[].id`, docs.anthropic.com "List Models"), ids ending
//!    `-anthropic` skipped.
//! 3. A workspace without AI Gateway answers that with 404 (`FEATURE_DISABLED`, as in
//!    databricks/unity-gateway#53): then the pay-per-token endpoints are read from
//!    `GET /api/2.0/serving-endpoints` (names `databricks-claude-<family>-…`) and Claude Code goes
//!    to `/serving-endpoints/anthropic`, which takes those names as `model`.
//!
//! Ids are bucketed by `claude-<family>-` and the newest per family kept. Newest is read from
//! the version numbers in the id (`…-4-6` after `…-4-5`, `…-5` after both), not from string
//! order, so `4-10` comes after `4-9`.
//!
//! The pure parts ([`newest_per_family`], [`parse_model_ids`], [`parse_model_services`],
//! [`parse_endpoint_names`], [`gateway_missing`], [`cache_is_fresh`]) are unit-tested; [`discover`] and the cache file IO
//! are thin.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use lakepass_store::atomic::{create_private_dirs, write_atomic};
use lakepass_store::paths::sanitize;
use lakepass_wire::WorkspaceHost;
use lakepass_wire::http::{Http, HttpError, Response};
use lakepass_wire::secret::Secret;

/// The gateway path of current workspaces (AI Gateway).
pub(crate) const GATEWAY_BASE_PATH: &str = "/ai-gateway/anthropic";
/// The path of workspaces without AI Gateway; the endpoint name travels as `model`.
pub(crate) const SERVING_BASE_PATH: &str = "/serving-endpoints/anthropic";
/// Unity Catalog's model-services listing.
pub(crate) const MODEL_SERVICES_PATH: &str = "/api/2.1/unity-catalog/model-services";
/// The schema the listing is scoped to: Databricks' foundation models.
const MODEL_SERVICES_PARENT: &str = "schemas/system.ai";
/// Services per page: bounded, as the listing requires (ucode uses 100).
pub(crate) const MODEL_SERVICES_PAGE_SIZE: u32 = 100;
/// The most pages read before giving up on the listing (the first is normally all of it).
const MODEL_SERVICES_MAX_PAGES: usize = 20;
/// How long a discovered choice is used before the workspace is asked again: a day.
pub(crate) const CACHE_MAX_AGE_SECS: i64 = 86_400;

/// A Claude model family, as Claude Code's `ANTHROPIC_DEFAULT_<FAMILY>_MODEL` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Opus.
    Opus,
    /// Sonnet.
    Sonnet,
    /// Haiku.
    Haiku,
}

impl Family {
    /// Every family, largest first.
    pub const ALL: [Family; 3] = [Family::Opus, Family::Sonnet, Family::Haiku];

    /// `opus`, `sonnet` or `haiku`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Opus => "opus",
            Family::Sonnet => "sonnet",
            Family::Haiku => "haiku",
        }
    }
}

/// One model per family (any may be missing: not every workspace serves every family).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyModels {
    /// The Opus model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opus: Option<String>,
    /// The Sonnet model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sonnet: Option<String>,
    /// The Haiku model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub haiku: Option<String>,
    /// The newest OpenAI GPT model (`…gpt-5-2`), for Codex's Responses API: not a Claude family,
    /// so never a stand-in for one ([`FamilyModels::is_empty`] does not count it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpt: Option<String>,
}

impl FamilyModels {
    /// The model of `family`, if any.
    pub fn get(&self, family: Family) -> Option<&str> {
        match family {
            Family::Opus => self.opus.as_deref(),
            Family::Sonnet => self.sonnet.as_deref(),
            Family::Haiku => self.haiku.as_deref(),
        }
    }

    fn slot(&mut self, family: Family) -> &mut Option<String> {
        match family {
            Family::Opus => &mut self.opus,
            Family::Sonnet => &mut self.sonnet,
            Family::Haiku => &mut self.haiku,
        }
    }

    /// True when no family has a model.
    pub fn is_empty(&self) -> bool {
        Family::ALL.iter().all(|f| self.get(*f).is_none())
    }
}

/// What a workspace said it serves, and when: the content of the cache file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredModels {
    /// The workspace host asked (a changed host makes the cache stale).
    pub host: String,
    /// The configured `base_path` the question was asked for, if any (a change re-asks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_base_path: Option<String>,
    /// The gateway path that answered: [`GATEWAY_BASE_PATH`] or a serving-endpoints path.
    pub base_path: String,
    /// The newest model of each family.
    pub models: FamilyModels,
    /// When, as UNIX seconds.
    pub asked_at: i64,
}

/// Why the workspace could not say which models it serves. Launching goes on with fallback
/// names, and the warning says this.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The request failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The workspace answered with an error status.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the error body.
        body: String,
    },
    /// The answer was not the expected list.
    #[error("{url} did not answer a list of models")]
    Shape {
        /// The URL asked.
        url: String,
    },
    /// The list named no Claude model of any family.
    #[error("{url} lists no Claude model (opus, sonnet or haiku)")]
    NoClaude {
        /// The URL asked.
        url: String,
    },
}

/// The version numbers following `claude-<family>-` in `id` (`[4, 6]` for `…-opus-4-6`), or
/// `None` when `id` is not of that family. Ids ending `-anthropic` are Databricks' external
/// endpoints, not the pay-per-token models: ucode skips them, and so do we.
fn version_of(id: &str, family: Family) -> Option<Vec<u32>> {
    if id.ends_with("-anthropic") {
        return None;
    }
    let marker = format!("claude-{}-", family.name());
    let at = id.find(&marker)?;
    let version: Vec<u32> =
        id[at + marker.len()..].split('-').map_while(|part| part.parse::<u32>().ok()).collect();
    (!version.is_empty()).then_some(version)
}

/// The version numbers following `gpt-` in `id` (`[5, 2]` for `system.ai.gpt-5-2` or `gpt-5.2`),
/// or `None` when `id` names no GPT model: ucode buckets ids containing `gpt-` as Codex's
/// (databricks/ucode `src/ucode/databricks.py`, `classify_model_family`, and its version order,
/// `agents/codex.py` `_GPT_RE`); a version must follow (`gpt-oss-…` is an open-weights model
/// served on another path).
fn gpt_version(id: &str) -> Option<Vec<u32>> {
    let at = id.find("gpt-")?;
    let version: Vec<u32> =
        id[at + 4..].split(['-', '.']).map_while(|part| part.parse::<u32>().ok()).collect();
    (!version.is_empty()).then_some(version)
}

/// The newest GPT model among `ids`; the first listed wins a tie.
pub(crate) fn newest_gpt<'a>(ids: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(Vec<u32>, &str)> = None;
    for id in ids {
        if let Some(v) = gpt_version(id)
            && best.as_ref().is_none_or(|(b, _)| v > *b)
        {
            best = Some((v, id));
        }
    }
    best.map(|(_, id)| id.to_string())
}

/// The newest model of each family among `ids` (Claude's three and GPT); the first listed wins a
/// tie.
pub(crate) fn newest_per_family<'a>(ids: impl IntoIterator<Item = &'a str>) -> FamilyModels {
    let ids: Vec<&str> = ids.into_iter().collect();
    let mut out = FamilyModels { gpt: newest_gpt(ids.iter().copied()), ..FamilyModels::default() };
    for family in Family::ALL {
        let mut best: Option<(Vec<u32>, &str)> = None;
        for id in &ids {
            if let Some(v) = version_of(id, family)
                && best.as_ref().is_none_or(|(b, _)| v > *b)
            {
                best = Some((v, id));
            }
        }
        *out.slot(family) = best.map(|(_, id)| id.to_string());
    }
    out
}

/// The model ids of an Anthropic models-list body (`{"data": [{"id": …}, …]}`).
pub(crate) fn parse_model_ids(body: &[u8]) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let data = v.get("data")?.as_array()?;
    Some(data.iter().filter_map(|m| m.get("id")?.as_str().map(str::to_string)).collect())
}

/// One page of the model-services listing: the `system.ai.*` model ids it names (the name's
/// `model-services/` prefix dropped, other schemas skipped) and its `next_page_token`.
pub(crate) fn parse_model_services(body: &[u8]) -> Option<(Vec<String>, Option<String>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let services = match obj.get("model_services") {
        None => &Vec::new(),
        Some(list) => list.as_array()?,
    };
    let ids = services
        .iter()
        .filter_map(|s| s.get("name")?.as_str())
        .map(|n| n.trim().strip_prefix("model-services/").unwrap_or(n.trim()))
        .filter(|id| id.starts_with("system.ai."))
        .map(str::to_string)
        .collect();
    let next =
        obj.get("next_page_token").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
    Some((ids, next))
}

/// The endpoint names of a `GET /api/2.0/serving-endpoints` body (`{"endpoints": [{"name"}]}`;
/// a workspace with none may answer `{}`).
pub(crate) fn parse_endpoint_names(body: &[u8]) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let Some(list) = v.get("endpoints") else {
        return v.is_object().then(Vec::new);
    };
    Some(list.as_array()?.iter().filter_map(|e| e.get("name")?.as_str().map(str::to_string)).collect())
}

/// A Databricks REST error's `error_code` (the body `{"error_code": "…", "message": "…"}`), as
/// far as discovery tells them apart: a field of the body, parsed once, never its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiErrorCode {
    /// `FEATURE_DISABLED`: the workspace does not offer the feature (here: AI Gateway).
    FeatureDisabled,
    /// `ENDPOINT_NOT_FOUND`.
    EndpointNotFound,
    /// `RESOURCE_DOES_NOT_EXIST`.
    ResourceDoesNotExist,
    /// `PERMISSION_DENIED`.
    PermissionDenied,
    /// `UNAUTHENTICATED`.
    Unauthenticated,
    /// Any other code, as sent.
    Other(String),
}

impl ApiErrorCode {
    const NAMED: [(&'static str, ApiErrorCode); 5] = [
        ("FEATURE_DISABLED", ApiErrorCode::FeatureDisabled),
        ("ENDPOINT_NOT_FOUND", ApiErrorCode::EndpointNotFound),
        ("RESOURCE_DOES_NOT_EXIST", ApiErrorCode::ResourceDoesNotExist),
        ("PERMISSION_DENIED", ApiErrorCode::PermissionDenied),
        ("UNAUTHENTICATED", ApiErrorCode::Unauthenticated),
    ];

    /// The code named `code`.
    pub(crate) fn from_code(code: &str) -> Self {
        Self::NAMED
            .iter()
            .find(|(name, _)| *name == code)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| ApiErrorCode::Other(lakepass_wire::text::server_text(code)))
    }

    /// The `error_code` of an error body, if it has one.
    pub(crate) fn of_body(body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        v.get("error_code").and_then(Value::as_str).map(Self::from_code)
    }
}

/// True when an answer says the workspace has no AI Gateway: 404, or Databricks'
/// [`ApiErrorCode::FeatureDisabled`].
pub(crate) fn gateway_missing(resp: &Response) -> bool {
    resp.status.as_u16() == 404 || ApiErrorCode::of_body(&resp.body) == Some(ApiErrorCode::FeatureDisabled)
}

/// Asks `host` which Claude models it serves, with the workspace token as `Authorization:
/// Bearer`. `configured_base` is the `[claude.<ws>] base_path`, if set: a serving-endpoints path
/// is read from the endpoints list; another path from `<base>/v1/models`. Unset (or AI Gateway's
/// own path), Unity Catalog's model-services listing is asked first, then AI Gateway's models
/// list, and a workspace without AI Gateway falls back to `/serving-endpoints/anthropic`.
pub async fn discover(
    http: &Http,
    host: &WorkspaceHost,
    token: &Secret,
    configured_base: Option<&str>,
    now: i64,
) -> Result<DiscoveredModels, DiscoveryError> {
    let found = |base_path: &str, models| DiscoveredModels {
        host: host.as_str().to_string(),
        asked_base_path: configured_base.map(str::to_string),
        base_path: base_path.to_string(),
        models,
        asked_at: now,
    };
    if let Some(base) = configured_base.filter(|b| b.starts_with("/serving-endpoints")) {
        return Ok(found(base, serving_endpoint_models(http, host, token).await?));
    }
    let base = configured_base.unwrap_or(GATEWAY_BASE_PATH);
    if base == GATEWAY_BASE_PATH {
        match model_services(http, host, token).await {
            Ok(models) => return Ok(found(base, models)),
            Err(e) => {
                tracing::info!(host = %host.as_str(), error = %e, "no Claude model in the Unity Catalog listing; asking AI Gateway")
            }
        }
    }
    let url = format!("{}/v1/models", host.join(base));
    let resp = http.get(&url, Some(token)).await?;
    if !resp.is_success() {
        if configured_base.is_none() && gateway_missing(&resp) {
            tracing::info!(host = %host.as_str(), "no AI Gateway; reading the serving endpoints");
            return Ok(found(SERVING_BASE_PATH, serving_endpoint_models(http, host, token).await?));
        }
        return Err(status_error(url, &resp));
    }
    let ids = parse_model_ids(&resp.body).ok_or_else(|| DiscoveryError::Shape { url: url.clone() })?;
    let models = newest_per_family(ids.iter().map(String::as_str));
    if models.is_empty() {
        return Err(DiscoveryError::NoClaude { url });
    }
    Ok(found(base, models))
}

/// The newest Claude model per family in Unity Catalog's `system.ai` model services.
async fn model_services(
    http: &Http,
    host: &WorkspaceHost,
    token: &Secret,
) -> Result<FamilyModels, DiscoveryError> {
    let ids = list_model_services(http, host, token).await?;
    let models = newest_per_family(ids.iter().map(String::as_str));
    if models.is_empty() {
        return Err(DiscoveryError::NoClaude { url: host.join(MODEL_SERVICES_PATH) });
    }
    Ok(models)
}

/// Every model id in Unity Catalog's `system.ai` model services (`system.ai.…`), read page by
/// page (a page token seen twice ends it).
pub(crate) async fn list_model_services(
    http: &Http,
    host: &WorkspaceHost,
    token: &Secret,
) -> Result<Vec<String>, DiscoveryError> {
    let base = host.join(MODEL_SERVICES_PATH);
    let page_url = |page_token: Option<&str>| -> Result<String, DiscoveryError> {
        let mut u = reqwest::Url::parse(&base).map_err(|_| DiscoveryError::Shape { url: base.clone() })?;
        u.query_pairs_mut()
            .append_pair("parent", MODEL_SERVICES_PARENT)
            .append_pair("page_size", &MODEL_SERVICES_PAGE_SIZE.to_string());
        if let Some(t) = page_token {
            u.query_pairs_mut().append_pair("page_token", t);
        }
        Ok(u.to_string())
    };
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut url = page_url(None)?;
    for _ in 0..MODEL_SERVICES_MAX_PAGES {
        let resp = http.get(&url, Some(token)).await?;
        if !resp.is_success() {
            return Err(status_error(url, &resp));
        }
        let (page, next) =
            parse_model_services(&resp.body).ok_or_else(|| DiscoveryError::Shape { url: url.clone() })?;
        ids.extend(page);
        match next {
            Some(t) if seen.insert(t.clone()) => url = page_url(Some(&t))?,
            _ => break,
        }
    }
    Ok(ids)
}

async fn serving_endpoint_models(
    http: &Http,
    host: &WorkspaceHost,
    token: &Secret,
) -> Result<FamilyModels, DiscoveryError> {
    let url = host.join("/api/2.0/serving-endpoints");
    let resp = http.get(&url, Some(token)).await?;
    if !resp.is_success() {
        return Err(status_error(url, &resp));
    }
    let names = parse_endpoint_names(&resp.body).ok_or_else(|| DiscoveryError::Shape { url: url.clone() })?;
    let models =
        newest_per_family(names.iter().map(String::as_str).filter(|n| n.starts_with("databricks-claude-")));
    if models.is_empty() {
        return Err(DiscoveryError::NoClaude { url });
    }
    Ok(models)
}

fn status_error(url: String, resp: &Response) -> DiscoveryError {
    DiscoveryError::Status { url, status: resp.status.as_u16(), body: resp.body_excerpt() }
}

/// Where workspace `workspace`'s choice is cached: next to the state file.
pub(crate) fn cache_path(data_dir: &Path, workspace: &str) -> PathBuf {
    data_dir.join(format!("claude-models-{}.json", sanitize(workspace)))
}

/// True when `cached` answers the same question (host and configured base path) and is less
/// than [`CACHE_MAX_AGE_SECS`] old (a time ahead of `now` — a clock set back — is stale too).
pub(crate) fn cache_is_fresh(
    cached: &DiscoveredModels,
    host: &WorkspaceHost,
    configured_base: Option<&str>,
    now: i64,
) -> bool {
    cached.host == host.as_str()
        && cached.asked_base_path.as_deref() == configured_base
        && cached.asked_at <= now
        && now - cached.asked_at < CACHE_MAX_AGE_SECS
        && !cached.models.is_empty()
}

/// The cached choice at `path`, if readable and fresh for this question.
pub(crate) fn read_cache(
    path: &Path,
    host: &WorkspaceHost,
    configured_base: Option<&str>,
    now: i64,
) -> Option<DiscoveredModels> {
    let text = std::fs::read(path).ok()?;
    let cached: DiscoveredModels = serde_json::from_slice(&text).ok()?;
    cache_is_fresh(&cached, host, configured_base, now).then_some(cached)
}

/// Writes `found` to `path` atomically, 0600 (it names nothing secret, but it is the user's).
pub fn write_cache<T: Serialize>(path: &Path, found: &T) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dirs(dir)?;
    }
    let mut text = serde_json::to_vec_pretty(found).map_err(std::io::Error::other)?;
    text.push(b'\n');
    write_atomic(path, &text, 0o600)
}

/// Workspace `workspace`'s models: from its cache file under `data_dir` while fresh, else asked
/// ([`discover`]) and cached. A cache that cannot be written is logged, not fatal: the launch
/// only asks again next time.
pub(crate) async fn cached_or_discover(
    http: &Http,
    data_dir: &Path,
    workspace: &str,
    host: &WorkspaceHost,
    token: &Secret,
    configured_base: Option<&str>,
    now: i64,
) -> Result<DiscoveredModels, DiscoveryError> {
    let path = cache_path(data_dir, workspace);
    if let Some(cached) = read_cache(&path, host, configured_base, now) {
        return Ok(cached);
    }
    let found = discover(http, host, token, configured_base, now).await?;
    if let Err(e) = write_cache(&path, &found) {
        tracing::warn!(path = %path.display(), error = %e, "cannot cache the Claude model choice");
    }
    Ok(found)
}

/// What a workspace's model-services listing named, and when: the content of the listing cache
/// file, which agents that pick by their own rules (Gemini CLI's newest Pro) read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedModels {
    /// The workspace host asked (a changed host makes the cache stale).
    pub host: String,
    /// Every `system.ai.…` model id listed.
    pub ids: Vec<String>,
    /// When, as UNIX seconds.
    pub asked_at: i64,
}

/// Where workspace `workspace`'s model-services listing is cached: next to the state file.
pub(crate) fn listing_cache_path(data_dir: &Path, workspace: &str) -> PathBuf {
    data_dir.join(format!("model-services-{}.json", sanitize(workspace)))
}

/// True when `cached` is `host`'s listing, names a model, and is less than
/// [`CACHE_MAX_AGE_SECS`] old (a time ahead of `now` is stale too).
pub(crate) fn listing_is_fresh(cached: &ListedModels, host: &WorkspaceHost, now: i64) -> bool {
    cached.host == host.as_str()
        && cached.asked_at <= now
        && now - cached.asked_at < CACHE_MAX_AGE_SECS
        && !cached.ids.is_empty()
}

/// Workspace `workspace`'s model-services listing: from its cache file under `data_dir` while
/// fresh, else asked ([`list_model_services`]) and cached for a day. An empty listing is not
/// cached (the next launch asks again), nor is a failure; a cache that cannot be written is
/// logged, not fatal.
pub(crate) async fn cached_listing(
    http: &Http,
    data_dir: &Path,
    workspace: &str,
    host: &WorkspaceHost,
    token: &Secret,
    now: i64,
) -> Result<ListedModels, DiscoveryError> {
    let path = listing_cache_path(data_dir, workspace);
    let cached = std::fs::read(&path).ok().and_then(|t| serde_json::from_slice::<ListedModels>(&t).ok());
    if let Some(cached) = cached.filter(|c| listing_is_fresh(c, host, now)) {
        return Ok(cached);
    }
    let ids = list_model_services(http, host, token).await?;
    let listed = ListedModels { host: host.as_str().to_string(), ids, asked_at: now };
    if !listed.ids.is_empty()
        && let Err(e) = write_cache(&path, &listed)
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot cache the model-services listing");
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_per_family_reads_versions_not_string_order() {
        let ids = [
            "databricks-claude-sonnet-4-5",
            "databricks-claude-sonnet-4-10",
            "databricks-claude-sonnet-4-9",
            "databricks-claude-opus-4-6",
            "databricks-claude-opus-5",
            "databricks-claude-opus-4-1-anthropic",
            "databricks-claude-opus-9-anthropic",
            "databricks-gpt-5",
            "system.ai.claude-haiku-4-5",
        ];
        let m = newest_per_family(ids);
        assert_eq!(m.sonnet.as_deref(), Some("databricks-claude-sonnet-4-10"));
        assert_eq!(m.opus.as_deref(), Some("databricks-claude-opus-5"), "5 after 4.6; -anthropic skipped");
        assert_eq!(m.haiku.as_deref(), Some("system.ai.claude-haiku-4-5"));
        assert!(newest_per_family(["databricks-gpt-5", "claude-opus-x"]).is_empty(), "GPT is not Claude");
        assert_eq!(m.gpt.as_deref(), Some("databricks-gpt-5"));
        // A tie keeps the first listed.
        let tie = newest_per_family(["databricks-claude-haiku-4-5", "system.ai.claude-haiku-4-5"]);
        assert_eq!(tie.haiku.as_deref(), Some("databricks-claude-haiku-4-5"));
    }

    #[test]
    fn newest_gpt_reads_versions_and_skips_what_is_not_a_gpt_version() {
        let ids =
            ["system.ai.gpt-5", "system.ai.gpt-5-2", "system.ai.gpt-5.1", "system.ai.gpt-oss-120b", "x"];
        assert_eq!(newest_gpt(ids).as_deref(), Some("system.ai.gpt-5-2"));
        assert_eq!(
            newest_gpt(["databricks-gpt-4-10", "databricks-gpt-4-9"]).as_deref(),
            Some("databricks-gpt-4-10")
        );
        assert_eq!(newest_gpt(["system.ai.gpt-oss-20b", "system.ai.claude-opus-4-6"]), None);
    }

    #[test]
    fn parses_anthropics_model_list_and_the_endpoints_list() {
        let list =
            br#"{"data":[{"type":"model","id":"a","display_name":"A","created_at":"2026-01-01T00:00:00Z"},
            {"type":"model","id":"b"}],"has_more":false,"first_id":"a","last_id":"b"}"#;
        assert_eq!(parse_model_ids(list), Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(parse_model_ids(b"{\"models\": []}"), None);
        assert_eq!(parse_model_ids(b"<html>"), None);
        assert_eq!(
            parse_endpoint_names(br#"{"endpoints":[{"name":"x"},{"id":1}]}"#),
            Some(vec!["x".to_string()])
        );
        assert_eq!(parse_endpoint_names(b"{}"), Some(vec![]));
        assert_eq!(parse_endpoint_names(b"[]"), None);
    }

    #[test]
    fn parses_the_model_services_listing_as_ucode_reads_it() {
        let page = br#"{"model_services":[{"name":"model-services/system.ai.claude-opus-4-8"},
            {"name":"model-services/main.me.claude-opus-9"},{"name":"system.ai.gpt-5"},{"id":3}],
            "next_page_token":"p2"}"#;
        let (ids, next) = parse_model_services(page).unwrap();
        assert_eq!(ids, ["system.ai.claude-opus-4-8", "system.ai.gpt-5"], "other schemas skipped");
        assert_eq!(next.as_deref(), Some("p2"));
        assert_eq!(parse_model_services(br#"{"next_page_token":""}"#), Some((vec![], None)));
        assert_eq!(parse_model_services(b"[]"), None);
        assert_eq!(parse_model_services(br#"{"model_services":{}}"#), None);
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            status: reqwest::StatusCode::from_u16(status).unwrap(),
            date: None,
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn api_error_codes_are_parsed_from_the_body_field() {
        for (name, code) in ApiErrorCode::NAMED {
            assert_eq!(ApiErrorCode::from_code(name), code);
        }
        assert_eq!(
            ApiErrorCode::of_body(br#"{"error_code":"FEATURE_DISABLED","message":"x"}"#),
            Some(ApiErrorCode::FeatureDisabled)
        );
        assert_eq!(
            ApiErrorCode::of_body(br#"{"error_code":"NEW_ONE"}"#),
            Some(ApiErrorCode::Other("NEW_ONE".into()))
        );
        // The text of the message is never the code.
        assert_eq!(ApiErrorCode::of_body(br#"{"message":"FEATURE_DISABLED"}"#), None);
        assert_eq!(ApiErrorCode::of_body(b"FEATURE_DISABLED"), None);
    }

    #[test]
    fn a_missing_gateway_is_a_404_or_feature_disabled() {
        assert!(gateway_missing(&response(404, "")));
        assert!(gateway_missing(&response(
            400,
            r#"{"error_code":"FEATURE_DISABLED","message":"AI Gateway is not available for this workspace."}"#
        )));
        assert!(!gateway_missing(&response(401, r#"{"error_code":"UNAUTHENTICATED"}"#)));
        assert!(!gateway_missing(&response(500, "oops")));
    }

    #[test]
    fn the_listing_cache_is_the_same_hosts_non_empty_listing_for_a_day() {
        let host = WorkspaceHost::parse("https://adb-1.azuredatabricks.net").unwrap();
        let listed = ListedModels {
            host: host.as_str().into(),
            ids: vec!["system.ai.gemini-2-5-pro".into()],
            asked_at: 1_000_000,
        };
        assert!(listing_is_fresh(&listed, &host, 1_000_000 + CACHE_MAX_AGE_SECS - 1));
        assert!(!listing_is_fresh(&listed, &host, 1_000_000 + CACHE_MAX_AGE_SECS), "a day old: ask again");
        assert!(!listing_is_fresh(&listed, &host, 999_999), "from the future: the clock moved back");
        let other = WorkspaceHost::parse("https://adb-2.azuredatabricks.net").unwrap();
        assert!(!listing_is_fresh(&listed, &other, 1_000_001), "another host");
        let empty = ListedModels { ids: vec![], ..listed };
        assert!(!listing_is_fresh(&empty, &host, 1_000_001), "an empty listing is asked again");
        assert_eq!(
            listing_cache_path(Path::new("/d"), "my ws"),
            Path::new("/d/model-services-my_ws.json"),
            "one file per workspace, its name made safe"
        );
    }

    #[test]
    fn the_cache_answers_the_same_question_for_a_day() {
        let host = WorkspaceHost::parse("https://adb-1.azuredatabricks.net").unwrap();
        let found = DiscoveredModels {
            host: host.as_str().into(),
            asked_base_path: None,
            base_path: GATEWAY_BASE_PATH.into(),
            models: newest_per_family(["databricks-claude-sonnet-4-5"]),
            asked_at: 1_000_000,
        };
        assert!(cache_is_fresh(&found, &host, None, 1_000_000 + CACHE_MAX_AGE_SECS - 1));
        assert!(!cache_is_fresh(&found, &host, None, 1_000_000 + CACHE_MAX_AGE_SECS), "a day old: ask again");
        assert!(!cache_is_fresh(&found, &host, None, 999_000), "from the future: the clock moved back");
        assert!(!cache_is_fresh(&found, &host, Some(SERVING_BASE_PATH), 1_000_001), "another question");
        let other = WorkspaceHost::parse("https://adb-2.azuredatabricks.net").unwrap();
        assert!(!cache_is_fresh(&found, &other, None, 1_000_001));

        let dir = tempfile::tempdir().unwrap();
        let path = cache_path(&dir.path().join("data"), "my ws");
        assert_eq!(path.file_name().unwrap(), "claude-models-my_ws.json");
        write_cache(&path, &found).unwrap();
        assert_eq!(read_cache(&path, &host, None, 1_000_001), Some(found.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::write(&path, "{broken").unwrap();
        assert_eq!(read_cache(&path, &host, None, 1_000_001), None);
    }
}
