"""Input devices: a reader delivers records (a scanned line, an NFC UID as hex), nothing more."""

from __future__ import annotations

from .device import Device, DeviceState
from .errors import DeviceLost


class Reader(Device):
    """Base of NFC readers and scanners: subclasses implement the one I/O method _read()."""

    def read(self, timeout: float) -> bytes | None:
        """One record as the device delivered it, or None if none came within timeout seconds.

        Bytes, undecoded: what they mean (and whether they are garbage) is for the caller to
        decide. Raises DeviceLost when the device goes away; the state is then LOST.
        """
        try:
            return self._read(timeout)
        except DeviceLost:
            self._set_state(DeviceState.LOST)
            raise

    def mark_lost(self) -> None:
        """Not there (yet): the bridge loop retries opening it, as after an unplug."""
        self._set_state(DeviceState.LOST)

    def _read(self, timeout: float) -> bytes | None:
        raise NotImplementedError
