//! Every setting a service reads is exercised: [`EXERCISED`] names, for each variable of each
//! service (taken from its settings struct, like `agreement.rs`), the test that sets it and
//! asserts what it does: a rate limit refusing, a timeout firing, a file written, a start-up
//! refused... A test that only checks that the value parses is not enough for a setting that acts
//! at run time. The logging variables every service reads are listed once, as service `logging`.
//!
//! Checked for every row, each problem reported on its own line:
//! - the service reads the variable (no stale row), and every variable of every service has
//!   exactly one row here or in [`NOT_YET_EXERCISED`] (none missing, none twice);
//! - the file exists and holds `fn <name>`, a test function (a `#[test]`, `#[tokio::test…]`,
//!   `#[sqlx::test…]` attribute a few lines above it);
//! - the test's body names the variable: literally (`("RATE_LIMIT_BURST", "5")`), as the
//!   settings field it fills when the test builds the settings in code (`s.cancel_grace_ms =`,
//!   `log_to_file: true`), or inside a helper function of the same file that the body calls
//!   (a test file's own start-up helper; in a source file, a helper of its test module).
//!
//! [`NOT_YET_EXERCISED`] lists, with the reason, the variables no test proves yet; they are
//! printed as warnings, not failures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// (service, variable, `path/to/test_file.rs::test_fn`): the test that shows the variable acting.
const EXERCISED: &[(&str, &str, &str)] = &[
    // ---- backend ----
    (
        "backend",
        "DATABASE_URL",
        "crates/backend/tests/binary.rs::sigterm_ends_parked_claims_and_exits_cleanly",
    ),
    (
        "backend",
        "SECRET_KEY",
        "crates/backend/tests/api.rs::the_login_cookie_and_token_follow_their_settings",
    ),
    (
        "backend",
        "INTERNAL_API_TOKEN",
        "crates/backend/tests/binary.rs::sigterm_ends_parked_claims_and_exits_cleanly",
    ),
    (
        "backend",
        "S3_ENDPOINT",
        "crates/backend/tests/files.rs::the_s3_settings_decide_where_objects_go_and_how_urls_are_signed",
    ),
    (
        "backend",
        "S3_ACCESS_KEY",
        "crates/backend/tests/files.rs::the_s3_settings_decide_where_objects_go_and_how_urls_are_signed",
    ),
    (
        "backend",
        "S3_SECRET_KEY",
        "crates/backend/tests/files.rs::the_s3_settings_decide_where_objects_go_and_how_urls_are_signed",
    ),
    (
        "backend",
        "S3_BUCKET",
        "crates/backend/tests/files.rs::the_s3_settings_decide_where_objects_go_and_how_urls_are_signed",
    ),
    (
        "backend",
        "HOST",
        "crates/backend/tests/binary.rs::single_user_on_the_network_refuses_to_start_unless_allowed",
    ),
    (
        "backend",
        "PORT",
        "crates/backend/tests/binary.rs::sigterm_ends_parked_claims_and_exits_cleanly",
    ),
    (
        "backend",
        "CORS_ORIGINS",
        "crates/backend/tests/network.rs::a_websocket_from_a_foreign_origin_is_refused",
    ),
    (
        "backend",
        "EXECUTOR_MANAGER_URL",
        "crates/backend/tests/queue.rs::a_cancel_nudges_the_manager_named_by_executor_manager_url",
    ),
    (
        "backend",
        "S3_PUBLIC_ENDPOINT",
        "crates/backend/tests/files.rs::presigned_urls_download_then_expire_and_refuse_tampering",
    ),
    (
        "backend",
        "S3_REGION",
        "crates/backend/tests/files.rs::the_s3_settings_decide_where_objects_go_and_how_urls_are_signed",
    ),
    (
        "backend",
        "S3_FORCE_PATH_STYLE",
        "crates/backend/tests/files.rs::the_s3_settings_decide_where_objects_go_and_how_urls_are_signed",
    ),
    (
        "backend",
        "S3_PRESIGN_EXPIRES",
        "crates/backend/tests/files.rs::presigned_urls_download_then_expire_and_refuse_tampering",
    ),
    (
        "backend",
        "OPENAI_API_KEY",
        "crates/backend/tests/titles.rs::a_generated_title_replaces_the_prompts",
    ),
    (
        "backend",
        "OPENAI_BASE_URL",
        "crates/backend/tests/titles.rs::a_generated_title_replaces_the_prompts",
    ),
    (
        "backend",
        "OPENAI_DEFAULT_MODEL",
        "crates/backend/tests/titles.rs::a_generated_title_replaces_the_prompts",
    ),
    (
        "backend",
        "MAX_UPLOAD_SIZE_MB",
        "crates/backend/tests/files.rs::uploads_round_trip_and_oversized_ones_leave_nothing",
    ),
    (
        "backend",
        "AUTH_MODE",
        "crates/backend/tests/api.rs::single_user_mode_needs_no_login",
    ),
    (
        "backend",
        "ALLOW_SINGLE_USER_ON_NETWORK",
        "crates/backend/tests/binary.rs::single_user_on_the_network_refuses_to_start_unless_allowed",
    ),
    (
        "backend",
        "AUTH_TOKEN_TTL_HOURS",
        "crates/backend/tests/api.rs::the_login_cookie_and_token_follow_their_settings",
    ),
    (
        "backend",
        "COOKIE_SECURE",
        "crates/backend/tests/api.rs::the_login_cookie_and_token_follow_their_settings",
    ),
    (
        "backend",
        "RUN_MAX_ATTEMPTS",
        "crates/backend/tests/queue.rs::a_run_whose_attempts_are_used_up_fails_with_a_clear_error",
    ),
    (
        "backend",
        "RUN_RETRY_BACKOFF_SECONDS",
        "crates/backend/tests/queue.rs::retryable_failures_requeue_with_backoff_and_others_fail",
    ),
    (
        "backend",
        "SESSION_AFFINITY_SECONDS",
        "crates/backend/tests/queue.rs::a_follow_up_is_reserved_for_the_sessions_manager_then_open_to_all",
    ),
    // Its whole effect is the start-up check of the secrets.
    (
        "backend",
        "ENVIRONMENT",
        "crates/backend/src/config.rs::production_refuses_placeholder_and_short_secrets",
    ),
    (
        "backend",
        "METRICS_TOKEN",
        "crates/backend/tests/operations.rs::metrics_can_require_a_token",
    ),
    (
        "backend",
        "RATE_LIMIT_PER_MINUTE",
        "crates/backend/tests/operations.rs::a_burst_gets_429_with_retry_after_per_user_and_per_ip",
    ),
    (
        "backend",
        "RATE_LIMIT_BURST",
        "crates/backend/tests/operations.rs::a_burst_gets_429_with_retry_after_per_user_and_per_ip",
    ),
    (
        "backend",
        "RATE_LIMIT_IP_PER_MINUTE",
        "crates/backend/tests/operations.rs::a_burst_gets_429_with_retry_after_per_user_and_per_ip",
    ),
    (
        "backend",
        "RATE_LIMIT_IP_BURST",
        "crates/backend/tests/operations.rs::a_burst_gets_429_with_retry_after_per_user_and_per_ip",
    ),
    (
        "backend",
        "TRUSTED_PROXIES",
        "crates/backend/tests/network.rs::trusted_proxies_none_believes_no_header",
    ),
    (
        "backend",
        "REQUEST_TIMEOUT_SECONDS",
        "crates/backend/tests/operations.rs::a_public_request_that_takes_too_long_is_abandoned",
    ),
    (
        "backend",
        "LOGIN_MAX_FAILURES",
        "crates/backend/tests/operations.rs::password_guessing_is_locked_out",
    ),
    (
        "backend",
        "LOGIN_IP_MAX_FAILURES",
        "crates/backend/tests/network.rs::over_long_emails_are_refused_before_the_throttle",
    ),
    (
        "backend",
        "LOGIN_LOCKOUT_SECONDS",
        "crates/backend/tests/operations.rs::password_guessing_is_locked_out",
    ),
    (
        "backend",
        "RETENTION_EVENTS_DAYS",
        "crates/backend/tests/operations.rs::the_retention_settings_drive_the_backends_job",
    ),
    (
        "backend",
        "RETENTION_SESSIONS_DAYS",
        "crates/backend/tests/operations.rs::the_retention_settings_drive_the_backends_job",
    ),
    (
        "backend",
        "RETENTION_INTERVAL_SECONDS",
        "crates/backend/tests/operations.rs::the_retention_settings_drive_the_backends_job",
    ),
    (
        "backend",
        "RETENTION_BATCH_SIZE",
        "crates/backend/tests/operations.rs::the_retention_settings_drive_the_backends_job",
    ),
    (
        "backend",
        "INPUT_REQUEST_TIMEOUT_SECONDS",
        "crates/backend/tests/input_requests.rs::answers_change_the_session_and_the_next_claim",
    ),
    (
        "backend",
        "ENCRYPTION_KEY",
        "crates/backend/tests/secrets.rs::a_wrong_key_stops_the_start_not_the_first_run",
    ),
    (
        "backend",
        "MODELS_CONFIG_PATH",
        "crates/executor-manager/tests/model_routing.rs::each_model_reaches_its_own_provider_with_its_own_key",
    ),
    (
        "backend",
        "GIT_ALLOW_HTTP",
        "crates/executor-manager/tests/private_repo.rs::a_private_repository_clones_with_the_users_token_and_the_token_shows_nowhere",
    ),
    (
        "backend",
        "REGISTRATION",
        "crates/backend/tests/accounts.rs::invite_only_registration_and_the_first_admin",
    ),
    (
        "backend",
        "PUBLIC_URL",
        "crates/backend/tests/accounts.rs::an_admin_reset_link_works_once",
    ),
    (
        "backend",
        "OIDC_ISSUER",
        "crates/backend/tests/sign_in.rs::openid_connect_sign_in_checks_everything_it_is_given",
    ),
    (
        "backend",
        "OIDC_CLIENT_ID",
        "crates/backend/tests/sign_in.rs::openid_connect_sign_in_checks_everything_it_is_given",
    ),
    (
        "backend",
        "OIDC_CLIENT_SECRET",
        "crates/backend/tests/sign_in.rs::openid_connect_sign_in_checks_everything_it_is_given",
    ),
    (
        "backend",
        "OIDC_ALLOWED_DOMAINS",
        "crates/backend/tests/sign_in.rs::openid_connect_sign_in_checks_everything_it_is_given",
    ),
    (
        "backend",
        "OIDC_DISPLAY_NAME",
        "crates/backend/tests/sign_in.rs::openid_connect_sign_in_checks_everything_it_is_given",
    ),
    (
        "backend",
        "GITHUB_CLIENT_ID",
        "crates/backend/tests/sign_in.rs::github_sign_in_uses_the_primary_verified_email",
    ),
    (
        "backend",
        "GITHUB_CLIENT_SECRET",
        "crates/backend/tests/sign_in.rs::github_sign_in_uses_the_primary_verified_email",
    ),
    (
        "backend",
        "GITHUB_URL",
        "crates/backend/tests/sign_in.rs::github_sign_in_uses_the_primary_verified_email",
    ),
    (
        "backend",
        "GITHUB_API_URL",
        "crates/backend/tests/sign_in.rs::github_sign_in_uses_the_primary_verified_email",
    ),
    // ---- executor manager ----
    (
        "executor-manager",
        "BACKEND_URL",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "INTERNAL_API_TOKEN",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "CALLBACK_BASE_URL",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "WORKSPACE_ROOT",
        "crates/executor-manager/tests/cleanup.rs::the_manager_cleans_only_when_enabled_and_stops_promptly",
    ),
    (
        "executor-manager",
        "EXECUTOR_IMAGE",
        "crates/executor-manager/tests/docker_runtime.rs::docker_run_completes_in_a_labelled_unprivileged_container",
    ),
    (
        "executor-manager",
        "EXECUTOR_PUBLISHED_HOST",
        "crates/executor-manager/tests/docker_runtime.rs::docker_run_completes_in_a_labelled_unprivileged_container",
    ),
    (
        "executor-manager",
        "S3_ENDPOINT",
        "crates/executor-manager/tests/process_runtime.rs::workspace_is_exported_to_s3_at_the_end_of_the_run",
    ),
    (
        "executor-manager",
        "S3_ACCESS_KEY",
        "crates/executor-manager/tests/process_runtime.rs::workspace_is_exported_to_s3_at_the_end_of_the_run",
    ),
    (
        "executor-manager",
        "S3_SECRET_KEY",
        "crates/executor-manager/tests/process_runtime.rs::workspace_is_exported_to_s3_at_the_end_of_the_run",
    ),
    (
        "executor-manager",
        "S3_BUCKET",
        "crates/executor-manager/tests/process_runtime.rs::workspace_is_exported_to_s3_at_the_end_of_the_run",
    ),
    (
        "executor-manager",
        "ANTHROPIC_AUTH_TOKEN",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "ANTHROPIC_API_KEY",
        "crates/executor-manager/tests/model_proxy.rs::the_proxy_streams_swaps_the_credential_and_counts_usage",
    ),
    (
        "executor-manager",
        "ANTHROPIC_BASE_URL",
        "crates/executor-manager/tests/model_proxy.rs::an_unreachable_model_api_is_a_502",
    ),
    // The test claims the runs itself: a pulling manager would have taken them.
    (
        "executor-manager",
        "TASK_PULL_ENABLED",
        "crates/executor-manager/tests/process_runtime.rs::a_run_token_cannot_post_events_for_another_run",
    ),
    (
        "executor-manager",
        "MAX_CONCURRENT_TASKS",
        "crates/executor-manager/tests/robustness.rs::two_managers_execute_twenty_runs_exactly_once",
    ),
    (
        "executor-manager",
        "TASK_CLAIM_LEASE_SECONDS",
        "crates/executor-manager/tests/robustness.rs::a_manager_cut_off_from_the_backend_fences_its_run_before_the_lease_expires",
    ),
    (
        "executor-manager",
        "SCHEDULE_CONFIG_PATH",
        "crates/executor-manager/tests/schedules.rs::a_schedule_file_of_the_previous_platform_pulls_like_its_current_equivalent",
    ),
    (
        "executor-manager",
        "WORKSPACE_CLEANUP_ENABLED",
        "crates/executor-manager/tests/cleanup.rs::the_manager_cleans_only_when_enabled_and_stops_promptly",
    ),
    (
        "executor-manager",
        "WORKSPACE_CLEANUP_INTERVAL_HOURS",
        "crates/executor-manager/tests/cleanup.rs::interval_comes_from_the_settings",
    ),
    (
        "executor-manager",
        "WORKSPACE_MAX_AGE_HOURS",
        "crates/executor-manager/tests/cleanup.rs::max_age_decides_by_the_newest_activity_in_the_session",
    ),
    (
        "executor-manager",
        "WORKSPACE_ARCHIVE_ENABLED",
        "crates/executor-manager/tests/cleanup.rs::archive_disabled_deletes_without_an_archive",
    ),
    (
        "executor-manager",
        "WORKSPACE_ARCHIVE_DAYS",
        "crates/executor-manager/tests/cleanup.rs::archive_days_purges_older_archives_only",
    ),
    (
        "executor-manager",
        "EXECUTOR_RUNTIME",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "HOST",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "PORT",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "EXECUTOR_BIN",
        "crates/executor-manager/tests/process_runtime.rs::executor_that_exits_early_fails_the_run",
    ),
    (
        "executor-manager",
        "CLAUDE_BIN",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor-manager",
        "WORKSPACE_GIT_IGNORE",
        "crates/executor-manager/tests/process_runtime.rs::workspace_ignore_rules_and_log_files_reach_the_executor",
    ),
    (
        "executor-manager",
        "MANAGER_ID",
        "crates/executor-manager/tests/docker_runtime.rs::startup_removes_leftover_containers_and_requeues_their_runs",
    ),
    (
        "executor-manager",
        "EXECUTOR_MEMORY_MB",
        "crates/executor-manager/tests/docker_runtime.rs::memory_hog_fails_the_run_as_out_of_memory",
    ),
    (
        "executor-manager",
        "SHUTDOWN_TIMEOUT_SECONDS",
        "crates/executor-manager/tests/process_runtime.rs::shutdown_timeout_requeues_active_runs",
    ),
    (
        "executor-manager",
        "METRICS_TOKEN",
        "crates/executor-manager/tests/operations.rs::the_managers_metrics_can_require_a_token",
    ),
    (
        "executor-manager",
        "EXECUTOR_WARM_IDLE_SECONDS",
        "crates/executor-manager/tests/warm_pool.rs::a_warm_executor_serves_its_session_only_and_stops_when_idle",
    ),
    (
        "executor-manager",
        "EXECUTOR_POOL_TARGETS",
        "crates/executor-manager/tests/warm_pool.rs::pooled_executors_take_new_sessions_and_hand_workspaces_back",
    ),
    (
        "executor-manager",
        "EXECUTOR_POOL_REFILL_CONCURRENCY",
        "crates/executor-manager/tests/warm_pool.rs::pooled_executors_take_new_sessions_and_hand_workspaces_back",
    ),
    // Its whole effect is the start-up check of the secrets.
    (
        "executor-manager",
        "ENVIRONMENT",
        "crates/executor-manager/src/config.rs::production_refuses_placeholder_and_short_secrets",
    ),
    (
        "executor-manager",
        "DOCKER_HOST",
        "crates/executor-manager/tests/sessions_move.rs::the_session_follows_its_runs_across_docker_daemons",
    ),
    (
        "executor-manager",
        "S3_EXECUTOR_ENDPOINT",
        "crates/executor-manager/tests/inputs.rs::an_attachment_reaches_an_agent_in_a_container_through_the_executor_endpoint",
    ),
    (
        "executor-manager",
        "DELETED_SESSIONS_POLL_SECONDS",
        "crates/executor-manager/tests/sessions_move.rs::the_session_follows_its_runs_across_managers",
    ),
    (
        "executor-manager",
        "EXECUTOR_NETWORK",
        "crates/executor-manager/tests/isolation.rs::an_existing_network_that_lets_containers_talk_is_refused",
    ),
    (
        "executor-manager",
        "EXECUTOR_EGRESS_POLICY",
        "crates/executor-manager/tests/isolation.rs::restricted_egress_without_iptables_stops_the_manager_with_one_line",
    ),
    (
        "executor-manager",
        "EXECUTOR_EGRESS_HOST_PORTS",
        "crates/executor-manager/tests/private_repo.rs::a_private_repository_clones_with_the_users_token_and_the_token_shows_nowhere",
    ),
    // ---- executor ----
    (
        "executor",
        "HOST",
        "crates/executor/tests/api.rs::the_binary_serves_and_stops_on_sigterm",
    ),
    (
        "executor",
        "PORT",
        "crates/executor/tests/api.rs::the_binary_serves_and_stops_on_sigterm",
    ),
    (
        "executor",
        "CLAUDE_BIN",
        "crates/executor/tests/api.rs::a_missing_cli_fails_the_run_with_a_hint_and_a_run_id_runs_once",
    ),
    // The manager starts its executors with the model proxy's URL and token in these two.
    (
        "executor",
        "ANTHROPIC_BASE_URL",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor",
        "ANTHROPIC_API_KEY",
        "crates/executor/tests/cli.rs::a_rejected_api_key_fails_fast_with_an_actionable_message",
    ),
    (
        "executor",
        "ANTHROPIC_AUTH_TOKEN",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "executor",
        "AGENT_MAX_RETRIES",
        "crates/executor/tests/cli.rs::a_model_server_error_fails_with_the_api_text",
    ),
    (
        "executor",
        "AGENT_UID",
        "crates/executor/tests/api.rs::the_agent_can_run_as_another_user",
    ),
    (
        "executor",
        "AGENT_GID",
        "crates/executor/tests/api.rs::the_agent_can_run_as_another_user",
    ),
    (
        "executor",
        "AGENT_ENV_PASSTHROUGH",
        "crates/executor/src/config.rs::the_agent_never_gets_the_api_secret_or_the_instance_id",
    ),
    // The manager's docker runtime sets it to the container's mount point.
    (
        "executor",
        "WORKSPACE_PATH",
        "crates/executor-manager/tests/docker_runtime.rs::docker_run_completes_in_a_labelled_unprivileged_container",
    ),
    (
        "executor",
        "WORKSPACE_GIT_IGNORE",
        "crates/executor/tests/cli.rs::workspace_git_ignore_entries_are_left_out_of_the_changes",
    ),
    (
        "executor",
        "CALLBACK_BATCH_MAX_EVENTS",
        "crates/executor/tests/api.rs::callback_settings_bound_the_batches_and_the_retries",
    ),
    (
        "executor",
        "CALLBACK_BATCH_MAX_BYTES",
        "crates/executor/tests/api.rs::callback_settings_bound_the_batches_and_the_retries",
    ),
    (
        "executor",
        "CALLBACK_RETRY_SECONDS",
        "crates/executor/tests/api.rs::callback_settings_bound_the_batches_and_the_retries",
    ),
    (
        "executor",
        "CALLBACK_BACKOFF_MAX_MS",
        "crates/executor/src/callback.rs::failures_are_retried_and_permanent_refusals_dropped",
    ),
    // Its whole effect is the start-up check of the secrets.
    (
        "executor",
        "ENVIRONMENT",
        "crates/executor/src/config.rs::production_refuses_placeholder_secrets",
    ),
    (
        "executor",
        "EXECUTOR_INSTANCE_ID",
        "crates/executor/tests/api.rs::the_binary_serves_and_stops_on_sigterm",
    ),
    // ---- logging (every service) ----
    // JSON lines (DEBUG=false), debug level and access lines, read across all three logs.
    (
        "logging",
        "DEBUG",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "logging",
        "LOG_LEVEL",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "logging",
        "UVICORN_ACCESS_LOG",
        "crates/executor-manager/tests/operations.rs::one_task_is_followed_through_every_log_and_no_secret_is_logged",
    ),
    (
        "logging",
        "LOG_TO_FILE",
        "crates/executor-manager/tests/process_runtime.rs::workspace_ignore_rules_and_log_files_reach_the_executor",
    ),
    (
        "logging",
        "LOG_DIR",
        "crates/executor-manager/tests/process_runtime.rs::workspace_ignore_rules_and_log_files_reach_the_executor",
    ),
    (
        "logging",
        "LOG_BACKUP_COUNT",
        "crates/telemetry/tests/log_files.rs::log_files_are_json_with_spans_and_old_files_are_pruned",
    ),
    (
        "logging",
        "LOG_SQL",
        "crates/telemetry/src/lib.rs::switches_change_the_filter",
    ),
];

/// (service, variable, why): read by the service, but no test sets it and shows it acting yet.
/// Printed as warnings; a test that does moves the variable to [`EXERCISED`].
const NOT_YET_EXERCISED: &[(&str, &str, &str)] = &[
    (
        "backend",
        "RUN_MIGRATIONS",
        "read only by the binary's start-up (main.rs); every test database is migrated by #[sqlx::test] and no test starts the binary with RUN_MIGRATIONS=false",
    ),
    (
        "backend",
        "DATABASE_MAX_CONNECTIONS",
        "sizes the binary's pool (main.rs); in-process tests bring their own pool and no test counts the binary's connections",
    ),
    (
        "backend",
        "LEASE_REAPER_INTERVAL_SECONDS",
        "tests/common/mod.rs sets it to 1 for every backend test and operations.rs::a_lease_expiry_on_the_last_attempt_dead_letters relies on it, but no test names it",
    ),
    (
        "executor-manager",
        "DEFAULT_MODEL",
        "passed to executors as their DEFAULT_MODEL (run.rs); no test checks which model a task naming none gets through the manager",
    ),
    (
        "executor-manager",
        "S3_REGION",
        "the export client's signing region; the test store (s3s-fs) accepts any region and only config.rs::values_parse reads it",
    ),
    (
        "executor-manager",
        "S3_FORCE_PATH_STYLE",
        "the export client's addressing; virtual-host addressing needs a DNS name per bucket, and only config.rs::values_parse reads it",
    ),
    (
        "executor-manager",
        "TASK_PULL_INTERVAL_SECONDS",
        "the pause after an empty or failed claim; tests/common/mod.rs sets it to 1 and no test measures it",
    ),
    (
        "executor-manager",
        "TASK_CLAIM_WAIT_SECONDS",
        "the claims' long-poll length; the harnesses set it to 2 but no test asserts how long a claim waits",
    ),
    (
        "executor-manager",
        "WORKSPACE_IGNORE_DOT_FILES",
        "exports leave dot files out by default; no test exports a dot file with it set either way",
    ),
    (
        "executor-manager",
        "EXECUTOR_CPUS",
        "docker runtime only (the container's NanoCpus); no test sets it or inspects the CPU limit",
    ),
    (
        "executor-manager",
        "EXECUTOR_PIDS_LIMIT",
        "docker_runtime.rs::docker_run_completes_in_a_labelled_unprivileged_container checks the container's default limit (512), but no test sets it",
    ),
    (
        "executor-manager",
        "EXECUTOR_USER",
        "docker_runtime.rs::docker_run_completes_in_a_labelled_unprivileged_container checks the default user (1000:1000), but no test sets it",
    ),
    (
        "executor-manager",
        "EXECUTOR_CONTAINER_PORT",
        "docker runtime only; every docker test uses the default port 8000 and none sets it",
    ),
    (
        "executor-manager",
        "EXECUTOR_READY_TIMEOUT_SECONDS",
        "how long a started executor may take to answer /health (run.rs, pool.rs); no test starts an executor that never becomes ready",
    ),
    (
        "executor-manager",
        "EXECUTOR_PUBLISH_ADDRESS",
        "docker runtime only; every docker test uses the default 127.0.0.1 and only config.rs::isolation_settings reads it",
    ),
    (
        "executor-manager",
        "EXECUTOR_EGRESS_DENY",
        "isolation.rs::executors_reach_neither_each_other_nor_the_host_nor_link_local_addresses proves the default (169.254.0.0/16) blocked, but no test sets it",
    ),
    (
        "executor",
        "DEFAULT_MODEL",
        "agent/mod.rs::the_command_line_is_headless_stream_json shows it becoming --model, with settings built by Settings::with_defaults(model, …); no test names it",
    ),
    (
        "executor",
        "EXECUTOR_API_SECRET",
        "api.rs::every_other_route_wants_the_secret proves the API refuses calls without it, with a secret Settings::with_defaults makes up; no test names it",
    ),
    (
        "executor",
        "CANCEL_GRACE_MS",
        "tests/common/mod.rs sets it in code (2000 ms) for every executor test; no test shows the agent killed once the grace is over",
    ),
    (
        "executor",
        "AGENT_PRESTART",
        "cli.rs::a_follow_up_in_the_same_executor_runs_in_the_cli_started_ahead_for_it runs with it on, set by tests/common/mod.rs::cli_settings; no test names it",
    ),
    (
        "executor",
        "CALLBACK_FLUSH_MS",
        "how long a partial batch waits; callback.rs's tests run with the default and none sets it",
    ),
    (
        "executor",
        "EVENT_BUFFER",
        "callback.rs::a_stalled_receiver_pushes_back_on_the_producer sets the delivery's buffer directly (CallbackConfig), not the setting",
    ),
    (
        "executor",
        "CALLBACK_TIMEOUT_SECONDS",
        "no test has a receiver that accepts the connection and never answers",
    ),
];

const LOGGING: &str = "logging";
const SERVICES: [&str; 4] = ["backend", "executor-manager", "executor", LOGGING];

/// The variables of each service, the logging ones under [`LOGGING`] only.
fn service_vars() -> BTreeMap<&'static str, BTreeSet<String>> {
    let logging: BTreeSet<String> = service_config::variable_names::<telemetry::LogSettings>()
        .into_iter()
        .collect();
    let own = |vars: Vec<String>| -> BTreeSet<String> {
        vars.into_iter().filter(|v| !logging.contains(v)).collect()
    };
    BTreeMap::from([
        ("backend", own(backend::config::Settings::variables())),
        (
            "executor-manager",
            own(executor_manager::Settings::variables()),
        ),
        ("executor", own(executor::Settings::variables())),
        (LOGGING, logging.clone()),
    ])
}

fn repo_path(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A function of a source file: its name, whether a test attribute marks it, its text from the
/// `fn` line to the closing brace at the `fn` line's indentation, and whether it lies in a test
/// file or a source file's test module (then it may serve as a test's helper).
struct Function {
    name: String,
    is_test: bool,
    body: String,
    test_code: bool,
}

/// The name of the function a line declares (`[pub] [async] fn name(` or `fn name<`).
fn declared_fn(line: &str) -> Option<&str> {
    let mut rest = line.trim_start();
    for prefix in ["pub(crate) ", "pub ", "async ", "unsafe "] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let name = rest.strip_prefix("fn ")?;
    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    name[end..].starts_with(['(', '<']).then_some(&name[..end])
}

fn functions(path: &str, text: &str) -> Vec<Function> {
    let lines: Vec<&str> = text.lines().collect();
    let test_file = path.contains("/tests/") || path.contains("/benches/");
    // In a source file, helpers count only inside its test module.
    let test_module_from = lines
        .iter()
        .position(|l| l.trim() == "#[cfg(test)]")
        .unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = declared_fn(line) else {
            continue;
        };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let close = format!("{indent}}}");
        let end = if line.trim_end().ends_with('}') {
            i
        } else {
            (i..lines.len())
                .find(|&j| lines[j] == close)
                .unwrap_or(lines.len() - 1)
        };
        // The attributes and doc comments right above the `fn` line.
        let is_test = lines[..i]
            .iter()
            .rev()
            .take_while(|l| {
                let l = l.trim();
                !l.is_empty() && !l.ends_with(['}', ';', '{'])
            })
            .any(|l| {
                let l = l.trim();
                l.starts_with("#[") && l.contains("test") && !l.starts_with("#[cfg(")
            });
        out.push(Function {
            name: name.to_owned(),
            is_test,
            body: lines[i..=end].join("\n"),
            test_code: test_file || i > test_module_from,
        });
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `text` names `var`: literally, or as the settings field it fills (`field:` in a struct
/// literal, `.field =` in an assignment).
fn names_var(text: &str, var: &str) -> bool {
    if text.contains(var) {
        return true;
    }
    let field = var.to_ascii_lowercase();
    text.match_indices(&field).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + field.len()..].trim_start();
        !before.is_some_and(is_ident)
            && ((after.starts_with(':') && !after.starts_with("::"))
                || (after.starts_with('=') && !after.starts_with("==")))
    })
}

/// Whether `body` calls `name` as a plain function (not a method nor a path's item).
fn calls(body: &str, name: &str) -> bool {
    body.match_indices(name).any(|(at, _)| {
        let before = body[..at].chars().next_back();
        let after = &body[at + name.len()..];
        !before.is_some_and(|c| is_ident(c) || c == '.' || c == ':')
            && (after.starts_with('(') || after.starts_with("::<"))
    })
}

/// One line per problem of the tables.
fn table_problems(
    exercised: &[(&str, &str, &str)],
    not_yet: &[(&str, &str, &str)],
    vars: &BTreeMap<&'static str, BTreeSet<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut rows: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut files: BTreeMap<&str, Option<Vec<Function>>> = BTreeMap::new();
    for &(service, var, reference) in exercised.iter().chain(not_yet) {
        *rows.entry((service, var)).or_default() += 1;
        match vars.get(service) {
            None => problems.push(format!(
                "{service} {var}: unknown service (one of {SERVICES:?})"
            )),
            Some(read) if !read.contains(var) => problems.push(format!(
                "{service} {var}: stale row, {service} does not read {var} ({reference})"
            )),
            Some(_) => {}
        }
    }
    for &(service, var, reference) in exercised {
        let Some((path, name)) = reference.split_once("::") else {
            problems.push(format!(
                "{service} {var}: `{reference}` is not `path/to/file.rs::test_fn`"
            ));
            continue;
        };
        let parsed = files.entry(path).or_insert_with(|| {
            std::fs::read_to_string(repo_path(path))
                .ok()
                .map(|text| functions(path, &text))
        });
        let Some(fns) = parsed else {
            problems.push(format!("{service} {var}: {path} does not exist"));
            continue;
        };
        let Some(test) = fns
            .iter()
            .find(|f| f.name == name && f.is_test)
            .or_else(|| fns.iter().find(|f| f.name == name))
        else {
            problems.push(format!("{service} {var}: {path} has no `fn {name}`"));
            continue;
        };
        if !test.is_test {
            problems.push(format!(
                "{service} {var}: {reference} is not a test (no #[test], #[tokio::test] or #[sqlx::test] above it)"
            ));
            continue;
        }
        let named = names_var(&test.body, var)
            || fns.iter().any(|f| {
                !f.is_test
                    && f.test_code
                    && f.name != name
                    && calls(&test.body, &f.name)
                    && names_var(&f.body, var)
            });
        if !named {
            problems.push(format!(
                "{service} {var}: {reference} does not name {var} (nor its settings field, nor in a helper of its file it calls)"
            ));
        }
    }
    for (service, read) in vars {
        for var in read {
            match rows.get(&(*service, var.as_str())).copied().unwrap_or(0) {
                0 => problems.push(format!(
                    "{service} {var}: no row; add the test that shows it acting to EXERCISED, or the reason there is none to NOT_YET_EXERCISED"
                )),
                1 => {}
                n => problems.push(format!(
                    "{service} {var}: {n} rows (EXERCISED and NOT_YET_EXERCISED together); keep one"
                )),
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

#[test]
fn every_setting_is_exercised_by_a_test_that_names_it() {
    for (service, var, why) in NOT_YET_EXERCISED {
        eprintln!("warning: {service} {var} is not exercised by a test yet: {why}");
    }
    let problems = table_problems(EXERCISED, NOT_YET_EXERCISED, &service_vars());
    assert!(
        problems.is_empty(),
        "the table of exercised settings disagrees with the code ({} problems):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn stale_missing_and_unproven_rows_are_named() {
    let vars = service_vars();
    let mut exercised: Vec<(&str, &str, &str)> = EXERCISED
        .iter()
        .copied()
        .filter(|(s, v, _)| !(*s == "backend" && *v == "RATE_LIMIT_BURST"))
        .collect();
    exercised.extend([
        // A variable the backend does not read.
        (
            "backend",
            "NOT_READ_BY_ANYONE",
            "crates/backend/tests/api.rs::single_user_mode_needs_no_login",
        ),
        // A test that never mentions the variable.
        (
            "executor",
            "AGENT_PRESTART",
            "crates/backend/tests/api.rs::single_user_mode_needs_no_login",
        ),
        // No such test, no such file, a helper rather than a test.
        (
            "executor",
            "EVENT_BUFFER",
            "crates/executor/tests/api.rs::no_such_test",
        ),
        (
            "executor",
            "CALLBACK_FLUSH_MS",
            "crates/executor/tests/nowhere.rs::a_test",
        ),
        (
            "backend",
            "LEASE_REAPER_INTERVAL_SECONDS",
            "crates/backend/tests/common/mod.rs::base_vars",
        ),
    ]);
    let not_yet: Vec<(&str, &str, &str)> = NOT_YET_EXERCISED
        .iter()
        .copied()
        .filter(|(_, v, _)| {
            ![
                "AGENT_PRESTART",
                "EVENT_BUFFER",
                "CALLBACK_FLUSH_MS",
                "LEASE_REAPER_INTERVAL_SECONDS",
            ]
            .contains(v)
        })
        .collect();
    let problems = table_problems(&exercised, &not_yet, &vars);
    for expected in [
        "backend RATE_LIMIT_BURST: no row; add the test that shows it acting to EXERCISED, or the reason there is none to NOT_YET_EXERCISED",
        "backend NOT_READ_BY_ANYONE: stale row, backend does not read NOT_READ_BY_ANYONE (crates/backend/tests/api.rs::single_user_mode_needs_no_login)",
        "backend NOT_READ_BY_ANYONE: crates/backend/tests/api.rs::single_user_mode_needs_no_login does not name NOT_READ_BY_ANYONE (nor its settings field, nor in a helper of its file it calls)",
        "executor AGENT_PRESTART: crates/backend/tests/api.rs::single_user_mode_needs_no_login does not name AGENT_PRESTART (nor its settings field, nor in a helper of its file it calls)",
        "executor EVENT_BUFFER: crates/executor/tests/api.rs has no `fn no_such_test`",
        "executor CALLBACK_FLUSH_MS: crates/executor/tests/nowhere.rs does not exist",
        "backend LEASE_REAPER_INTERVAL_SECONDS: crates/backend/tests/common/mod.rs::base_vars is not a test (no #[test], #[tokio::test] or #[sqlx::test] above it)",
    ] {
        assert!(
            problems.contains(&expected.to_owned()),
            "{expected}\nnot in:\n{}",
            problems.join("\n")
        );
    }
    assert_eq!(problems.len(), 7, "{}", problems.join("\n"));

    // A row in both tables.
    let mut not_yet = NOT_YET_EXERCISED.to_vec();
    not_yet.push(("backend", "RATE_LIMIT_BURST", "twice"));
    let problems = table_problems(EXERCISED, &not_yet, &vars);
    assert!(
        problems.contains(
            &"backend RATE_LIMIT_BURST: 2 rows (EXERCISED and NOT_YET_EXERCISED together); keep one"
                .to_owned()
        ),
        "{problems:#?}"
    );
}

#[test]
fn variables_are_found_literally_as_fields_and_through_helpers() {
    assert!(names_var(
        r#"("RATE_LIMIT_BURST", "5")"#,
        "RATE_LIMIT_BURST"
    ));
    assert!(names_var("s.cancel_grace_ms = 10;", "CANCEL_GRACE_MS"));
    assert!(names_var("log_to_file: true,", "LOG_TO_FILE"));
    assert!(!names_var("s.cancel_grace_ms == 10", "CANCEL_GRACE_MS"));
    assert!(!names_var("telemetry::log_to_file::x", "LOG_TO_FILE"));
    assert!(!names_var("my_log_to_file: true", "LOG_TO_FILE"));
    assert!(calls("let s = settings(r, &[]);", "settings"));
    assert!(!calls(
        "Settings::from_vars(v); s.settings(); x.settings()",
        "settings"
    ));
    assert!(!calls("cleanup_settings(x)", "settings"));
    let fns = functions(
        "crates/x/src/lib.rs",
        "fn helper() {}\n\n#[cfg(test)]\nmod tests {\n    fn vars() -> u8 {\n        1\n    }\n\n    #[tokio::test(flavor = \"multi_thread\")]\n    async fn it_works() {\n        vars();\n    }\n}\n",
    );
    let summary: Vec<(&str, bool, bool)> = fns
        .iter()
        .map(|f| (f.name.as_str(), f.is_test, f.test_code))
        .collect();
    assert_eq!(
        summary,
        [
            ("helper", false, false),
            ("vars", false, true),
            ("it_works", true, true)
        ]
    );
    assert_eq!(
        fns[2].body,
        "    async fn it_works() {\n        vars();\n    }"
    );
}
