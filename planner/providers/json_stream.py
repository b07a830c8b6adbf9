"""Walk a large JSON object without loading it whole (AWS offer files are hundreds of MB).

:class:`JsonStream` reads text chunks on demand and lets the caller descend into
objects member by member (:meth:`JsonStream.members`), decode a small value
whole (:meth:`JsonStream.value`) or skip one (:meth:`JsonStream.skip`). Only
the value being decoded is held in memory; one value larger than
``max_value_chars`` is an error rather than an unbounded buffer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

DEFAULT_MAX_VALUE_CHARS = 64 * 1024 * 1024
_WHITESPACE = " \t\r\n"


class JsonStreamError(ValueError):
    """The text is not the JSON the walker expected, or a value is too large."""


class JsonStream:
    """A cursor over JSON text that arrives in chunks."""

    def __init__(self, chunks: Iterable[str],
                 max_value_chars: int = DEFAULT_MAX_VALUE_CHARS) -> None:
        self._chunks = iter(chunks)
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._max = max_value_chars
        self._decoder = json.JSONDecoder(parse_float=Decimal)
        self.consumed = 0
        """Characters read so far (for progress and tests)."""

    def _fill(self) -> bool:
        """Append the next chunk (dropping what was consumed); False at the end."""
        if self._eof:
            return False
        for chunk in self._chunks:
            if chunk:
                self._buf = self._buf[self._pos:] + chunk
                self._pos = 0
                self.consumed += len(chunk)
                return True
        self._eof = True
        return False

    def _peek(self) -> str:
        """The next non-whitespace character ("" at the end), not consumed."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _expect(self, char: str) -> None:
        got = self._peek()
        if got != char:
            raise JsonStreamError(f"expected {char!r}, found {got or 'the end'!r} "
                                  f"after {self.consumed} characters")
        self._pos += 1

    def value(self) -> Any:
        """Decode the next value whole (numbers as Decimal)."""
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos > self._max:
                    raise JsonStreamError(f"a value is larger than {self._max} characters") \
                        from exc
                if not self._fill():
                    raise JsonStreamError(f"invalid JSON: {exc.msg}") from exc
                continue
            # a number or literal ends only at a delimiter: "1." may be "1.5" cut short
            if (not isinstance(value, dict | list | str) and not self._delimited(end)
                    and self._fill()):
                continue
            self._pos = end
            return value

    def at_object(self) -> bool:
        """Is the next value an object (to descend into with :meth:`members`)?"""
        return self._peek() == "{"

    def _delimited(self, end: int) -> bool:
        return end < len(self._buf) and self._buf[end] in _WHITESPACE + ",]}"

    def members(self) -> Iterator[str]:
        """The keys of the next object, in order; after each key the caller must read
        its value (:meth:`value`, :meth:`skip` or :meth:`members`)."""
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise JsonStreamError(f"object key is not a string: {key!r}")
            self._expect(":")
            yield key
            nxt = self._peek()
            self._pos += 1
            if nxt == "}":
                return
            if nxt != ",":
                raise JsonStreamError(f"expected ',' or '}}', found {nxt or 'the end'!r}")

    def skip(self) -> None:
        """Skip the next value, descending into objects so none is held whole."""
        if self.at_object():
            for _key in self.members():
                self.skip()
        else:
            self.value()


def decode_chunks(raw: Iterable[bytes], encoding: str = "utf-8") -> Iterator[str]:
    """Bytes chunks → text chunks (a multi-byte character may span two chunks)."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)()
    for chunk in raw:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail
