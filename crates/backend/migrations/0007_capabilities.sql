-- Agent capabilities: each user's library (skills, MCP servers, slash commands, subagents,
-- instructions, presets) and the snapshot of it each run and session takes.
--
-- `user_id IS NULL` marks a system item: visible to every user, editable by none through the
-- public API. Names are unique per owner; a user's item shadows a system item of the same name
-- when a run is resolved (they stage into the same file).

-- A skill: a folder (SKILL.md + files) stored in the bucket under
-- `{owner prefix}/skills/{id}/{version}/` (objstore::keys::skill_version_prefix); `files` lists
-- the current version's files ([{"path", "size"}]). A new upload makes a new version: the
-- previous version's objects stay until no queued or running run refers to them.
CREATE TABLE skills (
    id          uuid PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL,
    version     text NOT NULL,
    size        bigint NOT NULL CHECK (size >= 0),
    files       jsonb NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX skills_owner_name ON skills (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

-- Skill versions replaced or deleted whose objects are still in the bucket: the retention sweep
-- deletes each once no queued or running run's snapshot refers to it.
CREATE TABLE skill_versions_retired (
    prefix     text PRIMARY KEY,
    skill_id   uuid NOT NULL,
    version    text NOT NULL,
    retired_at timestamptz NOT NULL DEFAULT now()
);

-- An MCP server: `config` is what the CLI's --mcp-config takes under mcpServers.{name}.
CREATE TABLE mcp_servers (
    id         uuid PRIMARY KEY,
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL,
    config     jsonb NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX mcp_servers_owner_name ON mcp_servers (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

-- A slash command: the CLI's commands/{name}.md.
CREATE TABLE slash_commands (
    id            uuid PRIMARY KEY,
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    argument_hint text,
    allowed_tools text[] NOT NULL DEFAULT '{}',
    model         text,
    body          text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX slash_commands_owner_name ON slash_commands (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

-- A subagent: the CLI's agents/{name}.md.
CREATE TABLE subagents (
    id            uuid PRIMARY KEY,
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL,
    description   text NOT NULL,
    tools         text[] NOT NULL DEFAULT '{}',
    model         text,
    system_prompt text NOT NULL,
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX subagents_owner_name ON subagents (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

-- CLAUDE.md: one per user, and at most one system text (user_id NULL).
CREATE TABLE instructions (
    id         uuid PRIMARY KEY,
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    text       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX instructions_owner ON instructions (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid));

-- A preset: run settings and the items it turns on. Deleting an item removes it from presets
-- in the same transaction.
CREATE TABLE presets (
    id                uuid PRIMARY KEY,
    user_id           uuid REFERENCES users (id) ON DELETE CASCADE,
    name              text NOT NULL,
    description       text NOT NULL DEFAULT '',
    model             text,
    permission_mode   text,
    prompt_template   text,
    skill_ids         uuid[] NOT NULL DEFAULT '{}',
    mcp_server_ids    uuid[] NOT NULL DEFAULT '{}',
    slash_command_ids uuid[] NOT NULL DEFAULT '{}',
    subagent_ids      uuid[] NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX presets_owner_name ON presets (coalesce(user_id, '00000000-0000-0000-0000-000000000000'::uuid), name);

-- The snapshot (protocol::capabilities::CapabilitySnapshot) a run was queued with, and the one
-- its session's follow-ups keep when they name nothing. NULL: nothing resolved (runs queued
-- before this migration).
ALTER TABLE runs ADD COLUMN capabilities jsonb;
ALTER TABLE sessions ADD COLUMN capabilities jsonb;
