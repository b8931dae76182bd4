"""Server search helpers: the query's keywords and the snippet, as the local search has them.

The server indexes what the local store indexes, word for word (migration
``0009_search_like_local.sql``: ``$.content`` as SQLite's ``json_extract``
gives it, folded into FTS5's ``unicode61 remove_diacritics 2`` words). Two
pieces stay in Python:

* :func:`tsquery_text` checks a query exactly as FTS5 does (FTS5 itself
  parses it, in a private in-memory table shaped like the local index, so a
  bad query raises the local store's :class:`~convstore.search.InvalidQuery`
  with the same message) and translates it into ``to_tsquery`` syntax:
  words folded by FTS5's own tokenizer, ``"a phrase"`` and ``a+b`` as
  ``<->`` chains, ``prefix*`` as ``:*``, implicit ``AND``/``AND`` as ``&``,
  ``OR`` as ``|``, ``a NOT b`` as ``a & !b``, parentheses and ``body:``
  column filters as written. Two approximations: ``^word`` (the text's first
  word) matches the word anywhere, and ``NEAR(a b, N)`` matches events with
  all its phrases at any distance.
* :func:`snippet` marks the matched words in the event's text the way FTS5's
  ``snippet()`` does: at most :data:`SNIPPET_TOKENS` words around the best
  match, ``…`` where text was cut, every matched word wrapped in ``markers``.

>>> tsquery_text('build AND red NOT "ci AND py"')
"('build') & (('red') & !('ci' <-> 'and' <-> 'py'))"
>>> tsquery_text('Café* OR (ci.py)')
Traceback (most recent call last):
  ...
convstore.sqlite.search.InvalidQuery: invalid search query 'Café* OR (ci.py)': ...
>>> tsquery_text('Café* OR "ci.py"')
"('cafe':*) | ('ci' <-> 'py')"
>>> snippet("Fix ci.py — the Café build", "'ci' <-> 'py' & 'cafe'", ("[", "]"))
'Fix [ci.py] — the [Café] build'
>>> snippet("Fix ci.py — the Café build", "'ci' & 'py'", ("<b>", "</b>"))
'Fix <b>ci</b>.<b>py</b> — the Café build'
"""

from __future__ import annotations

import re
import unicodedata

from ..sqlite.search import InvalidQuery, check_query, fts5_words

__all__ = ["SNIPPET_TOKENS", "tsquery_text", "snippet", "fold"]

#: Words of context in a snippet, as the local search's (``SNIPPET_TOKENS``).
SNIPPET_TOKENS = 16
_WORD = re.compile(r"[^\W_]+")
_LEXEME = re.compile(r"'((?:[^']|'')*)'")
_PREFIX = re.compile(r"'((?:[^']|'')*)':\*")
_PHRASE = re.compile(r"'(?:[^']|'')*'(?: <-> '(?:[^']|'')*')+")


def fold(word: str) -> str:
    """A word as the index stores it: lower case, diacritics removed.

    >>> fold("Ÿvés")
    'yves'
    """
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def snippet(text: str | None, tsquery: str, markers: tuple[str, str]) -> str:
    """``text`` cut to the best :data:`SNIPPET_TOKENS`-word window, matches in ``markers``.

    ``tsquery`` is the query's text form (``'ci' <-> 'py'``): its lexemes are
    the words to mark (``'bui':*``: every word starting with ``bui``).
    """
    if not text:
        return ""
    wanted = {m.replace("''", "'") for m in _LEXEME.findall(tsquery)}
    prefixes = tuple(m.replace("''", "'") for m in _PREFIX.findall(tsquery))
    words = list(_WORD.finditer(text))
    if not words:
        return ""
    folded = [fold(w.group()) for w in words]
    hits = [i for i, f in enumerate(folded) if f in wanted or (prefixes and f.startswith(prefixes))]
    # A phrase ('ci' <-> 'py') found in a row is marked as one span, as FTS5 does.
    ends: dict[int, int] = {i: i for i in hits}
    for chain in _PHRASE.findall(tsquery):
        parts = [m.replace("''", "'") for m in _LEXEME.findall(chain)]
        for i in range(len(folded) - len(parts) + 1):
            if folded[i : i + len(parts)] == parts:
                ends[i] = max(ends.get(i, i), i + len(parts) - 1)
                for j in range(i + 1, i + len(parts)):
                    ends.pop(j, None)
    start = 0
    if hits and len(words) > SNIPPET_TOKENS:
        # The window holding the most matches, the earliest of those.
        best = max(hits, key=lambda h: (sum(1 for j in hits if h <= j < h + SNIPPET_TOKENS), -h))
        covered = [j for j in hits if best <= j < best + SNIPPET_TOKENS]
        slack = SNIPPET_TOKENS - (covered[-1] - best + 1)
        start = max(0, min(best - slack // 2, len(words) - SNIPPET_TOKENS))
    end = min(len(words), start + SNIPPET_TOKENS)
    out = ["…" if start > 0 else ""]
    pos = words[start].start() if start > 0 else 0
    i = start
    while i < end:
        last = min(ends.get(i, -1), end - 1)
        if last >= i:  # a marked word, or a phrase from word i to word last
            out.append(text[pos : words[i].start()])
            out.append(markers[0] + text[words[i].start() : words[last].end()] + markers[1])
            pos, i = words[last].end(), last + 1
            continue
        out.append(text[pos : words[i].end()])
        pos, i = words[i].end(), i + 1
    out.append(text[pos:] if end == len(words) else "…")
    return "".join(out)


# -- FTS5 query language -> tsquery ------------------------------------------

_COLUMN = "body"  # the local index's one column (migrations/0004_create_event_search.sql)
_SPACE = frozenset(" \t\n\r\f\v")
_PUNCT = frozenset("(){}:,+*-^")
_KEYWORDS = frozenset(("AND", "OR", "NOT"))
# Two outcomes besides a tsquery: a phrase without words (FTS5 drops it from
# the expression) and a column filter excluding ``body`` (matches nothing).
_EMPTY = "\x00empty"
_NOTHING = "\x00nothing"


def _words(text: str) -> list[str]:
    """``text``'s words as the local index folds them (FTS5's own tokenizer)."""
    return fts5_words(text)


def _lexeme(word: str, prefix: bool) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if prefix else "")


def _lex(query: str) -> list[tuple[str, str]]:
    """FTS5's tokens: ``("s", text)`` for a word or quoted string, else ``(kind, kind)``."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in _SPACE:
            i += 1
        elif c in _PUNCT:
            out.append((c, c))
            i += 1
        elif c == '"':
            j, buf = i + 1, []
            while True:
                k = query.index('"', j)  # validated: the string is closed
                buf.append(query[j:k])
                if query[k + 1 : k + 2] == '"':
                    buf.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            out.append(("q", "".join(buf)))
        else:
            j = i
            while j < n and (not query[j].isascii() or query[j].isalnum() or query[j] in "_\x1a"):
                j += 1
            if j == i:
                raise ValueError(c)
            word = query[i:j]
            out.append((word, word) if word in _KEYWORDS else ("s", word))
            i = j
    return out


class _Parser:
    """FTS5's grammar (``fts5parse.y``): ``OR`` < ``AND`` < ``NOT`` < implicit AND of phrases."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> str:
        i = self.pos + ahead
        return self.tokens[i][0] if i < len(self.tokens) else ""

    def take(self, kind: str | None = None) -> str:
        got_kind, value = self.tokens[self.pos]
        if kind is not None and got_kind != kind:
            raise ValueError(kind)
        self.pos += 1
        return value

    def expr(self, level: int = 0) -> str:
        ops = ("OR", "AND", "NOT")
        left = self.expr(level + 1) if level < 2 else self.unit()
        while self.peek() == ops[level]:
            self.take()
            right = self.expr(level + 1) if level < 2 else self.unit()
            left = _combine(ops[level], left, right)
        return left

    def colset(self) -> bool | None:
        """A column filter ahead (``body:``, ``-{body}:``): does it keep ``body``? None: none."""
        negated = self.peek() == "-"
        start = 1 if negated else 0
        if self.peek(start) == "s" and self.peek(start + 1) == ":":
            names = [self.tokens[self.pos + start][1]]
            self.pos += start + 2
        elif self.peek(start) == "{":
            self.pos += start + 1
            names = []
            while self.peek() == "s":
                names.append(self.take())
            self.take("}")
            self.take(":")
        else:
            return None
        keeps = any(name.lower() == _COLUMN for name in names)
        return keeps != negated

    def unit(self) -> str:
        save = self.pos
        keeps = self.colset()
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner if keeps is not False else _NOTHING
        self.pos = save
        node = _EMPTY
        while self.peek() in ("s", "q", "^", "-", "{"):
            keeps = self.colset()
            near = self.nearset()
            node = _combine("AND", node, near if keeps is not False else _NOTHING)
        return node

    def nearset(self) -> str:
        if self.peek() == "^":  # first word of the text: approximated as anywhere
            self.take()
            return self.phrase()
        if self.peek() == "s" and self.peek(1) == "(":  # NEAR(a b, N): approximated as AND
            self.pos += 2
            node = _EMPTY
            while self.peek() in ("s", "q"):
                node = _combine("AND", node, self.phrase())
            if self.peek() == ",":
                self.take()
                self.take("s")
            self.take(")")
            return node
        return self.phrase()

    def phrase(self) -> str:
        lexemes: list[str] = []
        while True:
            kind = self.peek()
            if kind not in ("s", "q"):
                raise ValueError(kind)
            words = _words(self.take())
            prefix = self.peek() == "*"
            if prefix:
                self.take()
            lexemes += [_lexeme(w, prefix and i == len(words) - 1) for i, w in enumerate(words)]
            if self.peek() != "+":
                break
            self.take()
        return " <-> ".join(lexemes) if lexemes else _EMPTY


def _combine(op: str, left: str, right: str) -> str:
    if op == "NOT":
        if left in (_EMPTY, _NOTHING) or right in (_EMPTY, _NOTHING):
            return left
        return f"({left}) & !({right})"
    if left == _EMPTY:
        return right
    if right == _EMPTY:
        return left
    if op == "OR":
        if _NOTHING in (left, right):
            return right if left == _NOTHING else left
        return f"({left}) | ({right})"
    if _NOTHING in (left, right):
        return _NOTHING
    return f"({left}) & ({right})"


def tsquery_text(query: str) -> str | None:
    """An FTS5 query as ``to_tsquery('simple', …)`` text with the same matches, or None.

    Raises :class:`~convstore.search.InvalidQuery`, with the local store's
    message, for a query FTS5 cannot parse. None: the query matches nothing
    (only words FTS5 drops, like ``"."``, or a column filter excluding the
    indexed text). ``^word`` and ``NEAR(…)`` are approximated (see the module
    docstring).
    """
    check_query(query)
    try:
        parser = _Parser(_lex(query))
        node = parser.expr()
        if parser.pos != len(parser.tokens):
            raise ValueError(parser.peek())
    except (ValueError, IndexError):  # FTS5 accepted what this parser did not: a bug here
        raise InvalidQuery(query, "the server cannot translate this query") from None
    return None if node in (_EMPTY, _NOTHING) else node
