//! Session titles through the scripted model server's OpenAI-compatible endpoint, and the
//! fallback to the prompt.

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use fake_llm::{Config, FakeLlm, ScenarioFile};
use serde_json::{Value, json};
use sqlx::PgPool;

const KEY: &str = "sk-test-title-key";

async fn title_after(app: &TestApp, token: &str, session: uuid::Uuid, not: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s: Value = app
            .get(token, &format!("/api/v1/sessions/{session}"))
            .await
            .json()
            .await
            .unwrap();
        let title = s["title"].as_str().unwrap().to_owned();
        if title != not || Instant::now() > deadline {
            return title;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn scenarios(v: Value) -> ScenarioFile {
    ScenarioFile::from_json_value(v).unwrap()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_generated_title_replaces_the_prompts(pool: PgPool) {
    let mut config = Config::new(
        "anthropic-key",
        scenarios(json!({"chat_reply": "\"Repair the login flow.\"", "scenarios": {}})),
    );
    config.openai_api_key = Some(KEY.into());
    let llm = FakeLlm::start(config).await.unwrap();
    let base = llm.openai_base_url();
    let app = TestApp::spawn_with(
        pool,
        &[
            ("OPENAI_API_KEY", KEY),
            ("OPENAI_BASE_URL", &base),
            ("OPENAI_DEFAULT_MODEL", "title-model"),
        ],
    )
    .await;
    let token = app.register("a@example.com").await;
    let (session, _) = app
        .task(
            &token,
            "the login page throws a 500 when the password is empty",
            None,
        )
        .await;
    let title = title_after(
        &app,
        &token,
        session,
        "the login page throws a 500 when the password is empty",
    )
    .await;
    assert_eq!(title, "Repair the login flow");
    let req = llm
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/chat/completions"))
        .expect("a chat completion request");
    let body = req.body.expect("a JSON body");
    assert_eq!(body["model"], "title-model");
    assert!(body.to_string().contains("the login page throws"));
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_failing_title_api_keeps_the_prompts_title(pool: PgPool) {
    let mut config = Config::new(
        "anthropic-key",
        scenarios(json!({"chat_error": {"status": 500}, "scenarios": {}})),
    );
    config.openai_api_key = Some(KEY.into());
    let llm = FakeLlm::start(config).await.unwrap();
    let base = llm.openai_base_url();
    let app =
        TestApp::spawn_with(pool, &[("OPENAI_API_KEY", KEY), ("OPENAI_BASE_URL", &base)]).await;
    let token = app.register("a@example.com").await;
    let (session, _) = app
        .task(&token, "Refactor the parser\nwith details", None)
        .await;
    // Wait for the request to have been answered, then check nothing changed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !llm
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/chat/completions"))
    {
        assert!(Instant::now() < deadline, "no title request was made");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s: Value = app
        .get(&token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["title"], "Refactor the parser");
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_rename_before_the_title_arrives_wins(pool: PgPool) {
    let mut config = Config::new(
        "anthropic-key",
        scenarios(json!({"chat_reply": "Generated", "chat_delay_ms": 500, "scenarios": {}})),
    );
    config.openai_api_key = Some(KEY.into());
    let llm = FakeLlm::start(config).await.unwrap();
    let base = llm.openai_base_url();
    let app =
        TestApp::spawn_with(pool, &[("OPENAI_API_KEY", KEY), ("OPENAI_BASE_URL", &base)]).await;
    let token = app.register("a@example.com").await;
    let (session, _) = app.task(&token, "prompt title", None).await;
    let res = app
        .client
        .patch(app.url(&format!("/api/v1/sessions/{session}")))
        .bearer_auth(&token)
        .json(&json!({"title": "Mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let s: Value = app
        .get(&token, &format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["title"], "Mine");
}
