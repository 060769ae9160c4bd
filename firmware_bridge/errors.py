"""The bridge's own exceptions: driver libraries' errors are translated into these at the seam."""

from __future__ import annotations


class DeviceError(Exception):
    """Something about a device that a person has to look at; the message says what."""


class DeviceConfigError(DeviceError):
    """The devices setting names a driver that does not exist or cannot take these arguments."""


class DeviceNotFound(DeviceError):
    """The device could not be opened: not plugged in, wrong path, or no permission."""


class DeviceLost(DeviceError):
    """A device that was working went away (unplugged, read error); the bridge retries."""
