//! The HTTP API's conventions: every error is JSON, unknown routes and wrong methods included;
//! the OpenAPI document lists every route the server answers.

mod common;

use common::TestApp;
use serde_json::{json, Value};

async fn raw(app: &TestApp, method: reqwest::Method, path: &str) -> (u16, Value) {
    let resp = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(common::TEST_OPERATOR_TOKEN)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn every_error_is_json_including_unknown_routes_wrong_methods_and_bad_path_parameters() {
    let app = TestApp::spawn().await;
    let (code, body) = raw(&app, reqwest::Method::GET, "/no/such/route").await;
    assert_eq!(code, 404);
    assert!(body["error"].as_str().unwrap().contains("/no/such/route"), "{body}");
    let (code, body) = raw(&app, reqwest::Method::DELETE, "/api/v1/leads").await;
    assert_eq!(code, 405);
    assert!(body["error"].is_string(), "{body}");
    let (code, body) = raw(&app, reqwest::Method::GET, "/api/v1/leads/not-a-number").await;
    assert_eq!(code, 400);
    assert!(body["error"].is_string(), "{body}");
    let (code, body) = raw(&app, reqwest::Method::GET, "/api/v1/leads?limit=many").await;
    assert_eq!(code, 400);
    assert!(body["error"].is_string(), "{body}");
    let (code, body) = raw(&app, reqwest::Method::POST, "/api/v1/leads/99999999/accept").await;
    assert_eq!(code, 404);
    assert!(body["error"].is_string(), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn accepting_a_lead_the_bot_still_holds_is_a_conflict() {
    let app = TestApp::spawn().await;
    let (code, lead) = app
        .post(
            "/api/v1/leads",
            json!({"source": "api", "external_id": "c-1", "channel": "webchat", "name": "Олег"}),
        )
        .await;
    assert_eq!(code, 201, "{lead}");
    let id = lead["id"].as_i64().unwrap();
    let (code, body) = app.post(&format!("/api/v1/leads/{id}/accept"), json!({})).await;
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("only an assigned lead"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_the_server_answers() {
    let app = TestApp::spawn().await;
    let (code, doc) = raw(&app, reqwest::Method::GET, "/api/openapi.json").await;
    assert_eq!(code, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    // Every route of the README's API table.
    for (method, path) in [
        ("post", "/api/v1/leads"),
        ("get", "/api/v1/leads"),
        ("get", "/api/v1/leads/{id}"),
        ("post", "/api/v1/leads/{id}/messages"),
        ("get", "/api/v1/leads/{id}/transcript"),
        ("post", "/api/v1/leads/{id}/restart"),
        ("post", "/api/v1/leads/{id}/accept"),
        ("post", "/api/v1/leads/{id}/close"),
        ("post", "/api/v1/leads/{id}/telegram-link"),
        ("get", "/api/v1/managers"),
        ("post", "/api/v1/managers/{id}/pause"),
        ("post", "/api/v1/managers/{id}/unpause"),
        ("post", "/api/v1/managers/{id}/absence"),
        ("post", "/api/v1/deals/{id}/dispatch"),
        ("get", "/api/v1/channels"),
        ("post", "/api/v1/channels/{name}/restart"),
        ("get", "/api/v1/outbox"),
        ("post", "/api/v1/outbox/{id}/retry"),
        ("post", "/webhooks/bitrix24"),
        ("post", "/webhooks/amocrm/{secret}"),
        ("post", "/webhooks/telegram/{bot}"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/chat"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    // And every documented operation is served (no "no such route" for any of them).
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{id}", "1")
                .replace("{name}", "x")
                .replace("{secret}", "x")
                .replace("{bot}", "x");
            let (_, body) = raw(&app, method.to_uppercase().parse().unwrap(), &concrete).await;
            let error = body["error"].as_str().unwrap_or("");
            assert!(
                !error.starts_with("no such route") && !error.starts_with("method"),
                "{method} {path}: {body}"
            );
        }
    }
    // Operator operations say they need the bearer token.
    assert_eq!(paths["/api/v1/managers"]["get"]["security"][0]["operator"], json!([]));
    assert!(doc["components"]["securitySchemes"]["operator"].is_object());
    app.stop().await;
}
