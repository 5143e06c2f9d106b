"""Elasticsearch's ``standard`` analyzer in Python: the words ``search`` looks for.

A live subscription matches each new event in this process (``api.matching``), so its
``search`` must find exactly the words Elasticsearch indexed for ``trailql.text``: Lucene's
StandardTokenizer (the word boundaries of Unicode's UAX #29, each run of letters or digits a
token, ideographs and hiragana one character each, emoji sequences whole, words split at 255
UTF-16 units) followed by Lucene's lower-casing, one code point at a time.

ASCII text, nearly all of CloudTrail's, takes a regular expression that is exactly those
rules; other text goes through the rules one character at a time. Character classes outside
ASCII come from :mod:`unicodedata`, whose categories approximate UAX #29's word-break
property (Hebrew's quote rules are left out); tests hold both paths to Elasticsearch's own
``_analyze``.
"""

from __future__ import annotations

import re
import unicodedata
from enum import IntEnum
from functools import lru_cache

#: Lucene's StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH, which Elasticsearch keeps: a longer
#: word is cut into words of at most this many UTF-16 units.
MAX_TOKEN_LENGTH = 255

#: ASCII words: runs of letters, digits and underscores, joined across ``:``, ``.`` or ``'``
#: between two letters, and across ``,``, ``;``, ``.`` or ``'`` between two digits.
_ASCII_WORD = re.compile(
    r"[A-Za-z0-9_]+(?:(?:(?<=[A-Za-z])[:.'](?=[A-Za-z])|(?<=[0-9])[,;.'](?=[0-9]))[A-Za-z0-9_]+)*"
)
_HAS_WORD_CHARACTER = re.compile(r"[A-Za-z0-9]")


class _Class(IntEnum):
    """UAX #29 word-break classes, with Lucene's token kinds for the scripts it treats apart."""

    OTHER = 0
    LETTER = 1  # ALetter and Hebrew_Letter
    DIGIT = 2  # Numeric
    KATAKANA = 3
    CONNECTOR = 4  # ExtendNumLet: the underscore and its kin
    MID_LETTER = 5  # joins letters: ':' and kin
    MID_DIGIT = 6  # joins digits: ',' ';' and kin
    MID_BOTH = 7  # MidNumLet and Single_Quote: '.' and "'" join either
    EXTEND = 8  # marks, format characters, ZWJ: belong to the character before
    IDEOGRAPH = 9  # each one a token
    HIRAGANA = 10  # each one a token
    SOUTH_EAST_ASIAN = 11  # Thai, Lao, Myanmar, Khmer: a run is one token
    EMOJI = 12
    REGIONAL = 13  # regional indicators: two make a flag


_MID_LETTER = frozenset("\u003a\u00b7\u0387\u055f\u05f4\u2027\ufe13\ufe55\uff1a")
_MID_DIGIT = frozenset(
    "\u002c\u003b\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54\uff0c\uff1b"
)
_MID_BOTH = frozenset("\u002e\u2018\u2019\u2024\ufe52\uff07\uff0e\u0027")
_EMOJI_OUTSIDE_RANGES = frozenset(
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194\u2195\u2196\u2197\u2198\u2199\u21a9\u21aa"
    "\u231a\u231b\u2328\u23cf\u24c2\u25aa\u25ab\u25b6\u25c0\u2934\u2935\u3030\u303d\u3297\u3299"
)
_IDEOGRAPH_RANGES = (
    (0x2E80, 0x2FDF),
    (0x3005, 0x3007),
    (0x3021, 0x3029),
    (0x3038, 0x303B),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
_KATAKANA_RANGES = (
    (0x30A0, 0x30FA),
    (0x30FC, 0x30FF),
    (0x31F0, 0x31FF),
    (0x32D0, 0x32FE),
    (0x3300, 0x3357),
    (0xFF66, 0xFF9D),
    (0x1B000, 0x1B000),
)
_SOUTH_EAST_ASIAN_RANGES = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x1980, 0x19DF),
    (0x1A20, 0x1AAF),
    (0xAA60, 0xAADF),
)
_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2300, 0x23FF), (0x2600, 0x27BF), (0x2B00, 0x2BFF))
_REGIONAL_INDICATORS = ((0x1F1E6, 0x1F1FF),)
_SKIN_TONES = ((0x1F3FB, 0x1F3FF),)  # emoji modifiers: part of the emoji before them
_HIRAGANA = ((0x3040, 0x309F),)
#: Past the ranges of symbols that are emoji whatever their category.
_PICTOGRAPHS = 0x1F000


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@lru_cache(maxsize=65_536)
def _class(character: str) -> _Class:  # noqa: PLR0911  one return per class
    code = ord(character)
    if _within(code, _REGIONAL_INDICATORS):
        return _Class.REGIONAL
    category = unicodedata.category(character)
    if category == "Nd":
        return _Class.DIGIT
    if category in {"Mn", "Me", "Mc", "Cf"} or _within(code, _SKIN_TONES):
        return _Class.EXTEND
    if category == "Pc":
        return _Class.CONNECTOR
    if character in _MID_LETTER:
        return _Class.MID_LETTER
    if character in _MID_DIGIT:
        return _Class.MID_DIGIT
    if character in _MID_BOTH:
        return _Class.MID_BOTH
    if _within(code, _EMOJI_RANGES) or character in _EMOJI_OUTSIDE_RANGES:
        return _Class.EMOJI if category == "So" or code >= _PICTOGRAPHS else _Class.OTHER
    if category[0] == "L" or category == "Nl":
        return _letter_class(code)
    return _Class.OTHER


def _letter_class(code: int) -> _Class:
    if _within(code, _IDEOGRAPH_RANGES):
        return _Class.IDEOGRAPH
    if _within(code, _HIRAGANA):
        return _Class.HIRAGANA
    if _within(code, _KATAKANA_RANGES):
        return _Class.KATAKANA
    if _within(code, _SOUTH_EAST_ASIAN_RANGES):
        return _Class.SOUTH_EAST_ASIAN
    return _Class.LETTER


_WORDS = frozenset({_Class.LETTER, _Class.DIGIT, _Class.KATAKANA, _Class.CONNECTOR})
_MIDS = frozenset({_Class.MID_LETTER, _Class.MID_DIGIT, _Class.MID_BOTH})


def _joins(last: _Class, following: _Class) -> bool:
    """Whether two word characters side by side stay in one word (UAX #29 WB5-13b)."""
    if following is _Class.CONNECTOR or last is _Class.CONNECTOR:
        return True
    if _Class.KATAKANA in (last, following):
        return last is following
    return True  # letters and digits, in any order


def _joins_across(last: _Class, middle: _Class, following: _Class) -> bool:
    """Whether ``middle`` joins the characters around it (UAX #29 WB6-7, WB11-12)."""
    if last is _Class.LETTER and following is _Class.LETTER:
        return middle in {_Class.MID_LETTER, _Class.MID_BOTH}
    if last is _Class.DIGIT and following is _Class.DIGIT:
        return middle in {_Class.MID_DIGIT, _Class.MID_BOTH}
    return False


def _utf16_units(character: str) -> int:
    return 2 if ord(character) > 0xFFFF else 1  # noqa: PLR2004  the BMP's last code point


def lowercase(text: str) -> str:
    """Lucene's LowerCaseFilter: each code point by Java's simple mapping, length kept."""
    if text.isascii():
        return text.lower()
    return "".join(_lower(character) for character in text)


@lru_cache(maxsize=65_536)
def _lower(character: str) -> str:
    lowered = character.lower()
    return lowered if len(lowered) == 1 else lowered[0]  # İ -> i, as Java has it


def tokens(text: str) -> list[str]:
    """The words of ``text`` as the standard analyzer indexes them, in order."""
    if text.isascii():
        found: list[str] = []
        for match in _ASCII_WORD.finditer(text):
            word = match.group()
            if len(word) > MAX_TOKEN_LENGTH:
                long_words = _Scanner(text).words_from(match.start(), match.end())
                found.extend(long_word.lower() for long_word in long_words)
            elif _HAS_WORD_CHARACTER.search(word):
                found.append(word.lower())
        return found
    return [lowercase(word) for word in _Scanner(text).words_from(0, len(text))]


class _Scanner:
    """The tokenizer's rules one character at a time, for text beyond ASCII or long words."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._classes = [_class(character) for character in text]

    def words_from(self, start: int, end: int) -> list[str]:
        """Every word between ``start`` and ``end``, as written."""
        found: list[str] = []
        position = start
        while position < end:
            kind = self._classes[position]
            if kind in _WORDS:
                finish, has_word = self._word(position, end)
                if has_word:
                    found.append(self._text[position:finish])
                position = max(finish, position + 1)
            elif kind in {_Class.IDEOGRAPH, _Class.HIRAGANA}:
                finish = self._extended(position + 1, end)
                found.append(self._text[position:finish])
                position = finish
            elif kind in {_Class.SOUTH_EAST_ASIAN, _Class.EMOJI, _Class.REGIONAL}:
                finish = self._run(position, end, kind)
                found.append(self._text[position:finish])
                position = finish
            else:
                position += 1
        return found

    def _extended(self, position: int, end: int) -> int:
        """Past the marks that belong to the character before ``position``."""
        while position < end and self._classes[position] is _Class.EXTEND:
            position += 1
        return position

    def _run(self, start: int, end: int, kind: _Class) -> int:
        """The end of a South-East Asian run, an emoji sequence, or a flag."""
        position = self._extended(start + 1, end)
        if kind is _Class.SOUTH_EAST_ASIAN:
            while position < end and self._classes[position] is _Class.SOUTH_EAST_ASIAN:
                position = self._extended(position + 1, end)
        elif kind is _Class.REGIONAL:
            if position < end and self._classes[position] is _Class.REGIONAL:
                position = self._extended(position + 1, end)
        else:  # emoji joined by a zero-width joiner make one
            while (
                position < end
                and self._text[position - 1] == "\u200d"
                and self._classes[position] is _Class.EMOJI
            ):
                position = self._extended(position + 1, end)
        return position

    def _word(self, start: int, end: int) -> tuple[int, bool]:
        """Where the word at ``start`` ends, and whether it holds a letter or digit.

        A word is at most 255 UTF-16 units long; a run of underscores alone is no word.
        """
        classes = self._classes
        last = classes[start]
        has_word = last is not _Class.CONNECTOR
        position = self._extended(start + 1, end)
        units = sum(_utf16_units(c) for c in self._text[start:position])
        if units > MAX_TOKEN_LENGTH:
            return self._longest_end(start, position, units), has_word
        best = position
        while position < end:
            following = classes[position]
            if following in _WORDS and _joins(last, following):
                step = self._extended(position + 1, end)
            elif following in _MIDS and position + 1 < end:
                after = self._extended(position + 1, end)
                if after >= end or not _joins_across(last, following, classes[after]):
                    break
                following = classes[after]
                step = self._extended(after + 1, end)
            else:
                break
            units += sum(_utf16_units(c) for c in self._text[position:step])
            if units > MAX_TOKEN_LENGTH:
                best = max(best, self._longest_end(position, step, units))
                return best, has_word
            has_word = has_word or following is not _Class.CONNECTOR
            last = following
            position = step
            best = position
        return best, has_word

    def _longest_end(self, position: int, step: int, units: int) -> int:
        """Within the last step that overran the limit, the furthest end that fits.

        A word may end after any character of a step but a joining mark, so the cut falls
        on the last character that fits, unless that one is the mark.
        """
        text = self._text
        finish = step
        while finish > position and units > MAX_TOKEN_LENGTH:
            finish -= 1
            units -= _utf16_units(text[finish])
        while finish > position and self._classes[finish - 1] in _MIDS:
            finish -= 1
        return finish
