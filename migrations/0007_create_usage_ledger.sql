-- Token usage ledger (SPEC §9): what each model call cost, recorded against
-- the event that incurred it.
--
-- One row per (event, model). The event is named by its (sid, seq) storage
-- key, so compaction (which only appends) never touches a ledger row, and the
-- row goes with its session when retention deletes it (ON DELETE CASCADE).
-- `created_at` is the event's own timestamp, copied here so totals per day
-- never join the event log.
CREATE TABLE usage_ledger (
    sid           INTEGER NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    model         TEXT    NOT NULL,
    input_tokens  INTEGER NOT NULL CHECK (input_tokens >= 0),
    output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
    cached_tokens INTEGER NOT NULL CHECK (cached_tokens >= 0),
    cost          REAL CHECK (cost IS NULL OR cost >= 0),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (sid, seq, model)
) STRICT, WITHOUT ROWID;

-- Totals are one scan of a covering index, already in group order:
-- per model (the primary key serves per session; this serves per model) ...
CREATE INDEX usage_ledger_by_model ON usage_ledger
    (model, created_at, input_tokens, output_tokens, cached_tokens, cost);
-- ... and per UTC day.
CREATE INDEX usage_ledger_by_day ON usage_ledger
    (created_at / 86400, created_at, input_tokens, output_tokens, cached_tokens, cost);
