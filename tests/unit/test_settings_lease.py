"""The render lease's margin: one a busy machine's store could outlast would have its jobs
rendered again and again, so it is refused at start, naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from worker.settings import Settings


@pytest.mark.parametrize("seconds", [0, 1, 4.9])
def test_a_lease_margin_under_five_seconds_is_refused(seconds: float) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({"render_lease_margin_seconds": seconds})
    assert [error["loc"] for error in refused.value.errors()] == [("render_lease_margin_seconds",)]


def test_the_lease_margin_is_twenty_seconds_unless_set() -> None:
    assert Settings().render_lease_margin_seconds == 20
    assert (
        Settings.model_validate({"render_lease_margin_seconds": 5}).render_lease_margin_seconds == 5
    )
