//! The tray icon and menu as a StatusNotifierItem (with its com.canonical.dbusmenu menu) over
//! the session D-Bus, through `ksni`: what GNOME's AppIndicator extension, KDE, Xfce and other
//! hosts show. It needs neither GTK nor WebKit, which is why the Linux tray is this and not
//! Tauri's (see docs/benchmarks.md, figure 4).
//!
//! The icon is named, not sent as pixels: the images are written once into a private folder the
//! item names as its `IconThemePath`, as libappindicator does, so a host shows exactly the PNGs
//! the other platforms use.

use std::path::{Path, PathBuf};

use ksni::TrayMethods as _;
use lakepass_app::follow::Surface;
use lakepass_app::look::{self, IconState};
use lakepass_app::menu::{self, MenuAction, MenuEntry, MenuModel};
use lakepass_app::view::AppView;
use lakepass_wire::UnixTime;
use tokio::sync::{mpsc, watch};

/// What the item shows; the update task applies the latest one.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Look {
    model: MenuModel,
    icon: String,
    tip: String,
}

struct Item {
    look: Look,
    theme_path: String,
    clicks: mpsc::UnboundedSender<MenuAction>,
    /// Told each time the host is about to show the menu.
    menu_opens: mpsc::UnboundedSender<()>,
}

impl ksni::Tray for Item {
    // A left click opens the menu, as on the other platforms.
    const MENU_ON_ACTIVATE: bool = true;

    fn id(&self) -> String {
        "lakepass".into()
    }

    fn title(&self) -> String {
        "Lakepass".into()
    }

    fn icon_theme_path(&self) -> String {
        self.theme_path.clone()
    }

    fn icon_name(&self) -> String {
        self.look.icon.clone()
    }

    fn tool_tip(&self) -> ksni::ToolTip {
        ksni::ToolTip { title: "Lakepass".into(), description: self.look.tip.clone(), ..Default::default() }
    }

    fn menu(&self) -> Vec<ksni::MenuItem<Self>> {
        items(&self.look.model.entries)
    }

    // dbusmenu's `AboutToShow` on the root: the host is opening the menu. GNOME's AppIndicator
    // extension sends it each time the root menu opens, and once when it first attaches the
    // menu (ubuntu/gnome-shell-extension-appindicator, dbusMenu.js: `_onMenuOpenStateChanged`,
    // `attachToMenu`). The tray preloads the dashboard on it, ahead of a click on "Open
    // dashboard"; a host that never sends it only misses the preload.
    fn menu_about_to_show(&mut self) {
        let _ = self.menu_opens.send(());
    }

    fn watcher_offline(&self, reason: ksni::OfflineReason) -> bool {
        tracing::warn!(?reason, "the desktop's tray host went away; the icon returns when it does");
        true
    }
}

fn on_click(id: &str) -> Box<dyn Fn(&mut Item) + Send> {
    let action = MenuAction::parse(id);
    Box::new(move |item: &mut Item| {
        if let Some(a) = &action {
            let _ = item.clicks.send(a.clone());
        }
    })
}

fn items(entries: &[MenuEntry]) -> Vec<ksni::MenuItem<Item>> {
    entries
        .iter()
        .map(|e| match e {
            MenuEntry::Item { id, label, enabled } => ksni::menu::StandardItem {
                label: label.clone(),
                enabled: *enabled,
                activate: on_click(id),
                ..Default::default()
            }
            .into(),
            MenuEntry::Check { id, label, checked } => ksni::menu::CheckmarkItem {
                label: label.clone(),
                checked: *checked,
                activate: on_click(id),
                ..Default::default()
            }
            .into(),
            MenuEntry::Submenu { label, entries, .. } => {
                ksni::menu::SubMenu { label: label.clone(), submenu: items(entries), ..Default::default() }
                    .into()
            }
            MenuEntry::Separator => ksni::MenuItem::Separator,
        })
        .collect()
}

/// The icon's name for a state on a light or dark panel (a file `<name>.png` in the folder).
fn icon_name(state: IconState, dark_panel: bool) -> String {
    format!("lakepass-{}-{}", state.file_stem(), if dark_panel { "dark" } else { "light" })
}

/// The bundled tray images, by state and panel.
fn images() -> [(IconState, bool, &'static [u8]); 8] {
    [
        (IconState::Fresh, false, include_bytes!("../../../icons/tray/fresh-light.png")),
        (IconState::Fresh, true, include_bytes!("../../../icons/tray/fresh-dark.png")),
        (IconState::Expiring, false, include_bytes!("../../../icons/tray/expiring-light.png")),
        (IconState::Expiring, true, include_bytes!("../../../icons/tray/expiring-dark.png")),
        (IconState::Failed, false, include_bytes!("../../../icons/tray/failed-light.png")),
        (IconState::Failed, true, include_bytes!("../../../icons/tray/failed-dark.png")),
        (IconState::SignedOut, false, include_bytes!("../../../icons/tray/signed_out-light.png")),
        (IconState::SignedOut, true, include_bytes!("../../../icons/tray/signed_out-dark.png")),
    ]
}

/// Writes the images into `dir` (created 0700) for the item's `IconThemePath`.
fn write_icons(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    for (state, dark, bytes) in images() {
        let path = dir.join(format!("{}.png", icon_name(state, dark)));
        if std::fs::read(&path).ok().as_deref() != Some(bytes) {
            std::fs::write(&path, bytes)?;
        }
    }
    Ok(())
}

/// The tray item as the follow loop's [`Surface`]: each view becomes a [`Look`], and a task
/// hands the newest one to the D-Bus service (which signals hosts only what changed).
pub(crate) struct SniSurface {
    looks: watch::Sender<Option<Look>>,
    dark_panel: bool,
}

impl SniSurface {
    /// Registers the item with the desktop's StatusNotifierWatcher. Clicks arrive on `clicks`,
    /// and a `()` on `menu_opens` each time the menu is about to show. With no watcher yet (a desktop still starting, or none), the item waits for one; the
    /// engine and the dashboard work either way.
    pub async fn start(
        icons: PathBuf,
        dark_panel: bool,
        clicks: mpsc::UnboundedSender<MenuAction>,
        menu_opens: mpsc::UnboundedSender<()>,
    ) -> SniSurface {
        if let Err(e) = write_icons(&icons) {
            tracing::warn!(error = %e, dir = %icons.display(), "cannot write the tray icons");
        }
        let first = Look {
            model: MenuModel { entries: Vec::new() },
            icon: icon_name(IconState::SignedOut, dark_panel),
            tip: "Lakepass".into(),
        };
        let item = Item { look: first, theme_path: icons.display().to_string(), clicks, menu_opens };
        let (looks, mut rx) = watch::channel::<Option<Look>>(None);
        match item.assume_sni_available(true).spawn().await {
            Ok(handle) => {
                tokio::spawn(async move {
                    while rx.changed().await.is_ok() {
                        let Some(look) = rx.borrow_and_update().clone() else { continue };
                        if handle.update(|item| item.look = look).await.is_none() {
                            break;
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "no tray icon (no D-Bus session?); start Lakepass again to open the dashboard")
            }
        }
        SniSurface { looks, dark_panel }
    }
}

impl Surface for SniSurface {
    fn apply(&mut self, view: &AppView, now: UnixTime) {
        let look = Look {
            model: menu::menu(view, now),
            icon: icon_name(look::icon_state(view, now), self.dark_panel),
            tip: look::tooltip(view, now),
        };
        self.looks.send_if_modified(|old| {
            let changed = old.as_ref() != Some(&look);
            *old = Some(look);
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_distinct_icon_file_per_panel() {
        let dir = tempfile::tempdir().unwrap();
        write_icons(dir.path()).unwrap();
        let mut names = std::collections::BTreeSet::new();
        for (state, dark, bytes) in images() {
            let name = icon_name(state, dark);
            assert_eq!(std::fs::read(dir.path().join(format!("{name}.png"))).unwrap(), bytes);
            assert!(bytes.starts_with(b"\x89PNG"), "{name} is a PNG");
            names.insert(name);
        }
        assert_eq!(names.len(), 8);
    }

    #[test]
    fn menu_entries_keep_their_labels_checks_and_greying() {
        let entries = vec![
            MenuEntry::Item { id: "refresh-now".into(), label: "Refresh now".into(), enabled: false },
            MenuEntry::Separator,
            MenuEntry::Submenu {
                id: "ws".into(),
                label: "Workspace".into(),
                entries: vec![MenuEntry::Check {
                    id: "workspace:dev".into(),
                    label: "dev".into(),
                    checked: true,
                }],
            },
        ];
        let got = items(&entries);
        assert!(matches!(&got[0], ksni::MenuItem::Standard(s) if s.label == "Refresh now" && !s.enabled));
        assert!(matches!(&got[1], ksni::MenuItem::Separator));
        match &got[2] {
            ksni::MenuItem::SubMenu(s) => {
                assert_eq!(s.label, "Workspace");
                assert!(
                    matches!(&s.submenu[0], ksni::MenuItem::Checkmark(c) if c.label == "dev" && c.checked)
                );
            }
            _ => panic!("a submenu"),
        }
    }

    #[test]
    fn a_click_sends_the_items_action_and_informational_lines_send_nothing() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut item = Item {
            look: Look { model: MenuModel { entries: vec![] }, icon: String::new(), tip: String::new() },
            theme_path: String::new(),
            clicks: tx,
            menu_opens: mpsc::unbounded_channel().0,
        };
        on_click("workspace:prod")(&mut item);
        on_click("status:dev")(&mut item);
        on_click("launch:claude")(&mut item);
        on_click("launch:terminal")(&mut item);
        on_click("quit")(&mut item);
        assert_eq!(rx.try_recv().unwrap(), MenuAction::SwitchWorkspace("prod".into()));
        assert_eq!(rx.try_recv().unwrap(), MenuAction::Launch(menu::Agent::Claude));
        assert_eq!(rx.try_recv().unwrap(), MenuAction::Launch(menu::Agent::Terminal));
        assert_eq!(rx.try_recv().unwrap(), MenuAction::Quit);
        assert!(rx.try_recv().is_err());
    }
}
