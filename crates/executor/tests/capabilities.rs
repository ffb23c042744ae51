//! A run's capabilities with the real Claude Code CLI (`CLAUDE_BIN`) against the scripted model
//! server: skills fetched from presigned URLs of a real S3 server (s3s-fs), MCP servers (a stdio
//! fixture that works and a command that exits), slash commands, subagents, `CLAUDE.md`, staging
//! again when the next run has other capabilities, and the CLI started ahead reused only for an
//! equal digest.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use common::*;
use executor::task::PrestartUse;
use fake_llm::{Block, Config, FakeLlm, ScenarioFile, Turn};
use objstore::{Bucket, S3Settings, keys};
use protocol::event::{EventBody, McpServerStatus, RunEvent};
use serde_json::{Value, json};
use test_support::mcp::{ECHO_PREFIX, echo_server_command};
use test_support::s3::{BUCKET, S3Server};
use uuid::Uuid;

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

const SKILL_MD: &str = "---\nname: greeter\ndescription: Greets people by name with its script. Use when asked to greet.\n---\nRun `scripts/greet.sh NAME` from this skill's folder.\n";
const GREET_SH: &str = "#!/bin/sh\necho \"Hello, $1, from the greeter skill\"\n";

async fn start_llm(scenarios: ScenarioFile) -> fake_llm::FakeLlmHandle {
    FakeLlm::start(Config::new("sk-ant-test-key", scenarios))
        .await
        .expect("fake model server")
}

async fn start_receiver() -> ReceiverServer {
    Receiver::default()
        .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
}

/// The init event's lists: (skills, slash commands, agents, MCP servers).
fn init_of(events: &[RunEvent]) -> (Vec<String>, Vec<String>, Vec<String>, Vec<McpServerStatus>) {
    match &events[0].body {
        EventBody::SystemInit {
            skills,
            slash_commands,
            agents,
            mcp_servers,
            ..
        } => (
            skills.clone(),
            slash_commands.clone(),
            agents.clone(),
            mcp_servers.clone(),
        ),
        other => panic!("the first event is not system_init: {other:?}"),
    }
}

fn tool_results(events: &[RunEvent]) -> Vec<(String, String, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ToolResult {
                tool_use_id,
                content,
                parent_tool_use_id,
                ..
            } => Some((
                tool_use_id.clone(),
                content.to_string(),
                parent_tool_use_id.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn completed(events: &[RunEvent]) {
    let kinds = assert_well_formed(events);
    assert_eq!(kinds.last(), Some(&"completed"), "{events:#?}");
}

fn bucket(s3: &S3Server) -> Bucket {
    Bucket::new(&S3Settings {
        endpoint: s3.endpoint.clone(),
        public_endpoint: None,
        region: "us-east-1".into(),
        bucket: BUCKET.into(),
        access_key: s3.access_key.clone().into(),
        secret_key: s3.secret_key.clone().into(),
        force_path_style: true,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_from_presigned_urls_is_listed_to_the_model_and_its_script_runs() {
    let _slot = cli_slot().await;
    // The skill's objects, uploaded like the backend does, signed like the manager does.
    let s3 = S3Server::start().await;
    let bucket = bucket(&s3);
    let (owner, skill) = (Uuid::new_v4(), Uuid::new_v4());
    let mut skills = Vec::new();
    for (index, (path, body)) in [("SKILL.md", SKILL_MD), ("scripts/greet.sh", GREET_SH)]
        .into_iter()
        .enumerate()
    {
        let key = keys::skill_object_key(Some(owner), skill, "v1", index);
        bucket
            .put(&key, "text/plain", body.as_bytes().to_vec())
            .await
            .unwrap();
        let url = bucket
            .presign_get(&key, SystemTime::now(), Duration::from_secs(600), None)
            .await
            .unwrap();
        skills.push(json!({"path": format!("greeter/{path}"), "url": url, "size": body.len()}));
    }

    let llm = start_llm(ScenarioFile::single(vec![
        Turn::blocks(vec![Block::ToolUse {
            id: Some("toolu_skill".into()),
            name: "Skill".into(),
            input: json!({"skill": "greeter"}),
        }]),
        Turn::blocks(vec![Block::ToolUse {
            id: Some("toolu_script".into()),
            name: "Bash".into(),
            input: json!({"command": "\"$CLAUDE_CONFIG_DIR/skills/greeter/scripts/greet.sh\" Ada", "description": "Greet"}),
        }]),
        Turn::text("Greeted."),
    ]))
    .await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, "Greet Ada.", &receiver.url());
    body["skills"] = json!(skills);
    body["capabilities_digest"] = json!("d1");
    exec.execute(&body).await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    completed(&events);

    let (listed, commands, _, _) = init_of(&events);
    assert!(listed.contains(&"greeter".to_owned()), "{listed:?}");
    // The CLI offers skills as slash commands too.
    assert!(commands.contains(&"greeter".to_owned()), "{commands:?}");
    // The model is told about it (a system reminder in the first user message) …
    let first = &llm.turn_requests()[0];
    assert!(
        first
            .user_text()
            .contains("- greeter: Greets people by name with its script."),
        "the skill listing is missing from the request"
    );
    assert!(first.tool_names().contains(&"Skill"));
    // … the Skill tool loads it, and its script runs from the staged folder.
    let results = tool_results(&events);
    let skill = results.iter().find(|r| r.0 == "toolu_skill").unwrap();
    assert!(skill.1.contains("Launching skill: greeter"), "{skill:?}");
    let second = &llm.turn_requests()[1];
    assert!(second.user_text().contains("Run `scripts/greet.sh NAME`"));
    let script = results.iter().find(|r| r.0 == "toolu_script").unwrap();
    assert!(
        script.1.contains("Hello, Ada, from the greeter skill"),
        "{script:?}"
    );
    // Staged under the configuration directory, not reported as a change of the workspace.
    assert!(ws.join(".claude_data/skills/greeter/SKILL.md").is_file());
    let changes = events.iter().find_map(|e| match &e.body {
        EventBody::FileChanges { changes } => Some(changes.clone()),
        _ => None,
    });
    assert_eq!(changes, Some(vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_servers_report_their_status_and_the_model_calls_a_tool() {
    let _slot = cli_slot().await;
    let llm = start_llm(ScenarioFile::single(vec![
        Turn::blocks(vec![Block::ToolUse {
            id: Some("toolu_mcp".into()),
            name: "mcp__echo__echo".into(),
            input: json!({"text": "ping"}),
        }]),
        Turn::text("The server answered."),
    ]))
    .await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    let (command, args) = echo_server_command();
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, "Call the echo tool.", &receiver.url());
    body["mcp_config"] = json!({"mcpServers": {
        "echo": {"command": command, "args": args},
        "broken": {"command": "sh", "args": ["-c", "exit 3"]},
    }});
    body["capabilities_digest"] = json!("d1");
    exec.execute(&body).await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    completed(&events);

    let (_, _, _, mut servers) = init_of(&events);
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        servers,
        vec![
            McpServerStatus {
                name: "broken".into(),
                status: "failed".into()
            },
            McpServerStatus {
                name: "echo".into(),
                status: "connected".into()
            },
        ]
    );
    let results = tool_results(&events);
    let answer = results.iter().find(|r| r.0 == "toolu_mcp").unwrap();
    assert!(
        answer.1.contains(&format!("{ECHO_PREFIX}ping")),
        "{answer:?}"
    );
    // The model got the tool's answer back.
    let last = llm.turn_requests().pop().unwrap();
    assert!(last.body_contains(&format!("{ECHO_PREFIX}ping")));
    // The configuration stays (mode 0600) for a CLI started ahead with the same one.
    let mcp_files: Vec<_> = std::fs::read_dir(ws.join(".claude_data/executor"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(mcp_files.len(), 1, "{mcp_files:?}");
    use std::os::unix::fs::PermissionsExt;
    let mode = mcp_files[0].metadata().unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_prompt_runs_the_command_with_its_arguments() {
    let _slot = cli_slot().await;
    let llm = start_llm(ScenarioFile::single(vec![Turn::text("HELLO BIG WORLD")])).await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::start(cli_settings(&dir.path().join("ws"), &llm)).await;
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, "/shout hello big world", &receiver.url());
    body["slash_commands"] = json!([{
        "name": "shout",
        "content": "---\ndescription: Shouts the words\nargument-hint: WORDS\n---\nShout these words: $ARGUMENTS (the first is $0, the second $1)\n",
    }]);
    body["instructions"] = json!("Answer in capitals. INSTRUCTIONS-MARK");
    body["capabilities_digest"] = json!("d1");
    exec.execute(&body).await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    completed(&events);

    let (_, commands, _, _) = init_of(&events);
    assert!(commands.contains(&"shout".to_owned()), "{commands:?}");
    let turns = llm.turn_requests();
    assert_eq!(turns.len(), 1);
    let text = turns[0].user_text();
    // The CLI expands the command itself; its positional arguments count from 0 (CLI 2.1.x).
    assert!(
        text.contains("Shout these words: hello big world (the first is hello, the second big)"),
        "the expanded command is missing: {text}"
    );
    assert!(text.contains("<command-name>/shout</command-name>"));
    assert!(text.contains("INSTRUCTIONS-MARK"), "CLAUDE.md is missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subagent_runs_through_task_and_its_events_name_the_call() {
    let _slot = cli_slot().await;
    let scenarios = ScenarioFile::single(vec![
        Turn::blocks(vec![Block::ToolUse {
            id: Some("toolu_task".into()),
            name: "Task".into(),
            input: json!({
                "description": "Count the files",
                "prompt": "Count the files in the workspace.",
                "subagent_type": "counter",
                "run_in_background": false,
            }),
        }]),
        Turn::text("The counter says three."),
    ])
    .with_system_scenario(
        "counter",
        "COUNTER-AGENT-MARK",
        vec![
            Turn::blocks(vec![Block::ToolUse {
                id: Some("toolu_sub_bash".into()),
                name: "Bash".into(),
                input: json!({"command": "echo counted-by-the-subagent", "description": "Count"}),
            }]),
            Turn::text("Three files."),
        ],
    );
    let llm = start_llm(scenarios).await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::start(cli_settings(&dir.path().join("ws"), &llm)).await;
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, "How many files?", &receiver.url());
    body["subagents"] = json!([{
        "name": "counter",
        "content": "---\nname: counter\ndescription: Counts things. Use it for counting.\ntools: Bash\n---\nYou count things. COUNTER-AGENT-MARK\n",
    }]);
    body["capabilities_digest"] = json!("d1");
    exec.execute(&body).await;
    let events = receiver.receiver.wait_terminal(run_id, RUN_TIMEOUT).await;
    completed(&events);

    let (_, _, agents, _) = init_of(&events);
    assert!(agents.contains(&"counter".to_owned()), "{agents:?}");
    // The main agent is told about it; the subagent's own requests carry its body as system.
    let turns = llm.turn_requests();
    assert!(
        turns[0]
            .user_text()
            .contains("- counter: Counts things. Use it for counting.")
    );
    let sub: Vec<_> = turns
        .iter()
        .filter(|t| t.system_text().contains("COUNTER-AGENT-MARK"))
        .collect();
    assert_eq!(sub.len(), 2, "the subagent's two turns");
    // Its work nests under the Task call; the call itself and the final answer do not. (In the
    // foreground the subagent's final text is not printed as a line: it is the Task's result.)
    let nested: Vec<(&str, Option<&str>)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ToolUse {
                name,
                parent_tool_use_id,
                ..
            } => Some((name.as_str(), parent_tool_use_id.as_deref())),
            EventBody::AssistantText {
                text,
                parent_tool_use_id,
            } => Some((text.as_str(), parent_tool_use_id.as_deref())),
            _ => None,
        })
        .collect();
    assert_eq!(
        nested,
        vec![
            ("Task", None),
            ("Bash", Some("toolu_task")),
            ("The counter says three.", None),
        ]
    );
    let results = tool_results(&events);
    let sub_bash = results.iter().find(|r| r.0 == "toolu_sub_bash").unwrap();
    assert_eq!(sub_bash.2.as_deref(), Some("toolu_task"));
    assert!(sub_bash.1.contains("counted-by-the-subagent"));
    let task = results.iter().find(|r| r.0 == "toolu_task").unwrap();
    assert_eq!(task.2, None);
    assert!(task.1.contains("Three files."), "{task:?}");
}

/// A run body in one session, resuming `resume`.
fn in_session(session: Uuid, prompt: &str, url: &str, resume: Option<&str>) -> (Uuid, Value) {
    let run_id = Uuid::new_v4();
    let mut body = task(run_id, prompt, url);
    body["session_id"] = json!(session);
    if let Some(id) = resume {
        body["resume_agent_session_id"] = json!(id);
    }
    (run_id, body)
}

fn agent_session_of(events: &[RunEvent]) -> String {
    match &events[0].body {
        EventBody::SystemInit {
            agent_session_id, ..
        } => agent_session_id.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_started_ahead_is_reused_for_an_equal_digest_and_replaced_for_another() {
    let _slot = cli_slot().await;
    let (files, _guard) = file_server(vec![("SKILL.md", SKILL_MD)]).await;
    let llm = start_llm(ScenarioFile::single(vec![
        Turn::text("One."),
        Turn::text("Two."),
        Turn::text("Three."),
    ]))
    .await;
    let receiver = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    let data = ws.join(".claude_data");
    let exec = Executor::start(cli_settings(&ws, &llm)).await;
    let session = Uuid::new_v4();
    let (command, args) = echo_server_command();
    let first_caps = json!({
        "skills": [{"path": "greeter/SKILL.md", "url": format!("{files}/SKILL.md?X-Amz-Signature=s"), "size": SKILL_MD.len()}],
        "slash_commands": [{"name": "shout", "content": "Shout $ARGUMENTS"}],
        "mcp_config": {"mcpServers": {"echo": {"command": command, "args": args}}},
        "capabilities_digest": "digest1",
    });
    let with = |mut body: Value, caps: &Value| {
        for (k, v) in caps.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    let (first, body) = in_session(session, "First.", &receiver.url(), None);
    exec.execute(&with(body, &first_caps)).await;
    let events = receiver.receiver.wait_terminal(first, RUN_TIMEOUT).await;
    completed(&events);
    let (skills, commands, _, servers) = init_of(&events);
    assert!(skills.contains(&"greeter".to_owned()) && commands.contains(&"shout".to_owned()));
    assert_eq!(servers[0].status, "connected");
    // Kept for the follow-up: the run's own CLI, with the same (stable) MCP configuration path.
    let agent_session = agent_session_of(&events);
    let waiting = agents_in(&ws);
    assert_eq!(waiting.len(), 1);
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", waiting[0])).unwrap();
    let mcp_arg = String::from_utf8_lossy(&cmdline)
        .split('\0')
        .find(|a| a.starts_with("--mcp-config="))
        .map(str::to_owned)
        .expect("the kept CLI has the MCP configuration");
    assert!(mcp_arg.contains("/.claude_data/executor/mcp-"), "{mcp_arg}");

    // The follow-up names the same digest (and presigns new URLs, which are not fetched): it runs
    // in the kept CLI, with the files as they were.
    let mut same = first_caps.clone();
    same["skills"][0]["url"] = json!("http://127.0.0.1:9/not-fetched-again");
    let (second, body) = in_session(session, "Second.", &receiver.url(), Some(&agent_session));
    exec.execute(&with(body, &same)).await;
    let events = receiver.receiver.wait_terminal(second, RUN_TIMEOUT).await;
    completed(&events);
    assert_eq!(
        exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 0,
            kept: 1,
            replaced: 0
        }
    );
    let (skills, _, _, servers) = init_of(&events);
    assert!(skills.contains(&"greeter".to_owned()));
    assert_eq!(servers[0].status, "connected");

    // Another digest: staged again (what the run no longer has is gone), the kept CLI is
    // replaced, and the run sees exactly its own capabilities.
    let agent_session = agent_session_of(&events);
    let other_caps = json!({
        "slash_commands": [{"name": "whisper", "content": "Whisper $ARGUMENTS"}],
        "capabilities_digest": "digest2",
    });
    let (third, body) = in_session(session, "Third.", &receiver.url(), Some(&agent_session));
    exec.execute(&with(body, &other_caps)).await;
    let events = receiver.receiver.wait_terminal(third, RUN_TIMEOUT).await;
    completed(&events);
    assert_eq!(
        exec.tasks.prestart_counts(),
        PrestartUse {
            taken: 0,
            kept: 1,
            replaced: 1
        }
    );
    let (skills, commands, _, servers) = init_of(&events);
    assert!(!skills.contains(&"greeter".to_owned()), "{skills:?}");
    assert!(!commands.contains(&"shout".to_owned()), "{commands:?}");
    assert!(commands.contains(&"whisper".to_owned()), "{commands:?}");
    assert!(servers.is_empty(), "{servers:?}");
    assert!(!data.join("skills").exists());
    assert!(!data.join("commands/shout.md").exists());
    // (What the earlier staging left is deleted in the background while the run goes on.)
    let left: Vec<_> = std::fs::read_dir(data.join("executor"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("trash-"))
        .collect();
    assert!(
        left.is_empty(),
        "the old MCP configuration is left: {left:?}"
    );
    let last = llm.turn_requests().pop().unwrap();
    assert!(last.body_contains("Third.") && last.body_contains("First."));
    exec.shutdown().await;
}
