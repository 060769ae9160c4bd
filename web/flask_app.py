"""The app's Flask class: templates per language, rows read directly, hooks' sync check
done once."""

from __future__ import annotations

from inspect import iscoroutinefunction
from types import FunctionType

from flask import Flask

from appliance.member_view import Row

from .i18n import TranslatedEnvironment


class PageEnvironment(TranslatedEnvironment):
    def getattr(self, obj, attribute):
        """`row.at` on a query row (appliance.member_view.Row, a dict) reads the column
        directly; Jinja's way tried the attribute first, through a Python-level __getattr__,
        for each of the hundred cells of a member page. Anything else as Jinja does."""
        if type(obj) is Row:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class StampboxFlask(Flask):
    jinja_environment = PageEnvironment

    def ensure_sync(self, func):
        """Flask asks this for every before/after-request hook and context processor on
        every request (about 15 on an admin page), and each answer inspected the function
        anew. Plain functions are answered once; anything else as Flask does."""
        if type(func) is not FunctionType:
            return super().ensure_sync(func)
        try:
            return _SYNC[func]
        except KeyError:
            pass
        answer = func if not iscoroutinefunction(func) else super().ensure_sync(func)
        if len(_SYNC) < 10_000:  # views and hooks are module-level: a few hundred at most
            _SYNC[func] = answer
        return answer


_SYNC: dict = {}
