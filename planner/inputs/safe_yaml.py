"""A YAML loader for files from people we do not know: bounded nesting, bounded aliases,
no duplicate keys.

PyYAML's ``safe_load`` composes recursively (thousands of nested ``[`` end in a
RecursionError, or a crash of the C composer), expands nothing but lets a few aliases
(``*a``) stand for a billion values that every later step (validation, reports) walks,
and silently keeps the last of two equal keys. Here the parser's event stream (libyaml
when available; both parsers keep an explicit stack, never recurse) is composed into
nodes by a loop that

* stops at ``max_depth`` nested collections, naming the line;
* counts the values the document would hold with every alias expanded, and refuses a
  document whose aliases expand it more than :data:`ALIAS_GROWTH` times (plus
  :data:`ALIAS_ALLOWANCE` values): anchors for shared settings stay usable, the
  "billion laughs" do not; an alias inside its own anchor (a cycle) is refused;
* then builds Python values with PyYAML's safe constructor, refusing duplicate keys
  with both lines, and a date that is none (``2027-13-04``) with its line.

Errors are :class:`YamlLimitError` (one line, with line and column) or PyYAML's own
``yaml.YAMLError`` for plain syntax errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events, nodes
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

ALIAS_GROWTH = 10
MAX_DIGITS = 4000
"""Longest integer (Python refuses to convert more than 4,300 digits)."""
ALIAS_ALLOWANCE = 100_000

_Parser: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE = "tag:yaml.org,2002:merge"


class YamlLimitError(Exception):
    """The document breaks a limit (depth, aliases, duplicate keys); ``str`` is one line."""


class _Builder(SafeConstructor, Resolver):
    """PyYAML's safe constructor and resolver, refusing duplicate mapping keys."""

    def __init__(self) -> None:
        SafeConstructor.__init__(self)
        Resolver.__init__(self)

    def construct_yaml_int(self, node: Any) -> Any:
        length = len(str(node.value))
        if length > MAX_DIGITS:
            raise YamlLimitError(f"a number {length:,} characters long at line "
                                 f"{node.start_mark.line + 1} (at most {MAX_DIGITS:,} digits)")
        return super().construct_yaml_int(node)

    def construct_yaml_timestamp(self, node: Any) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError) as exc:  # 2027-13-04, 2027-02-30, a far year
            raise YamlLimitError(
                f"{str(node.value)[:40]!r} at line {node.start_mark.line + 1} is no calendar "
                f"date ({exc}; write YYYY-MM-DD, or quote it to mean text)") from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, nodes.MappingNode):
            _check_duplicates(self, node)
        return super().construct_mapping(node, deep=deep)


_Builder.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:int", _Builder.construct_yaml_int)
_Builder.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp", _Builder.construct_yaml_timestamp)


def _check_duplicates(builder: _Builder, node: nodes.MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE or not isinstance(key_node, nodes.ScalarNode):
            continue
        key = builder.construct_object(key_node)
        if not _hashable(key):
            continue
        line = key_node.start_mark.line + 1
        if key in seen:
            raise YamlLimitError(
                f"duplicate key {str(key)[:60]!r} at line {seen[key]} and line {line}"
                " (keep one of them)")
        seen[key] = line


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@dataclass
class _Open:
    """A collection being composed: its node, its anchor and the expanded count at its start."""

    node: Any
    anchor: str | None
    expanded_at_start: int
    key: Any = None


@dataclass
class _Composer:
    max_depth: int
    builder: _Builder
    stack: list[_Open] = field(default_factory=list)
    anchors: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    values: int = 0
    expanded: int = 0
    root: Any = None
    documents: int = 0

    def add(self, node: Any) -> None:
        if not self.stack:
            self.documents += 1
            if self.documents > 1:
                raise YamlLimitError(
                    f"a second YAML document at line {node.start_mark.line + 1}"
                    " (one file holds one document; remove the `---` line)")
            self.root = node
            return
        top = self.stack[-1]
        if isinstance(top.node, nodes.SequenceNode):
            top.node.value.append(node)
        elif top.key is None:
            top.key = node
        else:
            top.node.value.append((top.key, node))
            top.key = None

    def scalar(self, ev: Any) -> None:
        tag = ev.tag
        if tag is None or tag == "!":
            tag = self.builder.resolve(nodes.ScalarNode, ev.value, ev.implicit)
        node = nodes.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
        self.values += 1
        self.expanded += 1
        if ev.anchor is not None:
            self.anchor(ev.anchor, node)
            self.sizes[ev.anchor] = 1
        self.add(node)

    def anchor(self, name: str, node: Any) -> None:
        if name in self.anchors:
            raise YamlLimitError(
                f"anchor &{name} is defined twice, at line "
                f"{self.anchors[name].start_mark.line + 1} and line {node.start_mark.line + 1}"
                " (rename one of them)")
        self.anchors[name] = node

    def start(self, ev: Any) -> None:
        if len(self.stack) >= self.max_depth:
            raise YamlLimitError(
                f"nested deeper than {self.max_depth} levels at line {ev.start_mark.line + 1}"
                " (no planner file needs that; is this the right file?)")
        kind = nodes.MappingNode if isinstance(ev, events.MappingStartEvent) else nodes.SequenceNode
        tag = ev.tag
        if tag is None or tag == "!":
            tag = self.builder.resolve(kind, None, ev.implicit)
        node = kind(tag, [], ev.start_mark, None, flow_style=ev.flow_style)
        self.values += 1
        self.expanded += 1
        if ev.anchor is not None:
            self.anchor(ev.anchor, node)
        self.add(node)
        self.stack.append(_Open(node, ev.anchor, self.expanded))

    def end(self, ev: Any) -> None:
        done = self.stack.pop()
        done.node.end_mark = ev.end_mark
        if done.anchor is not None:
            self.sizes[done.anchor] = self.expanded - done.expanded_at_start + 1

    def alias(self, ev: Any) -> None:
        name = ev.anchor
        line = ev.start_mark.line + 1
        if name not in self.anchors:
            raise YamlLimitError(f"alias *{name} at line {line} refers to no anchor &{name}")
        if name not in self.sizes:
            raise YamlLimitError(f"alias *{name} at line {line} is inside its own anchor"
                                 " (a document cannot contain itself)")
        self.expanded += self.sizes[name]
        self.add(self.anchors[name])
        self.check_growth()

    def check_growth(self) -> None:
        """Aliases so far may expand what was written so far at most ALIAS_GROWTH times."""
        allowed = ALIAS_GROWTH * self.values + ALIAS_ALLOWANCE
        if self.expanded > allowed:
            raise YamlLimitError(
                f"YAML aliases expand this document to {self.expanded:,} values, from "
                f"{self.values:,} written (at most {ALIAS_GROWTH}× plus "
                f"{ALIAS_ALLOWANCE:,} is accepted; write the values out instead)")


def _compose(text: str, max_depth: int, builder: _Builder) -> Any:
    composer = _Composer(max_depth, builder)
    parser = _Parser(text)
    try:
        while parser.check_event():
            ev = parser.get_event()
            if isinstance(ev, events.ScalarEvent):
                composer.scalar(ev)
            elif isinstance(ev, events.CollectionStartEvent):
                composer.start(ev)
            elif isinstance(ev, events.CollectionEndEvent):
                composer.end(ev)
            elif isinstance(ev, events.AliasEvent):
                composer.alias(ev)
    finally:
        parser.dispose()
    return composer.root


def load_yaml(text: str, max_depth: int) -> Any:
    """Parse one YAML document within the limits above (``None`` for an empty document)."""
    builder = _Builder()
    root = _compose(text, max_depth, builder)
    if root is None:
        return None
    try:
        return builder.construct_document(root)
    except ConstructorError:
        raise
    except RecursionError:  # pragma: no cover - depth is bounded above
        raise YamlLimitError(f"nested deeper than {max_depth} levels") from None
