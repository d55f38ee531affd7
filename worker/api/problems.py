"""Errors as RFC 9457 problem details (`application/problem+json`)."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from pydantic import BaseModel, ConfigDict

MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """What went wrong (RFC 9457); `parameter` names the request parameter at fault."""

    model_config = ConfigDict(frozen=True)

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    parameter: str | None = None


class BadParameter(Exception):
    """A request parameter that cannot be used: a 400 naming it."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


def problem_response(
    status: int,
    detail: str,
    *,
    parameter: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """With type about:blank, the title is the status's phrase (RFC 9457, 4.2.1)."""
    body = Problem(
        title=HTTPStatus(status).phrase, status=status, detail=detail, parameter=parameter
    )
    return web.Response(
        status=status,
        text=body.model_dump_json(exclude_none=True),
        content_type=MEDIA_TYPE,
        headers=headers,
    )
