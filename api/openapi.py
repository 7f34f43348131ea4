"""OpenAPI 3.0 from FastAPI's 3.1 document (OGC API - Features Part 1 requires OpenAPI 3.0).

The differences that matter for our schemas: ``null`` as a type becomes ``nullable``, ``const``
becomes a one-value ``enum``, numeric ``exclusiveMinimum``/``Maximum`` become booleans, ``examples``
becomes ``example``, ``prefixItems`` (tuples) becomes ``items`` with fixed length, and binary
``contentMediaType`` strings (uploads) become ``format: binary``.
"""

from __future__ import annotations

from typing import Any


def _schema(node: Any) -> Any:  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
    if isinstance(node, list):
        return [_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _schema(v) for k, v in node.items()}
    for key in ("anyOf", "oneOf"):
        alts = out.get(key)
        if isinstance(alts, list) and any(a == {"type": "null"} for a in alts):
            rest = [a for a in alts if a != {"type": "null"}]
            out.pop(key)
            if len(rest) == 1 and "$ref" not in rest[0]:
                out.update(rest[0])
            elif len(rest) == 1:
                out["allOf"] = rest
            else:
                out[key] = rest
            out["nullable"] = True
    t = out.get("type")
    if isinstance(t, list):
        kinds = [k for k in t if k != "null"]
        out["type"] = kinds[0] if len(kinds) == 1 else "string"
        if "null" in t:
            out["nullable"] = True
    if "contentMediaType" in out:  # 3.1 binary content -> 3.0 format: binary
        out.pop("contentMediaType")
        out.pop("contentEncoding", None)
        out["format"] = "binary"
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), int | float) and not isinstance(out.get(bound), bool):
            out[plain] = out[bound]
            out[bound] = True
    if "examples" in out and isinstance(out["examples"], list):
        ex = out.pop("examples")
        if ex:
            out["example"] = ex[0]
    if "prefixItems" in out:
        items = out.pop("prefixItems")
        out["items"] = items[0] if all(i == items[0] for i in items) else {}
        out["minItems"] = out["maxItems"] = len(items)
    return out


def to_openapi_30(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a FastAPI OpenAPI 3.1 document rewritten as OpenAPI 3.0.3."""
    out = dict(doc)
    out["openapi"] = "3.0.3"
    if "components" in out:
        out["components"] = _schema(out["components"])
    paths = {}
    for path, ops in doc.get("paths", {}).items():
        paths[path] = {m: _schema(op) for m, op in ops.items()}
    out["paths"] = paths
    return out
