//! Capabilities end to end through the real backend API: a skill uploaded as a zip (stored in a
//! real S3 server, s3s-fs), a slash command, an MCP server (a stdio fixture) and a preset with a
//! prompt template are created with `/api/v1`; a task names the preset; the manager (in-process,
//! process runtime) presigns the skill's files from the claim's snapshot, the real executor
//! stages everything, and the real Claude Code CLI, driven by the scripted model, loads it.

mod common;

use std::time::Duration;

use common::{Harness, multipart_file};
use fake_llm::{Block, ScenarioFile, Turn};
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::mcp::{ECHO_PREFIX, echo_server_command};
use test_support::s3::{BUCKET, S3Server};
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(120);

const SKILL_MD: &str = "---\nname: greeter\ndescription: Greets people by name with its script. Use when asked to greet.\n---\nRun `scripts/greet.sh NAME` from this skill's folder.\n";
const GREET_SH: &str = "#!/bin/sh\necho \"Hello, $1, from the greeter skill\"\n";
const TEMPLATE: &str = "Follow the house rules (TEMPLATE-MARK).";

fn scenarios() -> ScenarioFile {
    ScenarioFile::default().with_scenario(
        "caps",
        vec![
            Turn::blocks(vec![Block::tool_use("Skill", json!({"skill": "greeter"}))]),
            Turn::blocks(vec![Block::tool_use(
                "Bash",
                json!({"command": "\"$CLAUDE_CONFIG_DIR/skills/greeter/scripts/greet.sh\" Ada"}),
            )]),
            Turn::blocks(vec![Block::tool_use(
                "mcp__echo__echo",
                json!({"text": "from the preset"}),
            )]),
            Turn::text("All done."),
        ],
    )
}

async fn post(h: &Harness, path: &str, body: Value) -> Value {
    let res = h
        .client
        .post(format!("{}/api/v1/{path}", h.backend))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// The payload of the run's only event of `kind`.
fn payload<'a>(events: &'a [(i64, i64, String, Value)], kind: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e.2 == kind)
        .map(|e| &e.3)
        .collect();
    assert_eq!(found.len(), 1, "{kind}: {events:?}");
    found[0]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_preset_brings_its_template_skill_command_and_mcp_server_to_the_agent(pool: PgPool) {
    let s3 = S3Server::start().await;
    let s3_vars = [
        ("S3_ENDPOINT", s3.endpoint.as_str()),
        ("S3_ACCESS_KEY", s3.access_key.as_str()),
        ("S3_SECRET_KEY", s3.secret_key.as_str()),
        ("S3_BUCKET", BUCKET),
    ];
    let h = Harness::start_full(pool, scenarios(), &s3_vars, &s3_vars, None).await;

    // The library, through the public API (single-user mode: no sign-in).
    let zip = test_support::zip::folder(
        "greeter",
        &[
            ("SKILL.md", SKILL_MD.as_bytes()),
            ("scripts/greet.sh", GREET_SH.as_bytes()),
        ],
    );
    let (content_type, body) = multipart_file("greeter.zip", &zip);
    let res = h
        .client
        .post(format!("{}/api/v1/skills", h.backend))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let skill: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    assert_eq!(status, 201, "{skill}");
    assert_eq!(skill["name"], "greeter");
    let command = post(
        &h,
        "slash-commands",
        json!({"name": "shout", "description": "Shouts", "body": "Shout: $ARGUMENTS"}),
    )
    .await;
    let (program, args) = echo_server_command();
    let server = post(
        &h,
        "mcp-servers",
        json!({"name": "echo", "config": {"command": program, "args": args}}),
    )
    .await;
    let preset = post(
        &h,
        "presets",
        json!({
            "name": "greeting",
            "prompt_template": TEMPLATE,
            "skill_ids": [skill["id"]],
            "slash_command_ids": [command["id"]],
            "mcp_server_ids": [server["id"]],
        }),
    )
    .await;

    let created = post(
        &h,
        "tasks",
        json!({"prompt": "[scenario:caps] Greet Ada.", "preset_id": preset["id"]}),
    )
    .await;
    let run: Uuid = created["run_id"].as_str().unwrap().parse().unwrap();
    let session: Uuid = created["session_id"].as_str().unwrap().parse().unwrap();
    let status = h
        .wait_status(run, &["completed", "failed", "canceled"], RUN_LIMIT)
        .await;
    assert_eq!(
        status,
        "completed",
        "error: {:?}; events: {:?}",
        h.run_error(run).await,
        h.events(run).await
    );

    // The CLI loaded the skill, the command and the MCP server.
    let events = h.events(run).await;
    let init = payload(&events, "system_init");
    assert!(names(&init["skills"]).contains(&"greeter"), "{init}");
    assert!(names(&init["slash_commands"]).contains(&"shout"), "{init}");
    assert_eq!(
        init["mcp_servers"],
        json!([{"name": "echo", "status": "connected"}]),
        "{init}"
    );
    // The template reached the model with the prompt; the skill is listed to it.
    let turns = h.llm.turn_requests();
    assert_eq!(turns.len(), 4, "{turns:?}");
    let first = turns[0].user_text();
    assert!(first.contains(TEMPLATE), "the preset's template is missing");
    assert!(first.contains("Greet Ada."));
    assert!(first.contains("- greeter: Greets people by name with its script."));
    // The skill's script ran from the staged folder (fetched through presigned URLs); the MCP
    // server answered.
    let results: Vec<String> = events
        .iter()
        .filter(|e| e.2 == "tool_result")
        .map(|e| e.3["content"].to_string())
        .collect();
    assert!(
        results
            .iter()
            .any(|r| r.contains("Launching skill: greeter")),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r.contains("Hello, Ada, from the greeter skill")),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r.contains(&format!("{ECHO_PREFIX}from the preset"))),
        "{results:?}"
    );
    let user = h.user_of(session).await;
    let data = h.workspace(user, session).join(".claude_data");
    assert_eq!(
        std::fs::read_to_string(data.join("skills/greeter/scripts/greet.sh")).unwrap(),
        GREET_SH
    );
    let command = std::fs::read_to_string(data.join("commands/shout.md")).unwrap();
    assert!(command.contains("Shout: $ARGUMENTS"), "{command}");
}
