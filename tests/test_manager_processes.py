"""Two terminals resume one session and append at once: one linear chain, nothing lost."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

from conftest import PYTHON, child_env

from convstore import LocalSessionService, SessionManager

WRITER = r"""
import sys
from convstore import LocalSessionService, SessionManager
db, cwd, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
service = LocalSessionService(db, timeout=30)
m = SessionManager(service, cwd=cwd)
assert m.start() is True, "expected to resume the shared session"
sys.stdout.write("ready\n"); sys.stdout.flush()
sys.stdin.readline()          # the test releases both writers together
for i in range(n):
    m.append("text", {"i": i})
print(m.session_id)
"""


def test_two_processes_appending_to_one_session_form_a_single_chain(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    service = LocalSessionService(db)
    first = SessionManager(service, cwd=tmp_path)
    first.start()
    first.append("user_message", {"content": "start"})
    service.close()

    n = 200
    procs = [
        subprocess.Popen(
            [PYTHON, "-c", WRITER, str(db), str(tmp_path), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0][-1] == outs[1][-1] == first.session_id

    check = LocalSessionService(db)
    try:
        events = check.load_events(first.session_id)
        # 1 start event + 2 boundary events + 2*n appends, every one present.
        assert len(events) == 1 + 2 + 2 * n
        # Linear: each event's parent is the event appended just before it.
        assert events[0].parent_id is None
        for prev, ev in itertools.pairwise(events):
            assert ev.parent_id == prev.id
        session = check.get_session(first.session_id)
        assert session is not None and session.head_id == events[-1].id
        assert [e.id for e in check.history(first.session_id)] == [e.id for e in events]
    finally:
        check.close()
