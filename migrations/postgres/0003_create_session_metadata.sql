-- Per-session key/value metadata (title, model, client settings ...), owned
-- like everything else; deleted with its session.
CREATE TABLE session_metadata (
    sid        bigint NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    owner      text   NOT NULL,
    key        text   NOT NULL,
    value      text   NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (sid, key)
);
