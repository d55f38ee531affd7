"""The command line as a person uses it: its version, schemas written where asked, and
arguments mistyped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import pytest

from worker.arguments import moment
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


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["dead-letters", "list", "--since", "yesterday"], "is not a date or time"),
        (["dead-letters", "replay", "--all", "--limit", "0"], "must be at least 1"),
        (["dead-letters", "list", "--limit", "ten"], "is not a whole number"),
        (["outbox", "parked", "--limit", "-1"], "must be at least 1"),
        (["outbox", "unpark", "--id", "x"], "invalid int value"),
    ],
)
def test_a_mistyped_argument_is_refused_with_what_is_expected(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


def test_a_time_without_an_offset_is_utc() -> None:
    assert moment("2026-12-07T09:30") == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert moment("2026-12-07") == datetime(2026, 12, 7, tzinfo=UTC)
    assert moment("2026-12-07T10:30+01:00") == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def test_a_dunning_run_as_of_a_day_after_today_is_refused_unless_dry_or_allowed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before anything is opened: no database is reachable here."""
    monkeypatch.setenv("INVOICER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    tomorrow = datetime.now(UTC).date() + timedelta(days=2)

    assert main(["dunning", "run", "--as-of", str(tomorrow)]) == 2

    refused = capsys.readouterr().err
    assert refused.count("\n") == 1
    assert "--as-of" in refused and "--dry-run" in refused and "--allow-future" in refused
