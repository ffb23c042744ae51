//! Search benchmark (issue 17): prints figures (not a timed test).
//!
//!   DATABASE_URL=postgresql://… cargo bench -p backend --bench search
//!
//! Starts a backend in-process (the tests' `TestApp`) on a fresh database of the given server,
//! loads 100,000 sessions (two runs each) and 5,000,000 events over 200 users with set-based SQL
//! (`generate_series`; not through the API): 10% of the events are assistant text, the texts are
//! drawn from a developer's vocabulary with a skewed (Zipf-like) frequency, and one text in ten
//! is Chinese. The search documents are filled as the migration's backfill fills them (titles,
//! prompts, assistant text), the indexes built, the tables vacuumed and analyzed. Then it
//! measures `GET /api/v1/search?q=<two words>` over HTTP for one user with a typical amount of
//! data (1/200 of it), over many different two-word queries drawn like the texts' words (some
//! Chinese): p50/p95/p99 (target p95 ≤ 50 ms).
//!
//! `BENCH_SMOKE=1` loads 2,000 sessions and 50,000 events and runs fewer queries, so the test
//! script can check the benchmark still runs.
//! `BENCH_HOLD_SECONDS=N` keeps the loaded database N seconds after the figures (its URL is
//! printed), for EXPLAIN ANALYZE.

use std::time::{Duration, Instant};
use test_support::bench::{ms, percentile};

use anyhow::{Context, Result, bail};
use common::TestApp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use uuid::Uuid;

/// The backend tests' in-process backend.
#[path = "../tests/common/mod.rs"]
mod common;

const USERS: i64 = 200;

/// Words of a developer's conversation with an agent, most frequent first.
const WORDS: &[&str] = &[
    "file",
    "test",
    "error",
    "function",
    "code",
    "run",
    "build",
    "fix",
    "update",
    "change",
    "config",
    "server",
    "client",
    "data",
    "user",
    "request",
    "response",
    "api",
    "module",
    "type",
    "value",
    "return",
    "check",
    "add",
    "remove",
    "path",
    "name",
    "list",
    "result",
    "issue",
    "version",
    "command",
    "output",
    "input",
    "log",
    "line",
    "method",
    "class",
    "field",
    "query",
    "database",
    "table",
    "index",
    "cache",
    "memory",
    "thread",
    "process",
    "service",
    "deploy",
    "release",
    "branch",
    "commit",
    "merge",
    "review",
    "docs",
    "readme",
    "script",
    "package",
    "dependency",
    "import",
    "export",
    "route",
    "handler",
    "middleware",
    "token",
    "session",
    "login",
    "password",
    "permission",
    "role",
    "admin",
    "upload",
    "download",
    "image",
    "video",
    "queue",
    "worker",
    "job",
    "schedule",
    "cron",
    "timeout",
    "retry",
    "backoff",
    "limit",
    "page",
    "cursor",
    "offset",
    "sort",
    "filter",
    "search",
    "match",
    "regex",
    "string",
    "number",
    "boolean",
    "array",
    "object",
    "map",
    "set",
    "vector",
    "struct",
    "enum",
    "trait",
    "interface",
    "generic",
    "lifetime",
    "borrow",
    "async",
    "await",
    "future",
    "promise",
    "callback",
    "event",
    "stream",
    "channel",
    "socket",
    "websocket",
    "http",
    "https",
    "tls",
    "certificate",
    "proxy",
    "header",
    "cookie",
    "cors",
    "json",
    "yaml",
    "toml",
    "csv",
    "xml",
    "html",
    "css",
    "react",
    "component",
    "hook",
    "state",
    "props",
    "render",
    "layout",
    "style",
    "button",
    "form",
    "modal",
    "dialog",
    "menu",
    "sidebar",
    "navbar",
    "theme",
    "dark",
    "mobile",
    "responsive",
    "accessibility",
    "keyboard",
    "focus",
    "scroll",
    "animation",
    "performance",
    "latency",
    "throughput",
    "benchmark",
    "profile",
    "flamegraph",
    "allocation",
    "leak",
    "garbage",
    "pointer",
    "reference",
    "mutex",
    "lock",
    "deadlock",
    "race",
    "atomic",
    "signal",
    "kernel",
    "container",
    "docker",
    "kubernetes",
    "helm",
    "pod",
    "node",
    "cluster",
    "volume",
    "network",
    "dns",
    "firewall",
    "port",
    "host",
    "domain",
    "bucket",
    "object",
    "storage",
    "backup",
    "restore",
    "migration",
    "schema",
    "column",
    "constraint",
    "transaction",
    "rollback",
    "isolation",
    "replica",
    "primary",
    "shard",
    "partition",
    "vacuum",
    "analyze",
    "explain",
    "planner",
    "join",
    "subquery",
    "aggregate",
    "window",
    "trigger",
    "view",
    "materialized",
    "sequence",
    "uuid",
    "timestamp",
    "timezone",
    "locale",
    "unicode",
    "encoding",
    "utf8",
    "parser",
    "lexer",
    "grammar",
    "compiler",
    "linker",
    "macro",
    "crate",
    "cargo",
    "clippy",
    "rustfmt",
    "npm",
    "yarn",
    "webpack",
    "vite",
    "typescript",
    "javascript",
    "python",
    "golang",
    "java",
    "kotlin",
    "swift",
    "terraform",
    "ansible",
    "nginx",
    "postgres",
    "redis",
    "kafka",
    "rabbitmq",
    "elasticsearch",
    "prometheus",
    "grafana",
    "sentry",
    "opentelemetry",
    "tracing",
    "metric",
    "alert",
    "dashboard",
    "incident",
    "outage",
    "postmortem",
    "oncall",
    "runbook",
    "checklist",
    "milestone",
    "roadmap",
    "sprint",
    "estimate",
    "deadline",
    "customer",
    "invoice",
    "payment",
    "stripe",
    "webhook",
    "email",
    "notification",
    "template",
    "locale",
    "translation",
    "feature",
    "flag",
    "experiment",
    "rollout",
    "canary",
    "blue",
    "green",
    "staging",
    "production",
    "sandbox",
    "fixture",
    "mock",
    "stub",
    "snapshot",
    "coverage",
    "flaky",
    "regression",
    "bisect",
    "debugger",
    "breakpoint",
    "stacktrace",
    "panic",
    "unwrap",
    "overflow",
    "underflow",
    "precision",
    "rounding",
    "currency",
    "decimal",
    "float",
    "integer",
    "parse",
    "serialize",
    "deserialize",
    "validate",
    "sanitize",
    "escape",
    "inject",
    "xss",
    "csrf",
    "oauth",
    "openid",
    "jwt",
    "hash",
    "argon2",
    "encrypt",
    "decrypt",
    "secret",
    "vault",
    "rotate",
    "expire",
    "refresh",
    "revoke",
    "audit",
    "compliance",
    "gdpr",
    "retention",
    "archive",
    "compress",
    "gzip",
    "zip",
    "tarball",
    "checksum",
    "sha256",
    "signature",
    "pipeline",
    "workflow",
    "action",
    "runner",
    "artifact",
    "registry",
    "tag",
    "semver",
    "changelog",
    "license",
    "contributor",
    "refactor",
    "rename",
    "extract",
    "inline",
    "split",
    "cleanup",
    "lint",
    "format",
    "warning",
    "deprecated",
    "upgrade",
    "downgrade",
    "patch",
    "hotfix",
    "workaround",
    "investigate",
    "reproduce",
    "root",
    "cause",
    "summary",
    "plan",
];

/// Chinese words of the same conversations (texts in Chinese have no spaces).
const CHINESE: &[&str] = &[
    "数据库",
    "连接",
    "问题",
    "修复",
    "部署",
    "服务",
    "测试",
    "用户",
    "接口",
    "配置",
    "文件",
    "日志",
    "错误",
    "性能",
    "优化",
    "缓存",
    "请求",
    "响应",
    "权限",
    "认证",
    "登录",
    "注册",
    "页面",
    "组件",
    "样式",
    "函数",
    "变量",
    "模块",
    "依赖",
    "版本",
    "构建",
    "发布",
    "回滚",
    "监控",
    "告警",
    "队列",
    "任务",
    "调度",
    "并发",
    "线程",
    "内存",
    "磁盘",
    "网络",
    "超时",
    "重试",
    "索引",
    "查询",
    "事务",
    "迁移",
    "备份",
    "恢复",
    "脚本",
    "命令",
    "参数",
    "返回",
    "结果",
    "分析",
    "报告",
    "文档",
    "需求",
    "设计",
    "实现",
    "代码",
    "审查",
    "合并",
    "分支",
    "提交",
    "仓库",
    "我们",
    "需要",
    "已经",
    "然后",
    "因为",
    "所以",
    "这个",
    "那个",
];

/// `vocab[1 + floor(n * random()^2)]`: word i is drawn about as often as a Zipf law says.
const PICK: &str = "1 + floor(power(random(), 2) * array_length(v, 1))::int";

/// A word of `list`, drawn with the texts' skew.
fn pick(list: &[&'static str], rng: &mut StdRng) -> &'static str {
    let x: f64 = rng.random();
    list[((x * x) * list.len() as f64) as usize % list.len()]
}

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = test_support::bench::smoke();
    test_support::postgres::with_fresh_database(|url| async move { run(&url, smoke).await }).await
}

async fn run(url: &str, smoke: bool) -> Result<()> {
    let (sessions, events, queries) = if smoke {
        (2_000i64, 50_000i64, 100usize)
    } else {
        (100_000, 5_000_000, 2_000)
    };
    let pool = backend::db::connect(url, 16, false).await?;
    backend::db::MIGRATOR.run(&pool).await?;
    let app = TestApp::spawn_with(pool.clone(), &[("DATABASE_MAX_CONNECTIONS", "16")]).await;
    let token = app.register("bench@example.com").await;
    let measured = app.user_id("bench@example.com").await;

    println!("{}", test_support::bench::in_process_backend_line());

    let loading = Instant::now();
    load(url, measured, sessions, events).await?;
    let loaded = loading.elapsed();
    let docs: i64 = sqlx::query_scalar("SELECT count(*) FROM search_documents")
        .fetch_one(&pool)
        .await?;
    let own: i64 = sqlx::query_scalar("SELECT count(*) FROM search_documents WHERE user_id = $1")
        .bind(measured)
        .fetch_one(&pool)
        .await?;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await?;
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('search_documents'))")
            .fetch_one(&pool)
            .await?;
    println!(
        "loaded {sessions} sessions, {} runs, {stored} events over {USERS} users in {:.0} s; \
         {docs} search documents ({size} with indexes), {own} of them the measured user's",
        sessions * 2,
        loaded.as_secs_f64()
    );

    // Two-word queries drawn like the texts' words (the same skew), one in six Chinese.
    let mut rng = StdRng::seed_from_u64(17);
    let mut qs = Vec::with_capacity(queries);
    while qs.len() < queries {
        let chinese = rng.random_range(0..6) == 0;
        let list = if chinese { CHINESE } else { WORDS };
        let (a, b) = (pick(list, &mut rng), pick(list, &mut rng));
        if a != b {
            qs.push(format!("{a} {b}"));
        }
    }

    let client = Client::builder()
        .pool_max_idle_per_host(4)
        .tcp_nodelay(true)
        .build()?;
    let search = |q: &str| {
        let url = reqwest::Url::parse_with_params(&app.url("/api/v1/search"), [("q", q)]);
        let client = client.clone();
        let token = token.clone();
        async move {
            let res = client.get(url?).bearer_auth(token).send().await?;
            if res.status() != StatusCode::OK {
                bail!("search answered {}", res.status());
            }
            let v: Value = res.json().await?;
            Ok::<usize, anyhow::Error>(v["hits"].as_array().context("hits")?.len())
        }
    };
    // Warm the caches and the prepared statements with other queries than those measured.
    for i in 0..queries.min(100) {
        let q = format!(
            "{} {}",
            WORDS[(i * 7) % WORDS.len()],
            WORDS[(i * 13 + 1) % WORDS.len()]
        );
        search(&q).await?;
    }
    let mut lat = Vec::with_capacity(qs.len());
    let mut timed = Vec::with_capacity(qs.len());
    let (mut empty, mut full, mut total) = (0usize, 0usize, 0usize);
    for q in &qs {
        let started = Instant::now();
        let n = search(q).await?;
        lat.push(started.elapsed());
        timed.push((started.elapsed(), q.clone()));
        total += n;
        if n == 0 {
            empty += 1;
        }
        if n == protocol::search::DEFAULT_LIMIT as usize {
            full += 1;
        }
    }
    lat.sort();
    println!(
        "GET /search?q=<two words>, {} different queries, one user ({own} documents): \
         p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p95 ≤ 50 ms); \
         {:.1} hits per page on average, {empty} queries without hits, {full} with a full page",
        lat.len(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.95)),
        ms(percentile(&lat, 0.99)),
        ms(lat[lat.len() - 1]),
        total as f64 / qs.len() as f64,
    );
    timed.sort();
    let slowest: Vec<String> = timed
        .iter()
        .rev()
        .take(5)
        .map(|(d, q)| format!("{q:?} {:.1} ms", ms(*d)))
        .collect();
    println!("slowest: {}", slowest.join(", "));
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average after the queries: {}", load.trim());
    }
    if let Ok(secs) = std::env::var("BENCH_HOLD_SECONDS") {
        println!("holding the database {url} for {secs} s");
        tokio::time::sleep(Duration::from_secs(secs.parse().unwrap_or(0))).await;
    }
    drop(app);
    pool.close().await;
    Ok(())
}

/// Loads the data on one connection with triggers off (`session_replication_role = replica`),
/// then fills `search_documents` as the migration's backfill does and builds its indexes.
async fn load(url: &str, measured: Uuid, sessions: i64, events: i64) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let words: Vec<String> = WORDS.iter().map(|w| w.to_string()).collect();
    let chinese: Vec<String> = CHINESE.iter().map(|w| w.to_string()).collect();
    sqlx::raw_sql(
        "SET session_replication_role = replica; SET maintenance_work_mem = '512MB';
         SET synchronous_commit = off",
    )
    .execute(&mut conn)
    .await?;
    // A text of about `n` words: English, or (one in ten) Chinese with an English word here and
    // there, as people write.
    let text_fn = format!(
        "CREATE FUNCTION bench_text(en text[], zh text[], n int) RETURNS text
         LANGUAGE plpgsql VOLATILE AS $$
         DECLARE v text[]; out text := ''; w text;
         BEGIN
           IF random() < 0.1 THEN
             v := zh;
             FOR i IN 1..greatest(3, n / 2) LOOP
               w := v[{PICK}];
               IF random() < 0.1 THEN w := ' ' || en[1 + floor(power(random(), 2) * array_length(en, 1))::int] || ' '; END IF;
               IF random() < 0.12 THEN w := w || '，'; END IF;
               out := out || w;
             END LOOP;
             RETURN out || '。';
           END IF;
           v := en;
           FOR i IN 1..n LOOP
             out := out || CASE WHEN i > 1 THEN ' ' ELSE '' END || v[{PICK}];
           END LOOP;
           RETURN out;
         END $$"
    );
    sqlx::query(sqlx::AssertSqlSafe(text_fn))
        .execute(&mut conn)
        .await?;

    sqlx::query(
        "INSERT INTO users (id, email)
         SELECT gen_random_uuid(), 'user' || g || '@example.com' FROM generate_series(2, $1) g",
    )
    .bind(USERS)
    .execute(&mut conn)
    .await?;
    let mut users: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE id <> $1 ORDER BY email")
            .bind(measured)
            .fetch_all(&mut conn)
            .await?;
    users.insert(0, measured);

    // Session g belongs to user g % USERS; its events number avg/2 + (g·7919 mod (avg+1)),
    // avg = events / sessions, the first half from its first run.
    let avg = (events / sessions).max(2);
    sqlx::query(
        "CREATE UNLOGGED TABLE bench_map AS
         SELECT g, gen_random_uuid() AS session_id, ($2::uuid[])[(1 + g % $3)::int] AS user_id,
                gen_random_uuid() AS run1, gen_random_uuid() AS run2,
                ($4 / 2 + (g * 7919) % ($4 + 1))::int AS n,
                now() - ($1 - g) * interval '5 minutes' AS at
           FROM generate_series(1, $1) g",
    )
    .bind(sessions)
    .bind(&users)
    .bind(USERS)
    .bind(avg)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, title, status, last_seq, created_at, updated_at)
         SELECT session_id, user_id, bench_text($1, $2, (3 + g % 5)::int), 'completed', n, at, at
           FROM bench_map",
    )
    .bind(&words)
    .bind(&chinese)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO runs (id, session_id, prompt, max_attempts, status, attempts, created_at,
                           started_at, finished_at)
         SELECT r.id, m.session_id, bench_text($1, $2, (8 + (m.g * r.k) % 25)::int), 3, 'completed', 1,
                m.at + r.k * interval '1 minute', m.at + r.k * interval '1 minute',
                m.at + (r.k + 1) * interval '1 minute'
           FROM bench_map m
           CROSS JOIN LATERAL (VALUES (m.run1, 1), (m.run2, 3)) AS r(id, k)",
    )
    .bind(&words)
    .bind(&chinese)
    .execute(&mut conn)
    .await?;
    let chunk = 10_000i64;
    let mut from = 1;
    while from <= sessions {
        sqlx::query(
            "INSERT INTO events (session_id, seq, run_id, epoch, run_seq, type, payload, time)
             SELECT m.session_id, e.seq,
                    CASE WHEN e.seq <= m.n / 2 THEN m.run1 ELSE m.run2 END, 1,
                    CASE WHEN e.seq <= m.n / 2 THEN e.seq ELSE e.seq - m.n / 2 END,
                    CASE e.seq % 10 WHEN 5 THEN 'assistant_text'
                                    WHEN 2 THEN 'tool_use' WHEN 7 THEN 'tool_use'
                                    WHEN 3 THEN 'tool_result' WHEN 8 THEN 'tool_result'
                                    ELSE 'thinking' END,
                    CASE e.seq % 10
                      WHEN 5 THEN jsonb_build_object('text', bench_text($3, $4, (15 + (e.seq * 31 + m.g) % 66)::int))
                      WHEN 2 THEN '{\"tool_use_id\": \"toolu_1\", \"name\": \"Bash\", \"input\": {\"command\": \"cargo test -p backend\"}}'::jsonb
                      WHEN 7 THEN '{\"tool_use_id\": \"toolu_2\", \"name\": \"Read\", \"input\": {\"file_path\": \"src/main.rs\"}}'::jsonb
                      WHEN 3 THEN '{\"tool_use_id\": \"toolu_1\", \"content\": \"running 12 tests\\ntest result: ok. 12 passed; 0 failed\", \"is_error\": false}'::jsonb
                      WHEN 8 THEN '{\"tool_use_id\": \"toolu_2\", \"content\": \"fn main() {\\n    println!(\\\"hello\\\");\\n}\", \"is_error\": false}'::jsonb
                      ELSE '{\"text\": \"Let me look at how the module handles this before changing it.\"}'::jsonb END,
                    m.at + e.seq * interval '1 second'
               FROM bench_map m CROSS JOIN LATERAL generate_series(1, m.n) AS e(seq)
              WHERE m.g BETWEEN $1 AND $2",
        )
        .bind(from)
        .bind(from + chunk - 1)
        .bind(&words)
        .bind(&chinese)
        .execute(&mut conn)
        .await?;
        from += chunk;
    }

    // The migration's indexes, dropped while the rows go in and built again as they were.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname, indexdef FROM pg_indexes
          WHERE tablename = 'search_documents' AND indexname <> 'search_documents_pkey'",
    )
    .fetch_all(&mut conn)
    .await?;
    if indexes.len() < 2 {
        bail!("the migration's search indexes are missing");
    }
    for (name, _) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut conn)
            .await?;
    }
    for fill in [
        "INSERT INTO search_documents (user_id, session_id, project_id, kind, body, created_at)
         SELECT user_id, id, project_id, 'title', left(title, 10000), created_at FROM sessions",
        "INSERT INTO search_documents (user_id, session_id, project_id, run_id, kind, body, created_at)
         SELECT s.user_id, s.id, s.project_id, r.id, 'prompt', left(r.prompt, 10000), r.created_at
           FROM runs r JOIN sessions s ON s.id = r.session_id",
        "INSERT INTO search_documents (user_id, session_id, project_id, run_id, seq, kind, body, created_at)
         SELECT s.user_id, s.id, s.project_id, e.run_id, e.seq, 'assistant',
                left(e.payload->>'text', 10000), e.time
           FROM events e JOIN sessions s ON s.id = e.session_id
          WHERE e.type = 'assistant_text' AND btrim(coalesce(e.payload->>'text', '')) <> ''",
    ] {
        sqlx::query(fill).execute(&mut conn).await?;
    }
    for (_, def) in &indexes {
        sqlx::query(sqlx::AssertSqlSafe(def.clone()))
            .execute(&mut conn)
            .await?;
    }
    sqlx::raw_sql("DROP TABLE bench_map; DROP FUNCTION bench_text")
        .execute(&mut conn)
        .await?;
    sqlx::raw_sql("VACUUM ANALYZE users, sessions, runs, events, search_documents")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}
