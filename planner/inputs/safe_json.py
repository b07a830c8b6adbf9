"""A JSON loader for files from people we do not know: bounded nesting, no duplicate keys.

``json.loads`` recurses once per nested ``[``/``{`` (thousands end in a RecursionError)
and silently keeps the last of two equal keys. Nesting is measured before parsing, on
the text with its strings blanked out (a few regular-expression passes in C), and a
duplicate key, once seen, is located by a second, slower pass that knows positions, so
the message names both lines.
"""

from __future__ import annotations

import itertools
import json
import re
from json.decoder import WHITESPACE, scanstring  # type: ignore[attr-defined]
from json.scanner import py_make_scanner  # type: ignore[attr-defined]
from typing import Any

_STRING = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
MAX_DIGITS = 4000


class JsonLimitError(Exception):
    """The document breaks a limit (depth, duplicate keys); ``str`` is one line."""


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _depth_exceeded(brackets: str, max_depth: int) -> bool:
    depths = itertools.accumulate(map(_STEP.__getitem__, brackets))
    return max(depths, default=0) > max_depth


def _first_too_deep(text: str, max_depth: int) -> int:
    """The offset of the first bracket deeper than ``max_depth`` (outside strings)."""
    depth = 0
    pos = 0
    for match in re.finditer(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"|[\[\]{}]', text):
        token = match.group()
        pos = match.start()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return pos
        elif token in "]}":
            depth -= 1
    return pos


def check_depth(text: str, max_depth: int) -> None:
    """Refuse JSON text with more than ``max_depth`` nested arrays/objects, naming the line."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= max_depth * 2 or not _depth_exceeded(brackets, max_depth):
        return
    line, col = _line_col(text, _first_too_deep(text, max_depth))
    raise JsonLimitError(f"nested deeper than {max_depth} levels at line {line} column {col}"
                         " (no planner file needs that; is this the right file?)")


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return out


def _locating_decoder(text: str) -> json.JSONDecoder:
    """A pure-Python decoder whose objects remember where each key was; slow, exact."""
    decoder = json.JSONDecoder()

    def parse_object(s_and_end: tuple[str, int], *_args: Any, **_kw: Any) -> tuple[Any, int]:
        s, end = s_and_end
        seen: dict[str, int] = {}
        out: dict[str, Any] = {}
        end = WHITESPACE.match(s, end).end()
        if s[end:end + 1] == "}":
            return out, end + 1
        while True:
            if s[end:end + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes",
                                           s, end)
            key_pos = end
            key, end = scanstring(s, end + 1, True)
            if key in seen:
                first, _ = _line_col(text, seen[key])
                line, _ = _line_col(text, key_pos)
                raise JsonLimitError(f"duplicate key {key[:60]!r} at line {first} and line "
                                     f"{line} (keep one of them)")
            seen[key] = key_pos
            end = WHITESPACE.match(s, end).end()
            if s[end:end + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", s, end)
            end = WHITESPACE.match(s, end + 1).end()
            out[key], end = scan_once(s, end)
            end = WHITESPACE.match(s, end).end()
            if s[end:end + 1] == "}":
                return out, end + 1
            if s[end:end + 1] != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", s, end)
            end = WHITESPACE.match(s, end + 1).end()

    decoder.parse_object = parse_object  # type: ignore[attr-defined]
    scan_once = py_make_scanner(decoder)
    decoder.scan_once = scan_once  # type: ignore[attr-defined]
    return decoder


def _long_number(text: str) -> JsonLimitError:
    match = re.search(rf"\d{{{MAX_DIGITS + 1},}}", text)
    where = " at line {} column {}".format(*_line_col(text, match.start())) if match else ""
    digits = f" with {len(match.group()):,} digits" if match else ""
    return JsonLimitError(f"a number{digits}{where} is too long (at most {MAX_DIGITS:,} digits)")


def load_json(text: str, max_depth: int) -> Any:
    """Parse JSON text within the limits above; ``json.JSONDecodeError`` for syntax errors."""
    check_depth(text, max_depth)
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer longer than Python converts
        raise _long_number(text) from None
    except _Duplicate as dup:
        _locating_decoder(text).decode(text)
        raise JsonLimitError(f"duplicate key {dup.key[:60]!r} (keep one of them)") from None
