"""SMS through a Twilio-shaped HTTP API: POST form fields, HTTP Basic, 201 with a sid.

An SMS interrupted between the request and recording its answer is not sent again (a
second text would be a different message on the customer's phone); it is left "uncertain".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

from . import Channel, Offline, Outgoing, Rejected, Uncertain, register


def request_signature(url: str, params, token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 under the auth token of the full URL
    followed by every form field's name and value, sorted by name (then value)."""
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def signature_ok(urls, params, signature: str, token: str) -> bool:
    """True if the signature matches the request under any of the URLs it may have used."""
    if not token or not signature:
        return False
    params = list(params)
    return any(
        hmac.compare_digest(request_signature(url, params, token), signature) for url in urls
    )


def messages_url(base: str, account: str) -> str:
    return f"{base.rstrip('/')}/2010-04-01/Accounts/{urllib.parse.quote(account)}/Messages.json"


@register
class SmsChannel(Channel):
    name = "sms"
    address_column = "phone"
    consent_column = "sms_consent_at"
    unsubscribed_column = "sms_unsubscribed_at"
    resend_after_crash = False
    uses_suppression_list = True

    # per process, not per batch: a new batch must not start with a burst
    _last_sent = 0.0
    # the pace's clock and wait (a test reads the waits instead of spending them)
    clock = staticmethod(time.monotonic)
    pause = staticmethod(time.sleep)

    def configured(self) -> bool:
        s = self.settings
        return bool(s.sms_api_url and s.sms_account and s.sms_token and s.sms_from)

    def defer_until(self, now: datetime) -> datetime | None:
        """Quiet hours in the shop's zone (start > end wraps past midnight)."""
        s = self.settings
        start, end = s.sms_quiet_start_hour, s.sms_quiet_end_hour
        if start == end:
            return None
        local = now.astimezone(self.box.zone)
        hour = local.hour
        quiet = start <= hour < end if start < end else hour >= start or hour < end
        if not quiet:
            return None
        resume = local.replace(hour=end % 24, minute=0, second=0, microsecond=0)
        if resume <= local:
            resume += timedelta(days=1)
        return resume

    def send(self, out: Outgoing) -> str:
        s = self.settings
        # a steady pace: at most sms_per_minute, however large the batch
        gap = 60.0 / s.sms_per_minute - (self.clock() - self._last_sent)
        if gap > 0:
            self.pause(gap)
        body = urllib.parse.urlencode(
            {"To": out.address, "From": s.sms_from, "Body": out.text}
        ).encode()
        request = urllib.request.Request(messages_url(s.sms_api_url, s.sms_account), data=body)
        auth = base64.b64encode(f"{s.sms_account}:{s.sms_token}".encode()).decode()
        request.add_header("Authorization", f"Basic {auth}")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            if exc.code == 429 or exc.code >= 500:
                raise Offline(f"SMS provider said later: {exc.code} {detail}") from None
            raise Rejected(f"SMS provider refused: {exc.code} {detail}") from None
        except TimeoutError as exc:
            raise Uncertain(f"no answer from the SMS provider after sending: {exc}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise Uncertain(f"no answer from the SMS provider: {exc.reason}") from None
            raise Offline(f"SMS provider unreachable: {exc.reason}") from None
        except (OSError, ValueError) as exc:
            raise Offline(f"SMS provider unreachable: {exc}") from None
        finally:
            SmsChannel._last_sent = self.clock()
        return str(answer.get("sid", ""))
