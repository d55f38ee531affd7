"""`invoicer api` refuses to start without tokens, or with a token that cannot be one (nor
its sellers): one line on standard error, exit code 2, and never a token's value."""

from __future__ import annotations

import subprocess

import pytest

from tests.faults.processes import environment_without_invoicer, invoicer_command
from worker.startup import EXIT_CODE


@pytest.mark.parametrize(
    ("tokens", "named"),
    [
        (None, "INVOICER_API_TOKENS is not set"),
        (" , ", "INVOICER_API_TOKENS is not set"),
        ("short-secret", "INVOICER_API_TOKENS is not valid"),
        ("a-long-enough-token-1234,has spaces in it !", "INVOICER_API_TOKENS is not valid"),
        ("a-long-enough-token-1234=", "INVOICER_API_TOKENS is not valid"),
        ("a-long-enough-token-1234=seller|not a seller", "INVOICER_API_TOKENS is not valid"),
        ("a-long-enough-token-1234|seller", "INVOICER_API_TOKENS is not valid"),
    ],
)
def test_the_api_refuses_to_start_without_tokens(tokens: str | None, named: str) -> None:
    environment = environment_without_invoicer()
    if tokens is not None:
        environment["INVOICER_API_TOKENS"] = tokens
    # a database nobody answers on: the tokens are checked before it is looked for
    environment["INVOICER_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:9/none"
    run = subprocess.run(
        [*invoicer_command(), "api"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == EXIT_CODE
    [line] = run.stderr.splitlines()
    assert line.startswith("invoicer: ") and named in line
    for token in (tokens or "").split(","):
        if token.strip():
            assert token.strip() not in run.stderr
            assert token.partition("=")[0].strip() not in run.stderr
