"""Device health for the admin: a listener that writes each device's state changes to the
core's device_health rows, and the moment of its last event at most once a minute."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from appliance.device_health import record_health

from .device import Device, DeviceListener, DeviceState

log = logging.getLogger(__name__)

# what a state means to a person looking at the admin page
STATE_TEXT = {
    DeviceState.READY: "working",
    DeviceState.LOST: "not connected: plug it in; it is picked up again by itself",
    DeviceState.ENDED: "input ended",
    DeviceState.CLOSED: "stopped",
}
EVENT_EVERY = 60.0  # seconds between writes of last_event_at for a busy device


def kind_of(device: Device) -> str:
    name = type(device).__name__
    if name.startswith("Nfc"):
        return "nfc"
    if "Scanner" in name:
        return "scanner"
    if "Feedback" in name:
        return "feedback"
    return "reader"


class HealthListener(DeviceListener):
    """Records READY/LOST/... per device; OPENING is a passing state and not written."""

    def __init__(self):
        self._event_written: dict[str, float] = {}

    def on_state(self, device: Device, old: DeviceState, new: DeviceState) -> None:
        if new is DeviceState.OPENING:
            return
        record_health(device.name, kind_of(device), new.value, STATE_TEXT.get(new, ""))

    def on_event(self, device: Device, at: datetime) -> None:
        """A tap or scan happened: stamp last_event_at, at most once a minute per device."""
        now = time.monotonic()
        if now - self._event_written.get(device.name, -EVENT_EVERY) < EVENT_EVERY:
            return
        self._event_written[device.name] = now
        record_health(
            device.name, kind_of(device), device.state.value, STATE_TEXT.get(device.state, ""),
            event_at=at, now=at,
        )  # fmt: skip
