"""Line framing for byte-stream readers (serial scanners, pipes, terminals).

Scanners end a scan with CR, LF or CR LF; a stream may also carry garbage with no line end at
all. Framing never decodes and never fails: every byte sequence frames into records, and an
endless line costs bounded memory.
"""

from __future__ import annotations

import os
import select
import time
from collections import deque

from .device import DeviceState
from .errors import DeviceLost
from .reader import Reader

# above the core's longest token (512 characters), so an overlong line still reaches the core
# and gets its refusal, but small enough that a runaway stream cannot fill memory
MAX_LINE = 1024
CHUNK = 4096


class LineBuffer:
    """Turns chunks of bytes into lines without their terminators."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self._partial = bytearray()
        self._after_cr = False  # a LF right after a CR ends no second (empty) line
        self._discarding = False  # the rest of an overlong line is dropped up to its end

    def feed(self, data: bytes) -> list[bytes]:
        lines = []
        for byte in data:
            if byte == 0x0A and self._after_cr:
                self._after_cr = False
                continue
            self._after_cr = byte == 0x0D
            if byte in (0x0A, 0x0D):
                if not self._discarding:
                    lines.append(bytes(self._partial))
                self._partial.clear()
                self._discarding = False
            elif not self._discarding:
                self._partial.append(byte)
                if len(self._partial) >= self.max_line:
                    # deliver what we have (the core refuses it as too long), drop the rest
                    lines.append(bytes(self._partial))
                    self._partial.clear()
                    self._discarding = True
        return lines

    def finish(self) -> list[bytes]:
        """The last line of a stream that ended without a line end."""
        rest = [] if self._discarding or not self._partial else [bytes(self._partial)]
        self._partial.clear()
        self._discarding = self._after_cr = False
        return rest


class LineReader(Reader):
    """A reader on a file descriptor carrying lines; subclasses open it (set self._fd)."""

    def __init__(self, name: str, max_line: int = MAX_LINE):
        super().__init__(name)
        self.max_line = max_line
        self._fd: int | None = None
        self._reset()

    def _reset(self) -> None:
        self._lines = LineBuffer(self.max_line)
        self._pending: deque[bytes] = deque()
        self._eof = False

    def _read(self, timeout: float) -> bytes | None:
        # a line may arrive in several chunks: keep reading until one is whole or time is up
        deadline = time.monotonic() + timeout
        while not self._pending and not self._eof:
            if not self._fill(max(0.0, deadline - time.monotonic())):
                break
        record = self._pending.popleft() if self._pending else None
        if self._eof and not self._pending:
            self._set_state(DeviceState.ENDED)
        return record

    def _fill(self, timeout: float) -> bool:
        """Read one chunk into the pending records; False if none came within timeout."""
        try:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                return False
            chunk = os.read(self._fd, CHUNK)
        except BlockingIOError:
            return False
        except (OSError, ValueError, TypeError) as exc:
            # ValueError/TypeError: the descriptor was closed under us
            raise DeviceLost(f"{self.name}: read failed: {exc}") from exc
        if chunk:
            self._pending.extend(self._lines.feed(chunk))
        else:
            self._pending.extend(self._lines.finish())
            self._eof = True
        return True
