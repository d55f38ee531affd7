"""docs/architecture.md's recipes are true: every file a step names exists and holds the
names the step gives it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
RECIPES = ("A new command", "A new outgoing event", "A new document format", "A new tax rule")
_STEP = re.compile(r"^\d+\. (.*?)(?=^\d+\. |\Z)", re.M | re.S)
_NAMED = re.compile(r"`([\w./-]+)`(?:\s+\(([^)]*)\))?")


def recipe_steps(text: str, title: str) -> list[str]:
    """The numbered steps of the recipe under `### title`."""
    start = text.index(f"### {title}\n")
    end = min(i for i in (text.find("\n## ", start), text.find("\n### ", start + 1)) if i > 0)
    return _STEP.findall(text[start:end])


def named_files(step: str) -> list[tuple[str, list[str]]]:
    """(path, names) of each file a step names: `path` (`Name`, `Name`)."""
    return [
        (path, re.findall(r"`([\w-]+)`", names or ""))
        for path, names in _NAMED.findall(step)
        if "/" in path
    ]


def missing(root: Path, path: str, names: list[str]) -> list[str]:
    """What a step names that is not there: the file itself, or names not in it."""
    target = root / path
    if not target.exists():
        return [path]
    if target.is_dir():
        return []
    text = target.read_text()
    return [f"{path}: {name}" for name in names if not re.search(rf"\b{re.escape(name)}\b", text)]


@pytest.mark.parametrize("title", RECIPES)
def test_every_file_and_name_a_recipe_names_is_there(title: str) -> None:
    steps = recipe_steps(ARCHITECTURE.read_text(), title)
    assert len(steps) >= 3, f"{title}: a recipe of {len(steps)} steps"
    named = [file for step in steps for file in named_files(step)]
    assert all(names for path, names in named if not path.endswith("/")), named
    assert [gap for path, names in named for gap in missing(ROOT, path, names)] == []


def test_a_file_or_a_name_that_is_not_there_is_found(tmp_path: Path) -> None:
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "routing.py").write_text("OUTGOING = {}\n")
    step = "`worker/routing.py` (`OUTGOING`, `INCOMING`) and `worker/gone.py` (`X`)."
    gaps = [gap for path, names in named_files(step) for gap in missing(tmp_path, path, names)]
    assert gaps == ["worker/routing.py: INCOMING", "worker/gone.py"]


def transaction_openers(root: Path) -> list[str]:
    """The modules below `root` that begin a transaction themselves."""
    return sorted(
        str(path.relative_to(root))
        for path in root.glob("**/*.py")
        if re.search(r"\.transaction\(", path.read_text())
    )


def test_one_module_begins_transactions() -> None:
    assert transaction_openers(ROOT / "worker") == ["store/transactions.py"]


def test_a_transaction_begun_elsewhere_is_found(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "transactions.py").write_text("c.transaction()\n")
    (tmp_path / "scan.py").write_text("async with connection.transaction():\n    pass\n")
    assert transaction_openers(tmp_path) == ["scan.py", "store/transactions.py"]
