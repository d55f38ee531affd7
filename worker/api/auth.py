"""Bearer tokens (RFC 6750): every request but the OpenAPI document names one of
INVOICER_API_TOKENS, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from aiohttp import web

from worker.api.problems import problem_response

REALM = 'Bearer realm="invoicer"'


class Tokens:
    """The accepted tokens, kept as their sha256: compared at one length, in constant time."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = tuple(_digest(token) for token in tokens)

    def accepts(self, token: str) -> bool:
        given = _digest(token)
        accepted = False
        for digest in self._digests:  # every one, so the time does not tell which matched
            accepted |= hmac.compare_digest(given, digest)
        return accepted


def _digest(token: str) -> bytes:
    # a header's bytes that are not UTF-8 come as lone surrogates: such a token is refused
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def unauthorized(request: web.Request, tokens: Tokens) -> web.Response | None:
    """The 401 for a request without an accepted token; None when it has one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return problem_response(
            401,
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": REALM},
        )
    if not tokens.accepts(token.strip()):
        return problem_response(
            401,
            "the bearer token is not accepted",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    return None
