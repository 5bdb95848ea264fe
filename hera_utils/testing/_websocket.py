"""The server side of WebSocket (RFC 6455) and of the Kubernetes channel protocols.

What the exec subresource needs: the opening handshake, unmasked frames from the server,
masked frames from the client, and the `v4.channel.k8s.io` framing the official client
speaks over it (each binary message starts with one byte naming its channel: 0 stdin,
1 stdout, 2 stderr, 3 the final status as a JSON `Status`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
from typing import Any

ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
V4_CHANNEL_PROTOCOL = "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, ERROR = 0, 1, 2, 3
OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
NORMAL_CLOSURE = 1000
# Frames of at most this many payload bytes: memory stays bounded on both sides.
MAX_FRAME_PAYLOAD = 64 * 1024


def accept_key(client_key: str) -> str:
    """The `Sec-WebSocket-Accept` answer to a client's `Sec-WebSocket-Key`."""
    digest = hashlib.sha1((client_key.strip() + ACCEPT_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def offered_protocols(header: str | None) -> list[str]:
    """The subprotocols a client offers in `Sec-WebSocket-Protocol`, in its order."""
    return [part.strip() for part in (header or "").split(",") if part.strip()]


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame (servers never mask)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def read_frame(stream: io.BufferedIOBase) -> tuple[int, bytes] | None:
    """The next frame from the client as (opcode, unmasked payload); None at end of stream."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    opcode = head[0] & 0x0F
    masked = bool(head[1] & 0x80)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", stream.read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", stream.read(8))[0]
    mask = stream.read(4) if masked else b""
    payload = stream.read(length)
    if masked:
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return opcode, payload


class ChannelWriter:
    """Sends channel messages of the v4 protocol over an upgraded connection."""

    def __init__(self, stream: io.BufferedIOBase) -> None:
        self._stream = stream

    def send(self, channel: int, data: bytes) -> None:
        """Send `data` on `channel`, cut into bounded frames."""
        for start in range(0, max(len(data), 1), MAX_FRAME_PAYLOAD):
            chunk = data[start : start + MAX_FRAME_PAYLOAD]
            self._stream.write(encode_frame(OPCODE_BINARY, bytes([channel]) + chunk))
        self._stream.flush()

    def send_status(self, exit_code: int, message: str = "") -> None:
        """The final status on the error channel, as the kubelet writes it."""
        status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        if exit_code != 0:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": message
                or f"command terminated with non-zero exit code: exit status {exit_code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]},
            }
        self.send(ERROR, json.dumps(status).encode())

    def close(self) -> None:
        """The closing handshake's first half (the client may or may not answer)."""
        self._stream.write(encode_frame(OPCODE_CLOSE, struct.pack("!H", NORMAL_CLOSURE)))
        self._stream.flush()
