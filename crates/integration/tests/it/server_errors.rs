//! Real Databricks error answers (`fixtures/databricks_errors.json`, each naming its source)
//! served by the devstack: the admin client reads each into `error_code` and `message`, and the
//! doctor shows the server's words and decides only on status and error code.

use crate::admin::{AdminSetup, admin_setup};
use crate::support::devstack;
use lakepass_admin::{self as admin, AdminClient, AdminError};
use lakepass_devstack::{FaultKind, FaultRule, Target};
use lakepass_doctor::{self as doctor, DoctorOptions, Problem, StepId, StepStatus};
use serde_json::Value;

fn fixtures(kind: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(include_str!("fixtures/databricks_errors.json")).unwrap();
    all[kind].as_array().unwrap().clone()
}

fn fault(f: &Value) -> FaultKind {
    FaultKind::Body {
        code: f["status"].as_u64().unwrap() as u16,
        body: f["body"].as_str().unwrap().into(),
        content_type: f["content_type"].as_str().map(String::from),
    }
}

#[tokio::test]
async fn each_recorded_rest_error_is_read_and_the_doctor_shows_it_and_goes_on() {
    let ds = devstack(Some("ada@example.com")).await;
    let AdminSetup { home: h, engine: e, account, token, .. } = admin_setup(&ds, "").await;
    h.login_as(&e, None).await.unwrap();
    let dev = e.config().workspace(Some("dev")).unwrap();
    for f in fixtures("rest") {
        let source = f["source"].as_str().unwrap();
        ds.faults().clear();
        ds.faults().add(FaultRule::new(Target::WorkspaceApi, fault(&f)).on_workspace("accounts"));
        let err = AdminClient::new().send(&admin::list_policies(&account, None), &token).await.unwrap_err();
        match &err {
            AdminError::Api { status, error_code, message, .. } => {
                assert_eq!(u64::from(*status), f["status"].as_u64().unwrap(), "{source}");
                assert_eq!(error_code, f["error_code"].as_str().unwrap(), "{source}");
                assert_eq!(message, f["message"].as_str().unwrap(), "{source}");
            }
            other => panic!("{source}: {other}"),
        }
        // The doctor reports the failed lookup in the server's words and still runs the chain.
        let fetched = admin::policies_for(&AdminClient::new(), &account, &dev, &token).await;
        assert!(!fetched.account_listed, "{source}");
        let opts = DoctorOptions {
            policies: fetched.policies,
            policies_fetched: fetched.account_listed,
            policy_lookup_failures: fetched.failures,
            ..Default::default()
        };
        let r = doctor::diagnose(&e, &dev, &opts).await;
        let warned = r.steps.iter().find(|s| s.status == StepStatus::Warning && s.id == StepId::Policy);
        assert!(
            warned.is_some_and(|s| s.detail.contains(f["message"].as_str().unwrap())),
            "{source}: {r:#?}"
        );
        assert!(r.ok, "the lookup failed, the workspace did not: {source}: {r:#?}");
    }
}

#[tokio::test]
async fn each_recorded_token_endpoint_error_is_shown_in_the_servers_words() {
    let ds = devstack(Some("ada@example.com")).await;
    let h = crate::support::home(&ds, "");
    let e = h.engine().await;
    h.login_as(&e, None).await.unwrap();
    let dev = e.config().workspace(Some("dev")).unwrap();
    for f in fixtures("oauth") {
        let source = f["source"].as_str().unwrap();
        ds.faults().clear();
        ds.faults().add(FaultRule::new(Target::WorkspaceToken, fault(&f)).on_workspace("dev"));
        let r = doctor::diagnose(&e, &dev, &DoctorOptions::default()).await;
        let step = r.failure().unwrap_or_else(|| panic!("{source}: {r:#?}"));
        assert_eq!(step.id, StepId::Exchange, "{source}: {r:#?}");
        let description = f["description"].as_str().unwrap();
        match step.problem.clone().unwrap() {
            Problem::ExchangeRejected { status, error, description: d } => {
                assert_eq!(u64::from(status), f["status"].as_u64().unwrap(), "{source}");
                assert_eq!(error, f["error"].as_str().unwrap(), "{source}");
                assert_eq!(d, description, "{source}");
                assert!(
                    step.detail.contains(description),
                    "{source}: the server's words are shown: {step:?}"
                );
                if status >= 500 {
                    assert!(step.fix.as_deref().unwrap().contains("try again"), "{source}: {step:?}");
                }
            }
            // A 5xx is retried; when the retries run out it is "busy", never "unreachable".
            Problem::WorkspaceUnavailable { status, .. } => {
                assert_eq!(u64::from(status), f["status"].as_u64().unwrap(), "{source}");
                assert!(step.fix.as_deref().unwrap().contains("try again"), "{source}: {step:?}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
}
