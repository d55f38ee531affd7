"""The test-only fault hook: off unless INVOICER_FAULT_INJECTION asks, and strict about it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.faults import ENVIRONMENT_VARIABLE, FaultPoint, KillOnVisit, hooks
from worker.settings import Settings


def test_no_hook_is_installed_when_the_variable_is_unset_or_empty() -> None:
    assert Settings().fault_injection == ""
    assert hooks("") == {}


def test_points_and_visits_are_read_from_the_variable() -> None:
    kills = hooks("kill-after-db-commit:3, kill-after-outbox-send:2")
    assert set(kills) == {FaultPoint.KILL_AFTER_DB_COMMIT, FaultPoint.KILL_AFTER_OUTBOX_SEND}
    db_commit = kills[FaultPoint.KILL_AFTER_DB_COMMIT]
    assert isinstance(db_commit, KillOnVisit)
    assert db_commit.visit == 3


async def test_the_hook_does_nothing_before_its_visit() -> None:
    hook = KillOnVisit(FaultPoint.KILL_AFTER_DB_COMMIT, visit=3)
    await hook()
    await hook([])
    assert hook.visits == 2  # the third visit would kill the process


@pytest.mark.parametrize(
    "spec", ["kill-after-db-commit", "kill-after-lunch:1", "kill-after-db-commit:0", "x:y"]
)
def test_a_malformed_spec_is_refused_with_the_variable_named(spec: str) -> None:
    with pytest.raises(ValueError, match=ENVIRONMENT_VARIABLE):
        hooks(spec)
    with pytest.raises(ValidationError, match=ENVIRONMENT_VARIABLE):  # at start, first
        Settings(fault_injection=spec)
