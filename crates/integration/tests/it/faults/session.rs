//! An IdP session and where its refresh token may go (issue 23, H1): a session is bound to the
//! issuer and client it was signed in with, and to its token endpoint's origin. A config that
//! names another issuer under the same IdP name (a team file imported with `--replace`, a hand
//! edit), a second config on the same data folder, or a session an older version stored with no
//! binding must never send the refresh token anywhere else.

use std::sync::Arc;

use lakepass_config::{Config, ConfigDoc, TeamFile};
use lakepass_devstack::{ClientConfigOptions, DevstackInfo};
use lakepass_engine::engine::Engine;
use lakepass_engine::store::Store;
use lakepass_engine::{ErrorKind, SessionOwner};
use lakepass_store::{Paths, Vault, VaultKind};
use lakepass_wire::http::Http;

use super::*;

/// `[idp.devstack]` as a team file would repeat it, naming `other`'s issuer and the same client.
fn team_naming(other: &DevstackInfo) -> String {
    format!("[idp.devstack]\nissuer = \"{}\"\nclient_id = \"{}\"\n", other.issuer, other.client_id)
}

/// An engine over `paths` (its own config, perhaps a shared data folder) on `f`'s clock.
async fn engine_over(f: &Fixture, paths: &Paths) -> Engine {
    let config = Config::load(&paths.config).unwrap();
    let vault = Vault::open(&paths.data_dir, Some(VaultKind::File)).await.unwrap();
    let http = Http::with_policy(RETRY_4_FAST);
    let e = Engine::new(config, paths.clone(), Store::new(vault), http, f.manual_clock(), setup().engine)
        .unwrap();
    e.load().await.unwrap();
    e
}

/// The attack of H1: signed in at the real IdP, the user imports a team file that repeats
/// `[idp.devstack]` with another issuer (`setup team.toml --replace --yes --no-login`); when the
/// IdP token is due, the refresh must not present the stored refresh token to that issuer.
#[tokio::test]
async fn a_replaced_issuer_never_receives_the_stored_refresh_token() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.signed_in_engine().await;
        let before = Config::load(&f.paths.config).unwrap();
        drop(e);
        let other = lakepass_devstack::start(setup().devstack).await.unwrap();

        // The config change `setup --replace` makes, without its clean-up of the old session:
        // the engine's own check must hold even when that clean-up did not run (a hand edit).
        let team = TeamFile::parse(&team_naming(other.info()), std::path::Path::new("team.toml")).unwrap();
        let mut doc = ConfigDoc::load(&f.paths.config).unwrap();
        let plan = team.plan(&doc.to_config(&f.paths.config).unwrap());
        doc.apply_team(&team, &plan, true, &[]).unwrap();
        doc.save(&f.paths.config).unwrap();

        let e = f.engine().await;
        f.sleep_laptop(3500); // the IdP token is stale: the next exchange must refresh it first
        e.tick().await;
        assert_eq!(state(&e, "dev"), TokenState::NeedsLogin);
        // `lakepass refresh -w dev`: a forced refresh, which must not fall back on the session.
        let err = e.refresh_workspace(&ws(&e, "dev"), true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NeedsLogin, "{err}");
        assert!(err.to_string().contains("lakepass login --idp devstack"), "{err}");
        let stats = other.stats().idp;
        assert_eq!(
            (stats.refresh_grants, stats.refresh_failures),
            (0, 0),
            "the other issuer never saw a refresh token"
        );
        assert_eq!(f.ds.stats().idp.refresh_grants, 0, "and the old one was not asked either");

        // What `setup --replace` does besides: the replaced IdP's session is deleted.
        let after = Config::load(&f.paths.config).unwrap();
        let store = f.store().await;
        let owner = SessionOwner::new("devstack", &before.idp["devstack"]);
        assert!(store.idp_session(&owner).await.unwrap().found().is_some(), "kept, unused, until then");
        assert_eq!(store.forget_replaced_idps(&before, &after).await.unwrap(), ["devstack"]);
        assert!(store.idp_session(&owner).await.unwrap().found().is_none());
    })
    .await
}

/// Two configs on one data folder (or one keyring) with an IdP of the same name at different
/// issuers: each keeps its own session, and each refresh goes to its own issuer.
#[tokio::test]
async fn two_configs_sharing_a_data_folder_keep_their_own_sessions() {
    within(CASE_TIMEOUT, async {
        let a = fixture().await;
        let b = Fixture::over(
            Arc::new(lakepass_devstack::start(setup().devstack).await.unwrap()),
            Setup {
                config: ClientConfigOptions { profile_prefix: Some("b-".into()), ..Default::default() },
                ..setup()
            },
        );
        let shared = Paths { data_dir: a.paths.data_dir.clone(), ..b.paths.clone() };
        let ea = a.signed_in_engine().await;
        let eb = engine_over(&a, &shared).await;
        a.sign_in(&eb).await; // signs in at b's devstack: the config says so
        assert_eq!(b.ds.stats().idp.authorization_code_grants, 1);

        a.sleep_laptop(3500);
        b.faults().add(lakepass_devstack::FaultRule::new(
            lakepass_devstack::Target::Any,
            lakepass_devstack::FaultKind::ClockSkew(3500),
        ));
        ea.tick().await;
        eb.tick().await;
        assert_eq!(state(&ea, "dev"), TokenState::Fresh, "{:?}", status(&ea, "dev"));
        assert_eq!(state(&eb, "dev"), TokenState::Fresh, "{:?}", status(&eb, "dev"));
        for ds in [&a.ds, &b.ds] {
            let stats = ds.stats().idp;
            assert_eq!((stats.refresh_grants, stats.refresh_failures), (1, 0), "each refreshed its own");
        }
    })
    .await
}

/// A session an older version stored under `idp:<name>`, with no record of its issuer, is
/// dropped unused with a reason; it is never bound to whatever issuer the config names now.
#[tokio::test]
async fn a_session_stored_without_its_issuer_is_dropped_not_refreshed() {
    within(CASE_TIMEOUT, async {
        let f = fixture().await;
        let e = f.signed_in_engine().await;
        let session = e.stored_session("devstack").await.unwrap().unwrap();
        let store = f.store().await;
        store.forget_idp(&e.session_owner("devstack").unwrap()).await.unwrap();
        let old = lakepass_wire::Secret::new(serde_json::to_string(&session).unwrap());
        store.vault().set("idp:devstack", &old).await.unwrap();
        drop(e);

        let e = f.engine().await;
        f.sleep_laptop(3500);
        e.tick().await;
        let s = status(&e, "dev");
        assert_eq!(s.state, TokenState::NeedsLogin, "{s:?}");
        assert!(s.error_message().unwrap().contains("older Lakepass"), "{s:?}");
        assert_eq!(f.ds.stats().idp.refresh_grants + f.ds.stats().idp.refresh_failures, 0);
        assert!(store.vault().get("idp:devstack").await.unwrap().is_none(), "dropped");

        f.clock.advance(1);
        f.sign_in(&e).await;
        assert_eq!(state(&e, "dev"), TokenState::Fresh, "a new sign-in is bound and works");
    })
    .await
}
