"""One operation, two backends: the PostgreSQL methods built by ``_common.front``.

The local store's function declares an operation's parameters and runs the
shared check; the server's method is generated from it. These tests need no
server: the generated methods check their arguments before touching ``self``.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from convstore import InvalidArgument, SessionStore
from convstore._common import front
from convstore.lifecycle import check_usage_args
from convstore.postgres import PostgresSessionService
from convstore.sqlite import blobs as sqlite_blobs

SHARED = [
    (SessionStore.search, PostgresSessionService.search),
    (SessionStore.compact, PostgresSessionService.compact),
    (SessionStore.record_usage, PostgresSessionService.record_usage),
    (sqlite_blobs.list_blobs, PostgresSessionService.list_blobs),
    (SessionStore.append_event, PostgresSessionService.append_event),
    (SessionStore.list_sessions, PostgresSessionService.list_sessions),
    (SessionStore.import_session, PostgresSessionService.import_session),
]


def _public(fn: Any) -> list[tuple[str, Any, Any, Any]]:
    params = list(inspect.signature(fn).parameters.values())[1:]
    return [(p.name, p.kind, p.default, p.annotation) for p in params if p.name != "unknown"]


@pytest.mark.parametrize(("local", "server"), SHARED, ids=lambda f: f.__name__)
def test_the_server_method_has_the_local_parameters_and_result(local: Any, server: Any) -> None:
    assert _public(server) == _public(local)
    assert inspect.signature(server).return_annotation == inspect.signature(local).return_annotation
    assert next(iter(inspect.signature(server).parameters)) == "self"
    assert server.__qualname__.endswith(f".{local.__name__}")
    assert server.__doc__  # the server's own note, shown by help()


def test_unknown_keywords_fail_as_before_on_each_backend() -> None:
    # The server's search refuses them as a StoreError naming them (its **unknown).
    with pytest.raises(InvalidArgument, match=r"search\(\) got unknown arguments: \['a', 'b'\]"):
        PostgresSessionService.search(object(), "x", b=1, a=2)
    # Elsewhere Python's own message, naming the method as the written-out one did.
    with pytest.raises(TypeError, match=r"^PostgresLifecycleMixin.record_usage\(\) got an unexp"):
        PostgresSessionService.record_usage(
            object(),
            "s",
            "e",
            model="m",
            input_tokens=1,
            output_tokens=1,
            bogus=1,
        )
    with SessionStore(":memory:") as store, pytest.raises(TypeError, match=r"^record_usage\(\)"):
        store.record_usage("s", "e", model="m", input_tokens=1, output_tokens=1, bogus=1)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((5,), {}, "session id must be a str"),
        (("s", b"ns"), {}, "namespace prefix must be a str"),
        (("s", "ns", 3), {}, "key prefix must be a str"),
        (("s", "ns"), {"before_key": 1}, "before_key must be a str"),
        (("s", "ns"), {"limit": "10"}, "limit must be an int"),
        (("s", "ns"), {"limit": 1 << 64}, "limit must be an int"),
        (("s", "ns"), {"newest_first": True}, "newest_first needs exact=True"),
        ((None, "ns"), {"exact": True, "newest_first": True}, "newest_first needs"),
    ],
)
def test_list_blobs_checks_its_arguments_the_same_way_on_both_backends(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        PostgresSessionService.list_blobs(object(), *args, **kwargs)
    with SessionStore(":memory:") as store, pytest.raises(InvalidArgument, match=message):
        sqlite_blobs.list_blobs(store, *args, **kwargs)


def test_a_text_that_could_never_be_stored_lists_nothing_locally() -> None:
    with SessionStore(":memory:") as store:
        store.create_session("s")
        assert sqlite_blobs.list_blobs(store, "s", "ns\x00") == []
        assert sqlite_blobs.list_blobs(store, "\ud800") == []


def test_search_checks_its_arguments_once_for_both_backends() -> None:
    for kwargs, message in [
        ({"limit": 10_001}, "limit must be an int from 0 to 10000"),
        ({"order": "oldest"}, "order must be 'rank' or 'recent'"),
        ({"markers": ("[",)}, "markers must be a pair"),
        ({"literal": 1}, "literal must be True or False"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            PostgresSessionService.search(object(), "x", **kwargs)
        with SessionStore(":memory:") as store, pytest.raises(InvalidArgument, match=message):
            store.search("x", **kwargs)
    with pytest.raises(InvalidArgument, match="search query is empty"):
        PostgresSessionService.search(object(), "  ")


def test_a_check_that_does_not_take_the_reference_parameters_is_refused() -> None:
    def record(store: object, session_id: str, *, model: str) -> None:
        """A reference with other parameters than the check's."""

    with pytest.raises(TypeError, match="check_usage_args must take"):
        front(record, check_usage_args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"directory": 5}, "directory must be a str"),
        ({"include_archived": 1}, "include_archived must be True or False"),
        ({"limit": -1}, "limit must be an int"),
        ({"before": 3.5}, "before must be a session id"),
    ],
)
def test_list_sessions_checks_its_arguments_once_for_both_backends(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        PostgresSessionService.list_sessions(object(), **kwargs)
    with SessionStore(":memory:") as store, pytest.raises(InvalidArgument, match=message):
        store.list_sessions(**kwargs)
    # A filter that could never have been stored lists nothing, without a query.
    assert PostgresSessionService.list_sessions(object(), directory="\x00") == []


def test_a_wrong_call_fails_as_the_written_out_method_did() -> None:
    with pytest.raises(TypeError, match=r"^PostgresSessionService.append_event\(\) missing 1"):
        PostgresSessionService.append_event(object(), "s", "e", None, "i", "t")
    with pytest.raises(TypeError, match=r"takes 3 positional arguments but 4 were given"):
        PostgresSessionService.import_session(object(), None, [], True)
