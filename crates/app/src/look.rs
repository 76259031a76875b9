//! How the tray icon looks: one of four states and a tooltip, chosen purely from the view.

use lakepass_engine::status::TokenState;
use lakepass_wire::UnixTime;

use crate::menu::status_line;
use crate::view::AppView;

/// The four tray icon states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IconState {
    /// Every workspace has a fresh token.
    Fresh,
    /// A token is inside its refresh window, or being refreshed.
    Expiring,
    /// A refresh failed (Lakepass is retrying) or a token expired.
    Failed,
    /// Nothing set up, or a sign-in is needed.
    SignedOut,
}

impl IconState {
    /// The icon file's stem under `icons/tray/`.
    pub fn file_stem(self) -> &'static str {
        match self {
            IconState::Fresh => "fresh",
            IconState::Expiring => "expiring",
            IconState::Failed => "failed",
            IconState::SignedOut => "signed_out",
        }
    }
}

/// The icon for the whole app: the most urgent state across workspaces. A sign-in is what the
/// user must act on, so it wins; a failure (Lakepass still retries) comes next.
pub fn icon_state(view: &AppView, now: UnixTime) -> IconState {
    if view.workspaces.is_empty() || view.config_error.is_some() {
        return IconState::SignedOut;
    }
    let rank = |s: IconState| match s {
        IconState::Fresh => 0,
        IconState::Expiring => 1,
        IconState::Failed => 2,
        IconState::SignedOut => 3,
    };
    view.workspaces
        .iter()
        .map(|w| match w.state {
            TokenState::NeedsLogin => IconState::SignedOut,
            TokenState::Failed => IconState::Failed,
            _ if w.expires_at.is_some_and(|e| e <= now) => IconState::Failed,
            TokenState::Expiring | TokenState::Refreshing => IconState::Expiring,
            TokenState::Fresh => IconState::Fresh,
        })
        .max_by_key(|s| rank(*s))
        .unwrap_or(IconState::SignedOut)
}

/// The tooltip: the active workspace and its time left.
pub fn tooltip(view: &AppView, now: UnixTime) -> String {
    match view.active_workspace() {
        _ if view.config_error.is_some() => "Lakepass — needs setting up".into(),
        Some(w) => format!("Lakepass · {}", status_line(w, now)),
        None if view.workspaces.is_empty() => "Lakepass — no workspace yet".into(),
        None => "Lakepass — no active workspace".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::view_of;

    #[test]
    fn icon_for_every_engine_state() {
        let now = 1_000;
        let cases = [
            (TokenState::Fresh, Some(now + 3600), IconState::Fresh),
            (TokenState::Expiring, Some(now + 100), IconState::Expiring),
            (TokenState::Expiring, None, IconState::Expiring),
            (TokenState::Refreshing, Some(now + 100), IconState::Expiring),
            (TokenState::Refreshing, Some(now - 1), IconState::Failed),
            (TokenState::Failed, Some(now + 100), IconState::Failed),
            (TokenState::NeedsLogin, None, IconState::SignedOut),
        ];
        for (state, exp, want) in cases {
            let v =
                view_of(&[("dev", state, exp), ("prod", TokenState::Fresh, Some(now + 3600))], Some("dev"));
            assert_eq!(icon_state(&v, now), want, "{state:?} {exp:?}");
        }
    }

    #[test]
    fn sign_in_wins_over_failure() {
        let v = view_of(
            &[("dev", TokenState::Failed, Some(2_000)), ("prod", TokenState::NeedsLogin, None)],
            None,
        );
        assert_eq!(icon_state(&v, 1_000), IconState::SignedOut);
        assert_eq!(icon_state(&AppView::default(), 0), IconState::SignedOut);
    }

    #[test]
    fn tooltip_names_the_active_workspace_and_its_time() {
        let v = view_of(&[("dev", TokenState::Fresh, Some(1_000 + 3000))], Some("dev"));
        assert_eq!(tooltip(&v, 1_000), "Lakepass · dev — 50 minutes left");
        assert_eq!(tooltip(&AppView::default(), 0), "Lakepass — no workspace yet");
    }
}
