"""INVOICER_API_TOKENS (docs/contract.md, "Read API"): each entry is `token` (every seller)
or `token=sellerA|sellerB` (only those). A token holding `=`, `,` or `|` beyond that, an
empty list of sellers, or a seller that is no seller id is refused at start, naming the
variable and never a token; a scoped token's sellers reach the read API's check."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from worker.api.auth import Scope, Tokens
from worker.settings import ApiToken, Settings
from worker.startup import invalid_settings

TOKEN = "a-long-enough-token-1234"
OTHER = "another-token-abcdefgh"


def _tokens(text: str) -> tuple[ApiToken, ...]:
    return Settings(api_tokens=SecretStr(text)).api_bearer_tokens


def test_a_token_alone_reads_every_seller_and_one_with_sellers_only_those() -> None:
    assert _tokens(f" {TOKEN} , {OTHER}=seller-a|Seller_B.2 ,x-token-0123456789abc= one ") == (
        ApiToken(TOKEN),
        ApiToken(OTHER, frozenset({"seller-a", "Seller_B.2"})),
        ApiToken("x-token-0123456789abc", frozenset({"one"})),
    )
    assert _tokens(f"{TOKEN}={'s' * 64}") == (ApiToken(TOKEN, frozenset({"s" * 64})),)
    assert _tokens(f"{TOKEN}=a,{TOKEN}=a") == (ApiToken(TOKEN, frozenset({"a"})),) * 2


@pytest.mark.parametrize(
    "entry",
    [
        f"{TOKEN}=",  # an empty list of sellers (an RFC 6750 padding was accepted before)
        f"{TOKEN}==",
        f"{TOKEN}=|",
        f"{TOKEN}=a||b",
        f"{TOKEN}=a|",
        f"{TOKEN}=a=b",
        f"{TOKEN}=seller a",
        f"{TOKEN}=seller/a",
        f"{TOKEN}={'s' * 65}",
        f"{TOKEN}|a",
        f"{TOKEN}=a,{TOKEN}=b",  # one token, two scopes
        f"{TOKEN},{TOKEN}=a",
        "=a",
        "short=a",
    ],
)
def test_a_malformed_entry_is_refused_naming_the_variable_not_the_token(entry: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(api_tokens=SecretStr(f"{OTHER},{entry}"))

    message = str(invalid_settings(raised.value))

    assert message.startswith("INVOICER_API_TOKENS is not valid: "), message
    assert TOKEN not in message and OTHER not in message


def test_the_check_gives_an_accepted_token_its_scope() -> None:
    tokens = Tokens(_tokens(f"{TOKEN},{OTHER}=a|b"))

    assert tokens.scope(TOKEN) == Scope(None)
    assert tokens.scope(OTHER) == Scope(frozenset({"a", "b"}))
    assert tokens.scope(f"{OTHER}=a|b") is None
    assert tokens.scope("unknown-token-0123456789") is None
    assert tokens.accepts(OTHER) and not tokens.accepts(f"{OTHER}=a")
