"""Code versions of cached results, derived from what the code imports.

A cached result is only as fresh as the code that computed it. :func:`code_fingerprint` hashes the
source of the given modules **and of every ``qmtl_utils`` module they import**, directly or
through others, at module level or inside a function (found by reading the source, nothing is
imported). Editing any module a stage's code can reach changes that stage's cache keys; editing
an unrelated module does not. Imports under ``if TYPE_CHECKING:`` are annotations only and do not
count.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from qmtl_utils import __version__

PACKAGE = "qmtl_utils"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def module_file(name: str) -> Path | None:
    """Source file of a ``qmtl_utils`` module or package by its dotted name (None if there is none)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = _PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Dotted names (modules, or ``module.attribute``) that ``tree`` imports."""
    found: set[str] = set()
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module or ""
            found.add(parent)
            found.update(f"{parent}.{alias.name}" for alias in node.names)
    return found


@lru_cache(maxsize=None)
def _direct_imports(name: str, path: Path, mtime_ns: int) -> frozenset[str]:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    out = set()
    for dotted in _imported_names(tree, name, path.name == "__init__.py"):
        for prefix in _prefixes(dotted):  # a module and the packages above it run on import
            if module_file(prefix) is not None:
                out.add(prefix)
    return frozenset(out)


def _source(module: ModuleType | str) -> tuple[str, Path]:
    if isinstance(module, ModuleType):
        name, spec = module.__name__, module.__spec__
    else:
        name = module
        path = module_file(module)
        if path is not None:
            return name, path
        spec = importlib.util.find_spec(module)
    origin = getattr(spec, "origin", None)
    if not origin or not Path(origin).is_file() or not origin.endswith(".py"):
        raise ValueError(f"module {name!r} has no source file to fingerprint")
    return name, Path(origin)


def import_closure(*modules: ModuleType | str) -> dict[str, Path]:
    """``{dotted name: source file}`` of ``modules`` and every ``qmtl_utils`` module they reach."""
    todo = [_source(m) for m in modules]
    seen: dict[str, Path] = {}
    while todo:
        name, path = todo.pop()
        if name in seen:
            continue
        seen[name] = path
        for imported in _direct_imports(name, path, path.stat().st_mtime_ns):
            if imported not in seen:
                todo.append((imported, module_file(imported)))
    return dict(sorted(seen.items()))


def source_imports(source: str) -> set[str]:
    """The ``qmtl_utils`` modules a piece of code (a notebook's cells) imports; IPython magics and
    shell lines (``%``, ``!``) are skipped."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    names = _imported_names(ast.parse(code), "__main__", False)
    return {m for dotted in names for m in _prefixes(dotted) if module_file(m) is not None}


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


def code_fingerprint(*modules: ModuleType | str) -> str:
    """First 16 hex chars of a sha256 over the source of the import closure of ``modules``
    (:func:`import_closure`) and ``qmtl_utils.__version__``.

    With no argument: over every ``*.py`` file of the ``qmtl_utils`` package.
    """
    if modules:
        sources = list(import_closure(*modules).items())
    else:
        sources = [(p.relative_to(_PACKAGE_DIR).as_posix(), p) for p in sorted(_PACKAGE_DIR.rglob("*.py"))]
    digest = hashlib.sha256(f"qmtl_utils {__version__}\n".encode())
    for name, path in sources:
        digest.update(f"\0{name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
