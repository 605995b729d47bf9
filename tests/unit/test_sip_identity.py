"""Caller and diversion from SIP headers: P-Asserted-Identity (RFC 3325), anonymity
(RFC 3323), Diversion (RFC 5806) and History-Info (RFC 7044 with RFC 4458 causes)."""

from __future__ import annotations

import pytest

from afterbeep.domain import DiversionReason
from afterbeep.sip.identity import called, caller, diversion, info_digit
from afterbeep.sip.message import Request, parse_message


def invite(*lines: str, uri: str = "sip:1001@vm.example.com") -> Request:
    head = [
        f"INVITE {uri} SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKid1",
        "To: <sip:1001@vm.example.com>",
        "Call-ID: id-1",
        "CSeq: 1 INVITE",
        *lines,
    ]
    if not any(line.startswith("From:") for line in lines):
        head.append("From: <sip:+15551000@carrier.example.com>;tag=f1")
    message = parse_message(("\r\n".join(head) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


class TestCaller:
    def test_from_only(self) -> None:
        req = invite('From: "Alice Smith" <sip:+15551000@carrier.example.com;user=phone>;tag=1')
        assert caller(req) == ("+15551000", "Alice Smith")

    def test_p_asserted_identity_is_preferred_over_from(self) -> None:
        req = invite(
            'From: "Spoofed" <sip:+15559999@carrier.example.com>;tag=1',
            'P-Asserted-Identity: "Alice" <sip:+15551000@carrier.example.com;user=phone>',
        )
        assert caller(req) == ("+15551000", "Alice")

    def test_pai_list_first_entry(self) -> None:
        # RFC 3325 §10 example: a sip and a tel identity in one header.
        req = invite(
            'P-Asserted-Identity: "Cullen Jennings" <sip:fluffy@cisco.com>, tel:+14085264000'
        )
        assert caller(req) == ("fluffy", "Cullen Jennings")

    def test_tel_pai(self) -> None:
        req = invite("P-Asserted-Identity: <tel:+14085264000>")
        assert caller(req) == ("+14085264000", "")

    def test_user_parameters_are_dropped(self) -> None:
        req = invite("From: <sip:+15551000;npdi;rn=+15550000@carrier.example.com>;tag=1")
        assert caller(req) == ("+15551000", "")

    def test_anonymous_from(self) -> None:
        # RFC 3323 §4.1.1.3.
        req = invite('From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=1928301774')
        assert caller(req) == ("", "")

    def test_unknown_display_and_user(self) -> None:
        req = invite("From: Unknown <sip:unknown@carrier.example.com>;tag=1")
        assert caller(req) == ("", "")

    def test_anonymous_number_with_a_name(self) -> None:
        req = invite('From: "Dr. Who" <sip:anonymous@anonymous.invalid>;tag=1')
        assert caller(req) == ("", "Dr. Who")

    def test_unparseable_pai_falls_back_to_from(self) -> None:
        req = invite(
            "P-Asserted-Identity: <sip:+15551000@carrier.example.com",
            "From: <sip:+15552000@carrier.example.com>;tag=1",
        )
        assert caller(req) == ("+15552000", "")


def test_called_is_the_request_uri_user_then_to() -> None:
    assert called(invite()) == "1001"
    assert called(invite(uri="sip:vm.example.com")) == "1001"


class TestDiversion:
    def test_none_without_headers(self) -> None:
        assert diversion(invite()) is None

    @pytest.mark.parametrize(
        ("reason", "expected"),
        [
            ("user-busy", DiversionReason.BUSY),
            ('"user-busy"', DiversionReason.BUSY),
            ("no-answer", DiversionReason.NO_ANSWER),
            ("unconditional", DiversionReason.UNCONDITIONAL),
            ("unavailable", DiversionReason.UNAVAILABLE),
            ("time-of-day", DiversionReason.UNCONDITIONAL),
            ("do-not-disturb", DiversionReason.BUSY),
            ("out-of-service", DiversionReason.UNAVAILABLE),
            ("No-Answer", DiversionReason.NO_ANSWER),
            ("something-new", DiversionReason.UNKNOWN),
        ],
    )
    def test_reason(self, reason: str, expected: DiversionReason) -> None:
        # RFC 5806 §4 example form.
        req = invite(
            f"Diversion: <sip:+15555551002@example.com>;reason={reason};counter=1;privacy=off"
        )
        assert diversion(req) == ("+15555551002", expected)

    def test_no_reason_is_unknown(self) -> None:
        assert diversion(invite("Diversion: <tel:+15555551002>")) == (
            "+15555551002",
            DiversionReason.UNKNOWN,
        )

    def test_comma_joined_list_uses_the_last_the_original(self) -> None:
        # RFC 5806: each diverting entity adds its entry in front; the last is the oldest.
        req = invite(
            "Diversion: <sip:3338@example.com>;reason=no-answer;counter=1, "
            "<sip:2225@example.com>;reason=user-busy;counter=1"
        )
        assert diversion(req) == ("2225", DiversionReason.BUSY)

    def test_separate_headers_use_the_last(self) -> None:
        req = invite(
            "Diversion: <sip:3338@example.com>;reason=unconditional",
            "Diversion: <sip:2225@example.com>;reason=unavailable",
        )
        assert diversion(req) == ("2225", DiversionReason.UNAVAILABLE)

    def test_unparseable_diversion_is_none(self) -> None:
        assert diversion(invite("Diversion: <sip:2225@example.com;reason=user-busy")) is None


class TestHistoryInfo:
    def test_cause_on_the_second_entry(self) -> None:
        # RFC 4458 §5 / RFC 7044: the cause of the retarget is on the new target's URI.
        req = invite(
            "History-Info: <sip:bob@example.com>;index=1, "
            "<sip:vm@example.com;target=sip:bob%40example.com;cause=486>;index=1.1"
        )
        assert diversion(req) == ("bob", DiversionReason.BUSY)

    @pytest.mark.parametrize(
        ("cause", "expected"),
        [
            ("408", DiversionReason.NO_ANSWER),
            ("480", DiversionReason.NO_ANSWER),
            ("487", DiversionReason.NO_ANSWER),
            ("503", DiversionReason.UNAVAILABLE),
            ("404", DiversionReason.UNAVAILABLE),
            ("302", DiversionReason.UNCONDITIONAL),
            ("699", DiversionReason.UNKNOWN),
        ],
    )
    def test_causes(self, cause: str, expected: DiversionReason) -> None:
        req = invite(
            "History-Info: <sip:+15551001@example.com;user=phone>;index=1",
            f"History-Info: <sip:vm@example.com;cause={cause}>;index=1.1",
        )
        assert diversion(req) == ("+15551001", expected)

    def test_escaped_reason_header_on_the_second_entry(self) -> None:
        req = invite(
            "History-Info: <sip:bob@example.com?Privacy=history>;index=1, "
            "<sip:vm@example.com?Reason=SIP%3Bcause%3D486%3Btext%3D%22Busy%20Here%22>;index=1.1"
        )
        assert diversion(req) == ("bob", DiversionReason.BUSY)

    def test_no_cause_is_unknown(self) -> None:
        req = invite("History-Info: <sip:bob@example.com>;index=1, <sip:vm@example.com>;index=1.1")
        assert diversion(req) == ("bob", DiversionReason.UNKNOWN)

    def test_one_entry_is_no_diversion(self) -> None:
        assert diversion(invite("History-Info: <sip:1001@vm.example.com>;index=1")) is None

    def test_diversion_wins_over_history_info(self) -> None:
        req = invite(
            "History-Info: <sip:bob@example.com>;index=1, <sip:vm@example.com;cause=486>;index=1.1",
            "Diversion: <sip:carol@example.com>;reason=no-answer",
        )
        assert diversion(req) == ("carol", DiversionReason.NO_ANSWER)

    def test_unparseable_history_info_is_none(self) -> None:
        req = invite("History-Info: <sip:bob@example.com;index=1, <sip:vm@example.com>;index=1.1")
        assert diversion(req) is None


def test_called_from_a_to_with_display_name_and_tag() -> None:
    req = invite(uri="sip:vm.example.com")
    req.headers.set("To", '"Voicemail" <sip:+15551001@vm.example.com;user=phone>;tag=x')
    assert called(req) == "+15551001"
    req.headers.set("To", "not a uri")
    assert called(req) == ""


@pytest.mark.parametrize(
    ("content_type", "body", "digit"),
    [
        ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", "5"),
        ("application/dtmf-relay", b"Signal= #\r\nDuration=100\r\n", "#"),
        ("application/dtmf-relay", b"Signal=X\r\n", None),
        ("application/dtmf", b"11", "#"),
        ("application/dtmf", b"7", "7"),
        ("text/plain", b"Signal=5", None),
    ],
)
def test_info_dtmf(content_type: str, body: bytes, digit: str | None) -> None:
    raw = (
        "INFO sip:1001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKi\r\n"
        "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1001@127.0.0.1>;tag=2\r\nCall-ID: c\r\n"
        f"CSeq: 3 INFO\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    request = parse_message(raw)
    assert isinstance(request, Request)
    assert info_digit(request) == digit
