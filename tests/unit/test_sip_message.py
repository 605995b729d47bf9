"""SIP message parsing and serialization (RFC 3261 §7, §18.3, §20) and stream framing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.message import (
    Headers,
    Request,
    Response,
    StreamFramer,
    Via,
    header_params,
    parse_message,
    validate_request,
)

SDP = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.101\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
)

# RFC 3665 §3.1 F1 (Alice's INVITE in a basic call through a proxy), with a Record-Route
# and P-Asserted-Identity added, the header names written canonically and
# Content-Length last, so that serializing the parsed message must give the same bytes.
INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP ss1.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.111\r\n"
    b"Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101\r\n"
    b"Max-Forwards: 69\r\n"
    b"Record-Route: <sip:ss1.atlanta.example.com;lr>\r\n"
    b'From: "Alice, A." <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:alice@client.atlanta.example.com;transport=udp>\r\n"
    b"P-Asserted-Identity: <sip:+15551000@atlanta.example.com;user=phone>\r\n"
    b"Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)


def request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def response(data: bytes) -> Response:
    message = parse_message(data)
    assert isinstance(message, Response)
    return message


def options(*header_lines: bytes, body: bytes = b"") -> bytes:
    """A small OPTIONS request with the given header lines added before the blank line."""
    head = [
        b"OPTIONS sip:vm@192.0.2.1 SIP/2.0",
        b"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKopt1",
        b"From: <sip:a@example.com>;tag=1",
        b"To: <sip:vm@192.0.2.1>",
        b"Call-ID: opt-1",
        b"CSeq: 1 OPTIONS",
        *header_lines,
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class TestParse:
    def test_invite_fields(self) -> None:
        msg = request(INVITE)
        assert msg.method == "INVITE"
        assert msg.uri == "sip:bob@biloxi.example.com"
        assert msg.sip_uri.user == "bob"
        assert msg.call_id == "3848276298220188511@atlanta.example.com"
        assert msg.cseq == (1, "INVITE")
        assert msg.from_tag == "9fxced76sl"
        assert msg.to_tag is None
        assert msg.name_addr("From").display == "Alice, A."
        assert msg.body == SDP
        assert [v.branch for v in msg.vias] == ["z9hG4bK2d4790.1", "z9hG4bK74bf9"]
        # Date holds a comma but is not a list header: it stays whole.
        assert msg.header("Date") == "Sat, 13 Nov 2010 23:29:00 GMT"

    def test_round_trip_keeps_every_byte(self) -> None:
        assert bytes(parse_message(INVITE)) == INVITE

    def test_round_trip_of_compact_forms_keeps_every_value(self) -> None:
        # RFC 3261 §7.3.3: compact forms; serialization writes the long names.
        data = (
            b"BYE sip:bob@192.0.2.4 SIP/2.0\r\n"
            b"v: SIP/2.0/UDP 192.0.2.101;branch=z9hG4bKnashds7\r\n"
            b"f: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
            b"t: <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
            b"i: 3848276298220188511@atlanta.example.com\r\n"
            b"CSeq: 2 BYE\r\n"
            b"m: <sip:alice@192.0.2.101>\r\n"
            b"k: timer\r\n"
            b"s: bye now\r\n"
            b"l: 0\r\n\r\n"
        )
        msg = request(data)
        again = request(bytes(msg))
        assert list(again.headers) == list(msg.headers)
        assert [name for name, _ in msg.headers] == [
            "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Supported", "Subject",
            "Content-Length",
        ]  # fmt: skip
        assert bytes(msg).startswith(b"BYE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP ")
        assert msg.header("Call-ID") == msg.header("i") == msg.call_id
        assert msg.header("content-length") == "0"

    def test_response(self) -> None:
        # RFC 3665 §3.1 F4.
        msg = response(
            b"SIP/2.0 180 Ringing\r\n"
            b"Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9\r\n"
            b"From: <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
            b"To: <sip:bob@biloxi.example.com>;tag=8321234356\r\n"
            b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
            b"CSeq: 1 INVITE\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        assert (msg.status, msg.reason) == (180, "Ringing")
        assert msg.to_tag == "8321234356"
        assert bytes(msg).startswith(b"SIP/2.0 180 Ringing\r\n")

    @pytest.mark.parametrize(
        "cseq", [b"CSeq: 9292394834772304023312 OPTIONS\r\n", b"CSeq: one\r\n", b""]
    )
    def test_response_without_a_readable_cseq_is_rejected(self, cseq: bytes) -> None:
        # RFC 4475 §3.1.2.5 (scalarlg): such a response matches no transaction; drop it.
        with pytest.raises(SipSyntaxError):
            parse_message(
                b"SIP/2.0 503 Service Unavailable\r\n" + cseq + b"Content-Length: 0\r\n\r\n"
            )

    def test_reason_phrase_may_hold_spaces_and_be_empty(self) -> None:
        base = b"\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        assert response(b"SIP/2.0 481 Call Leg/Transaction Does Not Exist" + base).reason == (
            "Call Leg/Transaction Does Not Exist"
        )
        assert response(b"SIP/2.0 200 " + base).reason == ""

    def test_folded_header_is_joined_with_one_space(self) -> None:
        # RFC 3261 §7.3.1: the folded Subject example equals the one-line form.
        msg = request(
            options(b"Subject:            I know you're there,", b"               pull up a chair!")
        )
        assert msg.header("Subject") == "I know you're there, pull up a chair!"

    def test_folded_via_with_tab(self) -> None:
        msg = request(
            options(
                b"Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bKb2,",
                b"\tSIP/2.0/UDP 192.0.2.3;branch=z9hG4bKb3",
            )
        )
        assert [v.host for v in msg.vias] == ["192.0.2.9", "192.0.2.2", "192.0.2.3"]

    def test_continuation_before_any_header_is_rejected(self) -> None:
        with pytest.raises(SipSyntaxError):
            parse_message(b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\nCSeq: 1 OPTIONS\r\n\r\n")

    def test_leading_crlfs_are_ignored(self) -> None:
        # RFC 3261 §7.5.
        assert request(b"\r\n\r\n" + INVITE).method == "INVITE"

    def test_bare_lf_line_ends_are_tolerated(self) -> None:
        head, _, body = INVITE.partition(b"\r\n\r\n")
        msg = request(head.replace(b"\r\n", b"\n") + b"\n\n" + body)
        assert msg.body == SDP
        assert msg.call_id == "3848276298220188511@atlanta.example.com"

    def test_header_names_are_case_insensitive(self) -> None:
        msg = request(options(b"cSeQ: 1 OPTIONS", b"max-FORWARDS: 70"))
        assert msg.header("Max-Forwards") == "70"
        assert msg.headers.get_all("CSeq") == ["1 OPTIONS", "1 OPTIONS"]

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n",  # no blank line
            b"INVITE  sip:a@b SIP/2.0\r\n\r\n",  # two spaces
            b"INVITE sip:a@b\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0 \r\n\r\n",
            b"INV:TE sip:a@b SIP/2.0\r\n\r\n",
            b"INVITE sip:a@b HTTP/1.1\r\n\r\n",
            b"SIP/2.0 20 OK\r\n\r\n",
            b"SIP/2.0 700 Too Big\r\n\r\n",
            b"SIP/2.0 2x0 OK\r\n\r\n",
            b"SIP/2.0 \xc2\xb200 OK\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n",
            b"OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",
        ],
    )
    def test_malformed_is_400(self, data: bytes) -> None:
        with pytest.raises(SipSyntaxError) as info:
            parse_message(data)
        assert info.value.status == 400

    def test_too_large_is_513(self) -> None:
        with pytest.raises(SipSyntaxError) as info:
            parse_message(options(b"Subject: " + b"x" * 70_000))
        assert info.value.status == 513

    def test_too_many_headers_is_513(self) -> None:
        with pytest.raises(SipSyntaxError) as info:
            parse_message(options(*[b"X-H: 1"] * 300))
        assert info.value.status == 513

    @pytest.mark.parametrize(
        "data",
        [
            b"INVITE sip:bob@biloxi.example.com SIP/7.0\r\nCSeq: 1 INVITE\r\n\r\n",
            b"INVITE sip:bob@biloxi.example.com SIP/1.0\r\nCSeq: 1 INVITE\r\n\r\n",
            b"SIP/3.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n",
        ],
    )
    def test_other_sip_version_is_505(self, data: bytes) -> None:
        # RFC 3261 §8.2.2... §21.5.6; RFC 4475 §3.1.2.11 (badvers).
        with pytest.raises(SipSyntaxError) as info:
            parse_message(data)
        assert info.value.status == 505


class TestContentLength:
    def test_body_shorter_than_content_length_is_400(self) -> None:
        # RFC 3261 §18.3: "If the message is too short ... the message is rejected".
        data = options(b"Content-Type: text/plain", b"Content-Length: 10", body=b"12345")
        with pytest.raises(SipSyntaxError) as info:
            parse_message(data)
        assert info.value.status == 400

    def test_extra_bytes_in_a_datagram_are_cut(self) -> None:
        # RFC 3261 §18.3: bytes past Content-Length in a datagram are discarded.
        data = options(b"Content-Type: text/plain", b"Content-Length: 5", body=b"12345garbage")
        msg = request(data)
        assert msg.body == b"12345"
        assert bytes(msg).endswith(b"Content-Length: 5\r\n\r\n12345")

    def test_without_content_length_a_datagram_body_runs_to_the_end(self) -> None:
        msg = request(options(b"Content-Type: text/plain", body=b"hello"))
        assert msg.body == b"hello"
        assert b"Content-Length: 5\r\n" in bytes(msg)

    def test_compact_form(self) -> None:
        assert request(options(b"c: text/plain", b"l: 3", body=b"abcdef")).body == b"abc"

    def test_repeated_equal_values_are_accepted(self) -> None:
        msg = request(options(b"Content-Length: 2", b"Content-Length: 2", body=b"abcd"))
        assert msg.body == b"ab"

    @pytest.mark.parametrize(
        "lines",
        [
            [b"Content-Length: 2", b"Content-Length: 3"],
            [b"Content-Length: -1"],
            [b"Content-Length: x"],
            [b"Content-Length: 99999999"],
            [b"Content-Length: \xc2\xb2"],
            [b"Content-Length: \xef\xbc\x92"],  # fullwidth digit two
        ],
    )
    def test_invalid_content_length_is_400(self, lines: list[bytes]) -> None:
        with pytest.raises(SipSyntaxError) as info:
            parse_message(options(*lines, body=b"abcd"))
        assert info.value.status == 400


class TestLists:
    def test_comma_joined_via_splits_in_order(self) -> None:
        # RFC 3261 §7.3.1 / §20.42 (second value with LWS before its parameters).
        msg = request(
            options(
                b"Via: SIP/2.0/UDP erlang.bell-telephone.com:5060;branch=z9hG4bK87asdks7, "
                b"SIP/2.0/UDP 192.0.2.1:5060 ;received=192.0.2.207;branch=z9hG4bK77asjd"
            )
        )
        vias = msg.vias
        assert [(v.host, v.port, v.branch) for v in vias] == [
            ("192.0.2.9", 5060, "z9hG4bKopt1"),
            ("erlang.bell-telephone.com", 5060, "z9hG4bK87asdks7"),
            ("192.0.2.1", 5060, "z9hG4bK77asjd"),
        ]
        assert vias[2].params["received"] == "192.0.2.207"
        assert msg.top_via.branch == "z9hG4bKopt1"

    def test_route_list(self) -> None:
        # RFC 3261 §7.3.1 example.
        msg = request(
            options(b"Route: <sip:alice@atlanta.com>, <sip:bob@biloxi.com>,<sip:carol@chicago.com>")
        )
        assert msg.headers.get_all("Route") == [
            "<sip:alice@atlanta.com>",
            "<sip:bob@biloxi.com>",
            "<sip:carol@chicago.com>",
        ]
        assert msg.header("Route") == "<sip:alice@atlanta.com>"

    def test_record_route_across_lines_and_lists_keeps_order(self) -> None:
        msg = request(
            options(
                b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
                b"Record-Route: <sip:p3.example.com;lr>",
            )
        )
        assert msg.headers.get_all("Record-Route") == [
            "<sip:p1.example.com;lr>",
            "<sip:p2.example.com;lr>",
            "<sip:p3.example.com;lr>",
        ]

    def test_contact_commas_inside_quotes_and_brackets_are_kept(self) -> None:
        # After RFC 3261 §20.10's example, with commas in a display name and a URI header.
        msg = request(
            options(
                b'Contact: "Mr. Watson, Esq." <sip:watson@worcester.bell-telephone.com>'
                b";q=0.7; expires=3600, <sip:w@example.com?Subject=a,b> ;q=0.1, "
                b"sip:bare@example.com;q=0.05"
            )
        )
        contacts = msg.headers.get_all("m")
        assert contacts == [
            '"Mr. Watson, Esq." <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600',
            "<sip:w@example.com?Subject=a,b> ;q=0.1",
            "sip:bare@example.com;q=0.05",
        ]
        first = msg.name_addr("Contact")
        assert first.display == "Mr. Watson, Esq."
        assert first.params == {"q": "0.7", "expires": "3600"}

    def test_non_list_header_keeps_commas(self) -> None:
        msg = request(options(b"Subject: one, two", b"Subject: three"))
        assert msg.headers.get_all("Subject") == ["one, two", "three"]
        assert msg.header("Subject") == "one, two"


class TestVia:
    def test_lws_around_slashes_and_in_sent_by(self) -> None:
        # RFC 4475 §3.1.1.1 (wsinv): v: SIP / 2.0 / UDP first.example.com: 4000;...
        via = Via.parse(
            "SIP / 2.0 / UDP first.example.com: 4000;ttl=16;maddr=224.2.0.1 ;branch=z9hG4bKa7c6a8"
        )
        assert (via.transport, via.host, via.port) == ("UDP", "first.example.com", 4000)
        assert via.params == {"ttl": "16", "maddr": "224.2.0.1", "branch": "z9hG4bKa7c6a8"}

    def test_ipv6_sent_by_and_received(self) -> None:
        # RFC 5118 §4.5.
        via = Via.parse("SIP/2.0/UDP [2001:DB8::9:1]:5070;received=[2001:db8::9:255];branch=z9")
        assert (via.host, via.port) == ("2001:db8::9:1", 5070)
        assert via.params["received"] == "[2001:db8::9:255]"
        assert str(via) == "SIP/2.0/UDP [2001:db8::9:1]:5070;received=[2001:db8::9:255];branch=z9"

    def test_rport_flag_and_transport_case(self) -> None:
        via = Via.parse("SIP/2.0/tcp 10.0.0.2;branch=z9hG4bK1;rport")
        assert via.transport == "TCP"
        assert via.port is None
        assert via.params == {"branch": "z9hG4bK1", "rport": None}
        assert str(via) == "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK1;rport"

    @pytest.mark.parametrize(
        "text",
        [
            "SIP/2.0/UDP",
            "SIP/1.0/UDP host",
            "SIP/2.0/UDP :5060",
            "SIP/2.0/UDP host:port",
            "SIP/2.0/UDP host:\u00b2",
            "SIP/2.0/UDP host:70000",
            "garbage",
        ],
    )
    def test_invalid(self, text: str) -> None:
        with pytest.raises(SipSyntaxError):
            Via.parse(text)


class TestHeaders:
    def test_set_replaces_in_place_and_remove(self) -> None:
        headers = Headers([("v", "a"), ("To", "t"), ("Via", "b")])
        headers.set("via", "c")
        assert list(headers) == [("Via", "c"), ("To", "t")]
        headers.set("Subject", "s")
        assert list(headers)[-1] == ("Subject", "s")
        headers.remove("TO")
        assert [n for n, _ in headers] == ["Via", "Subject"]
        assert len(headers) == 2

    def test_lookups_follow_every_change(self) -> None:
        # The index is kept up to date, not rebuilt: each change must show in get/get_all.
        message = parse_message(
            b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
            b"Via: SIP/2.0/UDP p;branch=z9hG4bK2\r\nf: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\n"
            b"i: c1\r\nCSeq: 1 OPTIONS\r\n\r\n"
        )
        headers = message.headers
        assert message.top_via.host == "h"
        assert message.name_addr("From").tag == "1"
        headers.replace_first("Via", "SIP/2.0/UDP n;branch=z9hG4bK3")
        assert headers.get_all("Via") == [
            "SIP/2.0/UDP n;branch=z9hG4bK3",
            "SIP/2.0/UDP p;branch=z9hG4bK2",
        ]
        assert message.top_via.host == "n"  # the memoised Via was dropped
        headers.set("From", "<sip:z@y>;tag=2")
        assert message.name_addr("From").tag == "2"
        headers.add("Via", "SIP/2.0/UDP q;branch=z9hG4bK4")
        assert len(headers.get_all("v")) == 3
        headers.remove("via")
        assert headers.get("Via") is None and headers.get_all("Via") == []
        headers.replace_first("Subject", "s")  # absent: added
        assert headers.get("Subject") == "s"
        assert message.cseq == (1, "OPTIONS")
        headers.set("CSeq", "2 OPTIONS")
        assert message.cseq == (2, "OPTIONS")

    def test_replace_first_of_a_comma_joined_list_keeps_the_rest(self) -> None:
        headers = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")])
        headers.replace_first("v", "SIP/2.0/UDP n;branch=z9hG4bK3")
        assert headers.get_all("Via") == [
            "SIP/2.0/UDP n;branch=z9hG4bK3",
            "SIP/2.0/UDP b;branch=z9hG4bK2",
        ]
        assert len(headers) == 1

    def test_copy_is_independent(self) -> None:
        headers = Headers([("Via", "a")])
        copy = headers.copy()
        copy.add("Via", "b")
        assert headers.get_all("Via") == ["a"]

    def test_unknown_names_keep_their_spelling(self) -> None:
        assert list(Headers([("X-Custom-Thing", "1")])) == [("X-Custom-Thing", "1")]

    def test_header_params(self) -> None:
        value = '<sip:+15551234@example.com>;reason="user-busy";counter=1;privacy=off'
        assert header_params(value) == {
            "reason": '"user-busy"',
            "counter": "1",
            "privacy": "off",
        }


class TestCSeq:
    @pytest.mark.parametrize(
        "value", ["x INVITE", "1", "-1 INVITE", "2147483648 INVITE", "\u00b2 INVITE"]
    )
    def test_invalid(self, value: str) -> None:
        msg = request(options())
        msg.headers.set("CSeq", value)
        with pytest.raises(SipSyntaxError):
            _ = msg.cseq

    def test_missing(self) -> None:
        msg = request(options())
        msg.headers.remove("CSeq")
        with pytest.raises(SipSyntaxError):
            _ = msg.cseq

    def test_largest(self) -> None:
        msg = request(options())
        msg.headers.set("CSeq", "2147483647  OPTIONS")
        assert msg.cseq == (2**31 - 1, "OPTIONS")


class TestValidateRequest:
    def test_a_good_request_passes(self) -> None:
        validate_request(request(INVITE))

    @pytest.mark.parametrize("name", ["To", "From", "Call-ID", "CSeq", "Via"])
    def test_missing_mandatory_header(self, name: str) -> None:
        # RFC 3261 §8.1.1: these six (Max-Forwards aside) must be present.
        msg = request(INVITE)
        msg.headers.remove(name)
        with pytest.raises(SipSyntaxError) as info:
            validate_request(msg)
        assert info.value.status == 400

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("CSeq", "1 BYE"),  # method mismatch (RFC 4475 §3.3.8, mismatch01)
            ("Max-Forwards", "256"),
            ("Max-Forwards", "\u00b2"),
            ("Expires", "soon"),
            ("Contact", "<sip:alice@client.atlanta.example.com"),
            ("Content-Type", "sdp"),
            ("Via", "SIP/2.0/UDP host:\u00b2;branch=z9hG4bK1"),
        ],
    )
    def test_bad_header_value(self, name: str, value: str) -> None:
        msg = request(INVITE)
        msg.headers.set(name, value)
        with pytest.raises(SipSyntaxError):
            validate_request(msg)

    def test_contact_star_only_in_register(self) -> None:
        # RFC 3261 §10.2.2.
        msg = request(INVITE)
        msg.headers.set("Contact", "*")
        with pytest.raises(SipSyntaxError):
            validate_request(msg)
        register = request(options(b"Contact: *", b"Expires: 0").replace(b"OPTIONS", b"REGISTER"))
        validate_request(register)

    @pytest.mark.parametrize(
        "line",
        [
            "To: <sip:other@example.net>",
            'From: "Eve" <sip:eve@example.net>;tag=2',
            "Call-ID: another",
            "CSeq: 2 INVITE",
            "Max-Forwards: 5",
        ],
    )
    def test_a_second_single_value_header_is_400(self, line: str) -> None:
        # RFC 4475 §3.3.8 (multi01): "would respond with a 400 Bad Request".
        msg = request(INVITE)
        name, _, value = line.partition(": ")
        msg.headers.add(name, value)
        with pytest.raises(SipSyntaxError) as info:
            validate_request(msg)
        assert info.value.status == 400

    def test_unsupported_request_uri_scheme_is_416(self) -> None:
        msg = request(INVITE)
        msg.uri = "mailto:bob@biloxi.example.com"
        with pytest.raises(SipSyntaxError) as info:
            validate_request(msg)
        assert info.value.status == 416

    def test_body_without_content_type(self) -> None:
        msg = request(INVITE)
        msg.headers.remove("Content-Type")
        with pytest.raises(SipSyntaxError):
            validate_request(msg)

    def test_record_route_that_will_not_parse_is_rejected(self) -> None:
        # §12.1.1: the route set is built from Record-Route; a value we cannot read now
        # would leave us unable to route the BYE later.
        msg = request(INVITE)
        msg.headers.set("Record-Route", "<sip:ss1.atlanta.example.com;lr")
        with pytest.raises(SipSyntaxError) as info:
            validate_request(msg)
        assert info.value.status == 400


class TestStreamFramer:
    def test_one_message_whole(self) -> None:
        assert StreamFramer().feed(INVITE) == [INVITE]

    def test_byte_at_a_time(self) -> None:
        framer = StreamFramer()
        out: list[bytes] = []
        for i in range(len(INVITE)):
            got = framer.feed(INVITE[i : i + 1])
            if i < len(INVITE) - 1:
                assert got == []
            out += got
        assert out == [INVITE]

    def test_two_messages_in_one_chunk(self) -> None:
        second = options(b"Content-Length: 0")
        assert StreamFramer().feed(INVITE + second) == [INVITE, second]

    def test_message_and_a_half(self) -> None:
        framer = StreamFramer()
        assert framer.feed(INVITE + INVITE[:100]) == [INVITE]
        assert framer.feed(INVITE[100:]) == [INVITE]

    def test_crlf_keepalives_are_skipped(self) -> None:
        # RFC 5626 §3.5.1: double-CRLF ping and CRLF pong between messages.
        framer = StreamFramer()
        assert framer.feed(b"\r\n\r\n") == []
        assert framer.feed(b"\r\n" + INVITE + b"\r\n\r\n") == [INVITE]
        assert framer.feed(b"\r") == []
        assert framer.feed(b"\n" + INVITE) == [INVITE]

    def test_content_length_need_not_be_the_last_header(self) -> None:
        # Header order between names is free (RFC 3261 §7.3.1).
        data = options(b"Content-Length: 4", b"Content-Type: text/plain", body=b"ping")
        assert StreamFramer().feed(data + data) == [data, data]

    def test_compact_content_length(self) -> None:
        data = options(b"l: 4", b"c: text/plain", body=b"ping")
        assert StreamFramer().feed(data) == [data]

    def test_missing_content_length_is_an_error(self) -> None:
        # RFC 3261 §18.3 / §20.14: over a stream Content-Length MUST be present.
        with pytest.raises(SipSyntaxError):
            StreamFramer().feed(options())

    def test_oversized_headers_are_an_error(self) -> None:
        framer = StreamFramer(max_message=1000)
        with pytest.raises(SipSyntaxError) as info:
            framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\nSubject: " + b"x" * 2000)
        assert info.value.status == 513

    def test_oversized_body_is_an_error(self) -> None:
        with pytest.raises(SipSyntaxError) as info:
            StreamFramer(max_message=1000).feed(options(b"Content-Length: 5000"))
        assert info.value.status == 513

    @given(cuts=st.lists(st.integers(min_value=0, max_value=2 * len(INVITE) + 4)))
    def test_any_chunking_gives_the_same_messages(self, cuts: list[int]) -> None:
        stream = INVITE + b"\r\n\r\n" + INVITE
        framer = StreamFramer()
        out: list[bytes] = []
        start = 0
        for cut in sorted(set(cuts)):
            out += framer.feed(stream[start:cut])
            start = max(start, cut)
        out += framer.feed(stream[start:])
        assert out == [INVITE, INVITE]


# ---- one invariant (h11's fuzzer): any input parses or raises SipSyntaxError ------------


def _parse_or_syntax_error(data: bytes) -> None:
    try:
        parse_message(data)
    except SipSyntaxError as error:
        assert 400 <= error.status <= 599


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_never_raises_anything_else_on_random_bytes(data: bytes) -> None:
    _parse_or_syntax_error(data)


_ALPHABET = st.sampled_from(
    [b"\r\n", b"\r", b"\n", b" ", b"\t", b":", b";", b",", b"<", b">", b'"', b"\\", b"=",
     b"SIP/2.0", b"Content-Length: ", b"9", b"0", b"\xc2\xb2", b"\xff", b"\x00", b"[", b"]"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(INVITE)),
    cut=st.integers(min_value=0, max_value=40),
    insert=st.lists(_ALPHABET, max_size=8).map(b"".join),
)
def test_parse_never_raises_anything_else_on_mutated_invites(
    position: int, cut: int, insert: bytes
) -> None:
    data = INVITE[:position] + insert + INVITE[position + cut :]
    _parse_or_syntax_error(data)
    try:
        msg = parse_message(data)
    except SipSyntaxError:
        return
    # What parsed also serializes, and the accessors keep the same promise.
    bytes(msg)
    for access in (lambda: msg.cseq, lambda: msg.vias, lambda: msg.to_tag, lambda: msg.from_tag):
        with contextlib.suppress(SipSyntaxError):
            access()
    if isinstance(msg, Request):
        with contextlib.suppress(SipSyntaxError):
            validate_request(msg)
