"""``cim analyse <id>`` for every registered analysis (:mod:`cim.analysis.registry`) without a hand-written
command: one option per field of the request model, made when the command line starts.

Scalar fields (text, numbers, yes/no, a choice) are typed options; structured ones (regions, lists,
proposals) take JSON text or a JSON file.  Coordinates follow the HTTP convention (in ``--crs``, that
CRS's official axis order).  The result is written as JSON (or ``--format`` one the analysis writes) to
``--out``, or to the screen.
"""

from __future__ import annotations

import enum
import inspect
import json
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic.fields import FieldInfo

from ..analysis.registry import Analysis, analyses
from ..errors import CIMError, InvalidParameter
from . import StoreOpt, console, fail
from .analysis import analyse

#: analyses whose ``cim analyse`` command is written by hand (cim/cli/analysis.py)
HAND_WRITTEN = frozenset({"underground-use", "excavation", "pipe-compliance"})
_SCALARS = (str, int, float, bool)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without ``None``, whether None was allowed)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
        return annotation, type(None) in typing.get_args(annotation)
    return annotation, False


def option_type(annotation: Any) -> tuple[type, bool]:
    """The command-line type of a field (str, int, float or bool) and whether the value is JSON."""
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) is Annotated:
        inner = typing.get_args(inner)[0]
    if inner in _SCALARS:
        return inner, False
    if typing.get_origin(inner) is Literal or (isinstance(inner, type) and issubclass(inner, enum.Enum)):
        return str, False
    return str, True


def _choices(annotation: Any) -> list[str]:
    inner, _ = _unwrap(annotation)
    if typing.get_origin(inner) is Literal:
        return [str(v) for v in typing.get_args(inner)]
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return [str(m.value) for m in inner]
    return []


def _help(name: str, field: FieldInfo, is_json: bool) -> str:
    parts = [field.description or name.replace("_", " ")]
    choices = _choices(field.annotation)
    if choices:
        parts.append("One of: " + ", ".join(choices) + ".")
    if is_json:
        parts.append("JSON text or a .json file.")
    if field.is_required():
        parts.append("(required)")
    return " ".join(parts)


def _json_value(option: str, text: str) -> Any:
    p = Path(text)
    try:
        return json.loads(p.read_text(encoding="utf-8") if len(text) < 4096 and p.is_file() else text)
    except (OSError, ValueError) as exc:
        raise InvalidParameter(option.lstrip("-"), f"{option} is neither a JSON file nor JSON text: {exc}") from None


def make_command(analysis: Analysis):
    """The typer command function of an analysis: its signature built from the request model."""
    fields = analysis.request.model_fields
    params = [
        inspect.Parameter("store", inspect.Parameter.KEYWORD_ONLY, annotation=StoreOpt),
    ]
    json_fields: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, field in fields.items():
        key = field.alias or name
        option = "--" + key.replace("_", "-")
        typ, is_json = option_type(field.annotation)
        if is_json:
            json_fields[f"field_{name}"] = option
        names[f"field_{name}"] = key
        ann = Annotated[typ | None, typer.Option(option, help=_help(name, field, is_json), show_default=False)]  # type: ignore[valid-type]
        params.append(inspect.Parameter(f"field_{name}", inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=None))
    formats = analysis.formats()
    params += [
        inspect.Parameter(
            "out",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Path | None, typer.Option("--out", "-o", help="Write the result to this file.")],
            default=None,
        ),
        inspect.Parameter(
            "fmt",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[str, typer.Option("--format", "-f", help="Output format: " + ", ".join(formats))],
            default="json",
        ),
    ]

    def command(**kw: Any) -> None:
        from ..city import LocalCity

        try:
            request: dict[str, Any] = {}
            for pname, key in names.items():
                value = kw.get(pname)
                if value is None:
                    continue
                request[key] = _json_value(json_fields[pname], value) if pname in json_fields else value
            with LocalCity(kw["store"]) as city:
                req = analysis.parse(request)
                result = analysis.run(city, req)
                fmt = kw["fmt"].lower()
                body = (
                    json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=1) + "\n"
                    if fmt == "json"
                    else analysis.write(fmt, result, req)
                )
        except CIMError as exc:
            fail(exc)
        out: Path | None = kw["out"]
        if out is not None:
            if isinstance(body, bytes):
                out.write_bytes(body)
            else:
                out.write_text(body, encoding="utf-8")
            console.print(f"written: {out}")
        else:
            typer.echo(body, nl=False)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__name__ = "analyse_" + analysis.id.replace("-", "_")
    command.__doc__ = f"{analysis.title}: {analysis.description}"
    return command


def add_commands() -> None:
    """One ``cim analyse <id>`` command per registered analysis that has no hand-written one."""
    for analysis in analyses().values():
        if analysis.id in HAND_WRITTEN:
            continue
        analyse.command(analysis.id, help=f"{analysis.title}. {analysis.description}")(make_command(analysis))


add_commands()
