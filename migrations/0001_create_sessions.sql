-- Sessions: one row per conversation.
--
-- `sid` is the integer key events point at (8 bytes per event row instead of
-- a 36-byte text id); `id` is the caller's id. `event_count` is kept in the
-- same transaction as every append so listings never count events.
CREATE TABLE sessions (
    sid               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    head_id           TEXT,
    server_session_id TEXT,
    directory         TEXT,
    git_root          TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    archived_at       INTEGER,
    event_count       INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Resume lookup: newest live session in a directory, or under a git root.
-- Partial: archived sessions are never resumed, so they cost these indexes nothing.
CREATE INDEX sessions_live_directory ON sessions (directory, updated_at)
    WHERE archived_at IS NULL;
CREATE INDEX sessions_live_git_root ON sessions (git_root, updated_at)
    WHERE archived_at IS NULL AND git_root IS NOT NULL;

-- Listing ("resume which conversation?"), newest activity first, keyset-paginated.
CREATE INDEX sessions_activity ON sessions (updated_at);
