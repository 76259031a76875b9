//! What every front end does with the host: follow its views (apply them, decide the
//! notifications) and carry out a menu click. The Tauri tray and `lakepass tray` differ only in
//! how they draw ([`Surface`]) and in the two actions that belong to the front end itself
//! (opening the dashboard, quitting), so both run this one loop and this one action table.

use std::sync::Arc;
use std::time::Duration;

use lakepass_wire::Clock;

use lakepass_wire::SystemClock;

use lakepass_wire::UnixTime;

use crate::events::Event;
use crate::host::Host;
use crate::menu::MenuAction;
use crate::notices::{self, Conditions};
use crate::platform::Notifier;
use crate::view::AppView;

/// How often time-dependent text ("52 minutes left") is redrawn without a new view.
pub(crate) const CLOCK_TICK: Duration = Duration::from_secs(30);

/// A front end's drawing side.
pub trait Surface: Send + 'static {
    /// Draws the view (icon, menu); also called on each clock tick with the same view.
    fn apply(&mut self, view: &AppView, now: UnixTime);
    /// The host published a new view (the dashboard gets it pushed).
    fn view_changed(&mut self, _view: &AppView) {}
    /// The recent-events list changed (newest first).
    fn events_changed(&mut self, _events: Vec<Event>) {}
}

/// Follows the host until it is dropped: applies every new view, decides notifications and
/// passes views and events on. A [`CLOCK_TICK`] only re-renders time-dependent text (and
/// notices a token that expired meanwhile); it never asks the engine anything.
pub async fn follow(host: Arc<Host>, mut surface: impl Surface, notifier: Arc<dyn Notifier>) {
    let mut views = host.subscribe();
    let mut events = host.subscribe_events();
    let mut clock = tokio::time::interval(CLOCK_TICK);
    let mut conditions = Conditions::new();
    views.mark_changed();
    loop {
        let view_changed = tokio::select! {
            r = views.changed() => { if r.is_err() { break } true }
            r = events.changed() => {
                if r.is_err() { break }
                events.borrow_and_update();
                surface.events_changed(host.events());
                continue;
            }
            _ = clock.tick() => false,
        };
        let view = views.borrow_and_update().clone();
        let now = SystemClock.now();
        surface.apply(&view, now);
        let (next, notes) = notices::decide(&conditions, &view, now);
        conditions = next;
        for n in &notes {
            notifier.notify(n);
        }
        if view_changed {
            surface.view_changed(&view);
        }
    }
}

/// Carries out a click on one of the host's actions in the background, on `rt` (menu clicks
/// arrive on a toolkit thread outside the runtime). Returns the action back when it is the
/// front end's own ([`MenuAction::OpenDashboard`], [`MenuAction::Quit`]).
pub fn act(
    rt: &tokio::runtime::Handle,
    host: &Arc<Host>,
    notifier: &Arc<dyn Notifier>,
    action: MenuAction,
) -> Option<MenuAction> {
    let (host, notifier) = (host.clone(), notifier.clone());
    match action {
        MenuAction::OpenDashboard | MenuAction::Quit => return Some(action),
        MenuAction::SwitchWorkspace(w) => {
            if let Err(e) = host.set_active(&w) {
                tracing::warn!(error = %e, "could not switch workspace");
            }
        }
        MenuAction::RefreshNow => {
            rt.spawn(async move {
                let _ = host.refresh_now().await;
            });
        }
        MenuAction::SignIn(idp) => {
            rt.spawn(async move {
                let _ = host.sign_in(&idp).await;
            });
        }
        MenuAction::SignOut(idp) => {
            rt.spawn(async move {
                let _ = host.sign_out(&idp).await;
            });
        }
        MenuAction::Launch(agent) => {
            rt.spawn(async move {
                if let Err(e) = host.launch(agent, None).await {
                    let ws = host.view().active.unwrap_or_default();
                    let what = crate::host::launch_words(agent);
                    notifier.notify(&notices::launch_failed(&what, &ws, e.kind, &e.message));
                }
            });
        }
    }
    None
}
