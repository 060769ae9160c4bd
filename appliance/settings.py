"""Typed settings: built-in defaults, under an optional TOML file, under STAMPBOX_* variables."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "STAMPBOX_"


class SettingsError(ValueError):
    """A setting has a value the appliance cannot start with."""


def _bool(raw: str | bool) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{raw!r} is not yes/no")


def _int(raw: str | int) -> int:
    if isinstance(raw, bool):
        raise ValueError("a number is needed")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    """Every knob of the appliance, with its unit in the name or the comment."""

    data_dir: Path = Path("./var")
    # peewee db_url; empty means SQLite at <data_dir>/stampbox.db
    database_url: str = ""
    # one stamp per member per this many minutes; staff may still add several in one visit
    stamp_cooldown_minutes: int = field(default=30, metadata={"min": 0, "max": 7 * 24 * 60})
    # the counter screen shows a simulated-tap form and `run` accepts typed tokens
    dev_mode: bool = False
    # where customers reach the box (card QR codes point here)
    public_url: str = "http://stampbox.local"
    web_host: str = "127.0.0.1"
    web_port: int = field(default=8000, metadata={"min": 1, "max": 65535})
    # the shop's zone for dates shown to people; "" means the machine's local zone
    timezone: str = ""
    # a file that exists once the clock is synchronised (on the box systemd-timesyncd's
    # /run/systemd/timesync/synchronized); "" trusts the clock, as on a laptop
    clock_sync_file: str = ""
    # a mounted USB stick (or other folder) that nightly backups are also copied to; "" = none
    backup_copy_dir: str = ""
    # device drivers for the bridge, comma separated: "sim", "sim:/path/to/fifo", ...
    devices: str = "sim"
    # -- counter hardware (issue 3), each an address string with a simulator -----------------
    # NFC reader: usb | usb:072f:2200 | tty:AMA0:pn532 | tty:USB0:pn532 | udp:HOST:PORT | none
    nfc: str = "none"
    # barcode/QR scanners, comma separated: /dev/input/eventN, hid:NAME-PATTERN (evdev),
    # serial:/dev/ttyACM0 (USB-CDC); "" for none
    scanners: str = ""
    # receipt printer: serial:/dev/ttyUSB0?baudrate=19200 | usb:VID:PID | tcp:HOST:9100 |
    # file:PATH (appends raw ESC/POS) | preview (PNG pictures in <data_dir>/slips) | none
    printer: str = "preview"
    # paper width in millimetres: 58 or 80
    printer_width: int = field(default=80, metadata={"min": 58, "max": 80})
    # the shop's local hour (0-23) at which the day's summary slip prints; -1: never
    day_summary_hour: int = field(default=-1, metadata={"min": -1, "max": 23})
    # the keyboard layout HID scanners are set to type in (what their keystrokes mean)
    keyboard_layout: str = field(default="us", metadata={"choices": ("us", "de", "fr")})
    # beep/LED at the counter, comma separated: log (the bridge's log), serial:/dev/ttyACM1 (a
    # feedback board, protocol in firmware_bridge/feedback_board.py), printer (its buzzer)
    feedback: str = "log"

    # -- outbound email (SMTP) and SMS (a Twilio-shaped HTTP API) --------------------------
    smtp_host: str = ""
    smtp_port: int = field(default=587, metadata={"min": 1, "max": 65535})
    smtp_user: str = ""
    smtp_password: str = field(default="", metadata={"secret": True})
    smtp_security: str = field(
        default="starttls", metadata={"choices": ("none", "starttls", "tls")}
    )
    mail_from: str = ""
    sms_api_url: str = ""
    sms_account: str = ""
    sms_token: str = field(default="", metadata={"secret": True})
    sms_from: str = ""
    # campaigns and automations (issue 4): the name messages sign with; the first retry of a
    # delivery that failed for a passing reason (server down) waits this long, doubling to 1 h
    shop_name: str = ""
    delivery_retry_seconds: int = field(default=30, metadata={"min": 1, "max": 3600})
    # optional DKIM signing of outgoing mail: selector and a PEM private key file (RSA)
    dkim_selector: str = ""
    dkim_key_file: str = ""
    # SMS: no marketing SMS between these local hours (start, end); at most this many a minute
    sms_quiet_start_hour: int = field(default=21, metadata={"min": 0, "max": 24})
    sms_quiet_end_hour: int = field(default=8, metadata={"min": 0, "max": 24})
    sms_per_minute: int = field(default=60, metadata={"min": 1, "max": 6000})

    # -- wallet passes (issue 6) ----------------------------------------------------------
    # Apple: the Pass Type ID (pass.com.example.shop), the team, the Pass Type ID certificate
    # and its private key (PEM files), Apple's WWDR intermediate (PEM or DER); APNs base URL
    apple_pass_type_id: str = ""
    apple_team_id: str = ""
    apple_cert: str = ""
    apple_key: str = field(default="", metadata={"secret": True})
    apple_wwdr: str = ""
    apns_url: str = "https://api.push.apple.com"
    # Google: the issuer id, the service account's JSON key file, the REST base URL
    google_issuer_id: str = ""
    google_service_account: str = field(default="", metadata={"secret": True})
    google_api_url: str = "https://walletobjects.googleapis.com/walletobjects/v1"
    # APNs token authentication, an option to the certificate: the .p8 key file, its key id
    # and the team id (default: the Pass Type ID certificate's team)
    apns_key_file: str = field(default="", metadata={"secret": True})
    apns_key_id: str = ""
    apns_team_id: str = ""

    # -- chain mode (issue 7) ---------------------------------------------------------------
    # the box's own nats-server (a leaf of the centre); "" = a single box, no chain
    chain_nats_url: str = ""
    # a voucher claim the centre has not answered within this is redeemed provisionally
    chain_claim_timeout_ms: int = field(default=800, metadata={"min": 50, "max": 10_000})

    @property
    def db_path(self) -> Path:
        return self.data_dir / "stampbox.db"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    def describe(self) -> dict:
        """Settings as printable data, with passwords and tokens hidden."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value:
                value = "***"
            elif f.name == "database_url" and "@" in str(value):
                scheme, _, rest = str(value).partition("://")
                value = f"{scheme}://***@{rest.rpartition('@')[2]}"
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


_PARSERS = {Path: lambda raw: Path(str(raw)), str: str, int: _int, bool: _bool}


def _coerce(f: dataclasses.Field, raw, origin: str):
    kind = {"Path": Path, "str": str, "int": int, "bool": bool}[str(f.type)]
    try:
        value = _PARSERS[kind](raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{origin}: {raw!r} is not a valid {kind.__name__} ({exc})") from None
    choices = f.metadata.get("choices")
    if choices and value not in choices:
        raise SettingsError(f"{origin}: {value!r} is not one of {', '.join(choices)}")
    low, high = f.metadata.get("min"), f.metadata.get("max")
    if low is not None and value < low or high is not None and value > high:
        raise SettingsError(f"{origin}: {value} is outside {low}..{high}")
    return value


def load_settings(environ: dict | None = None, **overrides) -> Settings:
    """Read defaults, then the TOML file named by STAMPBOX_CONFIG, then STAMPBOX_* variables.

    Raises SettingsError with the offending name for unknown keys or bad values.
    """
    environ = os.environ if environ is None else environ
    known = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict = {}
    config_file = environ.get(ENV_PREFIX + "CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                table = tomllib.load(fh)
        except OSError as exc:
            raise SettingsError(
                f"STAMPBOX_CONFIG: cannot read {config_file}: {exc.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(
                f"STAMPBOX_CONFIG: {config_file} is not valid TOML: {exc}"
            ) from None
        for key, raw in table.items():
            if key not in known:
                raise SettingsError(f"{config_file}: unknown setting {key!r}")
            values[key] = _coerce(known[key], raw, f"{config_file}: {key}")
    for name, f in known.items():
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = _coerce(f, environ[env_name], env_name)
    for name, raw in overrides.items():
        values[name] = _coerce(known[name], raw, name)
    return Settings(**values)
