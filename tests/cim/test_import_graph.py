"""The library's import graph: no module under ``cim/`` imports ``api``, ``tiles`` or ``sample_city`` (``cim/cli``
may), and the module-level imports between ``cim`` modules have no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CIM = ROOT / "cim"
SERVER_SIDE = ("api", "tiles", "sample_city")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Modules imported by ``path`` (``from x import y`` counts ``x.y`` when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mod, is_pkg = _module(path), path.name == "__init__.py"
    nodes: list[ast.AST] = []
    if top_level_only:
        for n in tree.body:  # module level, without `if TYPE_CHECKING:` blocks
            if isinstance(n, ast.Import | ast.ImportFrom):
                nodes.append(n)
            elif isinstance(n, ast.Try):
                nodes += [m for m in n.body if isinstance(m, ast.Import | ast.ImportFrom)]
    else:
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    out: set[str] = set()
    for n in nodes:
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
        else:
            target = _resolve(mod, is_pkg, n)
            out.add(target)
            out |= {f"{target}.{a.name}" for a in n.names}
    return out


def _files() -> list[Path]:
    return sorted(p for p in CIM.rglob("*.py") if "__pycache__" not in p.parts)


def test_library_never_imports_the_server_side():
    bad = []
    for path in _files():
        if "cli" in path.relative_to(CIM).parts:
            continue
        for name in _imports(path, top_level_only=False):
            if name.split(".")[0] in SERVER_SIDE:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, bad


def test_no_import_cycle_between_library_modules():
    modules = {_module(p): p for p in _files()}
    graph = {
        m: sorted(
            {t for t in _imports(p, top_level_only=True) if t in modules and t != m and not m.startswith(t + ".")}
        )
        for m, p in modules.items()
    }
    # a package's __init__ importing its own submodules is how packages are built, not a cycle
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                visit(t, [*stack, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, cycles
    assert {"cim.city.base", "cim.city.params", "cim.gltf"} <= set(graph["cim.city.remote"])  # edges are seen
    assert "cim.city.local" not in graph["cim.city.remote"] and "cim.city.remote" not in graph["cim.city.local"]
    # and a cycle is found when there is one
    graph["cim.gltf"] = ["cim.city.remote"]
    state.clear()
    visit("cim.city.remote", ["cim.city.remote"])
    assert cycles
