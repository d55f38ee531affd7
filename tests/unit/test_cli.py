"""The command line as a person uses it: its version, and schemas written where asked."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from worker.cli import main
from worker.schemas import render_schemas


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"invoicer {version('invoicer')}"


def test_schemas_are_written_to_the_directory_named(tmp_path: Path) -> None:
    assert main(["schemas", "--output", str(tmp_path / "out")]) == 0

    written = {path.name: path.read_text("utf-8") for path in (tmp_path / "out").iterdir()}
    assert written == render_schemas()
