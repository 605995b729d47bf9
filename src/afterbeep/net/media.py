"""RTP sockets and the one media clock that paces every outgoing stream.

A single timer fires every 20 ms on an absolute schedule and sends the next packet of every
stream that is playing, in one batch: no per-call sleep, no drift. The receive side only
hands datagrams to each stream's sans-IO ``RtpReceiver``.

RTP sockets are plain non-blocking sockets in one ``SocketWatch`` (an epoll set the loop sees
as one descriptor), not asyncio datagram transports: a transport cost ~70 µs more to open per
call and one loop callback per packet. Each readiness reads one datagram; a socket with more
waiting is ready again at the next poll. A packet that cannot be sent at once is dropped
(RTP is real-time: late audio is worse than a gap), never queued.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from afterbeep.net.socketwatch import SocketWatch
from afterbeep.rtp.receiver import RtpReceiver
from afterbeep.rtp.sender import RtpSender

log = logging.getLogger(__name__)

PACKET_SECONDS = 0.020
PACKET_BYTES = 160  # 20 ms of 8 kHz G.711


@dataclass(slots=True)
class ClockStats:
    """How late the media clock's ticks ran (seconds), for benchmarks and /metrics."""

    ticks: int = 0
    packets: int = 0
    late_buckets: list[int] = field(default_factory=lambda: [0] * 64)  # 1 ms buckets

    def add(self, lateness: float) -> None:
        self.ticks += 1
        self.late_buckets[min(63, max(0, int(lateness * 1000)))] += 1

    def percentile(self, fraction: float) -> float:
        """Upper bound (seconds) of the bucket holding the given fraction of ticks."""
        target = fraction * self.ticks
        seen = 0
        for index, count in enumerate(self.late_buckets):
            seen += count
            if seen >= target and count:
                return (index + 1) / 1000
        return 0.0


class MediaClock:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._playing: set[RtpStream] = set()
        self._start = self._loop.time()
        self._tick = 0
        self._handle: asyncio.TimerHandle | None = None
        self.stats = ClockStats()

    @property
    def tick(self) -> int:
        return self._tick

    def add(self, stream: RtpStream) -> None:
        self._playing.add(stream)
        if self._handle is None:
            # Restart the schedule from now: an idle clock does not run.
            self._start = self._loop.time()
            self._tick = 0
            self._handle = self._loop.call_at(self._start, self._run)

    def discard(self, stream: RtpStream) -> None:
        self._playing.discard(stream)

    def _run(self) -> None:
        now = self._loop.time()
        self.stats.add(now - (self._start + self._tick * PACKET_SECONDS))
        done = [stream for stream in self._playing if not stream.send_next(self._tick)]
        self.stats.packets += len(self._playing) - len(done)
        for stream in done:
            self._playing.discard(stream)
        if not self._playing:
            self._handle = None
            return
        self._tick += 1
        due = self._start + self._tick * PACKET_SECONDS
        if due < now - 0.2:
            # We fell far behind (a stalled loop): skip ahead rather than send a burst.
            missed = int((now - due) / PACKET_SECONDS)
            self._tick += missed
            due += missed * PACKET_SECONDS
        self._handle = self._loop.call_at(due, self._run)


class RtpStream:
    """One call's RTP socket: symmetric RTP, DTMF events, playback and recording buffers."""

    def __init__(
        self, clock: MediaClock, watch: SocketWatch, sock: socket.socket, port: int
    ) -> None:
        self.port = port
        self._clock = clock
        self._watch = watch
        self._sock: socket.socket | None = sock
        self.remote: tuple[str, int] | None = None
        self._latched = False
        self.receiver: RtpReceiver | None = None
        self._dtmf_pt = -1
        self._sender: RtpSender | None = None
        self._audio = b""  # what is playing: whole packets, sent PACKET_BYTES at a time
        self._position = 0  # the offset of the next packet in _audio
        self._last_tick = -1
        self._done: asyncio.Future[None] | None = None
        self.on_digit: Callable[[str], None] | None = None
        self.muted = False  # on hold: keep the clock, send nothing
        self._silence = 0xFF

    def configure(
        self, remote: tuple[str, int], payload_type: int, dtmf_pt: int | None, silence: int
    ) -> None:
        """Apply the negotiated plan (again after a re-INVITE)."""
        if not self._latched or remote[0] != (self.remote or ("", 0))[0]:
            self.remote = remote
        if self.receiver is None:
            self.receiver = RtpReceiver(payload_type, dtmf_pt, silence)
        self._dtmf_pt = dtmf_pt if dtmf_pt is not None else -1
        self._silence = silence
        if self._sender is None or self._sender.payload_type != payload_type:
            self._sender = RtpSender(
                payload_type,
                ssrc=random.getrandbits(32),
                sequence=random.getrandbits(16),
                timestamp=random.getrandbits(32),
            )

    # ---- the socket ------------------------------------------------------------------------

    def readable(self) -> None:
        """The socket has a datagram: take it (one; if more wait, we are called again)."""
        sock = self._sock
        if sock is None:
            return
        try:
            data, addr = sock.recvfrom(2048)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # ICMP unreachable from a caller that went away
            log.debug("RTP error on port %s: %s", self.port, exc)
            return
        self.datagram_received(data, addr)

    def _send(self, packet: bytes, remote: tuple[str, int]) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.sendto(packet, remote)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
                log.debug("RTP send from port %s failed: %s", self.port, exc)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        receiver = self.receiver
        if receiver is None or not receiver.receive(data):
            return
        if not self._latched or addr != self.remote:
            # Symmetric RTP (RFC 4961): answer where the caller's packets come from,
            # which is what gets media through the caller's NAT.
            self.remote = (addr[0], addr[1])
            self._latched = True
        if len(data) > 1 and data[1] & 0x7F == self._dtmf_pt:
            for digit in receiver.pop_digits():
                if self.on_digit is not None:
                    self.on_digit(digit)

    # ---- playback --------------------------------------------------------------------------

    def play(self, audio: bytes) -> asyncio.Future[None]:
        """Queue G.711 audio; the future completes when its last packet has been sent."""
        self.stop_playing()
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        if len(audio) % PACKET_BYTES:
            # Whole packets only, so timestamps stay exact: pad the end with silence.
            audio += bytes([self._silence]) * (PACKET_BYTES - len(audio) % PACKET_BYTES)
        self._audio = audio
        self._position = 0
        if not audio:
            self._done.set_result(None)
            return self._done
        self._clock.add(self)
        return self._done

    def stop_playing(self) -> None:
        self._audio = b""
        self._clock.discard(self)
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def send_next(self, tick: int) -> bool:
        """Called by the clock each tick; False when there is nothing left to play."""
        position = self._position
        if position >= len(self._audio):
            if self._done is not None and not self._done.done():
                self._done.set_result(None)
            return False
        sender = self._sender
        payload = self._audio[position : position + PACKET_BYTES]
        self._position = position + PACKET_BYTES
        if sender is None or self.remote is None or self._sock is None:
            return True
        if self._last_tick >= 0 and tick > self._last_tick + 1:
            sender.skip(tick - self._last_tick - 1)  # keep timestamps on wall-clock time
        self._last_tick = tick
        if not self.muted:
            self._send(sender.packet(payload), self.remote)
        return True

    def close(self) -> None:
        self.stop_playing()
        sock, self._sock = self._sock, None
        if sock is not None:
            self._watch.remove(sock.fileno())
            sock.close()


class MediaEngine:
    """Allocates RTP ports from the configured range and owns the media clock."""

    def __init__(self, host: str, ports: tuple[int, int]) -> None:
        self.host = host
        self._low, self._high = ports
        self._next = self._low
        self._in_use: set[int] = set()
        self.clock = MediaClock()
        self._watch = SocketWatch(asyncio.get_running_loop())

    async def open_stream(self) -> RtpStream:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        span = (self._high - self._low) // 2 + 1
        for _ in range(span):
            port = self._next
            self._next = self._low if self._next + 2 > self._high else self._next + 2
            if port in self._in_use:
                continue
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                sock.bind((self.host, port))
            except OSError:
                sock.close()
                continue  # taken by another process: try the next one
            stream = RtpStream(self.clock, self._watch, sock, port)
            self._watch.add(sock.fileno(), stream.readable)
            self._in_use.add(port)
            return stream
        raise OSError(f"no free RTP port in {self._low}-{self._high}")

    def release(self, stream: RtpStream) -> None:
        stream.close()
        self._in_use.discard(stream.port)
