//! Workspaces that answer a managed-MCP token request with the wrong scope (finding L6): the
//! answer is refused with what happened, never cached and never handed out, and the next ask
//! asks again rather than serve it.

use lakepass_devstack::{FaultKind, FaultRule, Target};
use lakepass_engine::engine::EngineError;
use lakepass_engine::mcp::McpScope;

use super::*;

async fn with_sql_server() -> Fixture {
    let f = fixture().await;
    let mut text = std::fs::read_to_string(&f.paths.config).unwrap();
    text.push_str("\n[mcp.dev]\n");
    std::fs::write(&f.paths.config, text).unwrap();
    f
}

fn answer(scope: &str) -> FaultKind {
    let body = format!(
        r#"{{"access_token":"dvs-wrong-scope","token_type":"Bearer","expires_in":3600,"scope":"{scope}"}}"#
    );
    FaultKind::Body { code: 200, body, content_type: None }
}

/// The workspace answers a `sql` request with a `genie` token: refused, not cached, not served.
#[tokio::test]
async fn a_token_for_another_scope_is_refused_and_not_cached() {
    within(CASE_TIMEOUT, async {
        let f = with_sql_server().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let dev = ws(&e, "dev");
        f.faults().add(FaultRule::new(Target::WorkspaceToken, answer("genie")).on_workspace("dev").times(1));
        let err = e.scoped_token(&dev, McpScope::Sql).await.unwrap_err();
        assert!(matches!(err, EngineError::McpWrongScope { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("`sql`") && text.contains("`genie`") && !text.contains("dvs-wrong-scope"),
            "{text}"
        );
        assert!(f.store().await.scoped_token(&dev, McpScope::Sql).await.unwrap().is_none(), "not cached");
        // The next ask exchanges again (the devstack grants `sql` now) and never serves the wrong one.
        let t = e.scoped_token(&dev, McpScope::Sql).await.unwrap();
        assert_eq!(t.scope.as_deref(), Some("sql"));
        assert_ne!(t.access_token.secret(), "dvs-wrong-scope");
    })
    .await
}

/// The answer carries the scope asked and more (`sql genie`): a superset is refused too.
#[tokio::test]
async fn a_superset_of_the_scope_asked_is_refused() {
    within(CASE_TIMEOUT, async {
        let f = with_sql_server().await;
        let e = f.engine().await;
        f.sign_in(&e).await;
        let dev = ws(&e, "dev");
        f.faults()
            .add(FaultRule::new(Target::WorkspaceToken, answer("sql genie")).on_workspace("dev").times(1));
        let err = e.scoped_token(&dev, McpScope::Sql).await.unwrap_err();
        assert!(err.to_string().contains("`sql genie`"), "{err}");
        assert!(f.store().await.scoped_token(&dev, McpScope::Sql).await.unwrap().is_none());
    })
    .await
}
