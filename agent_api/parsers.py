"""The REST API's JSON parser: a body is refused with a 4xx in the API's error shape before it can cause a 500, or reach
the database in a form PostgreSQL refuses.

- larger than API_MAX_BODY_BYTES (API_MAX_PROPOSAL_BODY_BYTES for a proposal, which may carry the token's image):
  413 `too_large`, read no further than the limit;
- nested deeper than API_MAX_JSON_DEPTH: 400 `too_deep`. Python's json decoder recurses once per level, so a body of
  100 KB of `[` exhausts the stack (RecursionError, a 500); the depth is therefore found first by a flat scan of the
  text, which cannot recurse;
- NaN, Infinity, or a number beyond a float's range (1e400 would become inf): 400 `parse_error`;
- a NUL or a lone UTF-16 surrogate (`"\\u0000"`, `"\\ud800"`) in any string or key: 400 `parse_error`. PostgreSQL text
  cannot hold NUL, and a lone surrogate cannot be encoded as UTF-8, neither for the database nor for an error message
  that quotes it back.

It is not a subclass of DRF's JSONParser on purpose: DRF reads `request.body` for that class before calling it, which
raises Django's RequestDataTooBig above DATA_UPLOAD_MAX_MEMORY_SIZE instead of letting this parser answer 413.
"""

from __future__ import annotations

import json
import math
import re

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

# A JSON string (escapes included), or a bracket outside one. An unterminated string runs to the end of the text: were
# it not matched, the scan would try again from every later quote, and `"\"\"\"…` would take quadratic time.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
# Beyond any integer the API takes (2**256 has 78 digits), short of Python's own limit (4300 digits, a cryptic error).
_MAX_INTEGER_DIGITS = 100
# After decoding, a surrogate left in a str is a lone one: a valid pair has become one character.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class RequestBodyTooLarge(APIException):
    status_code = 413
    default_code = "too_large"

    def __init__(self, limit: int | None = None):
        super().__init__(f"The body is larger than {limit or settings.API_MAX_BODY_BYTES} bytes.")


class JsonTooDeep(ParseError):
    default_code = "too_deep"

    def __init__(self):
        super().__init__(f"The JSON is nested deeper than {settings.API_MAX_JSON_DEPTH} levels of arrays and objects.")


def json_nesting_exceeds(text: str, *, limit: int) -> bool:
    """Whether the arrays and objects in `text` nest deeper than `limit`, counted without parsing (brackets inside
    strings do not count). Stops at the first bracket past the limit."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        bracket = match.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif bracket in ("]", "}"):
            depth -= 1
    return False


def _refuse_constant(name: str):
    raise ParseError(f"{name} is not a JSON number.")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ParseError(f"The number {literal[:20]} is out of range.")
    return value


def _bounded_int(literal: str) -> int:
    if len(literal) > _MAX_INTEGER_DIGITS:
        raise ParseError(f"An integer has more than {_MAX_INTEGER_DIGITS} digits.")
    return int(literal)


def _has_unstorable_string(document) -> bool:
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE_CHARACTER.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value)
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def _declared_length(parser_context: dict) -> int:
    request = parser_context.get("request")
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0


class LimitedJSONParser(BaseParser):
    """application/json, within the limits above."""

    media_type = "application/json"
    renderer_class = JSONRenderer
    limit_setting = "API_MAX_BODY_BYTES"

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = getattr(settings, self.limit_setting)
        if _declared_length(parser_context) > limit:
            raise RequestBodyTooLarge(limit)
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise RequestBodyTooLarge(limit)
        # JSON is UTF-8 (RFC 8259 §8.1): a declared charset is ignored, so no exotic codec (idna, utf-7) runs on it.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError("The body is not valid UTF-8 text.") from exc
        if json_nesting_exceeds(text, limit=settings.API_MAX_JSON_DEPTH):
            raise JsonTooDeep()
        try:
            document = json.loads(
                text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if _has_unstorable_string(document):
            raise ParseError("A string contains a NUL character or a lone UTF-16 surrogate (\\u0000, \\ud800-\\udfff).")
        return document


class ProposalJSONParser(LimitedJSONParser):
    """A proposal's body: it may carry the token's image as a data URL (1 MiB of image is 1.4 MB of base64)."""

    limit_setting = "API_MAX_PROPOSAL_BODY_BYTES"
