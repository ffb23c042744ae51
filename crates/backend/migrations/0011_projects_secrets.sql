-- Secrets, projects and their files (issue 15).

-- A user's secrets (user_id set) and the system's (user_id NULL, set by the operator with
-- `backend secrets set-system`). The value is stored only encrypted: XChaCha20-Poly1305 under a
-- key derived from ENCRYPTION_KEY (key_id names which of the configured keys wrote it), with
-- the owner and the name as associated data, so a ciphertext moved to another row fails to
-- decrypt.
CREATE TABLE secrets (
    id          uuid PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name ~ '^[A-Z_][A-Z0-9_]*$' AND length(name) <= 128),
    description text NOT NULL DEFAULT '',
    key_id      text NOT NULL,
    nonce       bytea NOT NULL,
    ciphertext  bytea NOT NULL,
    -- At most the last four characters of a long value (protocol::secrets::hint); NULL otherwise.
    last4       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX secrets_user_name ON secrets (user_id, name) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX secrets_system_name ON secrets (name) WHERE user_id IS NULL;

-- A user's projects.
CREATE TABLE projects (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    -- protocol::projects::ProjectDefaults
    defaults     jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The project's CLAUDE.md.
    instructions text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX projects_user_name ON projects (user_id, lower(name));

-- Files staged into inputs/ of every run of the project's sessions; objects at
-- objstore::keys::project_file_key.
CREATE TABLE project_files (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    object_key   text NOT NULL UNIQUE,
    size         bigint NOT NULL CHECK (size >= 0),
    content_type text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- A session's project. Deleting a project with sessions is refused by the API unless it
-- deletes them too (?cascade=true); the foreign key keeps a race from leaving a dangling id.
ALTER TABLE sessions ADD COLUMN project_id uuid REFERENCES projects (id);
CREATE INDEX sessions_by_project ON sessions (project_id, created_at DESC, id DESC)
    WHERE project_id IS NOT NULL;
