"""The predicate language of a rule's ``when``: parsing and SQL three-valued evaluation.

Grammar (keywords are case-insensitive)::

    expr    := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | primary
    primary := "(" expr ")" | NAME cmp LITERAL | LITERAL cmp NAME
             | NAME ["not"] "in" "(" LITERAL ("," LITERAL)* ")"
             | NAME "is" ["not"] "null"
    cmp     := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    LITERAL := number | 'string' ('' escapes a quote) | true | false

Values are JSON scalars: numbers, strings, booleans or null. A comparison is *unknown* (SQL
NULL) when the attribute is missing or null, or when its type differs from the literal's (a
number compared with a string); ``not unknown`` is unknown; ``and``/``or`` follow SQL's
three-valued logic; a record matches only when the whole predicate is *true*. ``x in (a, b)``
means ``x = a or x = b`` and ``x not in (...)`` its negation, as in SQL.

Numbers compare as 64-bit floats in every evaluator, so the Python reference, DuckDB and
PostgreSQL agree even on integers too large for a double.

Limits: parentheses and ``not`` nest at most :data:`MAX_NESTING` deep, and a predicate has at
most :data:`MAX_TERMS` comparisons. A run of ``and`` (or of ``or``) is kept as a balanced tree
(the operators are associative in three-valued logic too), so no evaluator or compiler ever
recurses deeper than a few dozen levels, whatever the predicate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Union

__all__ = [
    "MAX_NESTING",
    "MAX_TERMS",
    "And",
    "Compare",
    "In",
    "IsNull",
    "Literal",
    "Node",
    "Not",
    "Or",
    "PredicateError",
    "attribute_names",
    "evaluate",
    "number_value",
    "parse_predicate",
]

Literal = Union[float, str, bool]  # noqa: UP007 - a runtime alias used in isinstance-free code
"""A predicate literal: numbers are parsed as floats."""


class PredicateError(ValueError):
    """A predicate that does not parse; ``column`` is the 1-based character position."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (at character {column})")
        self.column = column


@dataclass(frozen=True, slots=True)
class Compare:
    """``name op literal``."""

    name: str
    op: str
    value: Literal


@dataclass(frozen=True, slots=True)
class In:
    """``name [not] in (literals)``."""

    name: str
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class IsNull:
    """``name is [not] null``: missing or JSON null."""

    name: str
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Not:
    """``not expr``."""

    arg: Node


@dataclass(frozen=True, slots=True)
class And:
    """``left and right``."""

    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Or:
    """``left or right``."""

    left: Node
    right: Node


Node = Compare | In | IsNull | Not | And | Or

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<string>'(?:[^']|'')*')
      | (?P<op><=|>=|!=|<>|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, string, op, punct, word, keyword, end
    text: str
    column: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            column = pos + len(text[pos:]) - len(text[pos:].lstrip()) + 1
            raise PredicateError(f"unexpected character {text[column - 1]!r}", column)
        kind = match.lastgroup or ""
        value = match.group(kind)
        column = match.start(kind) + 1
        if kind == "word" and value.lower() in _KEYWORDS:
            tokens.append(_Token("keyword", value.lower(), column))
        else:
            tokens.append(_Token(kind, value, column))
        pos = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


MAX_NESTING = 32
"""How deep parentheses and ``not`` may nest in one predicate."""
MAX_TERMS = 256
"""How many comparisons one predicate may hold (each value of an ``in`` list is one)."""


def _balanced(kind: type[And] | type[Or], nodes: list[Node]) -> Node:
    """``a op b op c op ...`` as a tree of depth log2(n)."""
    while len(nodes) > 1:
        paired = [kind(nodes[i], nodes[i + 1]) for i in range(0, len(nodes) - 1, 2)]
        nodes = paired + ([nodes[-1]] if len(nodes) % 2 else [])
    return nodes[0]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0
        self.terms = 0

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.fail(f"nested more than {MAX_NESTING} levels deep")

    def term(self) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            self.fail(f"more than {MAX_TERMS} comparisons in one predicate")

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> bool:
        token = self.current
        if token.kind == kind and (text is None or token.text == text):
            self.index += 1
            return True
        return False

    def expect(self, kind: str, text: str, what: str) -> None:
        if not self.accept(kind, text):
            self.fail(f"expected {what}")

    def fail(self, message: str) -> None:
        token = self.current
        found = "the end" if token.kind == "end" else repr(token.text)
        raise PredicateError(f"{message}, found {found}", token.column)

    def parse(self) -> Node:
        node = self.or_()
        if self.current.kind != "end":
            self.fail("expected 'and', 'or' or the end")
        return node

    def or_(self) -> Node:
        nodes = [self.and_()]
        while self.accept("keyword", "or"):
            nodes.append(self.and_())
        return _balanced(Or, nodes)

    def and_(self) -> Node:
        nodes = [self.unary()]
        while self.accept("keyword", "and"):
            nodes.append(self.unary())
        return _balanced(And, nodes)

    def unary(self) -> Node:
        if self.accept("keyword", "not"):
            self.nest()
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        if self.accept("punct", "("):
            self.nest()
            node = self.or_()
            self.expect("punct", ")", "')'")
            self.depth -= 1
            return node
        self.term()
        token = self.current
        if token.kind == "word":
            self.take()
            return self.after_name(token.text)
        literal = self.literal_or_none()
        if literal is not None:
            op = self.current
            if op.kind != "op":
                self.fail("expected a comparison operator after a literal")
            self.take()
            name = self.current
            if name.kind != "word":
                self.fail("expected an attribute name")
            self.take()
            return Compare(name.text, _FLIP[_normal_op(op.text)], literal)
        self.fail("expected an attribute name, a literal, 'not' or '('")
        raise AssertionError  # unreachable: fail() raises

    def after_name(self, name: str) -> Node:
        token = self.current
        if token.kind == "op":
            self.take()
            literal = self.literal_or_none()
            if literal is None:
                self.fail("expected a number, a 'string', true or false")
            assert literal is not None
            return Compare(name, _normal_op(token.text), literal)
        if self.accept("keyword", "is"):
            negated = self.accept("keyword", "not")
            self.expect("keyword", "null", "'null'")
            return IsNull(name, negated)
        negated = self.accept("keyword", "not")
        if self.accept("keyword", "in"):
            self.expect("punct", "(", "'(' after 'in'")
            values = [self.required_literal()]
            while self.accept("punct", ","):
                self.term()  # each listed value is one more comparison
                values.append(self.required_literal())
            self.expect("punct", ")", "')' or ','")
            return In(name, tuple(values), negated)
        self.fail(f"expected a comparison, 'in' or 'is' after {name!r}")
        raise AssertionError  # unreachable

    def required_literal(self) -> Literal:
        literal = self.literal_or_none()
        if literal is None:
            self.fail("expected a number, a 'string', true or false")
        assert literal is not None
        return literal

    def literal_or_none(self) -> Literal | None:
        token = self.current
        if token.kind == "number":
            self.take()
            return float(token.text)
        if token.kind == "string":
            self.take()
            return token.text[1:-1].replace("''", "'")
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.take()
            return token.text == "true"
        return None


def _normal_op(op: str) -> str:
    return "!=" if op == "<>" else op


@functools.lru_cache(maxsize=4096)
def parse_predicate(text: str) -> Node:
    """Parse a ``when`` predicate; raise PredicateError with the position on failure.

    Parsed trees are immutable and kept: scoring one subject asks for every rule's predicate.
    """
    if not text.strip():
        raise PredicateError("empty predicate", 1)
    return _Parser(text).parse()


def attribute_names(node: Node) -> Iterator[str]:
    """Every attribute name a predicate reads, in order of appearance (with repeats)."""
    if isinstance(node, Compare | In | IsNull):
        yield node.name
    elif isinstance(node, Not):
        yield from attribute_names(node.arg)
    else:
        yield from attribute_names(node.left)
        yield from attribute_names(node.right)


def literal_values(node: Node) -> Iterator[Literal]:
    """Every literal a predicate compares with, in order of appearance (with repeats)."""
    if isinstance(node, Compare):
        yield node.value
    elif isinstance(node, In):
        yield from node.values
    elif isinstance(node, Not):
        yield from literal_values(node.arg)
    elif isinstance(node, And | Or):
        yield from literal_values(node.left)
        yield from literal_values(node.right)


# ---------------------------------------------------------------- three-valued evaluation

_MISSING = object()
_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def _typed(value: object) -> tuple[str, object] | None:
    """(type, comparable value) of an attribute value; None when missing or null."""
    if value is _MISSING or value is None:
        return None
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    if isinstance(value, str):
        return ("string", value)
    return ("other", value)


def number_value(value: object) -> float | None:
    """An attribute's value as a number, or None when it is missing, null or another JSON type
    (a boolean is not a number): what the compiled engines' ``.float`` unwrap reads."""
    typed = _typed(value)
    return typed[1] if typed is not None and typed[0] == "number" else None  # type: ignore[return-value]


def _compare(value: object, op: str, literal: Literal) -> bool | None:
    left = _typed(value)
    right = _typed(literal)
    if left is None or right is None or left[0] != right[0] or left[0] == "other":
        return None
    return _COMPARE[op](left[1], right[1])


def evaluate(node: Node, attrs: Mapping[str, object]) -> bool | None:
    """Evaluate with SQL three-valued logic: True, False or None (unknown)."""
    if isinstance(node, Compare):
        return _compare(attrs.get(node.name, _MISSING), node.op, node.value)
    if isinstance(node, In):
        return _in(node, attrs)
    if isinstance(node, IsNull):
        is_null = attrs.get(node.name, _MISSING) in (_MISSING, None)
        return not is_null if node.negated else is_null
    if isinstance(node, Not):
        inner = evaluate(node.arg, attrs)
        return None if inner is None else not inner
    return _and(node, attrs) if isinstance(node, And) else _or(node, attrs)


def _in(node: In, attrs: Mapping[str, object]) -> bool | None:
    value = attrs.get(node.name, _MISSING)
    result: bool | None = False
    for literal in node.values:
        outcome = _compare(value, "=", literal)
        if outcome:
            result = True
            break
        if outcome is None:
            result = None
    if node.negated:
        return None if result is None else not result
    return result


def _and(node: And, attrs: Mapping[str, object]) -> bool | None:
    left = evaluate(node.left, attrs)
    if left is False:
        return False
    right = evaluate(node.right, attrs)
    if right is False:
        return False
    return None if left is None or right is None else True


def _or(node: Or, attrs: Mapping[str, object]) -> bool | None:
    left = evaluate(node.left, attrs)
    if left is True:
        return True
    right = evaluate(node.right, attrs)
    if right is True:
        return True
    return None if left is None or right is None else False
