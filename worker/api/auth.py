"""Bearer tokens (RFC 6750): every request but the OpenAPI document names one of
INVOICER_API_TOKENS, compared in constant time. A token may be limited to some sellers: the
request then reads only their invoices (docs/contract.md, "Read API")."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from worker.api.problems import problem_response
from worker.settings import ApiToken

REALM = 'Bearer realm="invoicer"'


@dataclass(frozen=True, slots=True)
class Scope:
    """The sellers whose invoices a request may read; None: every invoice."""

    sellers: frozenset[str] | None


_SCOPE = web.RequestKey("sellers", Scope)
"""The scope of the request's token."""


class Tokens:
    """The accepted tokens, kept as their sha256: compared at one length, in constant time."""

    def __init__(self, tokens: Iterable[ApiToken]) -> None:
        self._digests = tuple((_digest(token.token), Scope(token.sellers)) for token in tokens)

    def scope(self, token: str) -> Scope | None:
        """The scope of an accepted token; None when it is not accepted."""
        given = _digest(token)
        found: Scope | None = None
        for digest, scope in self._digests:  # every one, so the time does not tell which matched
            if hmac.compare_digest(given, digest):
                found = scope
        return found

    def accepts(self, token: str) -> bool:
        return self.scope(token) is not None


def _digest(token: str) -> bytes:
    # a header's bytes that are not UTF-8 come as lone surrogates: such a token is refused
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def unauthorized(request: web.Request, tokens: Tokens) -> web.Response | None:
    """The 401 for a request without an accepted token; None when it has one, whose scope
    the request then keeps (scope_of)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem_response(
            401,
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": REALM},
        )
    scope = tokens.scope(token.strip())
    if scope is None:
        return problem_response(
            401,
            "the bearer token is not accepted",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    request[_SCOPE] = scope
    return None


def scope_of(request: web.Request) -> frozenset[str] | None:
    """The sellers the request's token reads (None: every invoice). A request that was not
    authenticated reads nothing."""
    try:
        scope = request[_SCOPE]
    except KeyError:
        raise AssertionError("the request was not authenticated") from None
    return scope.sellers
