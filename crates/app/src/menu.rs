//! The tray menu as data: `menu(view, now) -> MenuModel`, a pure function, unit tested.
//!
//! Linux trays get no click events, only the menu, so every action lives here. The adapter in
//! `tray.rs` turns the model into real menu items and maps a clicked item's id back to a
//! [`MenuAction`]; it rebuilds the menu only when the model's shape changes and otherwise just
//! updates labels, because menus rebuilt over and over are unreliable on some panels.

use lakepass_engine::status::TokenState;
use lakepass_wire::UnixTime;

/// The agents a [`MenuAction::Launch`] names (re-exported for the front ends).
pub use lakepass_launch::Agent;

use crate::view::{AppView, McpTokenView, WorkspaceView, agent_named};

/// A whole menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuModel {
    /// Top-level entries, in order.
    pub entries: Vec<MenuEntry>,
}

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuEntry {
    /// A clickable (or greyed-out) line.
    Item {
        /// Stable id; parses back into a [`MenuAction`] (informational lines have their own ids).
        id: String,
        /// What the user reads.
        label: String,
        /// Greyed out when false.
        enabled: bool,
    },
    /// A line with a check mark.
    Check {
        /// Stable id.
        id: String,
        /// What the user reads.
        label: String,
        /// Whether the mark shows.
        checked: bool,
    },
    /// A submenu.
    Submenu {
        /// Stable id.
        id: String,
        /// What the user reads.
        label: String,
        /// Its entries.
        entries: Vec<MenuEntry>,
    },
    /// A divider.
    Separator,
}

/// What a click asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    /// Make this workspace the active one.
    SwitchWorkspace(String),
    /// Launch an agent for the active workspace, in a terminal ([`Agent::Terminal`]: a
    /// terminal with the workspace's environment).
    Launch(Agent),
    /// Exchange new tokens now.
    RefreshNow,
    /// Start the browser sign-in for this IdP.
    SignIn(String),
    /// Sign out of this IdP.
    SignOut(String),
    /// Show the dashboard window.
    OpenDashboard,
    /// Quit the app.
    Quit,
}

impl MenuAction {
    /// The menu item id for this action.
    pub fn id(&self) -> String {
        match self {
            MenuAction::SwitchWorkspace(w) => format!("workspace:{w}"),
            MenuAction::Launch(a) => format!("launch:{}", a.as_str()),
            MenuAction::RefreshNow => "refresh-now".into(),
            MenuAction::SignIn(i) => format!("sign-in:{i}"),
            MenuAction::SignOut(i) => format!("sign-out:{i}"),
            MenuAction::OpenDashboard => "open-dashboard".into(),
            MenuAction::Quit => "quit".into(),
        }
    }

    /// The action behind a menu item id; `None` for informational lines.
    pub fn parse(id: &str) -> Option<MenuAction> {
        if let Some(w) = id.strip_prefix("workspace:") {
            return Some(MenuAction::SwitchWorkspace(w.into()));
        }
        if let Some(a) = id.strip_prefix("launch:") {
            return agent_named(a).map(MenuAction::Launch);
        }
        if let Some(i) = id.strip_prefix("sign-in:") {
            return Some(MenuAction::SignIn(i.into()));
        }
        if let Some(i) = id.strip_prefix("sign-out:") {
            return Some(MenuAction::SignOut(i.into()));
        }
        Some(match id {
            "refresh-now" => MenuAction::RefreshNow,
            "open-dashboard" => MenuAction::OpenDashboard,
            "quit" => MenuAction::Quit,
            _ => return None,
        })
    }
}

/// Time left in words, as a screen reader should say it (issue 28): "52 minutes", "1 hour
/// 5 minutes", "less than a minute", "expired". Menu labels are read aloud by the platform's
/// screen reader, and "1 h 05 min" or "<1 min" reads as letters and symbols.
pub(crate) fn time_left_words(secs: i64) -> String {
    fn unit(n: i64, one: &str) -> String {
        if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
    }
    match secs {
        ..=0 => "expired".into(),
        1..60 => "less than a minute".into(),
        60..3600 => unit(secs / 60, "minute"),
        _ if (secs % 3600) / 60 == 0 => unit(secs / 3600, "hour"),
        _ => format!("{} {}", unit(secs / 3600, "hour"), unit((secs % 3600) / 60, "minute")),
    }
}

/// One line about a workspace: "dev — 52 minutes left", "dev — renewing soon, 3 minutes left".
pub(crate) fn status_line(w: &WorkspaceView, now: UnixTime) -> String {
    let left = w.expires_at.map(|e| time_left_words(e - now));
    let state = match (w.state, left.as_deref()) {
        (TokenState::NeedsLogin, _) => "sign-in needed".to_string(),
        (TokenState::Refreshing, _) => "refreshing…".to_string(),
        (_, Some("expired")) => "token expired".to_string(),
        (TokenState::Fresh, Some(l)) => format!("{l} left"),
        (TokenState::Expiring, Some(l)) => format!("renewing soon, {l} left"),
        (TokenState::Expiring, None) => "waiting for a token".to_string(),
        (TokenState::Failed, Some(l)) => format!("refresh failed, {l} left"),
        (TokenState::Failed, None) | (TokenState::Fresh, None) => "refresh failed".to_string(),
    };
    format!("{} — {state}", w.name)
}

/// One line about a workspace's managed-MCP token, under the workspace's line:
/// "MCP sql — 52 minutes left".
pub(crate) fn mcp_line(m: &McpTokenView, now: UnixTime) -> String {
    let left = m.expires_at.map(|e| time_left_words(e - now));
    let state = match (m.state, left.as_deref()) {
        (TokenState::NeedsLogin, _) => "sign-in needed".to_string(),
        (TokenState::Failed, _) => "exchange failed".to_string(),
        (_, None) => "none yet, made on first use".to_string(),
        (_, Some("expired")) => "expired, renewed on next use".to_string(),
        (_, Some(l)) => format!("{l} left"),
    };
    // A scope the workspace refused is served by the workspace token: say so on its line.
    let via = if m.fallback.is_some() { " (workspace all-apis token)" } else { "" };
    format!("MCP {}{via} — {state}", m.scope)
}

/// The tray menu for `view` at `now`.
pub fn menu(view: &AppView, now: UnixTime) -> MenuModel {
    let mut e = Vec::new();
    let info = |id: &str, label: String| MenuEntry::Item { id: id.into(), label, enabled: false };
    let item = |a: MenuAction, label: &str, enabled: bool| MenuEntry::Item {
        id: a.id(),
        label: label.into(),
        enabled,
    };
    let active = view.active_workspace();
    match (active, &view.config_error) {
        (_, Some(_)) => e.push(info("status", "Lakepass needs setting up — open the dashboard".into())),
        (Some(w), None) => e.push(info("status", status_line(w, now))),
        (None, None) if view.workspaces.is_empty() => {
            e.push(info("status", "No workspace yet — add one in the dashboard".into()))
        }
        (None, None) => e.push(info("status", "No active workspace — pick one below".into())),
    }
    // A process-wide problem (the live service lost its port) is shown above everything else.
    for (i, w) in view.warnings.iter().enumerate() {
        e.push(info(&format!("warning-{i}"), format!("⚠ {}", w.kind.hint())));
    }
    if !view.workspaces.is_empty() {
        // Each workspace's line, then a greyed-out line per managed-MCP token it holds.
        let entries = view
            .workspaces
            .iter()
            .flat_map(|w| {
                let line = MenuEntry::Check {
                    id: MenuAction::SwitchWorkspace(w.name.clone()).id(),
                    label: status_line(w, now),
                    checked: view.active.as_deref() == Some(w.name.as_str()),
                };
                let tokens = w.mcp.iter().map(move |m| MenuEntry::Item {
                    id: format!("mcp:{}:{}", w.name, m.scope),
                    label: format!("    {}", mcp_line(m, now)),
                    enabled: false,
                });
                std::iter::once(line).chain(tokens)
            })
            .collect();
        e.push(MenuEntry::Submenu { id: "workspaces".into(), label: "Workspace".into(), entries });
    }
    e.push(MenuEntry::Separator);
    let usable = active.is_some_and(|w| w.state != TokenState::NeedsLogin);
    // "Launch ▸": every installed agent, the default first, the terminal last; greyed out
    // until the active workspace is signed in. The panel draws the submenu's arrow.
    let launches: Vec<MenuEntry> = view
        .agents
        .iter()
        .filter_map(|a| Some(item(MenuAction::Launch(a.agent()?), &a.title, usable)))
        .collect();
    if !launches.is_empty() {
        e.push(MenuEntry::Submenu { id: "launch".into(), label: "Launch".into(), entries: launches });
    }
    let any_signed_in = view.idps.iter().any(|i| i.signed_in && !i.workspaces.is_empty());
    e.push(item(MenuAction::RefreshNow, "Refresh now", any_signed_in));
    if !view.idps.is_empty() {
        e.push(MenuEntry::Separator);
    }
    for idp in &view.idps {
        e.push(if idp.signing_in {
            MenuEntry::Item {
                id: MenuAction::SignIn(idp.name.clone()).id(),
                label: format!("Signing in to {}… (see your browser)", idp.name),
                enabled: false,
            }
        } else if idp.signed_in {
            MenuEntry::Item {
                id: MenuAction::SignOut(idp.name.clone()).id(),
                label: format!("Sign out of {}", idp.name),
                enabled: true,
            }
        } else {
            MenuEntry::Item {
                id: MenuAction::SignIn(idp.name.clone()).id(),
                label: format!("Sign in to {}…", idp.name),
                enabled: true,
            }
        });
    }
    e.push(MenuEntry::Separator);
    e.push(item(MenuAction::OpenDashboard, "Open dashboard", true));
    e.push(item(MenuAction::Quit, "Quit Lakepass", true));
    MenuModel { entries: e }
}

impl MenuModel {
    /// Same ids, kinds, check marks and enabled flags: only labels may differ, so the adapter
    /// can update text in place instead of rebuilding the menu.
    pub fn same_shape(&self, other: &MenuModel) -> bool {
        fn shape(e: &MenuEntry) -> String {
            match e {
                MenuEntry::Item { id, enabled, .. } => format!("i:{id}:{enabled}"),
                MenuEntry::Check { id, checked, .. } => format!("c:{id}:{checked}"),
                MenuEntry::Submenu { id, entries, .. } => {
                    format!("s:{id}[{}]", entries.iter().map(shape).collect::<Vec<_>>().join(","))
                }
                MenuEntry::Separator => "-".into(),
            }
        }
        let all = |m: &MenuModel| m.entries.iter().map(shape).collect::<Vec<_>>();
        all(self) == all(other)
    }

    /// Every (id, label) pair, depth first: what the adapter walks to update labels.
    pub fn labels(&self) -> Vec<(String, String)> {
        fn walk(es: &[MenuEntry], out: &mut Vec<(String, String)>) {
            for e in es {
                match e {
                    MenuEntry::Item { id, label, .. } | MenuEntry::Check { id, label, .. } => {
                        out.push((id.clone(), label.clone()))
                    }
                    MenuEntry::Submenu { id, label, entries } => {
                        out.push((id.clone(), label.clone()));
                        walk(entries, out);
                    }
                    MenuEntry::Separator => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.entries, &mut out);
        out
    }

    /// The entry with `id`, searching submenus.
    pub fn find(&self, id: &str) -> Option<&MenuEntry> {
        fn walk<'a>(es: &'a [MenuEntry], id: &str) -> Option<&'a MenuEntry> {
            es.iter().find_map(|e| match e {
                MenuEntry::Item { id: i, .. } | MenuEntry::Check { id: i, .. } if i == id => Some(e),
                MenuEntry::Submenu { id: i, .. } if i == id => Some(e),
                MenuEntry::Submenu { entries, .. } => walk(entries, id),
                _ => None,
            })
        }
        walk(&self.entries, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::view_of;

    const NOW: i64 = 1_000;

    fn label(m: &MenuModel, id: &str) -> String {
        match m.find(id) {
            Some(
                MenuEntry::Item { label, .. }
                | MenuEntry::Check { label, .. }
                | MenuEntry::Submenu { label, .. },
            ) => label.clone(),
            other => panic!("no labelled entry {id}: {other:?}"),
        }
    }

    fn enabled(m: &MenuModel, id: &str) -> bool {
        match m.find(id) {
            Some(MenuEntry::Item { enabled, .. }) => *enabled,
            other => panic!("no item {id}: {other:?}"),
        }
    }

    #[test]
    fn every_engine_state_reads_right_in_the_status_line() {
        let cases = [
            (TokenState::Fresh, Some(NOW + 52 * 60), "dev — 52 minutes left"),
            (TokenState::Expiring, Some(NOW + 200), "dev — renewing soon, 3 minutes left"),
            (TokenState::Expiring, None, "dev — waiting for a token"),
            (TokenState::Refreshing, Some(NOW + 200), "dev — refreshing…"),
            (TokenState::Failed, Some(NOW + 600), "dev — refresh failed, 10 minutes left"),
            (TokenState::Failed, Some(NOW - 1), "dev — token expired"),
            (TokenState::Failed, None, "dev — refresh failed"),
            (TokenState::NeedsLogin, None, "dev — sign-in needed"),
            (TokenState::NeedsLogin, Some(NOW + 600), "dev — sign-in needed"),
        ];
        for (state, exp, want) in cases {
            let v =
                view_of(&[("dev", state, exp), ("prod", TokenState::Fresh, Some(NOW + 3000))], Some("dev"));
            let m = menu(&v, NOW);
            assert_eq!(label(&m, "status"), want, "{state:?}");
            // Actions for the active workspace need a signed-in workspace.
            let usable = state != TokenState::NeedsLogin;
            assert_eq!(enabled(&m, "launch:claude"), usable, "{state:?}");
            assert_eq!(enabled(&m, "launch:terminal"), usable, "{state:?}");
            assert!(enabled(&m, "refresh-now"));
            assert!(enabled(&m, "quit") && enabled(&m, "open-dashboard"));
        }
    }

    #[test]
    fn workspace_submenu_checks_the_active_one() {
        let v = view_of(
            &[("dev", TokenState::Fresh, Some(NOW + 3600)), ("prod", TokenState::Fresh, Some(NOW + 3600))],
            Some("prod"),
        );
        let m = menu(&v, NOW);
        let Some(MenuEntry::Submenu { entries, .. }) = m.find("workspaces") else { panic!() };
        let checks: Vec<(String, bool)> = entries
            .iter()
            .map(|e| match e {
                MenuEntry::Check { id, checked, .. } => (id.clone(), *checked),
                _ => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(checks, vec![("workspace:dev".into(), false), ("workspace:prod".into(), true)]);
    }

    #[test]
    fn sign_in_and_out_per_idp() {
        let v = view_of(&[("dev", TokenState::Fresh, Some(NOW + 3600))], Some("dev"));
        let m = menu(&v, NOW);
        assert_eq!(label(&m, "sign-out:corp"), "Sign out of corp");
        assert_eq!(label(&m, "sign-in:partner"), "Sign in to partner…");
        let mut v2 = v.clone();
        v2.idps[1].signing_in = true;
        let m2 = menu(&v2, NOW);
        assert!(!enabled(&m2, "sign-in:partner"));
        assert!(!m.same_shape(&m2));
    }

    #[test]
    fn signed_out_everywhere_disables_refresh_and_launches() {
        let v = view_of(
            &[("dev", TokenState::NeedsLogin, None), ("prod", TokenState::NeedsLogin, None)],
            Some("dev"),
        );
        let m = menu(&v, NOW);
        assert!(!enabled(&m, "refresh-now"));
        assert!(!enabled(&m, "launch:claude"));
        assert_eq!(label(&m, "sign-in:corp"), "Sign in to corp…");
    }

    #[test]
    fn empty_and_broken_configs_point_to_the_dashboard() {
        let empty = AppView::default();
        let m = menu(&empty, NOW);
        assert!(label(&m, "status").contains("add one in the dashboard"));
        assert!(m.find("workspaces").is_none());
        let broken = AppView { config_error: Some("bad".into()), ..AppView::default() };
        assert!(label(&menu(&broken, NOW), "status").contains("setting up"));
        let none_active = view_of(&[("dev", TokenState::Fresh, Some(NOW + 60))], None);
        assert!(label(&menu(&none_active, NOW), "status").contains("pick one"));
    }

    #[test]
    fn a_process_warning_is_shown_in_the_menu() {
        let mut v = view_of(&[("dev", TokenState::Fresh, Some(NOW + 600))], Some("dev"));
        v.warnings
            .push(lakepass_engine::Failure::new(lakepass_engine::ErrorKind::LiveService, "port in use"));
        assert!(label(&menu(&v, NOW), "warning-0").contains("-live profiles were removed"));
    }

    #[test]
    fn each_mcp_token_has_a_line_under_its_workspace() {
        use crate::view::tests::{scoped, view_with_mcp};
        use lakepass_engine::mcp::McpScope;
        let failed = lakepass_engine::Failure::new(lakepass_engine::ErrorKind::FederationRejected, "refused");
        let v = view_with_mcp(&[
            scoped(McpScope::Sql, Some(NOW + 52 * 60 + 10), None),
            scoped(McpScope::Genie, None, Some(failed)),
        ]);
        let m = menu(&v, NOW);
        let Some(MenuEntry::Submenu { entries, .. }) = m.find("workspaces") else { panic!() };
        let ids: Vec<&str> = entries
            .iter()
            .map(|e| match e {
                MenuEntry::Check { id, .. } | MenuEntry::Item { id, .. } => id.as_str(),
                _ => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(ids, ["workspace:dev", "workspace:prod", "mcp:prod:sql", "mcp:prod:genie"]);
        assert_eq!(label(&m, "mcp:prod:sql"), "    MCP sql — 52 minutes left");
        assert_eq!(label(&m, "mcp:prod:genie"), "    MCP genie — exchange failed");
        assert!(!enabled(&m, "mcp:prod:sql"), "information, not an action");
        let later = menu(&v, NOW + 53 * 60);
        assert!(later.same_shape(&m), "time passing only relabels");
        assert_eq!(label(&later, "mcp:prod:sql"), "    MCP sql — expired, renewed on next use");
        let none = menu(&view_with_mcp(&[]), NOW);
        assert_eq!(label(&none, "mcp:prod:sql"), "    MCP sql — none yet, made on first use");
        let mut fell_back = scoped(McpScope::Sql, Some(NOW + 52 * 60), None);
        fell_back.fallback =
            Some(lakepass_engine::mcp::McpFallback { since: NOW, reason: "invalid_scope".into() });
        let v = view_with_mcp(&[fell_back]);
        let sql = &v.workspaces.iter().find(|w| w.name == "prod").unwrap().mcp[0];
        assert!(
            sql.fallback.as_deref().is_some_and(|f| f.contains("all-apis") && f.contains("invalid_scope"))
        );
        assert_eq!(
            label(&menu(&v, NOW), "mcp:prod:sql"),
            "    MCP sql (workspace all-apis token) — 52 minutes left"
        );
    }

    #[test]
    fn launch_submenu_lists_the_installed_agents_in_the_views_order() {
        use crate::view::AgentView;
        let mut v = view_of(&[("dev", TokenState::Fresh, Some(NOW + 3600))], Some("dev"));
        // Whatever agents this build has, as the host found them: the default first.
        let mut agents: Vec<Agent> = Agent::ALL.into_iter().filter(|a| *a != Agent::Claude).collect();
        agents.insert(agents.len() - 1, Agent::Claude);
        v.agents = agents.iter().map(|a| AgentView::of(*a)).collect();
        let m = menu(&v, NOW);
        let Some(MenuEntry::Submenu { label, entries, .. }) = m.find("launch") else { panic!("{m:?}") };
        assert_eq!(label, "Launch");
        let got: Vec<(String, String, bool)> = entries
            .iter()
            .map(|e| match e {
                MenuEntry::Item { id, label, enabled } => (id.clone(), label.clone(), *enabled),
                _ => panic!("{e:?}"),
            })
            .collect();
        let want: Vec<(String, String, bool)> =
            agents.iter().map(|a| (MenuAction::Launch(*a).id(), AgentView::of(*a).title, true)).collect();
        assert_eq!(got, want);
        assert_eq!(got.last().unwrap().1, "Terminal");
        assert!(got.iter().any(|g| g.1 == "Claude Code"));
        // An agent another build launches is not offered here (its click could not be carried out).
        v.agents.insert(0, AgentView { name: "vim".into(), title: "Vim".into() });
        let Some(MenuEntry::Submenu { entries, .. }) = menu(&v, NOW).find("launch").cloned() else {
            panic!()
        };
        assert_eq!(entries.len(), agents.len());
        // Nothing to launch (no config): no submenu.
        assert!(menu(&AppView::default(), NOW).find("launch").is_none());
    }

    #[test]
    fn time_left_is_said_in_words() {
        assert_eq!(time_left_words(-5), "expired");
        assert_eq!(time_left_words(0), "expired");
        assert_eq!(time_left_words(30), "less than a minute");
        assert_eq!(time_left_words(60), "1 minute");
        assert_eq!(time_left_words(42 * 60 + 59), "42 minutes");
        assert_eq!(time_left_words(3600), "1 hour");
        assert_eq!(time_left_words(3600 + 60), "1 hour 1 minute");
        assert_eq!(time_left_words(2 * 3600 + 5 * 60), "2 hours 5 minutes");
        // No abbreviations or symbols a screen reader would spell out.
        for s in [30, 61, 3599, 3661, 86_400] {
            let w = time_left_words(s);
            assert!(!w.contains('<') && !w.split(' ').any(|x| x == "h" || x == "min"), "{w}");
        }
    }

    #[test]
    fn time_passing_changes_labels_not_shape() {
        let v = view_of(&[("dev", TokenState::Fresh, Some(NOW + 3600))], Some("dev"));
        let (a, b) = (menu(&v, NOW), menu(&v, NOW + 600));
        assert!(a.same_shape(&b));
        assert_ne!(a.labels(), b.labels());
    }

    #[test]
    fn ids_round_trip_to_actions() {
        for a in [
            MenuAction::SwitchWorkspace("dev".into()),
            MenuAction::Launch(Agent::Claude),
            MenuAction::Launch(Agent::Terminal),
            MenuAction::RefreshNow,
            MenuAction::SignIn("corp".into()),
            MenuAction::SignOut("corp".into()),
            MenuAction::OpenDashboard,
            MenuAction::Quit,
        ] {
            assert_eq!(MenuAction::parse(&a.id()), Some(a));
        }
        assert_eq!(MenuAction::parse("status"), None);
        assert_eq!(MenuAction::parse("mcp:prod:sql"), None, "an MCP token's line is information");
        for a in Agent::ALL {
            assert_eq!(MenuAction::parse(&MenuAction::Launch(a).id()), Some(MenuAction::Launch(a)));
        }
        assert_eq!(MenuAction::parse("launch:vim"), None, "an agent this build does not launch");
    }
}
