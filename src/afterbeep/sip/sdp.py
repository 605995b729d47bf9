"""SDP (RFC 4566) and the offer/answer model (RFC 3264) for one audio stream.

We answer G.711 (PCMU, PCMA) and RFC 4733 telephone-events; anything else in the offer is
declined. The answer keeps the offerer's codec preference order (RFC 3264 §6.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from afterbeep.sip.errors import SipSyntaxError
from afterbeep.sip.uri import is_digits

STATIC_PAYLOADS = {0: "PCMU", 8: "PCMA"}
SUPPORTED = ("PCMU", "PCMA")


class Direction(StrEnum):
    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    def reversed(self) -> Direction:
        """The direction an answerer takes (RFC 3264 §6.1)."""
        return _REVERSE[self]


_REVERSE = {
    Direction.SENDRECV: Direction.SENDRECV,
    Direction.SENDONLY: Direction.RECVONLY,
    Direction.RECVONLY: Direction.SENDONLY,
    Direction.INACTIVE: Direction.INACTIVE,
}


@dataclass(slots=True)
class Media:
    kind: str  # "audio", "video", …
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)

    def attribute(self, name: str) -> list[str | None]:
        return [value for key, value in self.attributes if key == name]

    def rtpmap(self) -> dict[int, str]:
        """payload type → encoding name (upper case); static types from RFC 3551."""
        names: dict[int, str] = {}
        for fmt in self.formats:
            if is_digits(fmt) and int(fmt) in STATIC_PAYLOADS:
                names[int(fmt)] = STATIC_PAYLOADS[int(fmt)]
        for value in self.attribute("rtpmap"):
            pt, _, encoding = (value or "").partition(" ")
            if is_digits(pt):
                names[int(pt)] = encoding.split("/")[0].strip().upper()
        return names


@dataclass(slots=True)
class SessionDescription:
    origin: str
    connection: str | None
    media: list[Media]
    attributes: list[tuple[str, str | None]] = field(default_factory=list)

    @classmethod
    def parse(cls, body: bytes) -> SessionDescription:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SipSyntaxError("SDP is not UTF-8", 400) from exc
        origin = ""
        connection: str | None = None
        attributes: list[tuple[str, str | None]] = []
        media: list[Media] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            if len(line) < 2 or line[1] != "=":
                raise SipSyntaxError(f"invalid SDP line {line[:40]!r}")
            key, value = line[0], line[2:]
            if key == "o":
                origin = value
            elif key == "c":
                address = _connection_address(value)
                if media:
                    media[-1].connection = address
                else:
                    connection = address
            elif key == "m":
                media.append(_parse_media(value))
            elif key == "a":
                name, colon, attr = value.partition(":")
                target = media[-1].attributes if media else attributes
                target.append((name, attr if colon else None))
        if not media:
            raise SipSyntaxError("SDP without media", 488)
        return cls(origin, connection, media, attributes)

    def direction(self, media: Media) -> Direction:
        for name, _ in reversed(media.attributes):
            if name in Direction.__members__.values():
                return Direction(name)
        for name, _ in reversed(self.attributes):
            if name in Direction.__members__.values():
                return Direction(name)
        return Direction.SENDRECV


def _connection_address(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SipSyntaxError(f"invalid SDP connection {value[:40]!r}", 488)
    return parts[2].split("/")[0]


def _parse_media(value: str) -> Media:
    parts = value.split()
    if len(parts) < 4:
        raise SipSyntaxError(f"invalid SDP media line {value[:40]!r}", 488)
    port_text = parts[1].split("/")[0]
    # RFC 4566 §9: port = 1*DIGIT, ASCII digits only (a "²" made int() raise ValueError).
    if not is_digits(port_text) or int(port_text) > 65535:
        raise SipSyntaxError(f"invalid SDP media port {parts[1][:10]!r}", 488)
    return Media(parts[0], int(port_text), parts[2], parts[3:])


@dataclass(frozen=True, slots=True)
class AudioPlan:
    """What we agreed with the peer for the audio stream."""

    remote_host: str
    remote_port: int
    codec: str  # "PCMU" or "PCMA"
    payload_type: int
    dtmf_payload_type: int | None
    direction: Direction  # ours, as put in the answer
    ptime: int = 20

    @property
    def on_hold(self) -> bool:
        """The peer put us on hold: it will not listen (RFC 3264 §8.4)."""
        return self.direction in (Direction.RECVONLY, Direction.INACTIVE) or self.remote_host in (
            "0.0.0.0",
            "::",
        )


def negotiate(offer: SessionDescription) -> tuple[AudioPlan, list[Media]]:
    """Choose the audio stream; returns the plan and the offer's m-lines (to decline others).

    Raises SipSyntaxError(488) when no audio stream offers a codec we support.
    """
    for media in offer.media:
        if media.kind != "audio" or media.port == 0 or media.proto.upper() != "RTP/AVP":
            continue
        names = media.rtpmap()
        codec_pt = next(
            (int(f) for f in media.formats if is_digits(f) and names.get(int(f)) in SUPPORTED),
            None,
        )
        if codec_pt is None:
            continue
        dtmf_pt = next(
            (
                int(f)
                for f in media.formats
                if is_digits(f) and names.get(int(f)) == "TELEPHONE-EVENT"
            ),
            None,
        )
        host = media.connection or offer.connection
        if host is None:
            raise SipSyntaxError("SDP without connection address", 488)
        ptime_values = [v for v in media.attribute("ptime") if v and is_digits(v.strip())]
        return (
            AudioPlan(
                remote_host=host,
                remote_port=media.port,
                codec=names[codec_pt],
                payload_type=codec_pt,
                dtmf_payload_type=dtmf_pt,
                direction=offer.direction(media).reversed(),
                ptime=int(ptime_values[0]) if ptime_values else 20,
            ),
            offer.media,
        )
    raise SipSyntaxError("no common codec", 488)


def build_answer(
    plan: AudioPlan,
    offered: list[Media],
    *,
    address: str,
    port: int,
    session_id: int,
    version: int,
) -> bytes:
    """The SDP answer: one m-line per offered m-line, all but our audio stream declined."""
    lines = _session_lines(address, session_id, version)
    chosen = False
    for media in offered:
        # The same tests as negotiate(): an RTP/SAVP line on the same port as the RTP/AVP
        # one we chose must be declined, not answered with our RTP/AVP line (RFC 3264 §6.1:
        # an accepted stream keeps the offer's transport).
        is_ours = (
            not chosen
            and media.kind == "audio"
            and media.proto.upper() == "RTP/AVP"
            and media.port == plan.remote_port
            and str(plan.payload_type) in media.formats
        )
        if not is_ours:
            # RFC 3264 §6: a declined stream keeps its m-line with port 0.
            lines.append(f"m={media.kind} 0 {media.proto} {' '.join(media.formats)}")
            continue
        chosen = True
        formats = [str(plan.payload_type)]
        if plan.dtmf_payload_type is not None:
            formats.append(str(plan.dtmf_payload_type))
        lines.append(f"m=audio {port} RTP/AVP {' '.join(formats)}")
        lines.append(f"a=rtpmap:{plan.payload_type} {plan.codec}/8000")
        if plan.dtmf_payload_type is not None:
            lines.append(f"a=rtpmap:{plan.dtmf_payload_type} telephone-event/8000")
            lines.append(f"a=fmtp:{plan.dtmf_payload_type} 0-16")
        lines.append("a=ptime:20")
        lines.append(f"a={plan.direction}")
    return ("\r\n".join(lines) + "\r\n").encode()


def build_offer(*, address: str, port: int, session_id: int, version: int) -> bytes:
    """Our offer when the INVITE carried none (a "late offer"): G.711 and telephone-events."""
    lines = [
        *_session_lines(address, session_id, version),
        f"m=audio {port} RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _session_lines(address: str, session_id: int, version: int) -> list[str]:
    ip = "IP6" if ":" in address else "IP4"
    return [
        "v=0",
        f"o=afterbeep {session_id} {version} IN {ip} {address}",
        "s=afterbeep",
        f"c=IN {ip} {address}",
        "t=0 0",
    ]
