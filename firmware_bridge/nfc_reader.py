"""NFC readers through nfcpy: USB (ACR122U, SCL3711, RC-S380), PN532 on a serial port or the
Pi's UART (tty:AMA0:pn532, or pn532:/dev/serial/by-id/... for any path), and nfcpy's simulated
radio (udp:HOST:PORT).

The record is the ISO 14443-A UID as hex. One tap is one record: while the same card stays on
the reader nothing more is delivered; the reader re-arms when it is taken away. NDEF records
are read from Type 2 tags where present, just after the tap was handed on (so they cost the tap
nothing), and kept in `last_ndef` (logged, not a token).
"""

from __future__ import annotations

import logging
import termios
import time

from .device import DeviceState
from .errors import DeviceLost, DeviceNotFound
from .reader import Reader

log = logging.getLogger(__name__)

# how often a card resting on the reader is checked for removal, in seconds
PRESENCE_INTERVAL = 0.1


class NfcReader(Reader):
    """A reader delivering one UID per card presence."""

    hot_plug = True  # a reader missing at start is looked for again, not fatal

    def __init__(self, path: str, name: str = "nfc"):
        super().__init__(name)
        self.path = path
        self.clf = None
        self._present: bytes | None = None  # UID of the card on the reader now
        self._ndef_target = None  # the card whose NDEF is still to be read
        self.last_ndef: list[tuple[str, str]] = []
        # time.perf_counter() when the reader last reported a new card: the tap's device event
        self.detected_at: float | None = None

    def _open(self) -> None:
        import nfc

        self._present = self._ndef_target = None
        try:
            if self.path.startswith("pn532:"):
                clf, found = open_pn532(self.path[len("pn532:") :]), True
            else:
                clf = nfc.ContactlessFrontend()
                found = clf.open(self.path)
        except (OSError, ValueError) as exc:
            raise DeviceNotFound(f"{self.name}: cannot open {self.path}: {exc}") from exc
        if not found:
            raise DeviceNotFound(
                f"{self.name}: no NFC reader at {self.path!r} (plugged in? the kernel's "
                "pn533/nfc modules blacklisted?)"
            )
        self.clf = clf

    def _close(self) -> None:
        if self.clf is not None:
            try:
                self.clf.close()
            except (OSError, ValueError, termios.error) as exc:
                # best effort: an unplugged reader cannot be told goodbye
                log.debug("%s: closing: %s", self.name, exc)
            finally:
                self.clf = None

    def _read(self, timeout: float) -> bytes | None:
        import nfc.clf

        if self.clf is None:
            self._set_state(DeviceState.LOST)
            return None
        try:
            if self._present is not None:
                if self._sense(nfc.clf.RemoteTarget("106A", sel_req=self._present)):
                    if self._ndef_target is not None:
                        # read after the tap was handed on: NDEF is never on the tap's path
                        self.last_ndef = self._ndef(self._ndef_target)
                        self._ndef_target = None
                        if self.last_ndef:
                            log.info("%s: NDEF %s", self.name, self.last_ndef)
                    time.sleep(min(timeout, PRESENCE_INTERVAL))
                    return None
                log.debug("%s: card %s taken away: re-armed", self.name, self._present.hex())
                self._present = self._ndef_target = None
            target = self._sense(nfc.clf.RemoteTarget("106A"))
            if target is None:
                return None
            self.detected_at = time.perf_counter()
            uid = bytes(target.sdd_res)
            self._present, self._ndef_target, self.last_ndef = uid, target, []
            return uid.hex().upper().encode("ascii")
        except (OSError, ValueError, termios.error) as exc:
            # the USB reader was unplugged, the serial line hung up (termios.error from
            # pyserial's flush), a descriptor closed under select (ValueError)
            raise DeviceLost(f"{self.name}: the reader went away: {exc}") from exc

    def _sense(self, target):
        import nfc.clf

        try:
            return self.clf.sense(target, iterations=1, interval=0.05)
        except nfc.clf.CommunicationError as exc:
            # a card moved away mid-exchange: as if nothing was there
            log.debug("%s: sense: %r", self.name, exc)
            return None

    def _ndef(self, target) -> list[tuple[str, str]]:
        """NDEF records of a Type 2 tag (SEL_RES says: no ISO-DEP), as (type, text) pairs."""
        if target.sel_res is None or target.sel_res[0] & 0x60:
            return []
        import nfc.tag
        from nfc.tag.tt2 import Type2Tag

        try:
            ndef = Type2Tag(self.clf, target).ndef
            if ndef is None:
                return []
            return [(record.type, _record_text(record)) for record in ndef.records]
        except (nfc.tag.TagCommandError, nfc.clf.CommunicationError, ValueError) as exc:
            log.debug("%s: no NDEF read: %r", self.name, exc)
            return []


def _record_text(record) -> str:
    for attribute in ("uri", "text"):
        value = getattr(record, attribute, None)
        if value:
            return str(value)
    return bytes(record.data).hex()


def open_pn532(port: str):
    """nfcpy's PN532 driver on any serial port by its path (pn532:/dev/serial/by-id/...):
    nfcpy's own tty: paths only name ports directly under /dev. Raises OSError if no PN532
    answers there."""
    import nfc
    from nfc.clf import pn532, transport

    frontend = nfc.ContactlessFrontend()
    link = transport.TTY(port)
    try:
        device = pn532.init(link)
    except Exception:
        link.close()
        raise
    with frontend.lock:
        frontend.device = device
    return frontend
