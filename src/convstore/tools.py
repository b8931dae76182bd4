"""Recall tools: let the model look up what was said in earlier conversations (SPEC §9).

:class:`RecallTools` wraps a :class:`~convstore.SessionStore` or any session
service (local or PostgreSQL) and exposes three tools to a model:

* ``list_conversations`` — the conversations in scope, newest activity first;
* ``search_conversations`` — full-text search over them, best match first;
* ``read_conversation`` — one conversation's events, as the model saw them
  (``full=true``: the originals a compaction summarised, too).

Hand :meth:`RecallTools.openai_schema` (Chat Completions ``tools``) or
:meth:`RecallTools.anthropic_schema` (Messages ``tools``) to the model, and run
each tool call it makes with :meth:`RecallTools.call`.

**Scope.** Every answer is limited to conversations whose ``directory``
equals the ``directory`` given, or whose ``git_root`` equals the ``git_root``
given (with neither, every conversation the backend shows — on PostgreSQL,
the owner's). A conversation outside the scope is answered exactly like one
that does not exist, so nothing about it leaks.

**Size.** Every answer is at most ``max_chars`` characters; a cut answer ends
with a hint telling the model which argument to pass to read on.

**Errors.** A bad call from the model — unknown tool, arguments that are not a
JSON object, a missing or mistyped argument, bad search syntax, an unknown
conversation — returns text starting with ``"error:"`` that says what to fix,
never a traceback. Only a failing backend raises (a
:class:`~convstore.StoreError`).

>>> from convstore import SessionStore
>>> from convstore.tools import RecallTools
>>> store = SessionStore(":memory:", clock=lambda: 1_700_000_000)
>>> _ = store.create_session("s1", directory="/work/app")
>>> _ = store.append_event("s1", "e1", None, "i", "user", '{"content": "use WAL mode"}')
>>> _ = store.create_session("s2", directory="/elsewhere")
>>> _ = store.append_event("s2", "e2", None, "i", "user", '{"content": "WAL secret"}')
>>> tools = RecallTools(store, directory="/work/app")
>>> [t["function"]["name"] for t in tools.openai_schema()]
['search_conversations', 'read_conversation', 'list_conversations']
>>> print(tools.call("search_conversations", '{"query": "wal"}'))
1 match:
- session s1, event e1 (user, 2023-11-14): use [WAL] mode
>>> print(tools.call("read_conversation", {"session_id": "s2"}))
error: no conversation 's2' in scope; list_conversations shows the ones you can read
>>> store.close()
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Callable

    from .models import SessionSummary, StoredEvent, StoredSession

__all__ = ["RecallTools", "TOOL_NAMES"]

TOOL_NAMES = ("search_conversations", "read_conversation", "list_conversations")

_MIN_CHARS = 200
_MAX_CHARS = 1_000_000
_MAX_LIMIT = 50

_DESCRIPTIONS = {
    "search_conversations": (
        "Search earlier conversations (in this project) for words or phrases. Returns "
        "matching messages with their session id, event id and a snippet, best match first."
    ),
    "read_conversation": (
        "Read one earlier conversation by session id, oldest message first. Long "
        "conversations come in pages: pass the offset the previous page names to read on."
    ),
    "list_conversations": (
        "List earlier conversations (in this project), most recently active first, with "
        "their session ids, so they can be read with read_conversation."
    ),
}

_PARAMETERS: dict[str, dict[str, Any]] = {
    "search_conversations": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Words to look for (all must match)."},
            "limit": {
                "type": "integer",
                "description": f"At most this many matches (1-{_MAX_LIMIT}, default 10).",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    "read_conversation": {
        "type": "object",
        "properties": {
            "session_id": {"type": "string", "description": "The conversation's session id."},
            "offset": {
                "type": "integer",
                "description": "Start at this message number (default 0, the first).",
            },
            "full": {
                "type": "boolean",
                "description": (
                    "Also show the original messages that a summary replaced (default false)."
                ),
            },
        },
        "required": ["session_id"],
        "additionalProperties": False,
    },
    "list_conversations": {
        "type": "object",
        "properties": {
            "limit": {
                "type": "integer",
                "description": f"At most this many conversations (1-{_MAX_LIMIT}, default 20).",
            },
            "before": {
                "type": "string",
                "description": "Continue after this session id (from the previous page).",
            },
        },
        "required": [],
        "additionalProperties": False,
    },
}


class _BadCall(Exception):
    """The model's call cannot be run; the message tells it what to fix."""


def _day(ts: int) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _event_text(event: StoredEvent) -> str:
    """The readable text of an event: its ``content`` string, else its JSON."""
    try:
        data = json.loads(event.event_data)
    except (ValueError, RecursionError):
        return event.event_data
    if isinstance(data, dict) and isinstance(data.get("content"), str):
        return str(data["content"])
    return event.event_data


class RecallTools:
    """Tools a model calls to search, list and read earlier conversations, within a scope.

    ``store_or_service`` is a :class:`~convstore.SessionStore` or a session
    service (:class:`~convstore.LocalSessionService`,
    ``convstore.postgres.PostgresSessionService``). ``directory`` and
    ``git_root`` set the scope (see the module); ``max_chars`` caps every
    answer (200 to 1,000,000 characters).
    """

    __slots__ = ("_backend", "directory", "git_root", "max_chars")

    def __init__(
        self,
        store_or_service: Any,
        *,
        directory: str | None = None,
        git_root: str | None = None,
        max_chars: int = 8000,
    ) -> None:
        for what, value in (("directory", directory), ("git_root", git_root)):
            if value is not None and type(value) is not str:
                raise InvalidArgument(f"{what} must be a str or None, got {type(value).__name__}")
        if (
            isinstance(max_chars, bool)
            or not isinstance(max_chars, int)
            or not _MIN_CHARS <= max_chars <= _MAX_CHARS
        ):
            raise InvalidArgument(
                f"max_chars must be an int between {_MIN_CHARS} and {_MAX_CHARS}: {max_chars!r}"
            )
        needed = ("get_session", "history", "list_sessions")
        missing = [m for m in needed if not callable(getattr(store_or_service, m, None))]
        if missing:
            raise InvalidArgument(
                "store_or_service must be a SessionStore or a session service "
                f"(missing {', '.join(missing)}): {type(store_or_service).__name__}"
            )
        self._backend = store_or_service
        self.directory = directory
        self.git_root = git_root
        self.max_chars = max_chars

    def __repr__(self) -> str:
        return (
            f"RecallTools({self._backend!r}, directory={self.directory!r}, "
            f"git_root={self.git_root!r}, max_chars={self.max_chars})"
        )

    # -- schemas ---------------------------------------------------------------

    def openai_schema(self) -> list[dict[str, Any]]:
        """The tools in OpenAI's Chat Completions format (``tools=[...]``)."""
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": _DESCRIPTIONS[name],
                    "parameters": json.loads(json.dumps(_PARAMETERS[name])),
                },
            }
            for name in TOOL_NAMES
        ]

    def anthropic_schema(self) -> list[dict[str, Any]]:
        """The tools in Anthropic's Messages API format (``tools=[...]``)."""
        return [
            {
                "name": name,
                "description": _DESCRIPTIONS[name],
                "input_schema": json.loads(json.dumps(_PARAMETERS[name])),
            }
            for name in TOOL_NAMES
        ]

    # -- executor ------------------------------------------------------------------

    def call(self, name: str, arguments: dict[str, Any] | str | bytes | None = None) -> str:
        """Run one tool call; ``arguments`` is a dict or the JSON text the model produced.

        Returns the answer (at most ``max_chars`` characters), or ``"error: …"``
        explaining a bad call. Raises only :class:`~convstore.StoreError` when
        the backend fails.
        """
        try:
            if name not in TOOL_NAMES or type(name) is not str:
                raise _BadCall(
                    f"unknown tool {str(name)[:80]!r}; the tools are {', '.join(TOOL_NAMES)}"
                )
            args = self._parse(arguments)
            allowed = set(_PARAMETERS[name]["properties"])
            extra = [key for key in args if key not in allowed]
            if extra:
                raise _BadCall(
                    f"{name} takes no argument {str(extra[0])[:80]!r} (it takes: "
                    f"{', '.join(sorted(allowed))})"
                )
            runner: Callable[[dict[str, Any]], str] = getattr(self, "_" + name)
            answer = runner(args)
        except _BadCall as exc:
            answer = f"error: {exc}"
        except InvalidArgument as exc:
            answer = f"error: {exc}"
        return self._cap(answer)

    def _parse(self, arguments: object) -> dict[str, Any]:
        if arguments is None:
            return {}
        if isinstance(arguments, bytes | bytearray):
            try:
                arguments = bytes(arguments).decode("utf-8")
            except UnicodeDecodeError:
                raise _BadCall("arguments are not UTF-8 text") from None
        if isinstance(arguments, str):
            if not arguments.strip():
                return {}
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError) as exc:
                raise _BadCall(f"arguments are not valid JSON ({exc})") from None
        if not isinstance(arguments, dict):
            raise _BadCall("arguments must be a JSON object, e.g. {\"query\": \"...\"}")
        return arguments

    def _cap(self, text: str, hint: str = "") -> str:
        if len(text) <= self.max_chars:
            return text
        tail = hint or "\n[answer cut at max_chars]"
        return text[: self.max_chars - len(tail)] + tail

    # -- arguments ---------------------------------------------------------------

    @staticmethod
    def _int(args: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
        value = args.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _BadCall(f"{key} must be an integer from {low} to {high}, got {value!r}")
        return value

    @staticmethod
    def _str(args: dict[str, Any], key: str, *, required: bool) -> str | None:
        value = args.get(key)
        if value is None and not required:
            return None
        if type(value) is not str or not value:
            raise _BadCall(f"{key} must be a non-empty string, got {value!r}")
        return value

    # -- scope -------------------------------------------------------------------

    def _in_scope(self, session: StoredSession | SessionSummary | None) -> bool:
        if session is None:
            return False
        if self.directory is None and self.git_root is None:
            return True
        return (self.directory is not None and session.directory == self.directory) or (
            self.git_root is not None and session.git_root == self.git_root
        )

    def _get(self, session_id: str) -> StoredSession | None:
        try:
            session: StoredSession | None = self._backend.get_session(session_id)
        except InvalidArgument:
            return None
        return session if self._in_scope(session) else None

    # -- the tools -----------------------------------------------------------------

    def _list_conversations(self, args: dict[str, Any]) -> str:
        limit = self._int(args, "limit", 20, 1, _MAX_LIMIT)
        before = self._str(args, "before", required=False)
        if before is not None and self._get(before) is None:
            raise _BadCall(f"no conversation {before[:80]!r} in scope to continue after")
        rows: list[SessionSummary] = self._backend.list_sessions(
            directory=self.directory,
            git_root=self.git_root,
            include_archived=True,
            limit=limit,
            before=before,
        )
        rows = [r for r in rows if self._in_scope(r)]
        if not rows:
            return "No conversations." if before is None else "No more conversations."
        lines = [f"{len(rows)} conversation(s), most recent first:"]
        for r in rows:
            state = ", archived" if r.archived_at is not None else ""
            lines.append(
                f"- {r.id}: {r.event_count} events, last active {_day(r.updated_at)}{state}, "
                f"in {r.directory or r.git_root or '?'}"
            )
        more = (
            f'\n[more: call list_conversations with before="{rows[-1].id}"]'
            if len(rows) == limit
            else ""
        )
        return self._fit(lines, more, lambda n: f'\n[cut: call list_conversations with limit={n}]')

    def _search_conversations(self, args: dict[str, Any]) -> str:
        query = self._str(args, "query", required=True)
        assert query is not None
        limit = self._int(args, "limit", 10, 1, _MAX_LIMIT)
        search = getattr(self._backend, "search", None)
        if search is None:
            raise _BadCall("this conversation store cannot search; use list_conversations")
        filters: list[dict[str, str]] = []
        if self.directory is not None:
            filters.append({"directory": self.directory})
        if self.git_root is not None:
            filters.append({"git_root": self.git_root})
        hits: dict[tuple[str, str], Any] = {}
        for scope in filters or [{}]:
            for hit in search(query, limit=limit, literal=True, **scope):
                hits.setdefault((hit.session_id, hit.event_id), hit)
        ranked = sorted(hits.values(), key=lambda h: h.rank)[:limit]
        if not ranked:
            return f"No matches for {query[:200]!r}."
        lines = [f"{len(ranked)} match{'es' if len(ranked) != 1 else ''}:"]
        for h in ranked:
            lines.append(
                f"- session {h.session_id}, event {h.event_id} ({h.event_type}, "
                f"{_day(h.created_at)}): {' '.join(h.snippet.split())}"
            )
        return self._fit(lines, "", lambda n: f"\n[cut: search again with limit={n}]")

    def _read_conversation(self, args: dict[str, Any]) -> str:
        session_id = self._str(args, "session_id", required=True)
        assert session_id is not None
        offset = self._int(args, "offset", 0, 0, 1 << 40)
        full = args.get("full", False)
        if not isinstance(full, bool):
            raise _BadCall(f"full must be true or false, got {full!r}")
        session = self._get(session_id)
        if session is None:
            raise _BadCall(
                f"no conversation {session_id[:80]!r} in scope; list_conversations shows the "
                "ones you can read"
            )
        events: list[StoredEvent] = self._backend.history(session_id, full=full)
        total = len(events)
        if offset >= total and total:
            return (
                f"Conversation {session_id} has {total} messages; offset {offset} is past "
                "the end."
            )
        header = f"Conversation {session_id} ({total} messages, in {session.directory or '?'}):"
        reserve = 160  # room for the paging hint
        budget = self.max_chars - len(header) - reserve
        lines = [header]
        used = 0
        index = offset
        while index < total:
            event = events[index]
            text = " ".join(_event_text(event).split())
            line = f"[{index}] {event.event_type}: {text}"
            if used + len(line) + 1 > budget:
                if index == offset:  # one huge message: show its start, then move past it
                    lines.append(line[: max(0, budget - used - 20)] + " …[message cut]")
                    index += 1
                break
            lines.append(line)
            used += len(line) + 1
            index += 1
        if index < total:
            lines.append(
                f'[more: call read_conversation with session_id="{session_id}" and '
                f"offset={index}]"
            )
        return self._cap("\n".join(lines))

    def _fit(self, lines: list[str], more: str, cut_hint: Callable[[int], str]) -> str:
        """Join ``lines`` (a header, then items); drop items from the end to fit ``max_chars``."""
        text = "\n".join(lines) + more
        if len(text) <= self.max_chars:
            return text
        kept = list(lines)
        while len(kept) > 2:
            kept.pop()
            hint = cut_hint(len(kept) - 1)
            text = "\n".join(kept) + hint
            if len(text) <= self.max_chars:
                return text
        return self._cap("\n".join(kept), cut_hint(1))

