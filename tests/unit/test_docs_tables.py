"""The settings table names, for every setting, the environment variable pydantic-settings
reads it from: whatever the groups, their prefixes (none too) and the fields' aliases; the
metrics table every metric of the package."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st
from pydantic import AliasChoices, Field, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

import worker
from worker.docs_tables import metrics_table, settings_table

PREFIXES = st.sampled_from(["APP_", "", "APP_GROUP_"])
NAMES = ["city", "port", "level", "mode"]
ALIASES = st.one_of(st.none(), st.sampled_from(["PLAIN", "OTHER_NAME", "APP_SPELT_OUT"]))


def _spelt(alias: str | None, name: str) -> st.SearchStrategy[str | AliasChoices | None]:
    """No alias, an alias, or that alias first of several."""
    if alias is None:
        return st.none()
    return st.sampled_from([f"{alias}_{name}", AliasChoices(f"{alias}_{name}", f"ALSO_{name}")])


@st.composite
def settings_models(draw: st.DrawFn, depth: int = 0) -> type[BaseSettings]:
    """A settings class of a few text fields, some aliased, and maybe a group of its own."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    fields: dict[str, Any] = {
        name: (
            str,
            Field(
                default="unset",
                description=f"The {name}.",
                validation_alias=draw(ALIASES.flatmap(lambda alias, n=name: _spelt(alias, n))),
            ),
        )
        for name in names
    }
    if depth == 0 and draw(st.booleans()):
        group = draw(settings_models(depth=1))
        fields["group"] = (group, Field(default_factory=group, description="A group."))
    base = type(
        f"Base{depth}",
        (BaseSettings,),
        {"model_config": SettingsConfigDict(env_prefix=draw(PREFIXES)), "__module__": __name__},
    )
    return create_model(f"Generated{depth}", __base__=base, **fields)


def _rows(table: str) -> list[tuple[str, str]]:
    return re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", table, re.MULTILINE)


@given(settings_models())
def test_every_variable_the_table_names_sets_its_field(model: type[BaseSettings]) -> None:
    rows = _rows(settings_table(model))
    assert rows
    for variable, field in rows:
        with mock.patch.dict(os.environ, {variable: "read"}):
            value: Any = model()
            for step in field.split("."):
                value = getattr(value, step)

        assert value == "read", (variable, field)


def test_the_metrics_table_names_the_metrics_of_every_module() -> None:
    """A metric registered in a module neither the worker nor the read API imports at start
    would be missing from the table: none is."""
    listed = metrics_table()
    for module in pkgutil.walk_packages(worker.__path__, "worker."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    assert metrics_table() == listed
