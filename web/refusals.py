"""The core's refusals in the reader's language (see appliance.refusal).

The core raises with an English template marked N_ and the values that fill it; this looks the
template up in the catalogue of the request's language and fills in the same values. Anything
else (or a template the catalogue lacks) reads as the core wrote it.
"""

from __future__ import annotations

from flask_babel import gettext

from appliance.refusal import Refusal, Sentence


def explain(exc: Exception | Sentence) -> str:
    """The exception's (or the core's sentence's) message for the person who made the request."""
    if isinstance(exc, (Refusal, Sentence)):
        try:
            return gettext(exc.template, **exc.values)
        except (KeyError, ValueError, TypeError):  # a translation with a broken placeholder
            return str(exc)
    return str(exc)
