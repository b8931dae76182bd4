"""A database built by older migrations upgrades in place with its data intact."""

from __future__ import annotations

import shutil
from pathlib import Path

import apsw

from convstore import SessionStore
from convstore.migrations import known_migrations, load_migrations, migrate, status


def test_version_2_database_upgrades_to_metadata_with_data_intact(tmp_path: Path) -> None:
    old_folder = tmp_path / "old-migrations"
    old_folder.mkdir()
    for mig in known_migrations()[:2]:
        shutil.copy(mig.path, old_folder / mig.name)
    db = tmp_path / "old.db"
    conn = apsw.Connection(str(db))
    migrate(conn, "old.db", load_migrations(old_folder))
    conn.execute(
        "INSERT INTO sessions (id, directory, created_at, updated_at) VALUES ('s1', '/p', 1, 1)"
    )
    conn.execute(
        "INSERT INTO session_events (sid, seq, id, invocation_id, event_type, event_data, "
        "created_at) VALUES (1, 1, 'e1', 'i', 't', '{\"a\": 1}', 1)"
    )
    conn.execute("UPDATE sessions SET head_id = 'e1', event_count = 1")
    conn.close()

    with SessionStore(db) as store:
        st = status(store.connection, str(db))
        assert [m.version for m in st.applied] == [m.version for m in known_migrations()]
        assert st.pending == ()
        assert [e.event_data for e in store.load_events("s1")] == ['{"a": 1}']
        session = store.get_session("s1")
        assert session is not None and session.head_id == "e1"
        store.set_metadata("s1", "title", "kept")
        assert store.get_metadata("s1", "title") == "kept"
