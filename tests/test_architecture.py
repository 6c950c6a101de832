"""The package layout is the architecture: each layer imports only layers below it (lazy imports included),
nothing imports in a cycle, and modules stay small enough to read. ``docs/architecture.md`` describes the
layers; this test keeps the code and that description in step."""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HARNESS = REPO_ROOT / "harness"
# Lowest first. A module may import its own package and any package listed before it.
LAYERS = (
    "base",
    "api",
    "metrics",
    "kit",
    "backends",
    "records",
    "distributed",
    "run",
    "merge",
    "analysis",
    "render",
    "cli",
)
BASE_MODULES = {"harness", "harness.errors", "harness.seeds", "harness.data"}
MAX_LINES = 420  # "modules around a few hundred lines" (STYLE.md); a module past this wants splitting


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every harness module ``path`` imports, at module level or inside a function."""
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "harness":
            for alias in node.names:  # ``from harness.cli import eval`` imports the module harness.cli.eval
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if _path_of(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "harness"}
    return found


def _path_of(module: str) -> Path | None:
    base = REPO_ROOT / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _layer(module: str) -> str:
    if module in BASE_MODULES:
        return "base"
    return module.split(".")[1]


def _graph() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in HARNESS.rglob("*.py")}


def test_every_module_belongs_to_a_layer() -> None:
    strays = [module for module in _graph() if _layer(module) not in LAYERS]
    assert not strays, f"modules outside the layers {LAYERS}: {strays} (add them to docs/architecture.md too)"


def test_layers_import_only_downwards() -> None:
    upward = []
    for module, imports in _graph().items():
        rank = LAYERS.index(_layer(module))
        for imported in imports:
            if LAYERS.index(_layer(imported)) > rank:
                upward.append(f"{module} -> {imported}")
    assert not upward, "imports from a higher layer: " + "; ".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, str] = {}
    cycles: list[str] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph.get(module, ())):
            if imported == module or imported not in graph:
                continue
            if state.get(imported) == "open":
                cycles.append(" -> ".join([*trail[trail.index(imported) :], imported]))
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    # A package's __init__ importing its own modules (and they the package) is how packages work; any other
    # cycle, between modules of one package too, is a real one.
    real = []
    for cycle in cycles:
        head, *rest = cycle.split(" -> ")
        package = (_path_of(head) or Path()).name == "__init__.py"
        if not (package and all(part == head or part.startswith(head + ".") for part in rest)):
            real.append(cycle)
    assert not real, "import cycles: " + "; ".join(real)


def test_modules_stay_small() -> None:
    long = {
        str(path.relative_to(REPO_ROOT)): count
        for path in [*HARNESS.rglob("*.py"), *(REPO_ROOT / "tasks").glob("*.py")]
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by concern): {long}"
