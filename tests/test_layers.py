"""Imports run one way through gan_studio: no cycles, no import from a lower layer to a higher one.

The layers, lowest first (docs/architecture.md explains them). A module may import modules of its
own layer or of lower ones. Every import counts, at module level or inside a function; only imports
under ``if TYPE_CHECKING:`` (annotations, never executed) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gan_studio"

# module-name prefix -> layer; the longest matching prefix decides
LAYERS: dict[str, int] = {
    "gan_studio._version": 0, "gan_studio.errors": 0, "gan_studio.contract": 0, "gan_studio.memory": 0,
    "gan_studio.device": 0, "gan_studio.paths": 0, "gan_studio.data": 0, "gan_studio.image_io": 0, "gan_studio.metadata": 0,
    "gan_studio.weights": 1, "gan_studio.network_pickle": 1, "gan_studio.hub": 1, "gan_studio.folder": 1,
    "gan_studio.fastai_pickle": 1, "gan_studio.credentials": 1,
    "gan_studio.architectures": 2, "gan_studio.convert": 2,
    "gan_studio.registry": 3,
    "gan_studio.runtime": 4, "gan_studio.perceptual": 4, "gan_studio.batching": 4, "gan_studio.models": 4,
    "gan_studio.pipelines": 5,
    "gan_studio.studio": 6,
    "gan_studio.evaluation": 7, "gan_studio.compare": 7, "gan_studio.training": 7,
    "gan_studio.datasets": 7,
    "gan_studio.cli": 8, "gan_studio.app": 8, "gan_studio.__main__": 8, "gan_studio.ui": 8,
    "gan_studio": 9,  # the package's public API (gan_studio/__init__.py) may use anything
}
LAYER_NAMES = ["core (errors, contract, memory, data, image_io, metadata)", "io (weights, hub, folder, credentials)",
               "architectures, convert", "registry", "models, runtime, batching", "pipelines", "studio",
               "evaluation, compare, training, datasets", "cli, ui", "the package API"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: str) -> set[str]:
    """The gan_studio modules ``module`` imports (resolved to the module, not the name in it)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("gan_studio"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base_parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(base_parts + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                if base.startswith("gan_studio"):
                    for alias in child.names:
                        sub = f"{base}.{alias.name}"
                        found.add(sub if sub in MODULES else base)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(module)
    return {m for m in found if m in MODULES}


GRAPH: dict[str, set[str]] = {m: imports_of(m) for m in MODULES}


def test_the_walker_sees_the_package() -> None:
    assert {"gan_studio.registry", "gan_studio.pipelines.generation", "gan_studio.ui"} <= set(MODULES)
    assert "gan_studio.registry" in GRAPH["gan_studio.models"]
    assert "gan_studio.contract" in GRAPH["gan_studio.architectures.dcgan"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_up_a_layer(module: str) -> None:
    upward = sorted(f"{dep} ({LAYER_NAMES[layer_of(dep)]})" for dep in GRAPH[module]
                    if layer_of(dep) > layer_of(module))
    assert not upward, f"{module} ({LAYER_NAMES[layer_of(module)]}) imports from higher layers: {upward}"


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH[node]):
            if dep.startswith(node + ".") or node.startswith(dep + "."):
                continue  # a package and its own submodules (``__init__`` re-exports) are not a cycle
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_a_private_name_is_never_imported_from_another_module() -> None:
    offenders = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("gan_studio")):
                offenders += [f"{module}: {a.name}" for a in node.names
                              if a.name.startswith("_") and a.name not in ("__version__",)]
    assert not offenders, offenders
