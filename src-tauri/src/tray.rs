//! The thin adapter from [`MenuModel`] and [`IconState`] to a real tray icon and menu.
//!
//! It rebuilds the native menu only when the model's shape changes (an item appears, a check
//! mark moves, an item is greyed out) and otherwise just updates labels in place.

use std::collections::HashMap;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

use lakepass_app::look::{self, IconState};
use lakepass_app::menu::{MenuEntry, MenuModel};
use lakepass_app::view::AppView;

/// The tray icon's image for a state on a light or dark panel.
pub fn icon(state: IconState, dark_panel: bool) -> Image<'static> {
    let bytes: &'static [u8] = match (state, dark_panel) {
        (IconState::Fresh, false) => include_bytes!("../../icons/tray/fresh-light.png"),
        (IconState::Fresh, true) => include_bytes!("../../icons/tray/fresh-dark.png"),
        (IconState::Expiring, false) => include_bytes!("../../icons/tray/expiring-light.png"),
        (IconState::Expiring, true) => include_bytes!("../../icons/tray/expiring-dark.png"),
        (IconState::Failed, false) => include_bytes!("../../icons/tray/failed-light.png"),
        (IconState::Failed, true) => include_bytes!("../../icons/tray/failed-dark.png"),
        (IconState::SignedOut, false) => include_bytes!("../../icons/tray/signed_out-light.png"),
        (IconState::SignedOut, true) => include_bytes!("../../icons/tray/signed_out-dark.png"),
    };
    Image::from_bytes(bytes).expect("bundled tray icons are valid PNGs")
}

enum Handle<R: Runtime> {
    Item(MenuItem<R>),
    Check(CheckMenuItem<R>),
    Sub(Submenu<R>),
}

/// The live tray: the native icon plus what was last applied to it.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    model: Option<MenuModel>,
    handles: HashMap<String, Handle<R>>,
    look: Option<(IconState, bool, String)>,
}

/// A native menu and a handle per item id, for label updates.
type Built<R> = (Menu<R>, HashMap<String, Handle<R>>);

fn build<R: Runtime>(app: &AppHandle<R>, model: &MenuModel) -> tauri::Result<Built<R>> {
    fn add<R: Runtime>(
        app: &AppHandle<R>,
        entries: &[MenuEntry],
        handles: &mut HashMap<String, Handle<R>>,
        push: &mut dyn FnMut(&dyn IsMenuItem<R>) -> tauri::Result<()>,
    ) -> tauri::Result<()> {
        for e in entries {
            match e {
                MenuEntry::Item { id, label, enabled } => {
                    let it = MenuItem::with_id(app, id, label, *enabled, None::<&str>)?;
                    push(&it)?;
                    handles.insert(id.clone(), Handle::Item(it));
                }
                MenuEntry::Check { id, label, checked } => {
                    let it = CheckMenuItem::with_id(app, id, label, true, *checked, None::<&str>)?;
                    push(&it)?;
                    handles.insert(id.clone(), Handle::Check(it));
                }
                MenuEntry::Submenu { id, label, entries } => {
                    let sub = Submenu::with_id(app, id, label, true)?;
                    let s2 = sub.clone();
                    add(app, entries, handles, &mut |i| s2.append(i))?;
                    push(&sub)?;
                    handles.insert(id.clone(), Handle::Sub(sub));
                }
                MenuEntry::Separator => push(&PredefinedMenuItem::separator(app)?)?,
            }
        }
        Ok(())
    }
    let menu = Menu::new(app)?;
    let mut handles = HashMap::new();
    let m2 = menu.clone();
    add(app, &model.entries, &mut handles, &mut |i| m2.append(i))?;
    Ok((menu, handles))
}

impl<R: Runtime> Tray<R> {
    /// Creates the tray icon; `on_click` gets the id of every clicked menu item. With no tray
    /// host (a bare X server, CI) this still succeeds and nothing shows.
    pub fn create(
        app: &AppHandle<R>,
        on_click: impl Fn(&AppHandle<R>, &str) + Send + Sync + 'static,
    ) -> tauri::Result<Self> {
        let icon = TrayIconBuilder::with_id("lakepass")
            .icon(icon(IconState::SignedOut, false))
            .tooltip("Lakepass")
            .show_menu_on_left_click(true)
            .on_menu_event(move |app, event| on_click(app, event.id().as_ref()))
            .build(app)?;
        Ok(Tray { icon, model: None, handles: HashMap::new(), look: None })
    }

    /// Brings the tray up to date with `view` at `now`.
    pub fn apply(
        &mut self,
        app: &AppHandle<R>,
        view: &AppView,
        now: i64,
        dark_panel: bool,
    ) -> tauri::Result<()> {
        let model = lakepass_app::menu::menu(view, now);
        match &self.model {
            Some(old) if *old == model => {}
            Some(old) if old.same_shape(&model) => {
                let old_labels: HashMap<String, String> = old.labels().into_iter().collect();
                for (id, label) in model.labels() {
                    if old_labels.get(&id) == Some(&label) {
                        continue;
                    }
                    match self.handles.get(&id) {
                        Some(Handle::Item(i)) => i.set_text(&label)?,
                        Some(Handle::Check(i)) => i.set_text(&label)?,
                        Some(Handle::Sub(i)) => i.set_text(&label)?,
                        None => {}
                    }
                }
                self.model = Some(model);
            }
            _ => {
                let (menu, handles) = build(app, &model)?;
                self.icon.set_menu(Some(menu))?;
                self.handles = handles;
                self.model = Some(model);
            }
        }
        let state = look::icon_state(view, now);
        let tip = look::tooltip(view, now);
        let next = (state, dark_panel, tip.clone());
        if self.look.as_ref() != Some(&next) {
            if self.look.as_ref().map(|l| (l.0, l.1)) != Some((state, dark_panel)) {
                self.icon.set_icon(Some(icon(state, dark_panel)))?;
            }
            // Linux (appindicator) trays show no tooltips: there the menu's first line carries
            // the same words.
            self.icon.set_tooltip(Some(&tip))?;
            self.look = Some(next);
        }
        Ok(())
    }
}
