"""RFC 4475 torture messages against the SIP parser, plus fuzzing around them.

Vectors and their expected verdicts live in ``tests/vectors/rfc4475`` (see its README): each
message is either accepted (``parse_message`` and, for requests, ``validate_request`` succeed and
return the right method/status and Call-ID), rejected (one of them raises ``SipSyntaxError``
carrying a 4xx/5xx status), or either of the two where RFC 4475 lets a liberal element accept it.
Whatever the input, nothing but ``SipSyntaxError`` may ever escape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.message import Request, Response, parse_message, validate_request

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "rfc4475"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (VECTORS / "expected.json").read_text(encoding="utf-8")
)
NAMES = sorted(EXPECTED)
ACCEPTED = [name for name in NAMES if EXPECTED[name]["expect"] == "accept"]
REJECTED = [name for name in NAMES if EXPECTED[name]["expect"] == "reject"]
EITHER = [name for name in NAMES if EXPECTED[name]["expect"] == "either"]
# Statuses that validate_request is specified to use (505 unsupported version, 416 scheme).
EXACT_STATUSES = {416, 505}


def load(name: str) -> bytes:
    return (VECTORS / f"{name}.dat").read_bytes()


def check(data: bytes) -> Request | Response:
    """Parse, then validate requests: what a UAS does with every datagram."""
    message = parse_message(data)
    if isinstance(message, Request):
        validate_request(message)
    return message


def assert_error_status(error: SipSyntaxError) -> None:
    assert isinstance(error.status, int)
    assert 400 <= error.status <= 599, f"status {error.status} is not 4xx/5xx ({error.reason})"
    assert isinstance(error.reason, str)


def assert_identity(name: str, message: Request | Response) -> None:
    expected = EXPECTED[name]
    if expected["kind"] == "request":
        assert isinstance(message, Request), f"{name}: parsed as {type(message).__name__}"
        assert message.method == expected["method"]
    else:
        assert isinstance(message, Response), f"{name}: parsed as {type(message).__name__}"
        assert message.status == expected["status"]
        assert isinstance(message.reason, str)
    call_id = message.headers.get("Call-ID")
    assert call_id is not None, f"{name}: no Call-ID"
    assert call_id.strip() == expected["call_id"]
    # The compact form "i" must resolve to the same field.
    assert message.headers.get("i") == call_id
    assert message.headers.get("call-id") == call_id


def test_vector_set_is_complete() -> None:
    on_disk = {path.stem for path in VECTORS.glob("*.dat")}
    assert on_disk == set(EXPECTED)
    assert len(on_disk) >= 49
    for name, entry in EXPECTED.items():
        assert entry["expect"] in ("accept", "reject", "either"), name
        assert entry["kind"] in ("request", "response"), name
        assert entry["section"].startswith("3."), name


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_vectors(name: str) -> None:
    message = check(load(name))
    assert_identity(name, message)


@pytest.mark.parametrize("name", REJECTED)
def test_rejected_vectors(name: str) -> None:
    with pytest.raises(SipSyntaxError) as caught:
        check(load(name))
    assert_error_status(caught.value)
    expected_status = EXPECTED[name].get("reject_status")
    if expected_status in EXACT_STATUSES:
        assert caught.value.status == expected_status, caught.value.reason


@pytest.mark.parametrize("name", EITHER)
def test_liberal_vectors(name: str) -> None:
    """Accepting or rejecting is allowed; if accepted, the message must be read right."""
    entry = EXPECTED[name]
    if entry.get("must_parse"):
        message = parse_message(load(name))
        assert isinstance(message, Request)
        assert message.method == entry["method"]
    try:
        message = check(load(name))
    except SipSyntaxError as error:
        assert_error_status(error)
    else:
        assert_identity(name, message)


def test_escaped_nulls_stay_in_the_uri() -> None:
    message = check(load("escnull"))
    assert isinstance(message, Request)
    assert message.uri == "sip:example.com"
    assert "%00" in (message.headers.get("To") or "")


def test_semicolon_in_user_part() -> None:
    message = check(load("semiuri"))
    assert isinstance(message, Request)
    assert message.uri == "sip:user;par=u%40example.net@example.com"


def test_escaped_method_is_not_register() -> None:
    message = check(load("esc02"))
    assert isinstance(message, Request)
    assert message.method == "RE%47IST%45R"
    # "C%6Fntact" is an unknown header, not a Contact: two Contact values, not three.
    contacts = [value for name, value in message.headers if name.lower() == "contact"]
    assert len(contacts) == 2


def test_trailing_datagram_octets_are_ignored() -> None:
    message = check(load("dblreq"))
    assert isinstance(message, Request)
    assert message.method == "REGISTER"
    assert message.body == b""


def test_bodies_are_cut_at_content_length() -> None:
    for name, length in (("wsinv", 150), ("esc01", 150), ("longreq", 150), ("mpart01", 553)):
        message = check(load(name))
        assert len(message.body) == length, name
    binary = check(load("mpart01")).body
    assert b"\x00" in binary and b"\n" in binary.replace(b"\r\n", b"")


def test_folded_and_mixed_case_headers() -> None:
    message = check(load("wsinv"))
    assert isinstance(message, Request)
    assert message.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert (message.headers.get("max-forwards") or "").strip() == "0068"
    cseq = " ".join((message.headers.get("CSeq") or "").split())
    assert cseq == "0009 INVITE"
    assert "continued newfangled value" in (message.headers.get("NewFangledHeader") or "")


def test_empty_and_utf8_reason_phrases() -> None:
    empty = parse_message(load("noreason"))
    assert isinstance(empty, Response)
    assert empty.status == 100
    assert empty.reason.strip() == ""
    russian = parse_message(load("unreason"))
    assert isinstance(russian, Response)
    assert "простое" in russian.reason  # UTF-8 Cyrillic, decoded


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_vectors_round_trip(name: str) -> None:
    """bytes(message) is a message that parses back to the same thing."""
    message = parse_message(load(name))
    again = parse_message(bytes(message))
    assert type(again) is type(message)
    assert again.headers.get("Call-ID") == message.headers.get("Call-ID")
    assert again.body == message.body
    if isinstance(message, Request):
        assert isinstance(again, Request)
        assert (again.method, again.uri) == (message.method, message.uri)
        validate_request(again)
    else:
        assert isinstance(again, Response)
        assert again.status == message.status


# --- fuzzing -----------------------------------------------------------------------------

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SEEDS = [load(name) for name in NAMES]


def only_syntax_errors(data: bytes, *, validate: bool) -> None:
    try:
        message = parse_message(data)
    except SipSyntaxError as error:
        assert_error_status(error)
        return
    assert isinstance(message, Request | Response)
    if validate and isinstance(message, Request):
        try:
            validate_request(message)
        except SipSyntaxError as error:
            assert_error_status(error)


@st.composite
def mutated_vectors(draw: st.DrawFn) -> bytes:
    """A torture message with a few random byte flips, insertions, deletions or a truncation."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "crlf"]))
        if not data:
            break
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif kind == "set":
            data[at] = draw(st.sampled_from(b'\x00\r\n \t:;,<>"%@=\xff0123456789-'))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=16))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = b"\r\n"
    return bytes(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    only_syntax_errors(data, validate=False)


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            [
                "INVITE sip:1001@127.0.0.1 SIP/2.0",
                "SIP/2.0 200 OK",
                "Via: SIP/2.0/UDP 1.2.3.4",
                "Content-Length: 5",
                "l: -1",
                "CSeq: 1 INVITE",
                "Call-ID: x",
                "i: y",
                "\r\n",
                " folded",
                "\t",
                "From: <sip:a@b>;tag=1",
                'To: "unterminated <sip:c@d>',
                "",
                "Max-Forwards: 70",
                "Content-Type: application/sdp",
                "v=0",
                "%00",
                "\x00",
            ]
        ),
        max_size=20,
    )
)
def test_fuzz_header_soup(lines: list[str]) -> None:
    data = "\r\n".join(lines).encode("utf-8")
    only_syntax_errors(data, validate=True)
    only_syntax_errors(data + b"\r\n\r\n", validate=True)


@FUZZ
@given(mutated_vectors())
def test_fuzz_mutated_vectors_parse(data: bytes) -> None:
    only_syntax_errors(data, validate=False)


@FUZZ
@given(mutated_vectors())
def test_fuzz_mutated_vectors_validate(data: bytes) -> None:
    only_syntax_errors(data, validate=True)


@pytest.mark.parametrize("name", NAMES)
def test_every_truncation_of_every_vector(name: str) -> None:
    """Each prefix of each message (cut at every line boundary and a few odd places)."""
    data = load(name)
    cuts = {0, 1, len(data) - 1, len(data) // 2}
    cuts.update(i for i in range(len(data)) if data[i : i + 1] in (b"\r", b"\n", b":", b";"))
    for cut in sorted(cuts):
        only_syntax_errors(data[:cut], validate=True)
