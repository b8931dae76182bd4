-- The append-only event log on the team server.
--
-- The primary key (sid, seq) keeps a session's events in append order for
-- load_events; `seq` is the session's event counter at append time, read
-- under the session's row lock. Event ids are unique per owner
-- (UNIQUE (owner, id)): duplicate detection, parent checks and the history
-- walk all use that index. `event_data` is stored as the exact JSON text the
-- client sent (sync compares it byte for byte); the CHECK only validates it.
CREATE TABLE session_events (
    sid           bigint NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    owner         text   NOT NULL,
    id            text   NOT NULL,
    parent_id     text,
    invocation_id text   NOT NULL,
    event_type    text   NOT NULL,
    event_data    text   NOT NULL CONSTRAINT session_events_json CHECK (event_data::json IS NOT NULL),
    created_at    bigint NOT NULL,
    PRIMARY KEY (sid, seq),
    CONSTRAINT session_events_owner_id UNIQUE (owner, id)
);
