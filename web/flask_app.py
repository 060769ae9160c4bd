"""The app's Flask class: templates per language, rows read directly, hooks' sync check
done once."""

from __future__ import annotations

from inspect import iscoroutinefunction
from types import FunctionType

from flask import Flask
from flask.globals import _cv_request
from flask.templating import _default_template_ctx_processor
from jinja2 import Template, nodes
from jinja2.compiler import CodeGenerator, is_python_keyword, optimizeconst
from jinja2.runtime import Context
from markupsafe import _escape_inner  # markupsafe's C escaping (pinned 3.0.4, pyproject.toml)

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
    if value.__class__ is int:  # digits and a sign: nothing to escape (ids, counts)
        return str(value)
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
        # what visit_Getattr's and the output's inlined code use
        template.root_render_func.__globals__[_ROW] = Row
        template.root_render_func.__globals__[_ESCAPE_TEXT] = _escape_inner
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
    _page_names = 0  # names given so far to inlined reads, outputs and callees (each its own)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the inlined outputs still open (_output_child_pre written, _post not yet)
        self._page_outputs: list[str | None] = []

    def _page_name(self, kind: str) -> str:
        self._page_names += 1
        return f"_page_{kind}{self._page_names}"

    @optimizeconst
    def visit_Getattr(self, node, frame) -> None:
        """`row.at` is read in the template's own code, not by a call of environment.getattr.

        A member list reads a couple of hundred attributes, each a Python call. The same
        steps are now written out where the attribute is read: a query row's column
        (appliance.member_view.Row), else the attribute (getattr with a default: only an
        AttributeError, as Jinja catches), else the item through the environment
        (PageEnvironment.page_item), else undefined. Async and sandboxed templates stay
        Jinja's."""
        if self.environment.is_async or self.environment.sandboxed:
            super().visit_Getattr(node, frame)
            return
        value, found, name = self._page_name("obj"), self._page_name("attr"), repr(node.attr)
        self.write(f"({value}[{name}] if type({value} := ")
        self.visit(node.node, frame)
        self.write(
            f") is {_ROW} and {name} in {value} else {found}"
            f" if ({found} := getattr({value}, {name}, missing)) is not missing"
            f" else environment.page_item({value}, {name}))"
        )

    def _output_child_pre(self, node, frame, finalize) -> None:
        """An output value that is text is escaped in place; anything else through escape
        (_output_text), as before: a call less per value (a member list outputs 170)."""
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape or finalize.src:
            self._page_outputs.append(None)
            super()._output_child_pre(node, frame, finalize)
            return
        value = self._page_name("out")
        self._page_outputs.append(value)
        self.write(f"({_ESCAPE_TEXT}({value}) if ({value} := ")

    def _output_child_post(self, node, frame, finalize) -> None:
        value = self._page_outputs.pop()
        if value is None:
            super()._output_child_post(node, frame, finalize)
            return
        self.write(f").__class__ is str else escape({value}))")

    def blockvisit(self, body, frame) -> None:
        """A `{% block %}`, and a template that extends none, hands on its output as one piece.

        Each piece a block yields travels up through the generators of every template it
        extends and of the render; a member page's content block yielded thirty (one per
        run of output, per row of each table). The block's function now gathers its output
        the way Jinja gathers a macro's (a buffer, inherited by the loops and conditions
        inside it) and yields it joined once at its end; so does the root of a template
        without `extends` (a base template, an include). Only the block's or the root's own
        body: Jinja visits the bodies of conditions with copies of their frame (soft
        frames). A root whose output Jinja checks against an `extends` stays Jinja's."""
        if (
            not (frame.block_frame or (frame.rootlevel and not frame.require_output_check))
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
        callee = self._page_name("callee")
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
_BLOCK = "_page_block"
_ROW = "_page_row"
_ESCAPE_TEXT = "_page_escape_text"
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

    def page_item(self, obj, attribute):
        """The last steps of getattr (PageCodeGenerator.visit_Getattr writes the first ones
        into the template): the item, else undefined."""
        try:
            return obj[attribute]
        except (TypeError, LookupError, AttributeError):
            return self.undefined(obj=obj, name=attribute)

    def getattr(self, obj, attribute):
        """`row.at` on a query row (appliance.member_view.Row, a dict) reads the column
        directly; Jinja's way tried the attribute first, through a Python-level __getattr__,
        for each of the hundred cells of a member page. Anything else as Jinja's own (3.1,
        not sandboxed) does. Templates write these steps into their own code
        (PageCodeGenerator.visit_Getattr); this serves filters such as `attr` and `map`."""
        if type(obj) is Row:
            try:
                return obj[attribute]
            except KeyError:
                pass
        try:
            return getattr(obj, attribute)
        except AttributeError:
            return self.page_item(obj, attribute)


class StampboxFlask(Flask):
    jinja_environment = PageEnvironment

    def update_template_context(self, context: dict) -> None:
        """Flask's own (3.1), less a repeat: each blueprint carries Flask's default context
        processor (g, request) as well as the app, so a blueprint's page ran it twice, each
        time through the request proxy. It runs once, for the app; every other processor as
        Flask runs them, app first, then the page's blueprints, innermost last; the values
        given to render_template win."""
        ctx = _cv_request.get(None)
        names = (None,) if ctx is None else (None, *reversed(ctx.request.blueprints))
        given = context.copy()
        processors = self.template_context_processors
        for name in names:
            for func in processors.get(name, ()):
                if name is not None and func is _default_template_ctx_processor:
                    continue
                context.update(self.ensure_sync(func)())
        context.update(given)

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
