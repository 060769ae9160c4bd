"""Refusals the owner reads, in the owner's language, from a core that translates nothing.

The core has no Flask and no catalogue. A refusal keeps its message as a template marked with
N_ (a no-op the catalogue extraction looks for: `pybabel extract -k N_`) and the values that
fill it; `str(exc)` is the English sentence (the CLI, logs), and an adapter that knows the
reader's language (web.refusals.explain) looks the template up in its catalogue and fills in
the same values. Values are names, numbers and codes, which read the same in every language.
"""

from __future__ import annotations


def N_(text: str) -> str:
    """Mark text for the catalogues without translating it."""
    return text


class Refusal(ValueError):
    """A request the core refuses; the message says what happened and what to do.

    Raised as `SomeError(N_("%(name)s must be ..."), name=...)`; a plain sentence also works.
    """

    def __init__(self, template: str, **values) -> None:
        self.template = template
        self.values = values
        super().__init__(template % values if values else template)

    @classmethod
    def wrapping(cls, other: BaseException) -> Refusal:
        """This kind of refusal, saying what `other` said (translated the same way if it can)."""
        if isinstance(other, Refusal):
            return cls(other.template, **other.values)
        return cls(str(other))


class Sentence(str):
    """A message that is not a refusal (a check passed, a test sent), kept the same way: the
    English text as the string itself, its template and values for an adapter to translate."""

    def __new__(cls, template: str, **values) -> Sentence:
        text = super().__new__(cls, template % values if values else template)
        text.template, text.values = template, values
        return text


__all__ = ["N_", "Refusal", "Sentence"]
