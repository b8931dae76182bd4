"""Server search helpers: the query's keywords and the snippet, as the local search has them.

The server indexes what the local store indexes, word for word (migration
``0009_search_like_local.sql``: ``$.content`` as SQLite's ``json_extract``
gives it, folded into FTS5's ``unicode61 remove_diacritics 2`` words). Two
pieces stay in Python:

* :func:`websearch_text` maps FTS5's upper-case keywords onto
  ``websearch_to_tsquery``'s syntax: ``a AND b`` is ``a b``, ``a NOT b`` is
  ``a -b`` (``OR`` means the same in both).
* :func:`snippet` marks the matched words in the event's text the way FTS5's
  ``snippet()`` does: at most :data:`SNIPPET_TOKENS` words around the best
  match, ``…`` where text was cut, every matched word wrapped in ``markers``.

>>> websearch_text('build AND red NOT "ci AND py"')
'build red -"ci AND py"'
>>> snippet("Fix ci.py — the Café build", "'ci' <-> 'py' & 'cafe'", ("[", "]"))
'Fix [ci.py] — the [Café] build'
>>> snippet("Fix ci.py — the Café build", "'ci' & 'py'", ("<b>", "</b>"))
'Fix <b>ci</b>.<b>py</b> — the Café build'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["SNIPPET_TOKENS", "websearch_text", "snippet", "fold"]

#: Words of context in a snippet, as the local search's (``SNIPPET_TOKENS``).
SNIPPET_TOKENS = 16
_WORD = re.compile(r"[^\W_]+")
_LEXEME = re.compile(r"'((?:[^']|'')*)'")
_PHRASE = re.compile(r"'(?:[^']|'')*'(?: <-> '(?:[^']|'')*')+")
_AND = re.compile(r"(?:^|\s+)AND(?=\s|$)")
_NOT = re.compile(r"(?<!\S)NOT\s+")


def websearch_text(query: str) -> str:
    """FTS5's ``AND``/``NOT`` keywords (outside quotes) in ``websearch_to_tsquery`` syntax."""
    parts = query.split('"')
    for i in range(0, len(parts), 2):  # the even parts are outside quotes
        parts[i] = _NOT.sub("-", _AND.sub("", parts[i]))
    return '"'.join(parts)


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
    the words to mark.
    """
    if not text:
        return ""
    wanted = {m.replace("''", "'") for m in _LEXEME.findall(tsquery)}
    words = list(_WORD.finditer(text))
    if not words:
        return ""
    folded = [fold(w.group()) for w in words]
    hits = [i for i, f in enumerate(folded) if f in wanted]
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
