//! End-to-end tests against the REAL Claude Code CLI: the server is only
//! useful if the real client accepts what it says.
//!
//! The CLI is found through `CLAUDE_BIN`, else in the tools directory
//! (`$WORKCELL_TOOLS/node_modules/.bin/claude`, see `test_support::tools`).
//! When it is not installed these tests are skipped with a loud message;
//! when `CLAUDE_BIN` is set but wrong they fail.
//!
//! Install: `npm install --prefix "$WORKCELL_TOOLS" @anthropic-ai/claude-code@latest --prefer-online`
//! Run: `cargo test -p fake-llm --test claude_cli`

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fake_llm::{
    Block, Config, FakeLlm, FakeLlmHandle, RecordedRequest, ScenarioFile, Turn, TurnError,
};
use serde_json::{Value, json};

const KEY: &str = "sk-ant-cli-test-key";
const MODEL: &str = "claude-sonnet-4-5";
const CLI_TIMEOUT: Duration = Duration::from_secs(180);

/// The CLI binary (test-support's look-up: `CLAUDE_BIN`, else the tools directory), or `None`
/// after a loud message when it is not installed.
fn claude_bin(test: &str) -> Option<PathBuf> {
    let bin = test_support::tools::claude_bin_if_installed();
    if bin.is_none() {
        // Written to the raw stderr handle: libtest captures `eprintln!`
        // of passing tests, and this message must not be hidden.
        let _ = writeln!(
            std::io::stderr(),
            "\n\
             ################################################################\n\
             ## SKIPPED {test}: the Claude Code CLI is not installed.\n\
             ## This test runs the real Claude Code CLI against fake-llm.\n\
             ## {}\n\
             ################################################################\n",
            test_support::tools::CLAUDE_INSTALL
        );
    }
    bin
}

/// A private HOME / CLAUDE_CONFIG_DIR / working directory for CLI runs.
struct Sandbox {
    _root: tempfile::TempDir,
    home: PathBuf,
    config: PathBuf,
    cwd: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let home = root.path().join("home");
        let config = root.path().join("claude-config");
        let cwd = root.path().join("work");
        for dir in [&home, &config, &cwd] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        Self {
            _root: root,
            home,
            config,
            cwd,
        }
    }

    /// Starts `claude -p PROMPT --output-format stream-json ...` against the
    /// server, with nothing from the caller's environment but PATH.
    fn spawn(&self, bin: &Path, server: &FakeLlmHandle, prompt: &str, extra: &[&str]) -> Child {
        let mut command = Command::new(bin);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SHELL", "/bin/bash")
            .env("HOME", &self.home)
            .env("CLAUDE_CONFIG_DIR", &self.config)
            .env("ANTHROPIC_BASE_URL", server.base_url())
            .env("ANTHROPIC_API_KEY", KEY)
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            // Tests run as root, where bypassPermissions needs this.
            .env("IS_SANDBOX", "1")
            .current_dir(&self.cwd)
            .arg("-p")
            .arg(prompt)
            .args([
                "--output-format",
                "stream-json",
                "--verbose",
                "--permission-mode",
                "bypassPermissions",
                "--model",
                MODEL,
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.spawn().expect("claude starts")
    }

    fn run(&self, bin: &Path, server: &FakeLlmHandle, prompt: &str, extra: &[&str]) -> Vec<Value> {
        lines(wait(self.spawn(bin, server, prompt, extra)))
    }
}

/// Waits for the CLI with a deadline (a hung CLI must fail the test, not
/// hang CI) and checks it exited successfully.
fn wait(mut child: Child) -> Output {
    let started = Instant::now();
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => break,
            None if started.elapsed() > CLI_TIMEOUT => {
                let _ = child.kill();
                let output = child.wait_with_output().expect("output");
                panic!(
                    "claude timed out after {CLI_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let output = child.wait_with_output().expect("output");
    assert!(
        output.status.success(),
        "claude failed: {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The stream-json lines of stdout.
fn lines(output: Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}")))
        .collect()
}

fn find<'a>(lines: &'a [Value], kind: &str, subtype: Option<&str>) -> Option<&'a Value> {
    lines.iter().find(|line| {
        line["type"] == kind && subtype.is_none_or(|subtype| line["subtype"] == subtype)
    })
}

/// Content blocks of a given type inside the `assistant` / `user` lines.
fn blocks<'a>(lines: &'a [Value], line_type: &str, block_type: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|line| line["type"] == line_type)
        .filter_map(|line| line["message"]["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == block_type)
        .collect()
}

fn start(scenarios: ScenarioFile) -> FakeLlmHandle {
    FakeLlm::start_blocking(Config::new(KEY, scenarios)).expect("server starts")
}

fn write_file_scenario() -> ScenarioFile {
    ScenarioFile::default().with_scenario(
        "write_file",
        vec![
            Turn::blocks(vec![
                Block::text("I'll write the file."),
                Block::tool_use(
                    "Bash",
                    json!({"command": "printf hello > out.txt", "description": "Write hello to out.txt"}),
                ),
            ]),
            Turn::text("Wrote hello to out.txt."),
            Turn::text("Still here after the resume."),
        ],
    )
}

fn assert_success(lines: &[Value], expected_result: &str) -> String {
    let init = find(lines, "system", Some("init")).expect("system init line");
    let session_id = init["session_id"].as_str().expect("session_id").to_string();
    let result = find(lines, "result", None).expect("result line");
    assert_eq!(result["subtype"], "success", "{result}");
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["result"], expected_result, "{result}");
    assert_eq!(result["session_id"], session_id.as_str());
    session_id
}

#[test]
fn cli_runs_a_tool_then_resumes_the_session() {
    let Some(bin) = claude_bin("cli_runs_a_tool_then_resumes_the_session") else {
        return;
    };
    let server = start(write_file_scenario());
    let sandbox = Sandbox::new();
    let prompt = "[scenario:write_file] Please write hello to out.txt";

    // First run: tool_use -> the CLI really runs Bash -> final text.
    let lines = sandbox.run(&bin, &server, prompt, &[]);
    let written = std::fs::read_to_string(sandbox.cwd.join("out.txt")).expect("out.txt exists");
    assert_eq!(written, "hello");
    let session_id = assert_success(&lines, "Wrote hello to out.txt.");
    let tool_uses = blocks(&lines, "assistant", "tool_use");
    assert_eq!(tool_uses.len(), 1);
    assert_eq!(tool_uses[0]["name"], "Bash");
    assert_eq!(tool_uses[0]["input"]["command"], "printf hello > out.txt");
    let tool_use_id = tool_uses[0]["id"].as_str().expect("tool_use id");
    let tool_results = blocks(&lines, "user", "tool_result");
    assert_eq!(tool_results.len(), 1);
    assert_eq!(tool_results[0]["tool_use_id"], tool_use_id);
    assert_ne!(tool_results[0]["is_error"], true, "{}", tool_results[0]);

    // What the server saw: two conversation turns, the second carrying the
    // tool_result for the scripted tool_use.
    let turns = server.turn_requests();
    assert_eq!(turns.len(), 2, "{:#?}", summary(&server.requests()));
    assert_eq!(turns[0].turn, Some(0));
    assert_eq!(turns[1].turn, Some(1));
    for turn in &turns {
        assert_eq!(turn.scenario.as_deref(), Some("write_file"));
        assert_eq!(turn.path, "/v1/messages");
        assert_eq!(turn.header("x-api-key"), Some("[redacted:valid]"));
        assert_eq!(turn.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(turn.model(), Some(MODEL));
        assert_eq!(
            turn.body.as_ref().map(|b| b["stream"].clone()),
            Some(json!(true))
        );
    }
    let results = turns[1].content_blocks("tool_result");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["tool_use_id"], tool_use_id);
    assert_eq!(turns[1].content_blocks("tool_use")[0]["id"], tool_use_id);

    // Resume in the same config dir: the request carries the whole earlier
    // conversation, so it is turn 2 of the same scenario.
    server.reset();
    let lines = sandbox.run(
        &bin,
        &server,
        "Is the file still there?",
        &["--resume", &session_id],
    );
    assert_success(&lines, "Still here after the resume.");
    let turns = server.turn_requests();
    assert_eq!(turns.len(), 1, "{:#?}", summary(&server.requests()));
    let resumed = &turns[0];
    assert_eq!(resumed.turn, Some(2));
    assert_eq!(resumed.scenario.as_deref(), Some("write_file"));
    assert!(resumed.body_contains(prompt), "carries the first prompt");
    assert!(
        resumed.body_contains("Wrote hello to out.txt."),
        "carries the earlier answer"
    );
    assert!(
        resumed.body_contains("Is the file still there?"),
        "carries the new prompt"
    );
    assert_eq!(
        resumed.content_blocks("tool_result")[0]["tool_use_id"],
        tool_use_id
    );
    assert_eq!(resumed.assistant_count(), 2);
}

#[test]
fn concurrent_cli_runs_each_play_their_own_scenario() {
    let Some(bin) = claude_bin("concurrent_cli_runs_each_play_their_own_scenario") else {
        return;
    };
    let names = ["alpha", "beta", "gamma"];
    let mut file = ScenarioFile::default();
    for name in names {
        file = file.with_scenario(
            name,
            vec![
                Turn {
                    blocks: vec![
                        Block::thinking(format!("Scenario {name} needs a file.")),
                        Block::tool_use(
                            "Bash",
                            json!({"command": format!("printf {name} > {name}.txt")}),
                        ),
                    ],
                    // Keep the runs overlapping on the server.
                    chunk_delay_ms: 20,
                    ..Turn::default()
                },
                Turn::text(format!("{name} done")),
            ],
        );
    }
    let server = start(file);
    let runs: Vec<(Sandbox, Child)> = names
        .iter()
        .map(|name| {
            let sandbox = Sandbox::new();
            let child = sandbox.spawn(
                &bin,
                &server,
                &format!("[scenario:{name}] make the file"),
                &[],
            );
            (sandbox, child)
        })
        .collect();
    for ((sandbox, child), name) in runs.into_iter().zip(names) {
        let lines = lines(wait(child));
        assert_success(&lines, &format!("{name} done"));
        let thinking = blocks(&lines, "assistant", "thinking");
        assert_eq!(thinking.len(), 1, "thinking block shown");
        let content =
            std::fs::read_to_string(sandbox.cwd.join(format!("{name}.txt"))).expect("file exists");
        assert_eq!(content, name);
    }
    let turns = server.turn_requests();
    assert_eq!(turns.len(), 6, "{:#?}", summary(&server.requests()));
    for name in names {
        let mine: Vec<Option<usize>> = turns
            .iter()
            .filter(|t| t.scenario.as_deref() == Some(name))
            .map(|t| t.turn)
            .collect();
        assert_eq!(mine, [Some(0), Some(1)], "{name}");
    }
    // The second request sends the thinking block back with its signature.
    let second = turns
        .iter()
        .find(|t| t.turn == Some(1))
        .expect("a second turn");
    let thinking = second.content_blocks("thinking");
    assert_eq!(thinking.len(), 1);
    assert!(!thinking[0]["signature"].as_str().unwrap_or("").is_empty());
}

#[test]
fn cli_retries_a_transient_overload() {
    let Some(bin) = claude_bin("cli_retries_a_transient_overload") else {
        return;
    };
    let flaky = Turn {
        blocks: vec![Block::text("Recovered.")],
        error: Some(TurnError {
            status: 529,
            kind: None,
            message: None,
            times: Some(1),
            in_stream: false,
            should_retry: None,
            retry_after_ms: None,
        }),
        ..Turn::default()
    };
    let server = start(ScenarioFile::single(vec![flaky]));
    let sandbox = Sandbox::new();
    let lines = sandbox.run(&bin, &server, "say something", &[]);
    assert_success(&lines, "Recovered.");
    let retry = find(&lines, "system", Some("api_retry")).expect("api_retry line");
    assert_eq!(retry["error_status"], 529);
    let statuses: Vec<Option<u16>> = server.turn_requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(529), Some(200)]);
}

/// Compact view of recorded requests for assertion messages.
fn summary(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {:?} status={:?} scenario={:?} turn={:?} assistants={}",
                r.method,
                r.path,
                r.query,
                r.kind,
                r.status,
                r.scenario,
                r.turn,
                r.assistant_count()
            )
        })
        .collect()
}
