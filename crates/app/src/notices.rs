//! Desktop notifications, decided by a pure function: one per change of state, never a stream.
//!
//! Each workspace is in one [`Condition`]; a notice goes out only when a workspace enters a bad
//! condition it was not in. `Refreshing` keeps the previous condition, so a failing refresh that
//! the engine retries (Failed → Refreshing → Failed …) notifies once. Workspaces that enter the
//! same condition in the same change share one notice. Time matters too: a token can expire
//! while nothing changes, so the caller also decides on a clock tick.

use std::collections::BTreeMap;

use lakepass_engine::ErrorKind;
use lakepass_engine::status::TokenState;
use lakepass_wire::UnixTime;

use crate::view::AppView;

/// Where a workspace stands, as far as the user needs telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Fine, or Lakepass is handling it.
    Ok,
    /// Only a sign-in helps.
    SignInNeeded,
    /// Refreshes keep failing (after the HTTP retries); the old token still works.
    RefreshFailing,
    /// The token expired and Lakepass cannot get a new one on its own.
    Expired,
}

/// Per workspace, the condition last seen.
pub(crate) type Conditions = BTreeMap<String, Condition>;

/// A notification to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The first line.
    pub summary: String,
    /// The rest: what happened and what to do.
    pub body: String,
}

fn list(names: &[String]) -> String {
    match names {
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// The condition of each workspace in `view` at `now`; `prev` fills in for `Refreshing`.
fn conditions(prev: &Conditions, view: &AppView, now: UnixTime) -> Conditions {
    view.workspaces
        .iter()
        .map(|w| {
            let expired = w.expires_at.is_none_or(|e| e <= now);
            let c = match w.state {
                TokenState::Fresh | TokenState::Expiring => Condition::Ok,
                TokenState::Refreshing => prev.get(&w.name).copied().unwrap_or(Condition::Ok),
                TokenState::NeedsLogin if w.expires_at.is_some() && expired => Condition::Expired,
                TokenState::NeedsLogin => Condition::SignInNeeded,
                TokenState::Failed if w.expires_at.is_some() && expired => Condition::Expired,
                TokenState::Failed => Condition::RefreshFailing,
            };
            (w.name.clone(), c)
        })
        .collect()
}

/// Decides what to notify going from `prev` to `view` at `now`; returns the new conditions.
pub(crate) fn decide(prev: &Conditions, view: &AppView, now: UnixTime) -> (Conditions, Vec<Notice>) {
    let next = conditions(prev, view, now);
    let entered = |c: Condition| -> Vec<String> {
        next.iter()
            .filter(|(name, now_c)| **now_c == c && prev.get(*name) != Some(&c))
            .map(|(name, _)| name.clone())
            .collect()
    };
    let mut out = Vec::new();
    let need = entered(Condition::SignInNeeded);
    if !need.is_empty() {
        let idps: std::collections::BTreeSet<&str> =
            view.workspaces.iter().filter(|w| need.contains(&w.name)).map(|w| w.idp.as_str()).collect();
        out.push(Notice {
            summary: "Sign-in needed".into(),
            body: format!(
                "{} need{} a new sign-in to {}. Choose “Sign in…” in the Lakepass menu.",
                list(&need),
                if need.len() == 1 { "s" } else { "" },
                idps.into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let failing = entered(Condition::RefreshFailing);
    if !failing.is_empty() {
        let detail = view
            .workspaces
            .iter()
            .find(|w| w.name == failing[0])
            .and_then(|w| w.hint.clone().or(w.last_error.as_ref().map(|e| e.message.clone())))
            .unwrap_or_default();
        out.push(Notice {
            summary: format!("Token refresh failed: {}", list(&failing)),
            body: format!("The current token still works; Lakepass keeps retrying. {detail}")
                .trim_end()
                .to_string(),
        });
    }
    let expired = entered(Condition::Expired);
    if !expired.is_empty() {
        out.push(Notice {
            summary: format!("Token expired: {}", list(&expired)),
            body: "Lakepass could not get a new one on its own. Open the dashboard to see why, or sign in again.".into(),
        });
    }
    (next, out)
}

/// The notice for a launch that failed, chosen by its kind: one that needs a sign-in says so
/// and points at the menu's "Sign in", not "could not launch".
pub(crate) fn launch_failed(what: &str, workspace: &str, kind: ErrorKind, error: &str) -> Notice {
    if kind.needs_login() {
        return Notice {
            summary: format!("Sign in to {what} for {workspace}"),
            body: format!(
                "{} Choose \u{201c}Sign in\u{201d} in the Lakepass menu, then try again.",
                kind.hint()
            ),
        };
    }
    Notice { summary: format!("Could not {what} for {workspace}"), body: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::view_of;

    const NOW: i64 = 1_000;

    fn step(
        prev: &Conditions,
        states: &[(&str, TokenState, Option<i64>)],
        now: i64,
    ) -> (Conditions, Vec<Notice>) {
        // `prod` stays fresh unless a case says otherwise.
        let mut all = states.to_vec();
        if !all.iter().any(|(n, ..)| *n == "prod") {
            all.push(("prod", TokenState::Fresh, Some(now + 3600)));
        }
        decide(prev, &view_of(&all, Some("dev")), now)
    }

    #[test]
    fn healthy_states_notify_nothing() {
        for s in [TokenState::Fresh, TokenState::Expiring, TokenState::Refreshing] {
            let (_, n) = step(&Conditions::new(), &[("dev", s, Some(NOW + 100))], NOW);
            assert!(n.is_empty(), "{s:?}: {n:?}");
        }
    }

    #[test]
    fn each_bad_state_notifies_once() {
        let cases = [
            (TokenState::NeedsLogin, None, "Sign-in needed"),
            (TokenState::Failed, Some(NOW + 600), "Token refresh failed: dev"),
            (TokenState::Failed, Some(NOW - 5), "Token expired: dev"),
            (TokenState::NeedsLogin, Some(NOW - 5), "Token expired: dev"),
        ];
        for (state, exp, summary) in cases {
            let (c, n) = step(&Conditions::new(), &[("dev", state, exp)], NOW);
            assert_eq!(n.len(), 1, "{state:?}");
            assert_eq!(n[0].summary, summary);
            // The same state again, a minute later: silence.
            let (_, again) = step(&c, &[("dev", state, exp)], NOW + 60);
            assert!(again.is_empty(), "{state:?} repeated: {again:?}");
        }
    }

    #[test]
    fn retries_do_not_renotify() {
        let (c, n) = step(&Conditions::new(), &[("dev", TokenState::Failed, Some(NOW + 900))], NOW);
        assert_eq!(n.len(), 1);
        let (c, n) = step(&c, &[("dev", TokenState::Refreshing, Some(NOW + 900))], NOW + 15);
        assert!(n.is_empty());
        let (c, n) = step(&c, &[("dev", TokenState::Failed, Some(NOW + 900))], NOW + 16);
        assert!(n.is_empty());
        // Time runs out with the refresh still failing: one more notice, of another kind.
        let (c, n) = step(&c, &[("dev", TokenState::Failed, Some(NOW + 900))], NOW + 901);
        assert_eq!(n.len(), 1);
        assert!(n[0].summary.starts_with("Token expired"));
        // Recovery is silent, and a later failure notifies again.
        let (c, n) = step(&c, &[("dev", TokenState::Fresh, Some(NOW + 5000))], NOW + 950);
        assert!(n.is_empty());
        let (_, n) = step(&c, &[("dev", TokenState::Failed, Some(NOW + 5000))], NOW + 1000);
        assert_eq!(n.len(), 1);
    }

    #[test]
    fn workspaces_entering_together_share_one_notice() {
        let both = [("dev", TokenState::NeedsLogin, None), ("prod", TokenState::NeedsLogin, None)];
        let (_, n) = step(&Conditions::new(), &both, NOW);
        assert_eq!(n.len(), 1);
        assert!(n[0].body.starts_with("dev and prod need a new sign-in to corp"), "{}", n[0].body);
    }

    #[test]
    fn launch_failures_say_what_and_where() {
        let n = launch_failed("launch Claude Code", "dev", ErrorKind::Config, "no terminal found");
        assert_eq!(n.summary, "Could not launch Claude Code for dev");
        assert_eq!(n.body, "no terminal found");
    }

    #[test]
    fn a_launch_that_needs_a_sign_in_offers_it() {
        for kind in [ErrorKind::NeedsLogin, ErrorKind::SessionEnded, ErrorKind::NoRefreshToken] {
            let n = launch_failed(
                "launch Claude Code",
                "dev",
                kind,
                "cannot launch Claude Code for workspace `dev`",
            );
            assert_eq!(n.summary, "Sign in to launch Claude Code for dev", "{kind}");
            assert!(n.body.contains("Sign in") && n.body.starts_with(kind.hint()), "{n:?}");
        }
    }
}
