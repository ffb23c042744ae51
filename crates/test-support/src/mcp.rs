//! A tiny stdio MCP server for tests: `fixtures/mcp_echo.py` (python3, standard library only),
//! JSON-RPC 2.0 over newline-delimited stdin/stdout with one tool, [`ECHO_TOOL`], answering
//! [`ECHO_PREFIX`] followed by its `text` argument. It runs on the host (process runtime and
//! executor tests), not in the executor image.

use std::path::PathBuf;

/// The fixture's one tool; the CLI offers it to the model as `mcp__{server}__echo`.
pub const ECHO_TOOL: &str = "echo";

/// What the tool's answer starts with (then its `text` argument).
pub const ECHO_PREFIX: &str = "echo-fixture says: ";

/// The fixture script.
pub fn echo_server_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/mcp_echo.py")
}

/// The command and arguments that start the fixture (`python3 <script>`), as an MCP server
/// config's `command` and `args`.
pub fn echo_server_command() -> (String, Vec<String>) {
    (
        "python3".to_owned(),
        vec![echo_server_script().display().to_string()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn the_fixture_speaks_json_rpc_over_lines() {
        let (program, args) = echo_server_command();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut stdin = child.stdin.take().unwrap();
        let requests = [
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"ping"}}}"#,
            r#"{"jsonrpc":"2.0","id":4,"method":"resources/list"}"#,
        ];
        for r in requests {
            writeln!(stdin, "{r}").unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].contains(r#""protocolVersion": "2025-06-18""#),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains(r#""name": "echo""#), "{}", lines[1]);
        assert!(
            lines[2].contains(&format!("{ECHO_PREFIX}ping")),
            "{}",
            lines[2]
        );
        assert!(lines[3].contains("-32601"), "{}", lines[3]);
    }
}
