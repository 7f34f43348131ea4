"""HTML pages of the API for browsers (OGC API - Features, HTML conformance class), in Chinese and English.

A pure ASGI middleware: a ``GET`` of a page below that asks for HTML (``f=html``, or an ``Accept`` header naming
``text/html`` and no ``f``) is passed on as a JSON request, and the JSON answer is rendered with the page's
template (``api/templates``).  Clients that ask for JSON (GDAL, QGIS, OWSLib, curl's ``*/*``) get JSON as
before: the routes themselves know nothing of HTML.  The language is ``lang=zh|en``, else the browser's
``Accept-Language`` (Chinese where it prefers zh), else English.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

#: path pattern -> template
PAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/$"), "landing.html"),
    (re.compile(r"^/conformance$"), "conformance.html"),
    (re.compile(r"^/collections$"), "collections.html"),
    (re.compile(r"^/collections/[^/]+$"), "collection.html"),
    (re.compile(r"^/collections/[^/]+/items$"), "items.html"),
    (re.compile(r"^/collections/[^/]+/items/[^/]+$"), "item.html"),
    (re.compile(r"^/processes$"), "processes.html"),
    (re.compile(r"^/processes/[^/]+$"), "process.html"),
    (re.compile(r"^/jobs$"), "jobs.html"),
    (re.compile(r"^/jobs/[^/]+$"), "job.html"),
]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "home": "Home",
        "collections": "Collections",
        "processes": "Processes (analyses)",
        "jobs": "Jobs",
        "viewer": "3-D viewer",
        "api": "API description",
        "conformance": "Conformance classes",
        "links": "Links",
        "features": "Features",
        "browse": "Browse the features",
        "extent": "Extent",
        "crs": "Coordinate reference systems",
        "matched": "matched",
        "returned": "returned",
        "next": "Next page",
        "prev": "Previous page",
        "property": "Property",
        "value": "Value",
        "inputs": "Inputs",
        "outputs": "Outputs",
        "execute": "Execution",
        "status": "Status",
        "json": "This page as JSON",
        "language": "中文",
        "id": "Id",
        "title": "Title",
        "description": "Description",
        "type": "Type",
        "required": "required",
        "map": "Map of this page's features (CRS84)",
        "nothing": "Nothing here.",
    },
    "zh": {
        "home": "首页",
        "collections": "数据集",
        "processes": "分析服务",
        "jobs": "任务",
        "viewer": "三维场景",
        "api": "接口说明",
        "conformance": "符合性类别",
        "links": "链接",
        "features": "要素",
        "browse": "浏览要素",
        "extent": "范围",
        "crs": "坐标参照系",
        "matched": "匹配",
        "returned": "返回",
        "next": "下一页",
        "prev": "上一页",
        "property": "属性",
        "value": "值",
        "inputs": "输入",
        "outputs": "输出",
        "execute": "执行方式",
        "status": "状态",
        "json": "以 JSON 查看",
        "language": "English",
        "id": "编号",
        "title": "名称",
        "description": "说明",
        "type": "类型",
        "required": "必填",
        "map": "本页要素示意图（CRS84）",
        "nothing": "暂无内容。",
    },
}

_ENV: Any = None


def _env() -> Any:
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        _ENV = Environment(
            loader=FileSystemLoader(Path(__file__).parent / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _ENV.filters["cell"] = cell
    return _ENV


def cell(value: Any) -> str:
    """A property value as table text: numbers rounded sensibly, lists and objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()[:300]
    return str(value)


def page_for(path: str) -> str | None:
    """The template of a path that has an HTML page, or None."""
    for pattern, template in PAGES:
        if pattern.match(path):
            return template
    return None


def language(query: dict[str, str], headers: dict[str, str]) -> str:
    """``lang`` wins; else zh when the browser's first language is Chinese; else en."""
    lang = query.get("lang", "").lower()
    if lang in LABELS:
        return lang
    first = headers.get("accept-language", "").split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def wants_html(query: dict[str, str], headers: dict[str, str]) -> bool:
    f = query.get("f")
    if f is not None:
        return f.lower() == "html"
    return "text/html" in headers.get("accept", "")


# -- the small map: features of a page as SVG --------------------------------------------------------------------
def _rings(geometry: dict[str, Any] | None) -> Iterable[tuple[str, list[list[float]]]]:
    if not geometry:
        return
    gtype = geometry.get("type")
    coords: Any = geometry.get("coordinates")
    if gtype == "Point":
        yield "point", [coords]
    elif gtype in ("LineString", "MultiPoint"):
        yield ("line" if gtype == "LineString" else "point"), coords
    elif gtype in ("Polygon", "MultiLineString"):
        for ring in coords:
            yield ("polygon" if gtype == "Polygon" else "line"), ring
    elif gtype == "MultiPolygon":
        for poly in coords:
            for ring in poly:
                yield "polygon", ring


def svg_map(features: list[dict[str, Any]], width: int = 640, height: int = 400) -> str | None:
    """An SVG sketch of the features' geometries (lon/lat, scaled by cos(latitude)); None without geometry."""
    parts = [(f.get("id"), kind, ring) for f in features for kind, ring in _rings(f.get("geometry"))]
    pts = [p for _, _, ring in parts for p in ring if isinstance(p, list) and len(p) >= 2]
    if not pts:
        return None
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    kx = math.cos(math.radians((y0 + y1) / 2)) if abs(y0) <= 90 and abs(y1) <= 90 else 1.0
    span = max((x1 - x0) * kx, y1 - y0, 1e-9)
    scale = min(width, height) * 0.92 / span
    ox, oy = (width - (x1 - x0) * kx * scale) / 2, (height - (y1 - y0) * scale) / 2

    def xy(p: list[float]) -> str:
        return f"{ox + (p[0] - x0) * kx * scale:.1f},{height - oy - (p[1] - y0) * scale:.1f}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="map">']
    from html import escape

    for fid, kind, ring in parts:
        title = f"<title>{escape(str(fid))}</title>"
        if kind == "polygon":
            out.append(f'<polygon points="{" ".join(xy(p) for p in ring)}">{title}</polygon>')
        elif kind == "line":
            out.append(f'<polyline points="{" ".join(xy(p) for p in ring)}">{title}</polyline>')
        else:
            for p in ring:
                x, y = xy(p).split(",")
                out.append(f'<circle cx="{x}" cy="{y}" r="3">{title}</circle>')
    out.append("</svg>")
    return "".join(out)


def render(template: str, body: Any, *, path: str, query: dict[str, str], lang: str) -> str:
    """The HTML page of a JSON answer."""
    other = "en" if lang == "zh" else "zh"
    json_query = {k: v for k, v in query.items() if k not in ("f", "lang")}
    features = body.get("features", []) if isinstance(body, dict) else []
    if template == "item.html" and isinstance(body, dict):
        features = [body]
    return (
        _env()
        .get_template(template)
        .render(
            body=body,
            t=LABELS[lang],
            lang=lang,
            path=path,
            json_href=path + "?" + urlencode({**json_query, "f": "json"}),
            other_lang_href=path + "?" + urlencode({**query, "lang": other}),
            svg=svg_map(features) if features else None,
            html_href=lambda href: _html_link(href, lang),
        )
    )


def _html_link(href: str, lang: str) -> str:
    """A link of the JSON answer, made to open the HTML page again (f=html, same language)."""
    if not isinstance(href, str) or "://" not in href:
        return href
    base, _, q = href.partition("?")
    params = [(k, v) for k, v in parse_qsl(q, keep_blank_values=True) if k not in ("f", "lang")]
    return base + "?" + urlencode([*params, ("f", "html"), ("lang", lang)])


class HTMLPages:
    """ASGI middleware: HTML for browsers on the pages in :data:`PAGES`, JSON for everyone else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _may_want_html(scope):
            await self.app(scope, receive, send)  # the JSON clients' hot path: two byte searches, nothing parsed
            return
        template = page_for(scope["path"])
        if template is None:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        if not wants_html(query, headers):
            await self.app(scope, receive, send)
            return
        lang = language(query, headers)
        inner_query = {k: v for k, v in query.items() if k not in ("f", "lang")}
        inner = dict(scope)
        inner["query_string"] = urlencode(inner_query).encode()
        inner["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"accept",)] + [
            (b"accept", b"application/geo+json, application/json")
        ]
        state: dict[str, Any] = {"status": 200, "headers": [], "body": b""}

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                state["body"] += message.get("body", b"")

        await self.app(inner, receive, capture)
        ctype = dict((k.lower(), v) for k, v in state["headers"]).get(b"content-type", b"")
        if b"json" not in ctype:  # not a JSON answer: pass it through as it is
            await _send(send, state["status"], state["headers"], state["body"])
            return
        try:
            body = orjson.loads(state["body"])
        except orjson.JSONDecodeError:
            await _send(send, state["status"], state["headers"], state["body"])
            return
        name = template if state["status"] < 400 else "problem.html"
        html = render(name, body, path=scope["path"], query=query, lang=lang).encode()
        await _send(
            send,
            state["status"],
            [(b"content-type", b"text/html; charset=utf-8"), (b"vary", b"Accept, Accept-Language")],
            html,
        )


def _may_want_html(scope: dict) -> bool:
    """A cheap test on the raw request: ``html`` in the query string or ``text/html`` in an Accept header."""
    if b"html" in scope.get("query_string", b"").lower():
        return True
    return any(k.lower() == b"accept" and b"text/html" in v for k, v in scope["headers"])


async def _send(send: Any, status: int, headers: list, body: bytes) -> None:
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
