-- Accounts and access (issue 16): roles, disabled accounts, invites, personal access tokens,
-- one-time password resets and accounts linked to an OpenID Connect or GitHub identity.

-- The first account of an empty database becomes an admin (see auth::accounts::create); an
-- existing deployment's oldest password account is made one here so somebody can administer it.
ALTER TABLE users
    ADD COLUMN role text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    -- Set by an admin: the account's logins, tokens and open WebSockets stop working at once.
    ADD COLUMN disabled_at timestamptz,
    -- Raised when the password changes (or a reset is used): login tokens carry the generation
    -- they were issued at, and older ones stop working.
    ADD COLUMN token_generation integer NOT NULL DEFAULT 0;

UPDATE users SET role = 'admin'
 WHERE id = (SELECT id FROM users WHERE password_hash IS NOT NULL ORDER BY created_at, id LIMIT 1);

-- Single-use invites; only the SHA-256 of the token is kept.
CREATE TABLE invites (
    id          uuid PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    -- If set, only this address may register with it.
    email       text,
    role        text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member')),
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    used_by     uuid REFERENCES users (id) ON DELETE SET NULL
);

-- Personal access tokens (`wc_…`); only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    -- `wc_` and the next four characters, to tell tokens apart in a list.
    prefix       text NOT NULL,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    -- Written at most once a minute per token (see auth::api_token).
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at DESC) WHERE revoked_at IS NULL;

-- One-time password reset links an admin (or `backend user reset-password`) created.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);

-- Accounts signed in through an identity provider: `oidc` (the issuer's `sub`) or `github` (the
-- numeric user id). Linked to an account by its verified e-mail the first time.
CREATE TABLE external_identities (
    provider   text NOT NULL,
    subject    text NOT NULL,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);
CREATE INDEX external_identities_user ON external_identities (user_id);
