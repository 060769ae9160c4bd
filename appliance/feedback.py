"""What the counter sounds like: one beep/light pattern per outcome, and the rule that picks
the pattern for a tap. The bridge plays it on its buzzers and board, the counter screen plays
the same pattern itself; both take it from here so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    """Beeps as (pitch in Hz, duration in ms), in order; the LED's colour while they sound."""

    beeps: tuple[tuple[int, int], ...]
    led: str

    def describe(self) -> str:
        beeps = " ".join(f"{hz}Hz/{ms}ms" for hz, ms in self.beeps)
        return f"{len(self.beeps)} beep(s) [{beeps}], LED {self.led}"


# distinct by ear alone: high and short is good news, low and long is "no"
SIGNALS: dict[str, Pattern] = {
    "stamped": Pattern(((2700, 80),), "green"),
    "voucher": Pattern(((2700, 80), (3400, 120)), "blue"),
    # a card just filled: a rising run, so staff hand over the slip
    "reward": Pattern(((2700, 80), (3400, 80), (4000, 200)), "blue"),
    # a birthday gift is waiting: two bright chirps, magenta
    "birthday": Pattern(((3400, 60), (4000, 60), (3400, 60), (4000, 60)), "magenta"),
    "cooldown": Pattern(((1800, 250),), "amber"),
    "unknown": Pattern(((2000, 80), (2000, 80), (2000, 80)), "amber"),
    "refused": Pattern(((600, 500),), "red"),
    # the bridge itself failed (not the customer's card): try again, or call the owner
    "error": Pattern(((600, 150), (600, 150), (600, 150)), "red"),
}

# CounterResult.status -> signal; anything new in the core sounds like a refusal
SIGNAL_FOR_STATUS = {
    "stamped": "stamped",
    "cooldown": "cooldown",
    "voucher": "voucher",
    # a voucher redeemed from the counter screen: good news, as a scanned voucher is
    "redeemed": "voucher",
    "unknown_card": "unknown",
    "refused": "refused",
}


def signal_for(result) -> str:
    """The signal for a tap (a CounterResult, or its dict as stored in the counter event log):
    the best news of the tap wins (a reward over a plain stamp)."""
    data = result if isinstance(result, dict) else vars(result)
    status = data.get("status")
    if status == "stamped" and data.get("unlocked"):
        return "reward"
    if status in ("stamped", "cooldown") and data.get("birthday"):
        return "birthday"
    # a birthday voucher scanned (or redeemed from the screen) is the gift, not any voucher
    if status in ("voucher", "redeemed") and (data.get("voucher") or {}).get("kind") == "birthday":
        return "birthday"
    return SIGNAL_FOR_STATUS.get(status, "refused")
