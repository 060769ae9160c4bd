"""The app's Flask class: templates per language, rows read directly, hooks' sync check
done once."""

from __future__ import annotations

from inspect import iscoroutinefunction
from types import FunctionType

from flask import Flask
from jinja2 import Template, nodes
from jinja2.compiler import CodeGenerator, is_python_keyword
from jinja2.runtime import Context
from markupsafe import _escape_inner  # markupsafe's C escaping (pinned 3.0)

from appliance.member_view import Row

from .i18n import TranslatedEnvironment


def _output_text(value) -> str:
    """A template's `{{ value }}`, escaped, as text.

    Jinja's compiled templates call markupsafe.escape for each value they output, which
    wraps its text in a Markup object (a Python-level constructor) only for the page to join
    it into plain text: a hundred wrappings on a member list. Markup keeps its own text, as
    markupsafe.escape does."""
    if value.__class__ is str:
        return _escape_inner(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape_inner(str(value))


class PageTemplate(Template):
    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        template = super().from_code(environment, code, globals, uptodate)
        # the compiled module's own name for output escaping (jinja2.runtime.escape)
        template.root_render_func.__globals__["escape"] = _output_text
        # what PageCodeGenerator.visit_Call's direct calls check a callee against
        template.root_render_func.__globals__[_FUNCTION] = FunctionType
        return template


class PageContext(Context):
    def call(__self, __obj, *args, **kwargs):  # noqa: N805 (Jinja's own signature)
        """A template's call of a plain function (url_for, csrf_token, a cached part) made
        directly. Jinja's way first asked the function and its __call__ for a pass_context
        mark, a dozen look-ups per call, for each link on a page. Functions carrying the mark,
        and every other callable, go Jinja's way."""
        if type(__obj) is FunctionType and "jinja_pass_arg" not in __obj.__dict__:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # as Jinja answers it
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception"
                )
        return super().call(__obj, *args, **kwargs)


class PageCodeGenerator(CodeGenerator):
    _page_calls = 0  # call sites compiled so far (visit_Call names each callee after it)

    def visit_Output(self, node, frame) -> None:
        """A run of text and values between two tags is handed on as one piece.

        Jinja yields each piece of a run separately, and every piece travels up through the
        generators of the block, of each template it extends and of the render: three
        hundred pieces on a member list, four levels each. The run's pieces are now gathered
        the way Jinja gathers a macro's (its buffer) and joined: the same text, in the same
        order, a tenth of the trips. Output that Jinja checks against an `extends` still
        to come, output under a buffer already, and async templates stay Jinja's."""
        if (
            frame.buffer is not None
            or frame.require_output_check
            or self.environment.is_async
            or all(isinstance(child, nodes.TemplateData) for child in node.nodes)
        ):
            super().visit_Output(node, frame)
            return
        self.writeline(f"{_RUN} = []")
        frame.buffer = _RUN
        try:
            super().visit_Output(node, frame)
        finally:
            frame.buffer = None
        self.writeline(f"yield concat({_RUN})")

    def blockvisit(self, body, frame) -> None:
        """A `{% block %}` hands on its whole output as one piece.

        Each piece a block yields travels up through the generators of every template it
        extends and of the render; a member page's content block yielded thirty (one per
        run of output, per row of each table). The block's function now gathers its output
        the way Jinja gathers a macro's (a buffer, inherited by the loops and conditions
        inside it) and yields it joined once at its end. Only the block's own body: Jinja
        visits the bodies of conditions with copies of the block's frame (soft frames)."""
        if (
            not frame.block_frame
            or frame.soft_frame
            or frame.buffer is not None
            or self.environment.is_async
        ):
            super().blockvisit(body, frame)
            return
        frame.buffer = _BLOCK
        self.writeline(f"{_BLOCK} = []")
        try:
            super().blockvisit(body, frame)
        finally:
            frame.buffer = None
        self.writeline(f"yield concat({_BLOCK})")

    def visit_Call(self, node, frame, forward_caller: bool = False) -> None:
        """`name(...)` calls a plain function directly when that is what the name holds.

        Jinja sends every call through the context (context.call), which looks for a
        pass_context mark and then makes the call: two calls, a keyword dict built, filled
        and emptied, for each link of a member list (`url_for(...)`). A call of a variable
        or global by name now checks the value it finds: a plain function without Jinja's
        mark is called at once; anything else (marked functions, objects, macros, undefined
        names) goes through context.call as before. Unlike Jinja, a function raising
        StopIteration fails the page instead of giving an undefined value. Calls with a
        caller, * or ** arguments, or keywords Python reserves stay Jinja's."""
        if (
            forward_caller
            or self.environment.is_async
            or self.environment.sandboxed
            or not isinstance(node.node, nodes.Name)
            or node.dyn_args is not None
            or node.dyn_kwargs is not None
            or any(is_python_keyword(keyword.key) for keyword in node.kwargs)
        ):
            super().visit_Call(node, frame, forward_caller=forward_caller)
            return
        # a name per call site: a call among another's arguments keeps its own
        self._page_calls += 1
        callee = f"_page_callee{self._page_calls}"
        self.write(f"({callee}(")
        for i, argument in enumerate((*node.args, *node.kwargs)):
            if i:
                self.write(", ")
            self.visit(argument, frame)
        self.write(f") if type({callee} := ")
        self.visit(node.node, frame)
        self.write(f") is {_FUNCTION} and 'jinja_pass_arg' not in {callee}.__dict__ else ")
        super().visit_Call(node, frame)
        self.write(")")


# not names Jinja gives template variables (l_…, t_…) or uses itself
_RUN = "_page_run"
_BLOCK = "_page_block"
_FUNCTION = "_page_function"


class PageEnvironment(TranslatedEnvironment):
    template_class = PageTemplate
    context_class = PageContext
    code_generator_class = PageCodeGenerator

    def make_globals(self, d):
        """A template's globals as a plain dict: the environment's, then its own.

        Jinja gives each template a ChainMap over the environment's globals, so that a global
        added later shows in templates already loaded; but every render copies all globals
        into its context through that ChainMap, a Python-level look-up each (about 20 µs a
        page, bench/README.md). The app adds its globals while it is built (create_app), before
        any template is loaded, so each template takes a copy once."""
        return {**self.globals, **d} if d else dict(self.globals)

    def getattr(self, obj, attribute):
        """`row.at` on a query row (appliance.member_view.Row, a dict) reads the column
        directly; Jinja's way tried the attribute first, through a Python-level __getattr__,
        for each of the hundred cells of a member page. Anything else as Jinja's own (3.1,
        not sandboxed) does, written out here: a call less for each of a page's cells."""
        if type(obj) is Row:
            try:
                return obj[attribute]
            except KeyError:
                pass
        try:
            return getattr(obj, attribute)
        except AttributeError:
            pass
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)


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
