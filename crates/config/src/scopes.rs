//! The OAuth scopes Databricks defines, so a workspace's `scopes` naming another (`serving`, a
//! typo) is caught when the config is read rather than as an `invalid_scope` at the first
//! exchange.
//!
//! Sources: `all-apis` and `offline_access` (the SDKs' defaults, databricks-sdk-go
//! `config/oauth_*`) and the OIDC ones; `sql`, `genie`, `unity-catalog`, `ai-search` from the
//! managed-MCP docs (docs.databricks.com/aws/en/agents/mcp/managed-mcp) and `vector-search` from
//! their earlier revision; `model-serving` from databricks-ai-bridge's on-behalf-of tests
//! (`tests/integration_tests/obo/deploy_serving_agent.py`); `dashboards`, `access-management`,
//! `alerts`, `apps`, `authentication`, `jobs`, `clusters` from the API scopes reference
//! (docs.databricks.com/api/workspace/scopes). A scope may be narrowed with `:read`, and `sql`
//! with `:restricted-query` (the same reference's scope modifiers). Kept apart from the
//! devstack's own list on purpose: the devstack is a model of Databricks to test this against.

/// Every scope name Databricks defines, in the order messages list them.
pub const DATABRICKS_SCOPES: &[&str] = &[
    "all-apis",
    "offline_access",
    "sql",
    "genie",
    "unity-catalog",
    "ai-search",
    "vector-search",
    "model-serving",
    "dashboards",
    "access-management",
    "alerts",
    "apps",
    "authentication",
    "jobs",
    "clusters",
    "openid",
    "profile",
    "email",
];

/// Why `scope` is not a Databricks scope, in words that name the known ones; `None` when it is.
pub fn unknown_scope(scope: &str) -> Option<String> {
    let (base, modifier) = scope.split_once(':').unwrap_or((scope, ""));
    let known = DATABRICKS_SCOPES.contains(&base);
    let modifier_ok = match modifier {
        "" | "read" => true,
        "restricted-query" | "read:restricted-query" => base == "sql",
        _ => false,
    };
    if known && modifier_ok {
        return None;
    }
    let hint = match base {
        "serving" | "model_serving" | "serving-endpoints" => " (model serving is `model-serving`)",
        "vector_search" => " (write `vector-search`)",
        _ => "",
    };
    Some(if known {
        format!(
            "`{scope}`: `:{modifier}` is not a scope modifier Databricks defines (`:read`; for `sql` also `:restricted-query`)"
        )
    } else {
        format!(
            "`{scope}` is not a Databricks OAuth scope{hint}; known scopes: {}",
            DATABRICKS_SCOPES.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::unknown_scope;

    #[test]
    fn names_the_unknown_scope_and_the_known_ones() {
        for ok in ["all-apis", "sql", "model-serving", "clusters:read", "sql:read:restricted-query"] {
            assert_eq!(unknown_scope(ok), None, "{ok}");
        }
        let msg = unknown_scope("serving").unwrap();
        assert!(
            msg.contains("`serving`") && msg.contains("`model-serving`") && msg.contains("all-apis, "),
            "{msg}"
        );
        assert!(unknown_scope("clusters:restricted-query").unwrap().contains("modifier"));
        assert!(unknown_scope("iam").is_some());
    }

    #[test]
    fn a_workspace_naming_an_unknown_scope_is_refused_where_it_is() {
        use super::super::fixtures::{MINIMAL, invalid};
        let text = MINIMAL.replace(
            "host = \"adb-1.azuredatabricks.net\"",
            "host = \"adb-1.azuredatabricks.net\"\nscopes = [\"sql\", \"serving\"]",
        );
        let (msg, _, field) = invalid(&text);
        assert_eq!(field, "workspace.a.scopes", "{msg}");
        assert!(msg.contains("`serving`") && msg.contains("model-serving"), "{msg}");
        let fine = MINIMAL.replace(
            "host = \"adb-1.azuredatabricks.net\"",
            "host = \"adb-1.azuredatabricks.net\"\nscopes = [\"sql\", \"model-serving\"]",
        );
        assert!(super::super::Config::parse(&fine, super::super::fixtures::path()).is_ok());
    }
}
