"""The OData-style query options of SensorThings API: parsed here, compiled to one SQL statement per backend.

``$filter``: comparisons (``eq ne gt ge lt le``), ``and``/``or``/``not``, parentheses, the functions
``startswith``, ``endswith``, ``substringof`` and ``contains``; literals are numbers, ``'strings'``, ISO 8601
instants (``2026-01-01T00:00:00Z``, quoted or not), ``true``, ``false`` and ``null``; paths are entity
properties (``result``, ``phenomenonTime``, ``name``, ``id``), JSON members (``properties/role``,
``unitOfMeasurement/symbol``) and properties of a linked single entity (``Datastream/id``,
``Thing/properties/cim:feature``).  ``$orderby``: ``path [asc|desc]``, comma separated.  ``$select``,
``$expand`` (one level, with nested ``$select;$filter;$orderby;$top;$skip``), ``$top``, ``$skip``, ``$count``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import bad
from .model import EntitySet, entity_set
from .times import parse_ms

MAX_TOP = 10_000
DEFAULT_TOP = 100

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
    |(?P<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
    |(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<punct>[(),])
    |(?P<name>[A-Za-z_@$][\w@$.:/-]*)
    )""",
    re.VERBOSE,
)
_CMP = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_FUNCS = {"startswith", "endswith", "substringof", "contains"}
_ARITH = {"add", "sub", "mul", "div", "mod"}


def _tokens(text: str, parameter: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise bad(parameter, f"Cannot read {parameter} at character {pos + 1}: {text[pos : pos + 20]!r}.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, parameter: str = "$filter") -> None:
        if len(text) > 8000:
            raise bad(parameter, f"{parameter} is too long (8000 characters at most).")
        self.p = parameter
        self.toks = _tokens(text, parameter)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise bad(self.p, f"{self.p} ends too early.")
        self.i += 1
        return t

    def expect(self, value: str) -> None:
        t = self.take()
        if t[1] != value:
            raise bad(self.p, f"Expected {value!r} in {self.p}, found {t[1]!r}.")

    def parse(self) -> Any:
        node = self.or_()
        if self.peek() is not None:
            raise bad(self.p, f"Unexpected {self.peek()[1]!r} in {self.p}.")  # type: ignore[index]
        return node

    def or_(self) -> Any:
        node = self.and_()
        while self.peek() == ("name", "or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Any:
        node = self.not_()
        while self.peek() == ("name", "and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Any:
        if self.peek() == ("name", "not"):
            self.take()
            return ("not", self.not_())
        return self.cmp()

    def cmp(self) -> Any:
        left = self.primary()
        t = self.peek()
        if t is not None and t[0] == "name" and t[1] in _CMP:
            self.take()
            return ("cmp", t[1], left, self.primary())
        if t is not None and t[0] == "name" and t[1] in _ARITH:
            raise bad(self.p, f"Arithmetic ({t[1]}) is not supported in {self.p}.")
        return left

    def primary(self) -> Any:
        self.depth += 1
        if self.depth > 200:
            raise bad(self.p, f"{self.p} nests too deep.")
        kind, value = self.take()
        if value == "(" and kind == "punct":
            node = self.or_()
            self.expect(")")
            return node
        if kind == "str":
            return ("lit", value[1:-1].replace("''", "'"), "str")
        if kind == "time":
            return ("lit", parse_ms(value, self.p), "time")
        if kind == "num":
            return ("lit", float(value) if any(c in value for c in ".eE") else int(value), "num")
        if kind == "name":
            if value in ("true", "false"):
                return ("lit", value == "true", "bool")
            if value == "null":
                return ("lit", None, "null")
            if self.peek() == ("punct", "("):
                if value not in _FUNCS:
                    raise bad(
                        self.p, f"Function {value!r} is not supported in {self.p}; use {', '.join(sorted(_FUNCS))}."
                    )
                self.take()
                args = [self.or_()]
                while self.peek() == ("punct", ","):
                    self.take()
                    args.append(self.or_())
                self.expect(")")
                return ("fn", value, args)
            if value in _CMP or value in ("and", "or", "not"):
                raise bad(self.p, f"Operator {value!r} is missing an operand in {self.p}.")
            return ("path", value.split("/"))
        raise bad(self.p, f"Unexpected {value!r} in {self.p}.")


def parse_filter(text: str) -> Any:
    """``$filter`` text -> syntax tree (tuples); InvalidParameter naming ``$filter`` when malformed."""
    if not text.strip():
        raise bad("$filter", "$filter is empty.")
    return _Parser(text).parse()


# -- compiling -------------------------------------------------------------------------------------------------
@dataclass
class Term:
    """A path resolved against an entity set: SQL for a wanted kind, and the path's own kind."""

    kind: str  # "id", "text", "time", "json", "result", "num"
    sql: Any  # str, or a function kind -> str for JSON members


class Compiler:
    """Compile a tree for entity set ``es`` (table alias ``a``) on a backend connection ``c``."""

    def __init__(self, es: EntitySet, c: Any, alias: str = "a", parameter: str = "$filter") -> None:
        self.es, self.c, self.a, self.p = es, c, alias, parameter
        self.params: list[Any] = []
        self.n = 0

    def path(self, segs: list[str], es: EntitySet | None = None, alias: str | None = None) -> Term:
        es = es or self.es
        a = alias or self.a
        head, rest = segs[0], segs[1:]
        if head in ("id", "@iot.id") and not rest:
            return Term("id", f"{a}.id")
        f = es.field(head)
        if f is not None:
            if f.kind == "json":
                if not rest:
                    return Term("jsonwhole", f"{a}.{f.col}")
                return Term("json", lambda kind, col=f"{a}.{f.col}", keys=rest: self.c.json_get(col, keys, kind))
            if rest:
                raise bad(self.p, f"{head!r} of {es.name} has no member {'/'.join(rest)!r}.")
            return Term(f.kind, f"{a}.{f.col}")
        nav = es.nav(head)
        if nav is not None and nav.kind == "fwd" and rest:
            if rest in (["id"], ["@iot.id"]):
                return Term("id", f"{a}.{nav.col}")
            target = entity_set(nav.target)
            self.n += 1
            b = f"n{self.n}"
            inner = self.path(rest, target, b)
            frm = f"FROM {self.c.T(target.table)} {b} WHERE {b}.id = {a}.{nav.col}"
            if callable(inner.sql):
                return Term(inner.kind, lambda kind, s=inner.sql, frm=frm: f"(SELECT {s(kind)} {frm})")
            return Term(inner.kind, f"(SELECT {inner.sql} {frm})")
        raise bad(self.p, f"{es.name} have no property {'/'.join(segs)!r} usable in {self.p}.")

    def _value(self, lit: Any, term: Term) -> tuple[str, str]:
        """SQL for the left term and a placeholder for the literal, converting the literal to the term's kind."""
        _, value, ltype = lit
        if term.kind == "time":
            if ltype == "str":
                value = parse_ms(value, self.p)
            elif ltype != "time":
                raise bad(self.p, f"A time compares with an ISO 8601 instant, not {value!r}.")
            self.params.append(value)
            return term.sql, "?"
        if ltype == "time":  # an unquoted instant compared with a text property: compare as text
            raise bad(self.p, "An ISO 8601 instant compares with phenomenonTime, resultTime or time only.")
        if term.kind == "json":
            kind = {"num": "num", "str": "text", "bool": "bool"}[ltype]
            self.params.append(value)
            return term.sql(kind), "?"
        if term.kind == "result":
            if ltype == "num":
                self.params.append(value)
                return term.sql, "?"
            self.params.append(self.c.json(value))
            return term.sql.replace(".result", ".rj"), "?"
        if term.kind == "id" and ltype != "num":
            raise bad(self.p, f"An id is a number, not {value!r}.")
        if term.kind == "text" and ltype != "str":
            raise bad(self.p, f"A text property compares with a 'string', not {value!r}.")
        self.params.append(value)
        return term.sql, "?"

    def _plain(self, term: Term) -> str:
        return term.sql("any" if self.c.dialect == "sqlite" else "text") if callable(term.sql) else term.sql

    def compile(self, node: Any) -> str:
        op = node[0]
        if op in ("and", "or"):
            return f"({self.compile(node[1])} {op.upper()} {self.compile(node[2])})"
        if op == "not":
            return f"(NOT {self.compile(node[1])})"
        if op == "fn":
            return self._fn(node[1], node[2])
        if op == "cmp":
            _, cmp, left, right = node
            if left[0] == "lit" and right[0] == "path":
                left, right = right, left
                cmp = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}.get(cmp, cmp)
            if left[0] != "path":
                raise bad(self.p, "A comparison needs a property on one side.")
            term = self.path(left[1])
            if right[0] == "lit":
                if right[2] == "null":
                    if cmp not in ("eq", "ne"):
                        raise bad(self.p, "null compares with eq or ne only.")
                    sql = self._plain(term)
                    if term.kind == "result":
                        rj = sql.replace(".result", ".rj")
                        both = f"({sql} IS NULL AND {rj} IS NULL)"
                        return f"(NOT {both})" if cmp == "ne" else both
                    return f"({sql} IS {'NOT ' if cmp == 'ne' else ''}NULL)"
                lhs, rhs = self._value(right, term)
                return f"({lhs} {_CMP[cmp]} {rhs})"
            if right[0] == "path":
                other = self.path(right[1])
                return f"({self._plain(term)} {_CMP[cmp]} {self._plain(other)})"
            raise bad(self.p, "A comparison's operands are properties and literals.")
        if op == "path":
            term = self.path(node[1])
            if term.kind == "json":
                self.params.append(True)
                return f"({term.sql('bool')} = ?)"
            raise bad(self.p, f"{'/'.join(node[1])!r} is not a condition.")
        raise bad(self.p, "A literal alone is not a condition.")

    def _fn(self, name: str, args: list[Any]) -> str:
        if len(args) != 2:
            raise bad(self.p, f"{name} takes two arguments.")
        if name == "substringof":
            args = [args[1], args[0]]
        path, lit = args
        if path[0] != "path" or lit[0] != "lit" or lit[2] != "str":
            raise bad(self.p, f"{name} takes a property and a 'string'.")
        term = self.path(path[1])
        sql = term.sql("text") if callable(term.sql) else term.sql
        if term.kind not in ("text", "json"):
            raise bad(self.p, f"{name} applies to text properties.")
        esc = lit[1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"startswith": f"{esc}%", "endswith": f"%{esc}"}.get(name, f"%{esc}%")
        self.params.append(pattern)
        return f"({sql} LIKE ? ESCAPE '\\')"


def compile_filter(text: str | None, es: EntitySet, c: Any, alias: str = "a") -> tuple[str, list[Any]]:
    """``$filter`` -> (SQL condition, parameters); ``("1=1", [])`` when absent."""
    if text is None:
        return "1=1", []
    comp = Compiler(es, c, alias)
    sql = comp.compile(parse_filter(text))
    return sql, comp.params


def compile_orderby(text: str | None, es: EntitySet, c: Any, alias: str = "a") -> str:
    """``$orderby`` -> SQL ORDER BY list (always ending with the id, so pages are stable)."""
    default = f"{alias}.t, {alias}.id" if es.name == "Observations" else f"{alias}.id"
    if text is None or not text.strip():
        return default
    comp = Compiler(es, c, alias, "$orderby")
    parts = []
    for item in _split_top(text, ","):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise bad("$orderby", f"Cannot read $orderby item {item!r}: use 'property [asc|desc]'.")
        term = comp.path(words[0].split("/"))
        sql = term.sql("any") if callable(term.sql) else term.sql
        parts.append(f"{sql} {'DESC' if len(words) == 2 and words[1].lower() == 'desc' else 'ASC'}")
    if comp.params:
        raise bad("$orderby", "$orderby takes properties only.")
    return ", ".join([*parts, f"{alias}.id"])


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside parentheses and quotes."""
    out: list[str] = []
    cur: list[str] = []
    depth, quote = 0, False
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        if ch == sep and depth == 0 and not quote:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [o for o in out if o]


@dataclass
class Options:
    """The query options of one request (or of one ``$expand`` item)."""

    filter: str | None = None
    orderby: str | None = None
    select: list[str] | None = None
    expand: list[tuple[str, Options]] = field(default_factory=list)
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    top_given: bool = False


_KNOWN = {"$filter", "$orderby", "$select", "$expand", "$top", "$skip", "$count", "$resultFormat"}


def _whole(params: dict[str, str], name: str) -> int | None:
    """A ``$top``/``$skip`` value: a whole number >= 0, None when absent."""
    if name not in params:
        return None
    try:
        v = int(params[name])
    except ValueError:
        raise bad(name, f"{name} must be a whole number, not {params[name]!r}.") from None
    if v < 0:
        raise bad(name, f"{name} must be 0 or more.")
    return v


def _expand(text: str, nested: bool) -> list[tuple[str, Options]]:
    """``$expand=Datastreams($top=3;$select=id),Locations`` -> [(name, nested Options)] (one level)."""
    out = []
    for item in _split_top(text, ","):
        m = re.fullmatch(r"([A-Za-z]+)(?:\((.*)\))?", item, re.S)
        if m is None:
            raise bad("$expand", f"Cannot read $expand item {item!r}.")
        if nested:
            raise bad("$expand", "$expand goes one level deep here.")
        sub: dict[str, str] = {}
        for part in _split_top(m.group(2) or "", ";"):
            key, eq, value = part.partition("=")
            if not eq:
                raise bad("$expand", f"Cannot read $expand option {part!r}.")
            sub[key.strip()] = value
        out.append((m.group(1), parse_options(sub, nested=True)))
    return out


def parse_options(params: dict[str, str], *, nested: bool = False) -> Options:
    """Query parameters (``$top`` ...) -> Options; InvalidParameter naming the option at fault."""
    for k in params:
        if k.startswith("$") and k not in _KNOWN:
            raise bad(k, f"Unknown query option {k}; the options are {', '.join(sorted(_KNOWN))}.")
    o = Options(filter=params.get("$filter"), orderby=params.get("$orderby"))
    top, skip = _whole(params, "$top"), _whole(params, "$skip")
    if top is not None:
        o.top, o.top_given = min(top, MAX_TOP), True
    if skip is not None:
        o.skip = skip
    if "$count" in params:
        if params["$count"] not in ("true", "false"):
            raise bad("$count", "$count is true or false.")
        o.count = params["$count"] == "true"
    if "$select" in params:
        o.select = [s.strip() for s in params["$select"].split(",") if s.strip()]
        if not o.select:
            raise bad("$select", "$select is empty.")
    if "$expand" in params:
        o.expand = _expand(params["$expand"], nested)
    if o.filter is not None and not o.filter.strip():
        raise bad("$filter", "$filter is empty.")
    return o
