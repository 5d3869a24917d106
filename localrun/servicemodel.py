"""The service model's rules that botocore's ParamValidator skips: `enum`, `min`/`max` and `pattern`.

One walk over a request and its input shape, shared by the local control plane (which answers with
AWS's ValidationException text) and the pipeline-definition check (which names the step): each
formats the `Violation`s it gets. Needs botocore's model classes and the standard library only.

The patterns are Java regular expressions (AWS validates with java.util.regex and `matches()`, a
whole-string match): `\\p{..}` classes, `\\z`, surrogate pairs for the astral planes and a quantified
`$` are translated to Python's `re`; `\\w`, `\\s`, `\\d` stay ASCII as in Java.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterator

from botocore.model import ListShape, MapShape, Shape, StructureShape

# one step of a path: ("member", name), ("index", i) (0-based), ("key", map key), ("value", map key)
Step = tuple[str, Any]


@dataclass(frozen=True)
class Violation:
    path: tuple[Step, ...]
    value: Any
    rule: str  # "enum", "min", "max" or "pattern"
    limit: Any  # the enum list, the bound or the pattern
    unit: str  # what min/max bound: "length", "items", "entries" or "value"
    shape: Shape


def violations(value: Any, shape: Shape, path: tuple[Step, ...] = (), *,
               skip: Callable[[tuple[Step, ...]], bool] = lambda path: False,
               pattern_subject: Callable[[str], str] = lambda text: text) -> Iterator[Violation]:
    """Every rule `value` breaks, depth first; values of the wrong type are ParamValidator's to report.

    `skip(path)`: places not to check (a value only known at run time). `pattern_subject(text)`: a
    stand-in text whose match lets `text` through its pattern too (the control plane's file:// URLs
    and paths stand where AWS wants s3:// URLs)."""
    if skip(path):
        return
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                yield from violations(item, shape.members[key], (*path, ("member", key)), skip=skip, pattern_subject=pattern_subject)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        yield from _bounds(len(value), meta, path, value, "items", shape)
        for index, item in enumerate(value):
            yield from violations(item, shape.member, (*path, ("index", index)), skip=skip, pattern_subject=pattern_subject)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        yield from _bounds(len(value), meta, path, value, "entries", shape)
        for key, item in value.items():
            yield from violations(key, shape.key, (*path, ("key", key)), skip=skip, pattern_subject=pattern_subject)
            yield from violations(item, shape.value, (*path, ("value", key)), skip=skip, pattern_subject=pattern_subject)
    elif isinstance(value, str) and shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            yield Violation(path, value, "enum", list(shape.enum), "value", shape)
        yield from _bounds(len(value), meta, path, value, "length", shape)
        pattern = meta.get("pattern")
        if pattern and not pattern_matches(pattern, value) and (
                pattern_subject(value) == value or not pattern_matches(pattern, pattern_subject(value))):
            yield Violation(path, value, "pattern", meta["pattern"], "value", shape)
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and shape.type_name in ("integer", "long", "float", "double"):
        yield from _bounds(value, meta, path, value, "value", shape)


def _bounds(amount: float, meta: dict, path: tuple[Step, ...], value: Any, unit: str, shape: Shape) -> Iterator[Violation]:
    if "min" in meta and amount < meta["min"]:
        yield Violation(path, value, "min", meta["min"], unit, shape)
    if "max" in meta and amount > meta["max"]:
        yield Violation(path, value, "max", meta["max"], unit, shape)


# ---- Java regular expressions in Python ----------------------------------------------------------
_POSIX = {"Print": r"\x20-\x7e", "Alnum": "a-zA-Z0-9", "ASCII": r"\x00-\x7f", "Alpha": "a-zA-Z", "Digit": "0-9",
          "Upper": "A-Z", "Lower": "a-z", "Punct": r"!-/:-@\[-`{-~", "Space": r" \t\n\x0b\f\r"}
_CLASS = re.compile(r"\\p\{(\w+)\}")
_SURROGATE_PAIRS = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}-\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@lru_cache(maxsize=1)
def _categories() -> dict[str, str]:
    """Character-class bodies for every Unicode major category (L, M, N, P, S, Z, C), in one pass."""
    ranges: dict[str, list[list[int]]] = {}
    for code in range(sys.maxunicode + 1):
        spans = ranges.setdefault(unicodedata.category(chr(code))[0], [])
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    return {major: "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in spans)
            for major, spans in ranges.items()}


def _class_body(name: str) -> str:
    if name in _POSIX:
        return _POSIX[name]
    if len(name) == 1 and name in "LMNPSZC":
        return _categories()[name]
    raise re.error(f"unknown Java class \\p{{{name}}}")


def _in_brackets(pattern: str, position: int) -> bool:
    depth, index = 0, 0
    while index < position:
        if pattern[index] == "\\":
            index += 2
            continue
        depth += pattern[index] == "["
        depth -= pattern[index] == "]" and depth > 0
        index += 1
    return depth > 0


def java_to_python(pattern: str) -> str:
    """The same language in Python's `re` syntax, for the constructs AWS's models use."""
    # a supplementary-plane range written as UTF-16 surrogate pairs: U+10000..U+10FFFF
    pattern = _SURROGATE_PAIRS.sub(r"\\U00010000-\\U0010ffff", pattern)
    pattern = re.sub(r"(?<!\\)\$\{\d+(,\d*)?\}", "$", pattern)  # a quantified end anchor is still one anchor
    pattern = pattern.replace(r"\z", r"\Z")

    def expand(match: re.Match) -> str:
        body = _class_body(match.group(1))
        return body if _in_brackets(pattern, match.start()) else f"[{body}]"

    return _CLASS.sub(expand, pattern)


@lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern | None:
    """The pattern in Python, or None for a construct this translation does not know."""
    try:
        return re.compile(java_to_python(pattern), re.ASCII)
    except re.error:
        return None


def pattern_matches(pattern: str, text: str) -> bool:
    """Java's `matches()`: the whole text. A pattern Python cannot read is left to the service."""
    regex = compiled(pattern)
    return regex is None or regex.fullmatch(text) is not None
