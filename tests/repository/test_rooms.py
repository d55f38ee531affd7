"""Each kind of knowledge in one room (docs/architecture.md, "Layout"): the pure middle
imports nothing from the store, and no two classes or top-level functions of the worker
share a name."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "worker"
PURE = ("domain", "handlers", "publishing", "batch.py", "decisions.py", "rows.py")
"""The rooms that decide and shape what goes out, as values: the store is around them."""
_SYNTAXES = "one EN 16931 group laid out in each syntax: cii.py, ubl.py (and pdf.py), privately"
SHARED_FUNCTION_NAMES = {
    "_address": _SYNTAXES,
    "_delivery": _SYNTAXES,
    "_lines": _SYNTAXES,
    "_party": _SYNTAXES,
}
"""The top-level functions that share a name, and why."""


def modules(root: Path, rooms: tuple[str, ...]) -> list[Path]:
    """The modules of the rooms (packages and single modules) below `root`."""
    return sorted(
        path
        for room in rooms
        for path in ([root / room] if room.endswith(".py") else (root / room).glob("**/*.py"))
        if path.is_file()
    )


def store_imports(path: Path, root: Path) -> list[str]:
    """The imports of worker.store in a module, as `path:line` from `root`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        if any(name == "worker.store" or name.startswith("worker.store.") for name in names):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def shared_names(root: Path, kinds: tuple[type[ast.stmt], ...]) -> dict[str, list[str]]:
    """Names of the `kinds` of definition (classes, functions) made at the top of more than
    one module below `root`."""
    where: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted(root.glob("**/*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, kinds):
                where[node.name].append(str(path.relative_to(root)))
    return {name: paths for name, paths in where.items() if len(paths) > 1}


CLASSES = (ast.ClassDef,)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def test_the_pure_middle_imports_nothing_from_the_store() -> None:
    assert [found for path in modules(WORKER, PURE) for found in store_imports(path, ROOT)] == []


def loaded_by(module_names: list[str], forbidden: tuple[str, ...]) -> list[str]:
    """The modules of `forbidden` (packages and what is below them) that importing
    `module_names` loads, in a fresh interpreter: through any chain of imports."""
    program = (
        "import importlib, sys\n"
        f"for name in {module_names!r}: importlib.import_module(name)\n"
        f"print('\\n'.join(sorted(n for n in sys.modules if n.split('.')[0] in {forbidden!r}"
        f" or n == 'worker.store' or n.startswith('worker.store.'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_the_pure_middle_loads_neither_the_store_nor_a_database_driver() -> None:
    names = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in modules(WORKER, PURE)
    ]
    assert loaded_by(names, ("asyncpg",)) == []


def test_the_store_and_its_driver_are_seen_through_any_chain() -> None:
    assert loaded_by(["worker.running"], ("asyncpg",))[:1] == ["asyncpg"]


def test_no_two_classes_of_the_worker_share_a_name() -> None:
    assert shared_names(WORKER, CLASSES) == {}


def test_no_two_functions_of_the_worker_share_a_name_but_those_listed_with_a_reason() -> None:
    assert set(shared_names(WORKER, FUNCTIONS)) == set(SHARED_FUNCTION_NAMES)


def test_an_import_of_the_store_and_a_shared_name_are_found(tmp_path: Path) -> None:
    (tmp_path / "worker" / "domain").mkdir(parents=True)
    (tmp_path / "worker" / "domain" / "a.py").write_text(
        "from worker.store.outbox import OutboxMessage\nclass Invoice: ...\ndef refusal(): ...\n"
    )
    (tmp_path / "worker" / "batch.py").write_text(
        "from worker import store\nclass Invoice: ...\nasync def refusal(): ...\n"
    )
    found = [
        f
        for p in modules(tmp_path / "worker", ("domain", "batch.py"))
        for f in store_imports(p, tmp_path)
    ]
    assert found == ["worker/batch.py:1", "worker/domain/a.py:1"]
    assert shared_names(tmp_path / "worker", CLASSES) == {"Invoice": ["batch.py", "domain/a.py"]}
    assert shared_names(tmp_path / "worker", FUNCTIONS) == {"refusal": ["batch.py", "domain/a.py"]}
