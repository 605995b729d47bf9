"""SDP (RFC 4566) and the offer/answer model (RFC 3264), with RFC 4317's example offers."""

from __future__ import annotations

import pytest

from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.sdp import (
    AudioPlan,
    Direction,
    Media,
    SessionDescription,
    build_answer,
    negotiate,
)

# RFC 4317 §2.1 (audio and video 1), offer from Alice.
RFC4317_OFFER = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\n"
    b"s=\r\n"
    b"c=IN IP4 host.atlanta.example.com\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 97\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:97 iLBC/8000\r\n"
    b"m=video 51372 RTP/AVP 31 32\r\n"
    b"a=rtpmap:31 H261/90000\r\n"
    b"a=rtpmap:32 MPV/90000\r\n"
)


# RFC 4568 §5.1 style SDES attribute (key from its examples).
CRYPTO = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"


def offer(*media: str, session: str = "c=IN IP4 192.0.2.10") -> SessionDescription:
    lines = ["v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", session, "t=0 0", *media]
    return SessionDescription.parse(("\r\n".join(lines) + "\r\n").encode())


def answer_for(sdp: SessionDescription, address: str = "198.51.100.7") -> tuple[AudioPlan, bytes]:
    plan, offered = negotiate(sdp)
    return plan, build_answer(plan, offered, address=address, port=30000, session_id=7, version=1)


def m_lines(sdp: bytes) -> list[str]:
    return [line for line in sdp.decode().split("\r\n") if line.startswith("m=")]


class TestParse:
    def test_rfc4317_offer(self) -> None:
        sdp = SessionDescription.parse(RFC4317_OFFER)
        assert sdp.origin == "alice 2890844526 2890844526 IN IP4 host.atlanta.example.com"
        assert sdp.connection == "host.atlanta.example.com"
        audio, video = sdp.media
        assert (audio.kind, audio.port, audio.proto, audio.formats) == (
            "audio", 49170, "RTP/AVP", ["0", "8", "97"],
        )  # fmt: skip
        assert audio.rtpmap() == {0: "PCMU", 8: "PCMA", 97: "ILBC"}
        assert video.formats == ["31", "32"]
        assert audio.connection is None

    def test_static_payload_types_need_no_rtpmap(self) -> None:
        # RFC 3551 §6: 0 is PCMU and 8 is PCMA.
        media = offer("m=audio 4000 RTP/AVP 8 0 18").media[0]
        assert media.rtpmap() == {8: "PCMA", 0: "PCMU"}

    def test_media_port_with_count_and_ipv6_connection(self) -> None:
        sdp = offer("m=audio 4000/2 RTP/AVP 0", "c=IN IP6 2001:db8::5", session="")
        assert sdp.media[0].port == 4000
        assert sdp.media[0].connection == "2001:db8::5"
        assert sdp.connection is None

    def test_multicast_ttl_is_dropped_from_the_address(self) -> None:
        sdp = offer("m=audio 4000 RTP/AVP 0", session="c=IN IP4 224.2.1.1/127")
        assert sdp.connection == "224.2.1.1"

    def test_lf_only_lines(self) -> None:
        sdp = SessionDescription.parse(RFC4317_OFFER.replace(b"\r\n", b"\n"))
        assert len(sdp.media) == 2

    @pytest.mark.parametrize(
        ("body", "status"),
        [
            (b"\xff\xfe", 400),
            (b"v=0\r\nthis is not sdp\r\n", 400),
            (b"v=0\r\nc=IN IP4 192.0.2.1\r\n", 488),  # no media
            (b"v=0\r\nc=IN IP4\r\nm=audio 4000 RTP/AVP 0\r\n", 488),
            (b"v=0\r\nc=XX IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n", 488),
            (b"v=0\r\nm=audio 4000 RTP/AVP\r\n", 488),
            (b"v=0\r\nm=audio 70000 RTP/AVP 0\r\n", 488),
            (b"v=0\r\nm=audio x RTP/AVP 0\r\n", 488),
            ("v=0\r\nm=audio \u00b2 RTP/AVP 0\r\n".encode(), 488),
        ],
    )
    def test_invalid(self, body: bytes, status: int) -> None:
        with pytest.raises(SipSyntaxError) as info:
            SessionDescription.parse(body)
        assert info.value.status == status

    def test_non_ascii_digits_in_formats_are_ignored(self) -> None:
        sdp = offer("m=audio 4000 RTP/AVP \u00b2 0", "a=rtpmap:\u00b2 PCMA/8000", "a=ptime:\u00b2")
        plan, _ = negotiate(sdp)
        assert (plan.codec, plan.payload_type, plan.ptime) == ("PCMU", 0, 20)


class TestNegotiate:
    def test_rfc4317_offer_picks_pcmu_and_declines_video(self) -> None:
        plan, answer = answer_for(SessionDescription.parse(RFC4317_OFFER))
        assert plan == AudioPlan(
            remote_host="host.atlanta.example.com",
            remote_port=49170,
            codec="PCMU",
            payload_type=0,
            dtmf_payload_type=None,
            direction=Direction.SENDRECV,
        )
        assert answer == (
            b"v=0\r\n"
            b"o=afterbeep 7 1 IN IP4 198.51.100.7\r\n"
            b"s=afterbeep\r\n"
            b"c=IN IP4 198.51.100.7\r\n"
            b"t=0 0\r\n"
            b"m=audio 30000 RTP/AVP 0\r\n"
            b"a=rtpmap:0 PCMU/8000\r\n"
            b"a=ptime:20\r\n"
            b"a=sendrecv\r\n"
            b"m=video 0 RTP/AVP 31 32\r\n"
        )

    def test_offerers_first_supported_codec_wins(self) -> None:
        # RFC 3264 §6.1: the answerer should follow the offerer's preference order.
        plan, answer = answer_for(offer("m=audio 4000 RTP/AVP 18 8 0", "a=rtpmap:18 G729/8000"))
        assert (plan.codec, plan.payload_type) == ("PCMA", 8)
        assert m_lines(answer) == ["m=audio 30000 RTP/AVP 8"]
        assert b"a=rtpmap:8 PCMA/8000\r\n" in answer

    def test_dynamic_payload_type_mapped_to_g711(self) -> None:
        plan, answer = answer_for(
            offer(
                "m=audio 4000 RTP/AVP 111 96", "a=rtpmap:111 opus/48000/2", "a=rtpmap:96 pcmu/8000"
            )
        )
        assert (plan.codec, plan.payload_type) == ("PCMU", 96)
        assert m_lines(answer) == ["m=audio 30000 RTP/AVP 96"]
        assert b"a=rtpmap:96 PCMU/8000\r\n" in answer

    @pytest.mark.parametrize("pt", [96, 101, 127])
    def test_telephone_event_whatever_its_payload_type(self, pt: int) -> None:
        # RFC 4733 §7.1.1: telephone-event takes a dynamic payload type.
        plan, answer = answer_for(
            offer(
                f"m=audio 4000 RTP/AVP {pt} 0",
                f"a=rtpmap:{pt} telephone-event/8000",
                f"a=fmtp:{pt} 0-15",
            )
        )
        assert (plan.codec, plan.payload_type, plan.dtmf_payload_type) == ("PCMU", 0, pt)
        assert m_lines(answer) == [f"m=audio 30000 RTP/AVP 0 {pt}"]
        assert f"a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n".encode() in answer

    def test_no_common_codec_is_488(self) -> None:
        # RFC 3261 §13.3.1.3 / RFC 3264 §6: 488 Not Acceptable Here.
        with pytest.raises(SipSyntaxError) as info:
            negotiate(offer("m=audio 4000 RTP/AVP 18 101", "a=rtpmap:101 telephone-event/8000"))
        assert info.value.status == 488

    def test_srtp_only_offer_is_488(self) -> None:
        with pytest.raises(SipSyntaxError) as info:
            negotiate(
                offer(
                    "m=audio 4000 RTP/SAVP 0",
                    CRYPTO,
                )
            )
        assert info.value.status == 488

    def test_video_only_offer_is_488(self) -> None:
        with pytest.raises(SipSyntaxError) as info:
            negotiate(offer("m=video 4000 RTP/AVP 0"))
        assert info.value.status == 488

    def test_missing_connection_is_488(self) -> None:
        with pytest.raises(SipSyntaxError) as info:
            negotiate(offer("m=audio 4000 RTP/AVP 0", session=""))
        assert info.value.status == 488

    @pytest.mark.parametrize(
        ("offered", "ours"),
        [
            ("sendrecv", Direction.SENDRECV),
            ("sendonly", Direction.RECVONLY),
            ("recvonly", Direction.SENDONLY),
            ("inactive", Direction.INACTIVE),
        ],
    )
    def test_direction_is_reversed(self, offered: str, ours: Direction) -> None:
        # RFC 3264 §6.1.
        plan, answer = answer_for(offer("m=audio 4000 RTP/AVP 0", f"a={offered}"))
        assert plan.direction is ours
        assert f"a={ours.value}\r\n".encode() in answer

    def test_session_level_direction_applies_and_media_level_wins(self) -> None:
        sdp = SessionDescription.parse(
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
            b"a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n"
        )
        assert negotiate(sdp)[0].direction is Direction.RECVONLY
        sdp.media[0].attributes.append(("inactive", None))
        assert negotiate(sdp)[0].direction is Direction.INACTIVE

    def test_sendonly_is_hold(self) -> None:
        # RFC 3264 §8.4.
        plan, _ = answer_for(offer("m=audio 4000 RTP/AVP 0", "a=sendonly"))
        assert plan.on_hold

    def test_zero_connection_address_is_hold(self) -> None:
        # RFC 3264 §8.4: the RFC 2543 way of holding, c=0.0.0.0.
        plan, _ = answer_for(offer("m=audio 4000 RTP/AVP 0", session="c=IN IP4 0.0.0.0"))
        assert plan.remote_host == "0.0.0.0"
        assert plan.on_hold
        assert not answer_for(offer("m=audio 4000 RTP/AVP 0"))[0].on_hold

    def test_media_level_connection_overrides_session_level(self) -> None:
        # RFC 4566 §5.7.
        plan, _ = answer_for(offer("m=audio 4000 RTP/AVP 0", "c=IN IP4 203.0.113.9"))
        assert plan.remote_host == "203.0.113.9"

    def test_ptime_is_read(self) -> None:
        plan, _ = answer_for(offer("m=audio 4000 RTP/AVP 8", "a=ptime:30"))
        assert plan.ptime == 30

    def test_declined_streams_keep_their_place(self) -> None:
        # RFC 3264 §6: one m-line per offered m-line, in order; declined ones get port 0.
        plan, answer = answer_for(
            offer(
                "m=video 51372 RTP/AVP 31",
                "m=audio 0 RTP/AVP 0",  # already declined by the offerer
                "m=audio 4002 RTP/AVP 18",  # nothing we support
                "m=audio 4000 RTP/AVP 0 101",
                "a=rtpmap:101 telephone-event/8000",
                "m=application 9 TCP/BFCP *",
            )
        )
        assert plan.remote_port == 4000
        assert m_lines(answer) == [
            "m=video 0 RTP/AVP 31",
            "m=audio 0 RTP/AVP 0",
            "m=audio 0 RTP/AVP 18",
            "m=audio 30000 RTP/AVP 0 101",
            "m=application 0 TCP/BFCP *",
        ]

    def test_srtp_and_rtp_lines_on_the_same_port(self) -> None:
        # Some phones offer "best effort" SRTP as two audio m-lines on one port, RTP/SAVP
        # first. We take the RTP/AVP one; the answer keeps each line's transport
        # (RFC 3264 §6.1) and declines the RTP/SAVP line.
        plan, answer = answer_for(
            offer(
                "m=audio 4000 RTP/SAVP 0",
                CRYPTO,
                "m=audio 4000 RTP/AVP 0",
            )
        )
        assert plan.remote_port == 4000
        assert m_lines(answer) == ["m=audio 0 RTP/SAVP 0", "m=audio 30000 RTP/AVP 0"]

    def test_answer_parses_back(self) -> None:
        sdp = SessionDescription.parse(RFC4317_OFFER)
        _, answer = answer_for(sdp)
        parsed = SessionDescription.parse(answer)
        assert len(parsed.media) == len(sdp.media)
        audio = parsed.media[0]
        assert (audio.kind, audio.port, audio.proto) == ("audio", 30000, "RTP/AVP")
        assert parsed.connection == "198.51.100.7"
        # Our answer, offered back to us, gives the same codec.
        again, _ = negotiate(parsed)
        assert (again.codec, again.payload_type, again.remote_port) == ("PCMU", 0, 30000)

    def test_answer_over_ipv6(self) -> None:
        _, answer = answer_for(offer("m=audio 4000 RTP/AVP 0"), address="2001:db8::7")
        assert b"c=IN IP6 2001:db8::7\r\n" in answer
        assert b"o=afterbeep 7 1 IN IP6 2001:db8::7\r\n" in answer
        assert SessionDescription.parse(answer).connection == "2001:db8::7"


def test_media_attribute_lookup() -> None:
    media = Media("audio", 4000, "RTP/AVP", ["0"], attributes=[("ptime", "20"), ("x", None)])
    assert media.attribute("ptime") == ["20"]
    assert media.attribute("x") == [None]
    assert media.attribute("y") == []
