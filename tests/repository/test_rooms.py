"""Each kind of knowledge in one room (docs/architecture.md, "Layout"): the pure middle
imports nothing from the store, and no two classes of the worker share a name."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "worker"
PURE = ("domain", "handlers", "publishing", "batch.py", "decisions.py", "rows.py")
"""The rooms that decide and shape what goes out, as values: the store is around them."""
NOT_YET = {"PricedLine", "UnavailableDocument"}
"""worker/documents/content.py and render.py still share these with the domain and the
contract; they go when worker/documents is next changed."""


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


def shared_class_names(root: Path) -> dict[str, list[str]]:
    """Class names defined at the top of more than one module below `root`."""
    where: defaultdict[str, list[str]] = defaultdict(list)
    for path in sorted(root.glob("**/*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                where[node.name].append(str(path.relative_to(root)))
    return {name: paths for name, paths in where.items() if len(paths) > 1}


def test_the_pure_middle_imports_nothing_from_the_store() -> None:
    assert [found for path in modules(WORKER, PURE) for found in store_imports(path, ROOT)] == []


def test_no_two_classes_of_the_worker_share_a_name() -> None:
    assert set(shared_class_names(WORKER)) <= NOT_YET


def test_an_import_of_the_store_and_a_shared_class_name_are_found(tmp_path: Path) -> None:
    (tmp_path / "worker" / "domain").mkdir(parents=True)
    (tmp_path / "worker" / "domain" / "a.py").write_text(
        "from worker.store.outbox import OutboxMessage\nclass Invoice: ...\n"
    )
    (tmp_path / "worker" / "batch.py").write_text("from worker import store\nclass Invoice: ...\n")
    found = [
        f
        for p in modules(tmp_path / "worker", ("domain", "batch.py"))
        for f in store_imports(p, tmp_path)
    ]
    assert found == ["worker/batch.py:1", "worker/domain/a.py:1"]
    assert shared_class_names(tmp_path / "worker") == {"Invoice": ["batch.py", "domain/a.py"]}
