"""A request's parameters are text (docs/contract.md, "The door"): every path and query
parameter, as the client sent it (percent-encoded UTF-8), and every header parameter must
decode to text the contract's text rule accepts. Checked on the request target as it came,
before aiohttp's lenient decoding (which keeps a bad escape as it is and turns bytes that are
not UTF-8 into U+FFFD)."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from worker.api.problems import BadParameter
from worker.messages.text import escaped, shorten, text_refusal

MAX_NAME_CHARACTERS = 64
"""Of a parameter's name in a problem: the client chose it (as a record its error keys)."""
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class _NotText(ValueError):
    pass


def check_target(path: str, query: str, route: str) -> None:
    """BadParameter naming the first path or query parameter that is not text, of a request
    target's path and query string as sent (`/v1/invoices/…`, `…&…`), matched to `route`
    (its template)."""
    for template, raw in zip(route.split("/"), path.split("/"), strict=False):
        if template.startswith("{"):
            name = template[1:-1].partition(":")[0]
            try:
                _decoded(raw, form=False)
            except _NotText as problem:
                raise BadParameter(name, str(problem)) from None
    for pair in query.split("&"):
        raw_name, _, raw_value = pair.partition("=")
        try:
            name = _decoded(raw_name, form=True)
        except _NotText as problem:
            raise BadParameter(parameter_name(_lenient(raw_name)), f"its name {problem}") from None
        try:
            _decoded(raw_value, form=True)
        except _NotText as problem:
            raise BadParameter(parameter_name(name), str(problem)) from None


def check_header(name: str, value: str | None) -> None:
    """BadParameter naming the header when its value is not text (aiohttp hands over bytes
    that are not UTF-8 as lone surrogates, which the rule refuses)."""
    if value is not None and (problem := text_refusal(value)) is not None:
        raise BadParameter(name, problem)


def parameter_name(text: str) -> str:
    """A parameter's name as a problem names it: printable, at most 64 characters."""
    return shorten(escaped(text), MAX_NAME_CHARACTERS)


def _decoded(raw: str, *, form: bool) -> str:
    """`raw` percent-decoded (`+` a space in the query, as in a form); _NotText when it is
    not text."""
    if _BAD_ESCAPE.search(raw):
        raise _NotText("must not hold a % that starts no escape (%XX); send % as %25")
    try:
        text = unquote_to_bytes(raw.replace("+", " ") if form else raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _NotText("must be UTF-8 once percent-decoded") from None
    if (problem := text_refusal(text)) is not None:
        raise _NotText(problem)
    return text


def _lenient(raw: str) -> str:
    return unquote_to_bytes(raw.replace("+", " ")).decode("utf-8", "backslashreplace")
