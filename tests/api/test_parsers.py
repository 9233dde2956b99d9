"""agent_api.parsers.LimitedJSONParser on its own: the limits, and what it refuses before json or PostgreSQL would."""

from __future__ import annotations

import io
import time

import pytest
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError

from agent_api.errors import api_exception_handler
from agent_api.parsers import JsonTooDeep, LimitedJSONParser, RequestBodyTooLarge, json_nesting_exceeds


class _Request:
    """Just what the parser reads of a request: its declared Content-Length."""

    def __init__(self, length: int):
        self.META = {"CONTENT_LENGTH": str(length)}


def parse(body: bytes, *, encoding: str = "utf-8"):
    context = {"request": _Request(len(body)), "encoding": encoding}
    return LimitedJSONParser().parse(io.BytesIO(body), "application/json", context)


def parse_error_of(body: bytes) -> ParseError:
    with pytest.raises(ParseError) as caught:
        parse(body)
    return caught.value


def test_an_ordinary_body_parses_as_json():
    assert parse(b'{"name": "Pool \\u00e9 \\ud83d\\ude00", "fee_bps": 100, "events": ["a"], "x": 1.5}') == {
        "name": "Pool é 😀",
        "fee_bps": 100,
        "events": ["a"],
        "x": 1.5,
    }


def test_nesting_up_to_the_limit_parses_and_one_more_level_is_too_deep(settings):
    settings.API_MAX_JSON_DEPTH = 32

    assert parse(b"[" * 32 + b"]" * 32) == [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
    with pytest.raises(JsonTooDeep) as caught:
        parse(b"[" * 33 + b"]" * 33)
    assert caught.value.get_codes() == "too_deep"
    assert "32" in str(caught.value.detail)


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"a":' * 100_000, b'{"a": [' * 50_000, b"[" * 5_000 + b"]" * 5_000],
    ids=["arrays", "objects", "mixed", "balanced"],
)
def test_deep_nesting_is_too_deep_not_a_recursion_error(settings, body):
    settings.API_MAX_BODY_BYTES = 10**6

    with pytest.raises(JsonTooDeep):
        parse(body)


def test_a_million_brackets_are_counted_without_recursion():
    assert json_nesting_exceeds("[" * 1_000_000, limit=32)
    assert not json_nesting_exceeds("[]" * 500_000, limit=32)


def test_brackets_inside_strings_do_not_count():
    text = '{"a": "' + "[" * 1000 + '", "b": "\\"{{{{\\\\", "c": [1]}'

    assert not json_nesting_exceeds(text, limit=2)
    assert parse(text.encode())["a"] == "[" * 1000


def test_an_unterminated_string_runs_to_the_end_and_is_a_parse_error():
    assert not json_nesting_exceeds('["' + "[" * 1000, limit=2)  # the string runs to the end of the text

    assert parse_error_of(('["' + "[" * 1000).encode()).get_codes() == "parse_error"


def test_the_scan_takes_linear_time_on_many_unterminated_strings(settings):
    # Each quote starts a string that never ends; a scan that retried from every one would take minutes.
    text = '"' + '\\"' * ((settings.API_MAX_BODY_BYTES - 1) // 2)
    started = time.perf_counter()

    assert not json_nesting_exceeds(text, limit=32)
    assert time.perf_counter() - started < 2


def test_a_body_over_the_size_limit_is_too_large_without_being_read(settings):
    settings.API_MAX_BODY_BYTES = 100
    stream = io.BytesIO(b"[" + b"1," * 100 + b"1]")

    with pytest.raises(RequestBodyTooLarge) as caught:
        LimitedJSONParser().parse(stream, "application/json", {"request": _Request(len(stream.getvalue()))})

    assert caught.value.status_code == 413
    assert caught.value.get_codes() == "too_large"
    assert "100 bytes" in str(caught.value.detail)
    assert stream.tell() == 0


def test_a_body_longer_than_its_declared_length_is_read_only_up_to_the_limit(settings):
    settings.API_MAX_BODY_BYTES = 100
    stream = io.BytesIO(b'"' + b"a" * 10_000 + b'"')

    with pytest.raises(RequestBodyTooLarge):
        LimitedJSONParser().parse(stream, "application/json", {"request": _Request(10)})

    assert stream.tell() == 101


def test_a_body_at_the_size_limit_parses(settings):
    settings.API_MAX_BODY_BYTES = 100

    assert parse(b'"' + b"a" * 98 + b'"') == "a" * 98


@pytest.mark.parametrize(
    "body",
    [b'{"a": "x\\u0000y"}', b'{"a\\u0000": 1}', b'{"a": "\\ud800"}', b'{"a": ["\\udfff"]}', b'{"\\udc00": 1}'],
    ids=["nul", "nul-in-key", "high-surrogate", "low-surrogate-in-list", "surrogate-key"],
)
def test_nul_and_lone_surrogates_are_refused_anywhere(body):
    error = parse_error_of(body)

    assert error.get_codes() == "parse_error"
    assert "NUL" in str(error.detail)


@pytest.mark.parametrize(
    "body", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}', b'{"a": -1e400}']
)
def test_nan_infinity_and_numbers_beyond_a_float_are_refused(body):
    assert parse_error_of(body).get_codes() == "parse_error"


def test_an_integer_of_more_than_100_digits_is_refused_with_a_plain_message():
    assert parse(b"[" + str(2**256).encode() + b"]") == [2**256]

    assert "more than 100 digits" in str(parse_error_of(b"[" + b"9" * 5_000 + b"]").detail)


@pytest.mark.parametrize("body", [b'{"a": "\xff"}', b"\xef\xbb\xbf{}", b"{", b"", b"   "])
def test_bytes_that_are_not_utf_8_json_are_a_parse_error(body):
    assert parse_error_of(body).get_codes() == "parse_error"


@pytest.mark.parametrize("encoding", ["latin-1", "idna", "utf-7", "no-such-charset"])
def test_json_is_read_as_utf_8_whatever_charset_is_declared(encoding):
    """RFC 8259: JSON is UTF-8. A declared codec never runs on the body (idna raised a bare UnicodeError: a 500)."""
    assert parse('{"a": "é"}'.encode(), encoding=encoding) == {"a": "é"}
    assert parse(b'{"a": ".xn--zz"}', encoding=encoding) == {"a": ".xn--zz"}

    with pytest.raises(ParseError):
        parse(b'"\xe9"', encoding=encoding)  # latin-1 bytes are not UTF-8


def test_django_s_own_body_limit_met_in_a_view_is_a_413_in_the_error_shape(settings):
    response = api_exception_handler(RequestDataTooBig("Request body exceeded"), {})

    assert response.status_code == 413
    assert response.data["error"]["code"] == "too_large"
    assert str(settings.API_MAX_BODY_BYTES) in response.data["error"]["message"]
