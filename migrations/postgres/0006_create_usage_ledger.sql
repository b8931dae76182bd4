-- Token usage ledger on the team server (SPEC §9): one row per (event, model),
-- owned like everything else and deleted with its event or session.
-- `created_at` is the event's timestamp, copied so totals per day never join
-- the event log. Totals per model or day are one scan of a covering index
-- (the INCLUDE columns), scoped by owner.
CREATE TABLE usage_ledger (
    sid           bigint NOT NULL,
    seq           bigint NOT NULL,
    owner         text   NOT NULL,
    model         text   NOT NULL,
    input_tokens  bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL CHECK (output_tokens >= 0),
    cached_tokens bigint NOT NULL CHECK (cached_tokens >= 0),
    cost          double precision CHECK (cost IS NULL OR cost >= 0),
    created_at    bigint NOT NULL,
    PRIMARY KEY (sid, seq, model),
    FOREIGN KEY (sid, seq) REFERENCES session_events (sid, seq) ON DELETE CASCADE
);

CREATE INDEX usage_ledger_by_model ON usage_ledger (owner, model, created_at)
    INCLUDE (input_tokens, output_tokens, cached_tokens, cost, sid);
CREATE INDEX usage_ledger_by_day ON usage_ledger (owner, (created_at / 86400), created_at)
    INCLUDE (input_tokens, output_tokens, cached_tokens, cost, sid);

-- The server enforces the owner here too (as 0004 does for the other tables).
ALTER TABLE usage_ledger ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_ledger FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_ledger_owner ON usage_ledger
    USING (owner = current_user OR (SELECT convstore_acts_for_others()))
    WITH CHECK (owner = current_user OR (SELECT convstore_acts_for_others()));
ALTER TABLE usage_ledger ALTER COLUMN owner SET DEFAULT current_user;
REVOKE ALL ON usage_ledger FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON usage_ledger TO PUBLIC;
