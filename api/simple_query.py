r"""Elasticsearch's ``simple_query_string`` over one text field, evaluated in Python.

The ``search`` of an EventFilter is a ``simple_query_string`` (``api.filters``); a live
subscription must match it in this process exactly as Elasticsearch does. This reads the
syntax as Lucene's SimpleQueryParser does, with Elasticsearch's choices for each kind of
term, character for character:

- words are analysed by the field's analyzer (``api.analysis``); a chunk that gives several
  words needs them all under ``default_operator: and`` (any one under ``or``), none: it is
  left out; ``"…"`` is a phrase; ``abc*`` a prefix of a word (lower-cased, not analysed);
- ``+`` and ``|`` combine from left to right, a change of operator starting a new group;
  ``-`` negates what follows it directly (``-a`` alone matches what lacks ``a``);
  ``( )`` group; ``\`` escapes; an unmatched ``(`` or ``"`` is ignored; ``*`` alone
  matches everything, and a query with no word at all matches nothing.

Fuzzy words (``abc~1``) match words within an edit distance among only the 50 closest words
already in the index, and phrases with slop (``"a b"~2``) are not implemented here: both are
refused by :func:`parse` (:class:`UnsupportedSearchError`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

from api.analysis import lowercase, tokens

_WHITESPACE = frozenset(" \t\n\r")
_ENDS_WORD = frozenset('"|+()') | _WHITESPACE
_JAVA_INTEGER = re.compile(r"[+-]?\d+")
_INT_MAX = 2**31 - 1
_MAX_EDITS = 2


class UnsupportedSearchError(ValueError):
    """A search this module cannot match exactly as Elasticsearch would."""


class Occur(Enum):
    """How a clause takes part in a boolean query, as in Lucene."""

    MUST = "must"
    SHOULD = "should"
    MUST_NOT = "must_not"


class TextIndex:
    """One document's words, as the field indexed them, with their positions."""

    __slots__ = ("_positions",)

    def __init__(self, words: Iterable[str]) -> None:
        self._positions: dict[str, list[int]] = {}
        for position, word in enumerate(words):
            self._positions.setdefault(word, []).append(position)

    @classmethod
    def of(cls, text: str) -> TextIndex:
        """The index of a text, analysed as Elasticsearch analyses it."""
        return cls(tokens(text))

    def has(self, word: str) -> bool:
        """Whether the word occurs."""
        return word in self._positions

    def has_prefix(self, prefix: str) -> bool:
        """Whether a word starts with ``prefix``."""
        return any(word.startswith(prefix) for word in self._positions)

    def has_phrase(self, words: list[str]) -> bool:
        """Whether the words occur one after the other."""
        starts = self._positions.get(words[0], [])
        rest = [set(self._positions.get(word, ())) for word in words[1:]]
        return any(
            all(start + offset + 1 in positions for offset, positions in enumerate(rest))
            for start in starts
        )


class Query:
    """A parsed query: whether it matches one document's words."""

    __slots__ = ()

    def matches(self, index: TextIndex) -> bool:  # pragma: no cover  every kind overrides it
        """Whether the document matches."""
        raise NotImplementedError


class _All(Query):
    __slots__ = ()

    def matches(self, index: TextIndex) -> bool:
        del index
        return True


class _Nothing(Query):
    __slots__ = ()

    def matches(self, index: TextIndex) -> bool:
        del index
        return False


class _Word(Query):
    __slots__ = ("word",)

    def __init__(self, word: str) -> None:
        self.word = word

    def matches(self, index: TextIndex) -> bool:
        return index.has(self.word)


class _Phrase(Query):
    __slots__ = ("words",)

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def matches(self, index: TextIndex) -> bool:
        return index.has_phrase(self.words)


class _Prefix(Query):
    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def matches(self, index: TextIndex) -> bool:
        return index.has_prefix(self.prefix)


class _Boolean(Query):
    """Lucene's BooleanQuery: every MUST, no MUST_NOT, and a SHOULD when nothing is MUST."""

    __slots__ = ("clauses",)

    def __init__(self, clauses: list[tuple[Occur, Query]]) -> None:
        self.clauses = clauses

    def matches(self, index: TextIndex) -> bool:
        required = False
        optional: list[Query] = []
        for occur, query in self.clauses:
            if occur is Occur.MUST:
                if not query.matches(index):
                    return False
                required = True
            elif occur is Occur.MUST_NOT:
                if query.matches(index):
                    return False
            else:
                optional.append(query)
        return required or any(query.matches(index) for query in optional)


class _State:
    """The parser's place in the text and the tree built so far (one per parenthesis level)."""

    __slots__ = ("current", "end", "index", "negations", "previous", "text", "top")

    def __init__(self, text: str, index: int, end: int) -> None:
        self.text = text
        self.index = index
        self.end = end
        self.top: Query | None = None
        self.current: Occur | None = None
        self.previous: Occur | None = None
        self.negations = 0


class _Parser:
    def __init__(self, default_operator: Occur) -> None:
        self._default = default_operator

    def parse(self, text: str) -> Query:
        if text.strip("".join(map(chr, range(33)))) == "*":  # Java's trim()
            return _All()
        state = _State(text, 0, len(text))
        self._sub_query(state)
        return state.top if state.top is not None else _Nothing()

    def _sub_query(self, state: _State) -> None:
        while state.index < state.end:
            character = state.text[state.index]
            if character == "(":
                self._group(state)
            elif character == ")":
                state.index += 1  # an extraneous closing parenthesis
            elif character == '"':
                self._phrase(state)
            elif character in "+|":
                # Applies to the clause that follows, when one came before and none is set.
                if state.current is None and state.top is not None:
                    state.current = Occur.MUST if character == "+" else Occur.SHOULD
                state.index += 1
            elif character == "-":
                state.negations += 1
                state.index += 1
                continue  # a negation holds only up to the next character
            elif character in _WHITESPACE:
                state.index += 1
            else:
                self._term(state)
            state.negations = 0

    def _group(self, state: _State) -> None:
        start = state.index = state.index + 1
        depth = 1
        escaped = False
        text = state.text
        while state.index < state.end:
            character = text[state.index]
            if not escaped:
                if character == "\\":
                    escaped = True
                    state.index += 1
                    continue
                if character == "(":
                    depth += 1
                elif character == ")":
                    depth -= 1
                    if depth == 0:
                        break
            escaped = False
            state.index += 1
        if state.index == state.end:
            state.index = start  # never closed: the parenthesis is ignored
        elif state.index == start:
            state.current = None  # "()": the operator before it applied to nothing
            state.index += 1
        else:
            inner = _State(text, start, state.index)
            self._sub_query(inner)
            self._add(state, inner.top)
            state.index += 1

    def _phrase(self, state: _State) -> None:
        start = state.index = state.index + 1
        copied: list[str] = []
        escaped = False
        has_slop = False
        text = state.text
        while state.index < state.end:
            character = text[state.index]
            if not escaped:
                if character == "\\":
                    escaped = True
                    state.index += 1
                    continue
                if character == '"':
                    if state.index + 1 < state.end and text[state.index + 1] == "~":
                        state.index += 1
                        has_slop = state.index + 1 < state.end
                    break
            escaped = False
            copied.append(character)
            state.index += 1
        if state.index == state.end:
            state.index = start  # never closed: the quote is ignored
        elif state.index == start:
            state.current = None
            state.index += 1
        else:
            slop = self._edits(state) if has_slop else 0
            self._add(state, self._phrase_query("".join(copied), slop))
            state.index += 1

    def _term(self, state: _State) -> None:
        copied: list[str] = []
        escaped = prefix = fuzzy = False
        text = state.text
        while state.index < state.end:
            character = text[state.index]
            if not escaped:
                if character == "\\":
                    escaped = True
                    prefix = False
                    state.index += 1
                    continue
                if character in _ENDS_WORD:
                    break
                if copied and character == "~":
                    fuzzy = True
                    break
                prefix = bool(copied) and character == "*"
            escaped = False
            copied.append(character)
            state.index += 1
        if not copied:
            return
        word = "".join(copied)
        if fuzzy:
            if min(self._edits(state), _MAX_EDITS) > 0:
                raise UnsupportedSearchError(
                    f"{word}~ asks for words within an edit distance, which Elasticsearch "
                    "chooses among the words already indexed"
                )
            self._add(state, self._words_query(word))
        elif prefix:
            self._add(state, _Prefix(lowercase(word[:-1])))
        else:
            self._add(state, self._words_query(word))

    @staticmethod
    def _edits(state: _State) -> int:
        """The number after ``~`` (2 when none; 0 when it is not a whole number)."""
        if state.text[state.index] != "~":
            return 0
        digits: list[str] = []
        while state.index < state.end:
            state.index += 1
            if state.index < state.end:
                if state.text[state.index] in _ENDS_WORD:
                    break
                digits.append(state.text[state.index])
        number = "".join(digits)
        if not number:
            return 2
        if not _JAVA_INTEGER.fullmatch(number) or abs(int(number)) > _INT_MAX:
            return 0
        return max(0, int(number))

    def _words_query(self, text: str) -> Query | None:
        words = tokens(text)
        if not words:
            return None
        if len(words) == 1:
            return _Word(words[0])
        return _Boolean([(self._default, _Word(word)) for word in words])

    @staticmethod
    def _phrase_query(text: str, slop: int) -> Query | None:
        words = tokens(text)
        if not words:
            return None
        if len(words) == 1:
            return _Word(words[0])
        if slop > 0:
            raise UnsupportedSearchError(
                f'"{text}"~{slop} asks for words near each other, which is not matched here'
            )
        return _Phrase(words)

    def _add(self, state: _State, branch: Query | None) -> None:
        """Lucene's buildQueryTree: a new clause joins the tree with the pending operator."""
        if branch is None:
            return
        if state.negations % 2 == 1:
            branch = _Boolean([(Occur.MUST_NOT, branch), (Occur.SHOULD, _All())])
        if state.top is None:
            state.top = branch
        else:
            operator = state.current or self._default
            if state.previous is not operator:
                state.top = _Boolean([(operator, state.top)])
            assert isinstance(state.top, _Boolean)
            state.top = _Boolean([*state.top.clauses, (operator, branch)])
            state.previous = operator
        state.current = None


def parse(text: str, *, default_operator: str = "or") -> Query:
    """The query ``text`` asks for, as Elasticsearch reads it.

    Raises:
        UnsupportedSearchError: the text asks for fuzzy words or phrase slop.
    """
    occur = Occur.MUST if default_operator.lower() == "and" else Occur.SHOULD
    return _Parser(occur).parse(text)
