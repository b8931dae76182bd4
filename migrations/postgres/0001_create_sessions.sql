-- Sessions on the team server: one row per conversation, each owned by one user.
--
-- Ownership: every row carries `owner`, and every statement convstore runs
-- filters on it. Session ids are unique per owner (UNIQUE (owner, id)), so two
-- owners may use the same id without either learning that the other exists.
-- `sid` is the integer key events and metadata point at (8 bytes per event
-- row instead of a text id); `event_count` is maintained by every append so
-- listings never count events.
CREATE TABLE sessions (
    sid               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner             text   NOT NULL,
    id                text   NOT NULL,
    head_id           text,
    server_session_id text,
    directory         text,
    git_root          text,
    created_at        bigint NOT NULL,
    updated_at        bigint NOT NULL,
    archived_at       bigint,
    event_count       bigint NOT NULL DEFAULT 0,
    CONSTRAINT sessions_owner_id UNIQUE (owner, id)
);

-- Resume lookup: newest live session of an owner in a directory, or under a
-- git root. Partial: archived sessions are never resumed. The trailing
-- (updated_at, sid) serve the ORDER BY ... LIMIT 1 without a sort.
CREATE INDEX sessions_live_directory ON sessions (owner, directory, updated_at, sid)
    WHERE archived_at IS NULL;
CREATE INDEX sessions_live_git_root ON sessions (owner, git_root, updated_at, sid)
    WHERE archived_at IS NULL AND git_root IS NOT NULL;

-- Listing, newest activity first, keyset-paginated on (updated_at, sid).
CREATE INDEX sessions_activity ON sessions (owner, updated_at, sid);
