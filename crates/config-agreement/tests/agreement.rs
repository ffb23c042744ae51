//! The configuration agreement: the variables each service reads (taken from its settings
//! structs, see `service_config::variable_names`), `.env.example` and `docs/configuration.md`
//! name the same variables. Every disagreement is reported on its own line, naming the variable,
//! the service and the place it is missing from.
//!
//! Rules:
//! - a variable a service reads is documented in that service's section of the guide (the
//!   logging variables in the "Logging" section) and appears in `.env.example`, set (`NAME=…`) or
//!   shown commented out (`#NAME=…`);
//! - a variable documented in a service's section is read by that service;
//! - every documented variable (compose, web UI, … included) appears in `.env.example` and every
//!   variable of `.env.example` is documented; none is set twice;
//! - every table row of the guide gives a default, a meaning and an example;
//! - both compose files pass every setting of the backend and the executor manager (logging
//!   included) to that service, but for the process runtime's;
//! - every variable a service reads is exercised: `exercised.rs` names, for each, the test that
//!   sets it and asserts its effect (or says in `NOT_YET_EXERCISED` why there is none yet).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// A service whose settings are checked against the documents.
struct Service {
    name: &'static str,
    /// The `## ` heading of its section in docs/configuration.md, up to ` (`.
    section: &'static str,
    source: &'static str,
    vars: Vec<String>,
}

const LOGGING_SECTION: &str = "Logging";
const GUIDE: &str = "docs/configuration.md";
const ENV_EXAMPLE: &str = ".env.example";

fn services() -> Vec<Service> {
    vec![
        Service {
            name: "backend",
            section: "Backend",
            source: "crates/backend/src/config.rs",
            vars: backend::config::Settings::variables(),
        },
        Service {
            name: "executor-manager",
            section: "Executor manager",
            source: "crates/executor-manager/src/config.rs",
            vars: executor_manager::Settings::variables(),
        },
        Service {
            name: "executor",
            section: "Executor",
            source: "crates/executor/src/config.rs",
            vars: executor::Settings::variables(),
        },
    ]
}

fn log_vars() -> BTreeSet<String> {
    service_config::variable_names::<telemetry::LogSettings>()
        .into_iter()
        .collect()
}

fn repo_file(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

fn is_var(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && s.len() > 1
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The guide's variables per section (`## Title (…)` → "Title"), plus one problem line per
/// incomplete table row.
fn guide_sections(doc: &str) -> (BTreeMap<String, BTreeSet<String>>, Vec<String>) {
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut current = String::new();
    for (i, line) in doc.lines().enumerate() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h.split(" (").next().unwrap_or(h).trim().to_owned();
            continue;
        }
        let Some(row) = line.trim().strip_prefix('|') else {
            continue;
        };
        let cells: Vec<&str> = row
            .trim_end_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let first = cells.first().copied().unwrap_or("");
        if first.starts_with("---") || first.eq_ignore_ascii_case("variable") {
            continue;
        }
        let names: Vec<String> = first
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| is_var(s))
            .map(str::to_owned)
            .collect();
        if names.is_empty() {
            continue;
        }
        if cells.len() < 4 || cells[1..4].iter().any(|c| c.is_empty()) {
            problems.push(format!(
                "{GUIDE}:{}: the row of {} needs a default, a meaning and an example (| variable | default | meaning | example |)",
                i + 1,
                names.join(", ")
            ));
        }
        sections.entry(current.clone()).or_default().extend(names);
    }
    (sections, problems)
}

/// `.env.example`'s variables (set or commented out as `#NAME=`) with the line of each, plus one
/// problem line per variable set twice.
fn env_example_vars(text: &str) -> (BTreeMap<String, usize>, Vec<String>) {
    let mut vars = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.strip_prefix('#').unwrap_or(line);
        let Some((name, _)) = l.split_once('=') else {
            continue;
        };
        if !is_var(name) {
            continue;
        }
        if let Some(first) = vars.insert(name.to_owned(), i + 1) {
            problems.push(format!(
                "{name}: appears twice in {ENV_EXAMPLE} (lines {first} and {})",
                i + 1
            ));
        }
    }
    (vars, problems)
}

/// Every disagreement between the services, the guide and `.env.example`, one line each.
fn disagreements(
    services: &[Service],
    log_vars: &BTreeSet<String>,
    guide: &str,
    env_example: &str,
) -> Vec<String> {
    let (sections, mut problems) = guide_sections(guide);
    let (env, env_problems) = env_example_vars(env_example);
    problems.extend(env_problems);
    let empty = BTreeSet::new();
    let logging = sections.get(LOGGING_SECTION).unwrap_or(&empty);

    for s in services {
        let documented = sections.get(s.section).unwrap_or(&empty);
        let read: BTreeSet<&String> = s.vars.iter().collect();
        for v in &s.vars {
            let (section, doc) = if log_vars.contains(v) {
                (LOGGING_SECTION, logging)
            } else {
                (s.section, documented)
            };
            if !doc.contains(v) {
                problems.push(format!(
                    "{v}: read by {} ({}) but missing from {GUIDE}, section \"## {section}\"",
                    s.name, s.source
                ));
            }
            if !env.contains_key(v) {
                problems.push(format!(
                    "{v}: read by {} ({}) but missing from {ENV_EXAMPLE} (add `{v}=<default>` or `#{v}=<default>` with a one-line comment)",
                    s.name, s.source
                ));
            }
        }
        for v in documented {
            if !read.contains(v) {
                problems.push(format!(
                    "{v}: documented in {GUIDE}, section \"## {}\", but {} does not read it (no such field in {})",
                    s.section, s.name, s.source
                ));
            }
        }
    }
    for v in logging {
        if !log_vars.contains(v) {
            problems.push(format!(
                "{v}: documented in {GUIDE}, section \"## {LOGGING_SECTION}\", but it is not a logging variable (crates/telemetry)"
            ));
        }
    }
    for (section, vars) in &sections {
        for v in vars {
            if !env.contains_key(v) {
                problems.push(format!(
                    "{v}: documented in {GUIDE}, section \"## {section}\", but missing from {ENV_EXAMPLE}"
                ));
            }
        }
    }
    let all_documented: BTreeSet<&String> = sections.values().flatten().collect();
    for (v, line) in &env {
        if !all_documented.contains(v) {
            problems.push(format!(
                "{v}: in {ENV_EXAMPLE} (line {line}) but documented nowhere in {GUIDE}"
            ));
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn code_env_example_and_the_configuration_guide_agree() {
    let problems = disagreements(
        &services(),
        &log_vars(),
        &repo_file(GUIDE),
        &repo_file(ENV_EXAMPLE),
    );
    assert!(
        problems.is_empty(),
        "the configuration documents disagree with the code ({} problems):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn a_variable_missing_anywhere_is_named_with_the_place() {
    let guide = repo_file(GUIDE);
    let env = repo_file(ENV_EXAMPLE);
    // Drop the backend's S3_PRESIGN_EXPIRES from the guide and the manager's MAX_CONCURRENT_TASKS
    // from .env.example: each is reported where it is missing.
    let guide_without: String = guide
        .lines()
        .filter(|l| !(l.starts_with('|') && l.contains("`S3_PRESIGN_EXPIRES`")))
        .map(|l| format!("{l}\n"))
        .collect();
    let env_without: String = env
        .lines()
        .filter(|l| {
            !l.trim_start_matches('#')
                .starts_with("MAX_CONCURRENT_TASKS=")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let problems = disagreements(&services(), &log_vars(), &guide_without, &env_without);
    assert!(
        problems.contains(&format!(
            "S3_PRESIGN_EXPIRES: read by backend (crates/backend/src/config.rs) but missing from {GUIDE}, section \"## Backend\""
        )),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with(
            "MAX_CONCURRENT_TASKS: read by executor-manager (crates/executor-manager/src/config.rs) but missing from .env.example"
        )),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with(
            "MAX_CONCURRENT_TASKS: documented in docs/configuration.md, section \"## Executor manager\", but missing from .env.example"
        )),
        "{problems:#?}"
    );

    // A variable no service reads, documented in a service's section.
    let guide_extra = guide.replace(
        "## Backend (",
        "## Backend (\n\n| `NOT_READ_BY_ANYONE` | `1` | nothing | `1` |\n\n(",
    );
    let problems = disagreements(&services(), &log_vars(), &guide_extra, &env);
    assert!(
        problems.iter().any(|p| p.starts_with(
            "NOT_READ_BY_ANYONE: documented in docs/configuration.md, section \"## Backend\", but backend does not read it"
        )),
        "{problems:#?}"
    );
}

#[test]
fn settings_variables_come_from_the_structs() {
    // The lists are not hand-written: a field of each struct shows up, and the logging
    // variables are part of every service's list.
    let logs = log_vars();
    assert!(logs.contains("LOG_LEVEL") && logs.contains("UVICORN_ACCESS_LOG"));
    for s in services() {
        assert!(s.vars.contains(&"ENVIRONMENT".to_owned()), "{}", s.name);
        for l in &logs {
            assert!(s.vars.contains(l), "{}: {l}", s.name);
        }
    }
}

/// The variables a compose file hands `service` (its `environment:` keys).
fn compose_environment(compose: &str, service: &str) -> BTreeSet<String> {
    let mut vars = BTreeSet::new();
    let mut in_service = false;
    let mut in_environment = false;
    for line in compose.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if indent == 2 {
            in_service = text == format!("{service}:");
            in_environment = false;
        } else if in_service && indent == 4 {
            in_environment = text == "environment:";
        } else if in_service
            && in_environment
            && indent == 6
            && let Some((name, _)) = text.split_once(':')
            && is_var(name)
        {
            vars.insert(name.to_owned());
        }
    }
    vars
}

/// Settings compose does not pass on purpose: the process runtime's (compose runs executors in
/// containers), and `DOCKER_HOST` (compose mounts the host's socket at the default path).
const NOT_IN_COMPOSE: &[(&str, &str)] = &[
    ("executor-manager", "EXECUTOR_BIN"),
    ("executor-manager", "CLAUDE_BIN"),
    ("executor-manager", "DOCKER_HOST"),
];

/// Both compose files pass every setting of the backend and the executor manager (logging
/// included) through to that service, so an operator's `.env` reaches where it acts.
#[test]
fn compose_passes_every_setting_of_its_services() {
    let log = log_vars();
    let mut problems = Vec::new();
    for file in ["docker-compose.yml", "docker-compose.r2.yml"] {
        let compose = repo_file(file);
        for service in services()
            .iter()
            .filter(|s| s.name == "backend" || s.name == "executor-manager")
        {
            let passed = compose_environment(&compose, service.name);
            assert!(
                !passed.is_empty(),
                "{file}: no environment for {}",
                service.name
            );
            for var in service.vars.iter().chain(log.iter()) {
                if !passed.contains(var) && !NOT_IN_COMPOSE.contains(&(service.name, var.as_str()))
                {
                    problems.push(format!(
                        "{file}: {} does not pass {var} to its container",
                        service.name
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "compose leaves settings out ({}):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
