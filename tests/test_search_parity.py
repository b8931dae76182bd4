"""The same search() on both backends: the server indexes what the local store indexes.

Local: SQLite FTS5 over ``json_extract(event_data, '$.content')`` with the
``unicode61 remove_diacritics 2`` tokenizer. Server: a tsvector of the same
text, folded into the same words (migration ``0009_search_like_local.sql``).
Every case below runs on both and must give the same events.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import unique_owner

from convstore import InvalidArgument, SessionStore
from convstore.search import InvalidQuery, SearchHit

#: (event id, event_data): text in content strings, content blocks, nested
#: objects, other fields, non-objects, punctuation, diacritics, other scripts.
EVENTS: list[tuple[str, str]] = [
    ("plain", json.dumps({"content": "why is the build red"})),
    ("blocks", json.dumps({"content": [{"type": "text", "text": "the Build log"}]})),
    ("nested", json.dumps({"content": {"parts": [{"text": "deploy notes"}]}, "role": "tool"})),
    ("escaped", '{"content": [{"text": "line one\\nsecond line"}]}'),
    ("number", json.dumps({"content": 42})),
    ("boolean", json.dumps({"content": True})),
    ("null", json.dumps({"content": None, "text": "build"})),
    ("other-field", json.dumps({"text": "build deploy", "input": {"cmd": "make build"}})),
    ("not-object", json.dumps(["build", "deploy"])),
    ("scalar", json.dumps("build")),
    ("punct", json.dumps({"content": "fix ci.py and foo_bar-baz (see https://x.io/a?b=c)"})),
    ("accents", json.dumps({"content": "Café déjà vu — ÉCOLE naïve Ærø"})),
    ("scripts", json.dumps({"content": "Привет МИР, Καλημέρα κόσμε, 東京 tower"})),
    ("emoji", json.dumps({"content": "build🔥fast ✓done"})),
    ("nul", '{"content": "nul\\u0000build", "x": "\\u0000"}'),
    ("literal-nul", '{"content": "a \\\\u0000 literal"}'),
    ("upper", json.dumps({"content": "WAL Checkpoint RED"})),
    ("greek-1", json.dumps({"content": "alpha beta gamma"})),
    ("greek-2", json.dumps({"content": "gamma alpha delta"})),
    ("greek-3", json.dumps({"content": "beta alphabet"})),
]

#: (query, literal): words, phrases, operators, and words as the index folds them.
QUERIES: list[tuple[str, bool]] = [
    ("build", False),
    ("BUILD", False),
    ("red", False),
    ("text", False),  # a key of the content blocks' JSON text
    ("type", False),
    ("deploy", False),
    ("notes", False),
    ("parts", False),
    ("nsecond", False),  # "\n" inside a JSON string's JSON text is a backslash and an n
    ("42", False),
    ("1", False),
    ("cmd", False),  # only in another field: indexed by neither
    ("role", False),
    ("py", False),
    ("ci py", False),
    ('"ci py"', False),
    ("foo", False),
    ("baz", False),
    ("https", False),
    ("cafe", False),
    ("café", False),
    ("deja", False),
    ("ecole", False),
    ("naive", False),
    ("ærø", False),
    ("привет", False),
    ("мир", False),
    ("καλημέρα", False),
    ("東京", False),
    ("fast", False),
    ("done", False),
    ("nul", False),
    ("literal", False),
    ("u0000", False),
    ("wal checkpoint", False),
    ('"checkpoint red"', False),
    ("build OR deploy", False),
    ("build NOT red", False),
    ("build AND log", False),
    # FTS5's query language, translated into a tsquery on the server.
    ("alph*", False),
    ("bui*", False),
    ("Café*", False),
    ("déj*", False),
    ("gam* AND alpha", False),
    ("alpha*beta", False),  # alpha* AND beta
    ("alpha OR delta NOT beta", False),
    ("(alpha OR delta) NOT beta", False),
    ("alpha NOT beta gamma", False),  # NOT binds looser than the implicit AND
    ("alpha OR beta gamma", False),
    ("alpha AND (beta OR delta) NOT gamma", False),
    ('"alpha beta"', False),
    ('"beta alpha"', False),
    ("alpha+beta", False),
    ('"alpha be"*', False),
    ('"ci.py"', False),
    ("foo_bar", False),  # a bareword with an underscore: the phrase foo bar
    ("naïve", False),
    ("NEAR(alpha gamma)", False),
    ("NEAR(alpha delta, 3)", False),
    ("^why", False),
    ("body:alpha", False),
    ("{body}:alpha beta", False),
    ("body:(alpha OR delta)", False),
    ("-body:alpha", False),
    ('"" alpha', False),
    ('"."', False),
    ('"." OR delta', False),
    ("and", False),  # lower case: a word
    ("ci.py", True),
    ("foo_bar-baz", True),
    ("déjà vu", True),
    ("line one", True),
    ("nothing-here", True),
]


@pytest.fixture(params=["local", "postgres"])
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "local":
        with SessionStore(":memory:") as store:
            yield store
        return
    dsn = request.getfixturevalue("pg_dsn")
    from convstore.postgres import PostgresSessionService

    with PostgresSessionService(dsn, owner=unique_owner(), max_size=2) as svc:
        yield svc


def _fill(side: Any) -> None:
    side.create_session("s", "/p")
    for event_id, data in EVENTS:
        side.append_event_at_head("s", event_id, "inv", "text", data)


#: What both backends find, checked against the local store once by hand.
EXPECTED = {
    "build": {"plain", "blocks", "emoji", "nul"},
    "text": {"blocks", "nested", "escaped"},  # a key in the JSON text of non-strings
    "cmd": set(),
    "role": set(),
    "py": {"punct"},
    "cafe": {"accents"},
    "café": {"accents"},
    "ecole": {"accents"},
    "привет": {"scripts"},
    "nsecond": {"escaped"},
    "42": {"number"},
    "1": {"boolean"},
    "ci.py": {"punct"},
    "build NOT red": {"blocks", "emoji", "nul"},
    "alph*": {"greek-1", "greek-2", "greek-3"},
    "alpha NOT beta gamma": {"greek-2"},
    '"alpha be"*': {"greek-1"},
    "-body:alpha": set(),
    '"."': set(),
}

#: Queries FTS5 cannot parse: both backends raise the same InvalidQuery.
BAD_QUERIES = [
    '"unclosed',
    "a OR",
    "a AND",
    "AND",
    "NOT a",
    "a NOT",
    "...",
    "ci.py",
    "col:foo",
    "-foo",
    "(a",
    "a)",
    "(a) b",
    "a ()",
    "near(a b)",
    "NEAR(a b, x)",
    "a AND OR b",
    "{col}:a",
    "a*+",
    "(" * 120 + "a" + ")" * 120,
]


def _found(side: Any, query: str, literal: bool) -> set[str]:
    return {h.event_id for h in side.search(query, literal=literal, limit=100)}


def test_the_same_events_are_found_on_both_backends(backend: Any) -> None:
    _fill(backend)
    found = {(q, lit): _found(backend, q, lit) for q, lit in QUERIES}
    for (query, literal), ids in found.items():
        if query in EXPECTED:
            assert ids == EXPECTED[query], (query, literal)
    with SessionStore(":memory:") as local:  # the reference: the local store itself
        _fill(local)
        for (query, literal), ids in found.items():
            assert ids == _found(local, query, literal), (query, literal)


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_a_query_fts5_cannot_parse_raises_the_same_error(backend: Any, query: str) -> None:
    _fill(backend)
    with SessionStore(":memory:") as local, pytest.raises(InvalidQuery) as want:
        _fill(local)
        local.search(query)
    with pytest.raises(InvalidQuery) as got:
        backend.search(query)
    assert str(got.value) == str(want.value)
    assert isinstance(got.value, InvalidArgument)


def test_the_server_approximates_initial_words_and_near_by_their_words(backend: Any) -> None:
    """``^word`` and ``NEAR(…, N)`` have no tsquery form: the server finds a superset."""
    _fill(backend)
    local_only = {"^alpha": {"greek-1"}, "NEAR(alpha gamma, 0)": {"greek-2"}}
    anywhere = {"greek-1", "greek-2"}
    local = isinstance(backend, SessionStore)
    for query, exact in local_only.items():
        assert _found(backend, query, False) == (exact if local else anywhere)


def test_a_prefix_is_marked_in_the_snippet(backend: Any) -> None:
    _fill(backend)
    assert [h.snippet for h in backend.search("checkp*")] == ["WAL [Checkpoint] RED"]
    assert [h.snippet for h in backend.search("^why")] == ["[why] is the build red"]


def test_hits_have_the_local_shape_and_mark_the_matched_words(backend: Any) -> None:
    _fill(backend)
    for query, literal, snippet in [
        ("build", False, "why is the [build] red"),
        ("py", False, "fix ci.[py] and foo_bar-baz (see https://x.io/a?b=c)"),
        ("ci.py", True, "fix [ci.py] and foo_bar-baz (see https://x.io/a?b=c)"),
        ("ci py", False, "fix [ci].[py] and foo_bar-baz (see https://x.io/a?b=c)"),
        ('"ci py"', False, "fix [ci.py] and foo_bar-baz (see https://x.io/a?b=c)"),
        ("cafe", False, "[Café] déjà vu — ÉCOLE naïve Ærø"),
        ("ecole", False, "Café déjà vu — [ÉCOLE] naïve Ærø"),
        ("checkpoint", False, "WAL [Checkpoint] RED"),
        ("42", False, "[42]"),
    ]:
        hits = backend.search(query, literal=literal, limit=100)
        assert hits and all(isinstance(h, SearchHit) for h in hits), query
        first = hits[0]
        assert (first.session_id, first.event_type) == ("s", "text")
        assert isinstance(first.rank, float) and isinstance(first.created_at, int)
        if query != "build":
            assert len(hits) == 1, query
            assert first.snippet == snippet, query
        else:
            assert snippet in {h.snippet for h in hits}
    marked = backend.search("red", markers=("<b>", "</b>"))
    assert {h.snippet for h in marked} == {
        "why is the build <b>red</b>",
        "WAL Checkpoint <b>RED</b>",
    }


def test_a_long_text_is_cut_to_a_window_around_the_match(backend: Any) -> None:
    words = [f"w{i}" for i in range(60)]
    words[30] = "needle"
    backend.create_session("long", "/p")
    data = json.dumps({"content": " ".join(words)})
    backend.append_event_at_head("long", "l1", "i", "text", data)
    (hit,) = backend.search("needle")
    assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
    assert "[needle]" in hit.snippet and len(hit.snippet.split()) == 16


def test_a_huge_event_is_stored_and_found_on_the_server(pg_dsn: str) -> None:
    """A tsvector holds at most 1 MB: the server indexes the first 150,000 characters."""
    from convstore.postgres import PostgresSessionService

    text = " ".join(f"word{i:07d}" for i in range(120_000))  # ~1.4 MB of distinct words
    with PostgresSessionService(pg_dsn, owner=unique_owner()) as svc:
        svc.create_session("big", "/p")
        svc.append_event_at_head("big", "b1", "i", "text", json.dumps({"content": text}))
        assert [h.event_id for h in svc.search("word0000001")] == ["b1"]
        assert svc.search("word0119999") == []  # past the indexed part
        assert svc.load_events("big")[0].event_data == json.dumps({"content": text})


def _random_query(rng: random.Random, depth: int = 0) -> str:
    """A random FTS5 query over the EVENTS' words (no ``^`` or ``NEAR``: approximated)."""
    words = ["alpha", "beta", "gamma", "delta", "build", "red", "ci", "py", "café", "x"]

    def phrase() -> str:
        picked = rng.sample(words, rng.choice([1, 1, 1, 2]))
        text = " ".join(picked)
        quoted = f'"{text}"' if len(picked) > 1 or rng.random() < 0.2 else text
        return quoted + ("*" if rng.random() < 0.2 else "")

    def unit() -> str:
        if depth < 2 and rng.random() < 0.25:
            return "(" + _random_query(rng, depth + 1) + ")"
        return " ".join(phrase() for _ in range(rng.choice([1, 1, 2])))

    out = unit()
    for _ in range(rng.choice([0, 1, 2])):
        out += f" {rng.choice(['AND', 'OR', 'NOT'])} {unit()}"
    return out


def test_random_fts5_queries_find_the_same_events(backend: Any) -> None:
    _fill(backend)
    rng = random.Random(17)
    queries = [_random_query(rng) for _ in range(150)]
    with SessionStore(":memory:") as local:
        _fill(local)
        for query in queries:
            assert _found(backend, query, False) == _found(local, query, False), query


def test_the_query_parser_is_private_to_each_thread() -> None:
    from convstore.postgres import _pgsearch
    from convstore.sqlite import search

    def translate(_: int) -> tuple[str | None, int]:
        return _pgsearch.tsquery_text("alph* OR (beta NOT gamma)"), id(search._fts5_probe())

    mine = id(search._fts5_probe())  # alive throughout: no thread can get its id
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(translate, range(40)))
    assert {text for text, _ in results} == {"('alph':*) | (('beta') & !('gamma'))"}
    assert mine not in {conn for _, conn in results}
