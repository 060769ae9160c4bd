"""Simulated readers, so the whole stack runs with no hardware: a named pipe, or the terminal.

echo 04A23B4C5D6E7F > var/sim-reader.fifo      # a tap of that NFC card
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import DeviceNotFound
from .lines import LineReader


class FifoReader(LineReader):
    """Reads one token per line from a named pipe, created if missing."""

    def __init__(self, path: Path | str, name: str = "sim"):
        super().__init__(name)
        self.path = Path(path)
        self._keep_open: int | None = None

    def _open(self) -> None:
        self._reset()
        try:
            os.mkfifo(self.path, 0o660)
        except FileExistsError:
            if not stat.S_ISFIFO(self.path.stat().st_mode):
                raise DeviceNotFound(
                    f"{self.name}: {self.path} exists but is not a named pipe; remove it or "
                    'name another path (devices = "sim:/path/to/fifo")'
                ) from None
        except OSError as exc:
            raise DeviceNotFound(
                f"{self.name}: cannot create the pipe {self.path}: {exc.strerror}"
            ) from exc
        # non-blocking: opening a pipe for reading would otherwise wait for the first writer
        self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        # holding a write end ourselves means writers coming and going never look like the end
        # of the input (a pipe with no writer reads as end-of-file, again and again)
        self._keep_open = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)

    def _close(self) -> None:
        for fd in (self._fd, self._keep_open):
            if fd is not None:
                os.close(fd)
        self._fd = self._keep_open = None


class StdinReader(LineReader):
    """Reads one token per line from standard input (or another descriptor); ends at EOF."""

    def __init__(self, fd: int = 0, name: str = "stdin"):
        super().__init__(name)
        self.source_fd = fd

    def _open(self) -> None:
        self._reset()
        try:
            os.fstat(self.source_fd)
        except OSError:
            raise DeviceNotFound(f"{self.name}: there is no standard input to read") from None
        self._fd = self.source_fd

    def _close(self) -> None:
        # the descriptor is borrowed (fd 0 belongs to the process): leave it open
        self._fd = None
