"""The device side of Stampbox: readers, feedback, and the loop that hands tokens to the core.

Only the device layer is exported here; importing it does not import `appliance`
(the bridge loop lives in firmware_bridge.counter_loop, the program in firmware_bridge.main).
"""

# first: python-escpos' cache folder is chosen before any module here imports it
from . import escpos_cache  # noqa: F401
from .device import READABLE_STATES, RETRY_STATES, Device, DeviceListener, DeviceState
from .drivers import build_readers
from .errors import DeviceConfigError, DeviceError, DeviceLost, DeviceNotFound
from .feedback import Feedback, LogFeedback, MemoryFeedback
from .lines import LineBuffer, LineReader
from .reader import Reader
from .sim import FifoReader, StdinReader

__all__ = [
    "READABLE_STATES",
    "RETRY_STATES",
    "Device",
    "DeviceConfigError",
    "DeviceError",
    "DeviceListener",
    "DeviceLost",
    "DeviceNotFound",
    "DeviceState",
    "Feedback",
    "FifoReader",
    "LineBuffer",
    "LineReader",
    "LogFeedback",
    "MemoryFeedback",
    "Reader",
    "StdinReader",
    "build_readers",
]
