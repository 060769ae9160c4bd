"""What the admin keeps between requests (bench/README.md, issue 9) never leaks across people,
languages or sessions: the cached navigation, the checked session cookie."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def _nav(client, path="/admin/members") -> str:
    page = client.get(path).get_data(as_text=True)
    return page[page.index('<nav class="adminnav">') : page.index("</nav>")]


def test_staff_never_get_the_owners_cached_navigation(owner, staff):
    assert 'href="/admin/settings"' in _nav(owner)
    assert 'href="/admin/settings"' not in _nav(staff)
    # and the other way round, once the staff version is kept
    assert 'href="/admin/settings"' in _nav(owner)


def test_every_template_compiles_with_the_page_code_generator(app):
    # PageCodeGenerator writes Python of its own (buffers, walrus reads, direct calls): each
    # template of the app compiles, with its fixed texts translated (in a request) and not
    env = app.jinja_env
    names = [name for name in env.list_templates() if name.endswith(".html")]
    assert len(names) > 30
    for path in ("/", "/?lang=he"):
        with app.test_request_context(path):
            for name in names:
                source = env.loader.get_source(env, name)[0]
                assert env.compile(source, name, name) is not None, name
    assert env.compile(env.loader.get_source(env, "base.html")[0], "base.html") is not None


def test_a_cached_part_is_rendered_once_per_key_and_looked_up_first():
    """web.page_cache.FragmentCache: the kept part is looked up by a plain call and written
    out; the body is rendered (as a caller) only for a key not kept yet, and every time for
    a key that cannot be kept (a list)."""
    from jinja2 import DictLoader

    from web.flask_app import PageEnvironment, StampboxFlask
    from web.page_cache import FragmentCache

    source = (
        "{% block b %}<p>{% cached 'probe-part', who %}<i>{{ count() }} {{ who }}</i>"
        "{% endcached %}</p>{% endblock %}"
    )
    env = PageEnvironment(StampboxFlask("probe"), autoescape=True, loader=DictLoader({"t": source}))
    env.add_extension(FragmentCache)
    renders = []

    def count():
        renders.append(1)
        return len(renders)

    page = env.get_template("t")
    seen = [page.render(count=count, who=who) for who in ("<a>", "<a>", "b", ["x"], ["x"])]
    assert seen[:3] == ["<p><i>1 &lt;a&gt;</i></p>"] * 2 + ["<p><i>2 b</i></p>"]
    assert seen[3:] == ["<p><i>3 [&#39;x&#39;]</i></p>", "<p><i>4 [&#39;x&#39;]</i></p>"]
    code = env.compile(source, raw=True)
    assert code.index("_page_kept_fragment") < code.index("Macro(")


def test_the_cached_navigation_follows_each_persons_language(owner, staff):
    english = _nav(staff)
    hebrew = _nav(staff, "/admin/members?lang=he")
    assert hebrew != english and ">Members<" in english and ">Members<" not in hebrew
    assert ">Members<" in _nav(owner)  # the owner still reads English


def test_a_changed_session_cookie_is_refused_after_the_same_cookie_was_accepted(owner):
    assert owner.get("/admin/members").status_code == 200
    cookie = owner.get_cookie("stampbox_session").value
    head, _, signature = cookie.rpartition(".")
    forged = head + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    owner.set_cookie("stampbox_session", forged)
    assert owner.get("/admin/members").status_code == 302  # to the login page
    owner.set_cookie("stampbox_session", cookie)
    assert owner.get("/admin/members").status_code == 200


def test_a_flashed_message_is_shown_once_though_the_session_was_kept(owner, app):
    with owner.session_transaction() as session:
        session["_flashes"] = [("info", "Saved once.")]
    assert "Saved once." in owner.get("/admin/members").get_data(as_text=True)
    assert "Saved once." not in owner.get("/admin/members").get_data(as_text=True)


def test_fixed_texts_are_compiled_per_language_and_never_mixed(owner, staff):
    """Templates are compiled once per language with their labels already translated
    (web.i18n.TranslatedEnvironment): pages in both languages, in turns, keep their own."""
    for _ in range(2):
        english = owner.get("/admin/members?lang=en").get_data(as_text=True)
        hebrew = staff.get("/admin/members?lang=he").get_data(as_text=True)
        assert ">Log out<" in english and ">Log out<" not in hebrew
        assert 'lang="he" dir="rtl"' in hebrew and 'lang="en" dir="ltr"' in english


def test_only_literal_texts_are_compiled_in(app):
    """A text with variables, or a computed one, is still translated when the page renders."""
    from flask import render_template_string

    from web.i18n import TranslatedEnvironment

    assert isinstance(app.jinja_env, TranslatedEnvironment)
    source = "{{ _('Log out') }}|{{ _(word) }}|{{ _('%(n)s left', n=3) }}"
    with app.test_request_context("/?lang=he"):
        app.preprocess_request()
        hebrew = render_template_string(source, word="Log out")
        code = app.jinja_env.compile(source, raw=True)
    fixed, computed, with_values = hebrew.split("|")
    assert fixed == computed and fixed != "Log out"  # the same Hebrew both ways
    assert with_values.startswith("3")
    # the literal became a constant; the others stayed calls
    assert "'Log out'" not in code and code.count("context.call(") == 2
    with app.test_request_context("/?lang=en"):
        app.preprocess_request()
        assert render_template_string(source, word="Log out").startswith("Log out|Log out|")
    # outside a request nothing is compiled in: the text is looked up at render time
    with app.app_context():
        assert "'Log out'" in app.jinja_env.compile(source, raw=True)


def test_a_views_own_headers_are_kept_and_none_are_doubled(settings, init_info):
    from web import create_app

    app = create_app({"STAMPBOX_SETTINGS": settings, "TESTING": True})

    @app.get("/admin/own-headers")
    def own_headers():
        return "", 200, {"x-frame-options": "SAMEORIGIN", "Cache-Control": "private"}

    response = app.test_client().get("/admin/own-headers")
    names = [name.lower() for name, _ in response.headers]
    assert sorted(names) == sorted(set(names))  # nothing twice, whatever the case
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Cache-Control"] == "private"
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # the missing ones added


def test_admin_pages_are_not_cached_and_vary_by_cookie_only_when_cacheable(settings, init_info):
    from flask import session

    from .test_web import log_in, make_app

    app = make_app(settings)

    @app.get("/admin/kept-a-while")
    def kept_a_while():
        return f"{session.get('staff_id')}", 200, {"Cache-Control": "private, max-age=60"}

    owner = app.test_client()
    log_in(owner, init_info["owner"]["password"])
    owner.get("/admin/members")  # the first page after logging in sends the cookie again
    page = owner.get("/admin/members")
    assert page.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in page.headers
    # no cache keeps a no-store answer: Vary would tell none of them anything
    assert "Vary" not in page.headers
    kept = owner.get("/admin/kept-a-while")
    assert kept.headers["Cache-Control"] == "private, max-age=60"
    assert kept.headers.getlist("Vary") == ["Cookie"]  # once, though the session was read


def test_a_changed_session_is_still_sent_and_a_fresh_one_is_not(owner):
    owner.get("/admin/members")
    assert "Set-Cookie" not in owner.get("/admin/members").headers
    # choosing a language changes the session: the cookie must be sent again
    changed = owner.get("/admin/members?lang=he")
    assert "stampbox_session=" in changed.headers.get("Set-Cookie", "")
    assert "Cookie" in changed.headers["Vary"]
    assert 'lang="he"' in owner.get("/admin/members").get_data(as_text=True)


def test_an_encoded_lang_parameter_is_still_read(owner):
    page = owner.get("/admin/members?%6Cang=he").get_data(as_text=True)
    assert 'lang="he" dir="rtl"' in page


def test_hooks_are_checked_once_and_async_ones_as_flask_does(app):
    from flask import Flask

    def hook():
        return None

    async def async_hook():
        return None

    assert app.ensure_sync(hook) is hook and app.ensure_sync(hook) is hook
    try:
        expected = Flask.ensure_sync(app, async_hook)
    except RuntimeError as exc:  # Flask without its async extra
        import pytest

        with pytest.raises(RuntimeError, match=str(exc)[:30]):
            app.ensure_sync(async_hook)
    else:
        assert callable(expected) and app.ensure_sync(async_hook) is not async_hook


def test_template_context_is_flasks_with_the_default_processor_run_once():
    """web.flask_app.StampboxFlask.update_template_context: the same context as Flask's,
    in the same precedence (app, outer blueprint, inner blueprint, the view's own values)."""
    from flask import Blueprint, Flask, g, request
    from flask.templating import _default_template_ctx_processor

    from web.flask_app import StampboxFlask

    probe = StampboxFlask("probe")
    probe.secret_key = "probe"
    outer, inner = Blueprint("outer", __name__), Blueprint("inner", __name__)
    probe.context_processor(lambda: {"who": "app", "app_only": 1})
    outer.context_processor(lambda: {"who": "outer", "outer_only": 2})
    inner.context_processor(lambda: {"who": "inner"})
    inner.add_url_rule("/page", "page", lambda: "")
    outer.register_blueprint(inner, url_prefix="/inner")
    probe.register_blueprint(outer, url_prefix="/outer")
    assert probe.template_context_processors["outer.inner"][0] is _default_template_ctx_processor
    for path, given in (("/outer/inner/page", {}), ("/outer/inner/page", {"who": "view"}),
                        ("/elsewhere", {"g": "mine"})):  # fmt: skip
        with probe.test_request_context(path):
            ours, flasks = dict(given), dict(given)
            probe.update_template_context(ours)
            Flask.update_template_context(probe, flasks)
            assert ours == flasks and ours["request"] is request._get_current_object()
            assert ours["g"] == given.get("g", g._get_current_object())
            blueprint_page = path.startswith("/outer")
            assert ours["who"] == given.get("who", "inner" if blueprint_page else "app")
            assert ("outer_only" in ours) is blueprint_page and ours["app_only"] == 1
    with probe.app_context():  # outside a request: the app's processors only
        ours, flasks = {}, {}
        probe.update_template_context(ours)
        Flask.update_template_context(probe, flasks)
        assert ours == flasks and ours["who"] == "app" and "request" not in ours


def test_the_boxs_web_workers_freeze_the_loaded_app():
    import gc
    import sys

    from appliance.processes import web_command
    from web.gunicorn_conf import on_starting, post_worker_init

    command = web_command("127.0.0.1", 8000)
    conf = command[command.index("--config") + 1]
    # a file path: the arbiter must not import the web package to read its settings
    assert conf.endswith("web/gunicorn_conf.py") and Path(conf).is_file()
    before = gc.get_freeze_count()
    try:
        on_starting(None)  # the arbiter: the app's code imported and frozen before the fork
        assert "web" in sys.modules and gc.get_freeze_count() > before
        gc.unfreeze()
        post_worker_init(None)  # each worker, once its app is built
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_each_web_worker_is_given_a_processor_of_its_own(monkeypatch):
    """web.gunicorn_conf.pre_fork (in the arbiter) picks, post_fork (in the worker) pins."""
    from types import SimpleNamespace

    from web import gunicorn_conf

    monkeypatch.setattr(gunicorn_conf.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    server = SimpleNamespace(WORKERS={})
    picked = []
    for pid in range(5):
        worker = SimpleNamespace()
        gunicorn_conf.pre_fork(server, worker)
        server.WORKERS[pid] = worker
        picked.append(worker.stampbox_cpu)
    # the last processors first, each once; a fifth worker shares, round the same way
    assert picked == [3, 2, 1, 0, 3]
    # a worker that died and is replaced: its successor gets the processor it left
    del server.WORKERS[1], server.WORKERS[4]
    successor = SimpleNamespace()
    gunicorn_conf.pre_fork(server, successor)
    assert successor.stampbox_cpu == 2
    # a machine that forbids pinning: the worker serves unpinned, and says so
    logged = []
    log = SimpleNamespace(warning=lambda *args: logged.append(args))

    def refuse(pid, cpus):
        raise PermissionError("not allowed")

    monkeypatch.setattr(gunicorn_conf.os, "sched_setaffinity", refuse)
    gunicorn_conf.post_fork(SimpleNamespace(log=log), successor)
    assert logged and logged[0][1] == 2
    # one processor: nothing to choose, nothing pinned
    monkeypatch.setattr(gunicorn_conf.os, "sched_getaffinity", lambda pid: {0})
    alone = SimpleNamespace()
    gunicorn_conf.pre_fork(SimpleNamespace(WORKERS={}), alone)
    assert not hasattr(alone, "stampbox_cpu")


def test_the_boxs_gunicorn_pins_its_two_workers_to_two_processors(cli_env, init_info, tmp_path):
    import os
    import socket
    import subprocess
    import time

    from appliance.processes import web_command

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            web_command("127.0.0.1", port), env=cli_env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            assert proc.poll() is None, log.read_text()
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            workers = [int(pid) for pid in children]
            time.sleep(0.2)
        assert len(workers) == 2, log.read_text()
        time.sleep(0.5)  # post_fork runs first thing in the worker
        cpus = sorted(os.sched_getaffinity(0))
        pinned = [os.sched_getaffinity(pid) for pid in workers]
        if len(cpus) >= 2:
            assert all(len(one) == 1 for one in pinned), pinned
            assert set.union(*pinned) == {cpus[-1], cpus[-2]}
        else:
            assert pinned == [set(cpus), set(cpus)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_page_language_follows_the_request_and_force_locale(app):
    """web.i18n.page_language reads where Flask-Babel keeps the locale: a forced one (the
    counter speaks the member's language) and the request's own after it."""
    from flask_babel import force_locale, get_locale, gettext

    from web.i18n import page_language

    with app.app_context():
        assert page_language() is None  # no request: nothing compiled in, nothing chosen
    with app.test_request_context("/?lang=he"):
        app.preprocess_request()
        assert page_language() == "he"
        with force_locale("kk"):
            assert page_language() == "kk"
            with force_locale("zh"):
                assert page_language() == "zh"
            assert page_language() == "kk"
        assert page_language() == "he"
    with app.test_request_context("/", headers={"Accept-Language": "he-IL,he;q=0.9"}):
        app.preprocess_request()
        assert page_language() == "he"
        # chosen once, where Flask-Babel keeps it: its own gettext and get_locale agree
        assert get_locale() is get_locale() and str(get_locale()) == "he"
        assert gettext("Log out") != "Log out"
    for asked_first in (get_locale, page_language):  # whichever asks first, one choice
        with app.test_request_context("/?lang=he"):
            app.preprocess_request()
            asked_first()
            assert page_language() == "he" and str(get_locale()) == "he"


def test_the_web_reads_the_database_through_a_map_and_the_core_does_not(settings, app):
    """The web's connections are memory-mapped (web/db.py), each thread's too; the worker and
    the bridge, which open theirs through the core, keep plain reads."""
    import threading

    from appliance.db import database, open_database
    from web.db import MMAP_BYTES

    seen = []

    @app.get("/probe-mmap")
    def probe():
        seen.append(database.execute_sql("PRAGMA mmap_size").fetchone()[0])
        return "ok"

    client = app.test_client()
    assert client.get("/probe-mmap").status_code == 200
    # a request thread's own connection (gunicorn's threads each open one)
    thread = threading.Thread(target=lambda: client.get("/probe-mmap"))
    thread.start()
    thread.join()
    assert seen == [MMAP_BYTES, MMAP_BYTES]
    core = open_database(settings, bind=False)  # what the worker and the bridge open
    try:
        assert core.execute_sql("PRAGMA mmap_size").fetchone()[0] == 0
    finally:
        core.close()


def test_template_attribute_reads_are_jinjas(app):
    """web.flask_app.PageEnvironment.getattr answers as Jinja's own, rows aside."""
    from types import SimpleNamespace

    from jinja2 import Environment, Undefined

    from appliance.member_view import Row

    ours, jinjas = app.jinja_env, Environment()
    cases = [
        (SimpleNamespace(name="Anna"), "name"),
        ({"name": "Bob"}, "name"),
        ({"items": 3}, "items"),  # the attribute wins over the key, as in Jinja
        (Row(at=5, name="Row"), "at"),
        (Row(at=5), "keys"),  # not a column: the dict's method, as Jinja finds it
        ([1, 2], "missing"),
        (None, "anything"),
    ]
    for obj, name in cases:
        mine, theirs = ours.getattr(obj, name), jinjas.getattr(obj, name)
        if isinstance(theirs, Undefined):
            assert isinstance(mine, Undefined) and mine._undefined_name == name
        elif callable(theirs):
            assert mine == theirs
        else:
            assert mine == theirs, (obj, name)


def test_attribute_reads_written_into_templates_are_jinjas():
    """PageCodeGenerator.visit_Getattr writes getattr's steps into the template: the same
    page as Jinja's for objects, dicts, lists, None, undefined names and nested reads; a
    row's column first; a property read once, even when it fails."""
    import pytest
    from jinja2 import Environment, UndefinedError

    from appliance.member_view import Row
    from web.flask_app import PageEnvironment, StampboxFlask

    class Probe:
        reads = 0
        label = "<obj>"

        @property
        def fails(self):
            Probe.reads += 1
            raise AttributeError("fails")

        def __getitem__(self, key):
            return f"item {key}"

    source = (
        "{{ o.label }}|{{ o.fails }}|{{ d.name }}|{{ d.items is defined }}|{{ l.nothing }}|"
        "{{ n.anything }}|{{ o.label.upper }}|{{ d.inner.name }}|{{ (d.inner or o).name }}"
    )
    values = {"o": Probe(), "d": {"name": "<D>", "inner": {"name": 7}}, "l": [1], "n": None}
    ours = PageEnvironment(StampboxFlask("probe"), autoescape=True)
    jinjas = Environment(autoescape=True)
    page = ours.from_string(source).render(**values)
    assert page == jinjas.from_string(source).render(**values)
    assert "&lt;obj&gt;|item fails|&lt;D&gt;|True||" in page
    Probe.reads = 0
    ours.from_string("{{ o.fails }}").render(o=Probe())
    assert Probe.reads == 1
    for env in (ours, jinjas):  # an undefined name's attribute fails the page in both
        with pytest.raises(UndefinedError):
            env.from_string("{{ nobody.name }}").render()
    row = Row(at="<5>", keys="column", name=None)
    reads = "{{ r.at }} {{ r.keys }} {{ r.name }} {{ r.values is defined }} {{ r.gone is defined }}"
    assert ours.from_string(reads).render(r=row) == "&lt;5&gt; column None True False"
    assert "_page_row" in ours.compile("{{ r.at }}", raw=True)


def test_templates_get_the_apps_globals_and_their_own(app):
    env = app.jinja_env
    with app.test_request_context("/"):
        template = env.from_string("{{ url_for('members.search') }} {{ extra }}", {"extra": 7})
        assert template.render() == "/admin/members 7"
    assert type(template.globals) is dict and template.globals["url_for"] is env.globals["url_for"]


def test_output_escaping_is_jinjas_markupsafe_escaping():
    """web.flask_app's templates escape output as text without Markup wrappers: the same page
    as Jinja's own, for text, numbers, None, Markup, macros, call and set blocks."""
    from jinja2 import Environment
    from markupsafe import Markup

    from web.flask_app import PageEnvironment, StampboxFlask

    source = (
        "{% macro cell(x) %}<td>{{ x }}</td>{% endmacro %}"
        "{% macro wrap() %}<p>{{ caller() }}</p>{% endmacro %}"
        "{% set kept %}<i>{{ a }}</i>{% endset %}"
        "{{ a }} {{ b }} {{ c }} {{ d }} {{ e }} {{ cell(a) }} {{ kept }} {{ a ~ b }} {{ a|e }}"
        " {{ m }} {% call wrap() %}{{ b }}{{ a }}{% endcall %}"
        "{% for v in [a, b, m] %}[{{ v }}]{% endfor %}{{ a|upper }}{{ '<s>'|safe }}"
    )

    class Text(str):  # a str of another class: escaped as str, not taken as text as-is
        pass

    source += "{{ t }}{{ [a] }}"
    values = {"a": "<b>&'\"", "b": 5, "c": None, "d": Markup("<ok>"), "e": 3.5,
              "m": Markup("<u>x</u>") + "<", "t": Text("<t>")}  # fmt: skip
    ours = PageEnvironment(StampboxFlask("probe"), autoescape=True).from_string(source)
    jinjas = Environment(autoescape=True).from_string(source)
    page = ours.render(**values)
    assert page == jinjas.render(**values)
    assert "&lt;b&gt;&amp;&#39;&#34;" in page and "<b>" not in page and "<u>x</u>&lt;" in page


def test_template_calls_pass_the_context_only_to_functions_that_ask():
    """web.flask_app: a plain function called by name is called directly, everything else
    through the context (PageContext.call), with Jinja's results."""
    from jinja2 import Environment, UndefinedError, pass_context, pass_environment

    from web.flask_app import PageEnvironment, StampboxFlask

    def plain(a, b=0):
        return f"plain {a} {b}"

    @pass_context
    def with_context(context, a):
        return f"context {context['name']} {a}"

    @pass_environment
    def with_environment(environment, a):
        return f"environment {type(environment).__name__ != ''} {a}"

    def stops():
        raise StopIteration

    class Callable:
        def __call__(self, a):
            return f"object {a}"

    source = (
        "{{ plain(1, b=2) }}|{{ with_context(3) }}|{{ with_environment(4) }}|{{ thing(5) }}"
        "|{% for i in [6] %}{{ with_context(i) }}{% endfor %}|{{ plain(plain(7), b=plain(8)) }}"
        "|{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(plain(9)) }}|{{ maybe is undefined }}"
        "|{{ things.stops() is undefined }}"
    )
    names = {"plain": plain, "with_context": with_context, "with_environment": with_environment,
             "thing": Callable(), "things": {"stops": stops}, "name": "Anna"}  # fmt: skip
    ours = PageEnvironment(StampboxFlask("probe"), autoescape=True)
    page = ours.from_string(source).render(**names)
    assert page == Environment(autoescape=True).from_string(source).render(**names)
    assert page == (
        "plain 1 2|context Anna 3|environment True 4|object 5|context Anna 6"
        "|plain plain 7 0 plain 8 0|<plain 9 0>|True|True"
    )
    with pytest.raises(UndefinedError):  # an undefined name called: Jinja's error
        ours.from_string("{{ nothing(1) }}").render()
    # a plain function called by name is called directly: one that raises StopIteration
    # fails the page, where Jinja would have given an undefined value
    with pytest.raises(RuntimeError):
        ours.from_string("{{ stops() }}").render(stops=stops)
    direct = ours.compile("{{ plain(1) }}", raw=True)
    assert re.search(r"(_page_callee\d+)\(1\) if type\(\1 :=", direct)


def test_runs_of_output_are_handed_on_whole_and_pages_are_unchanged():
    """web.flask_app.PageCodeGenerator gathers each block's and base template's output and
    hands it on joined: the same page as Jinja's own, through blocks, extends (known and
    conditional), loops, `loop.cycle`, includes, macros, super() and self, in far fewer
    pieces."""
    from jinja2 import DictLoader, Environment

    from web.flask_app import PageEnvironment, StampboxFlask

    templates = {
        "base.html": "<h1>{{ title }}</h1>{% block body %}base {{ a }}{% endblock %}"
        "<footer>{{ self.body() }}</footer>",
        "child.html": "{% extends 'base.html' %}ignored {{ a }}{% block body %}"
        "[{{ super() }}]{% for v in rows %}<td>{{ v }}</td><td>{{ loop.cycle('x', 'y') }}</td>"
        "{% if v is string %}<em>{{ v|upper }}</em>{% endif %}{% else %}<p>none {{ a }}</p>"
        "{% endfor %}{% include 'part.html' %}{% endblock %}",
        "part.html": "<i>{{ a }}</i>{% macro m(x) %}<b>{{ x }}</b>{% endmacro %}{{ m(a) }}",
        "maybe.html": "{% if parent %}{% extends parent %}{% endif %}"
        "outside {{ a }}{% block body %}own {{ a }}{% endblock %}",
        "nested.html": "{% extends 'base.html' %}{% block body %}{% set n = a ~ '!' %}"
        "{% for v in rows %}{% block row scoped %}<{{ v }}>{% endblock %}{% endfor %}"
        "{% filter upper %}up {{ n }}{% endfilter %}{% macro box() %}[{{ caller() }}]"
        "{% endmacro %}{% call box() %}called {{ a }}{% endcall %}{% endblock %}",
    }
    values = {"title": "T<", "a": "<a>&", "rows": ["r1", 2, None, "<r>"]}
    ours = PageEnvironment(StampboxFlask("probe"), autoescape=True, loader=DictLoader(templates))
    jinjas = Environment(autoescape=True, loader=DictLoader(templates))
    cases = [("child.html", values), ("child.html", {**values, "rows": []}),
             ("maybe.html", {**values, "parent": "base.html"}),
             ("maybe.html", {**values, "parent": None}), ("nested.html", values)]  # fmt: skip
    for name, given in cases:
        page = ours.get_template(name).render(**given)
        assert page == jinjas.get_template(name).render(**given), name
        assert "&lt;a&gt;&amp;" in page and "<a>" not in page
    pieces = list(ours.get_template("child.html").generate(**values))
    assert len(pieces) < len(list(jinjas.get_template("child.html").generate(**values))) / 2
    assert "".join(pieces) == jinjas.get_template("child.html").render(**values)
    # a template extending none hands on its whole output once, its blocks' included
    # (PageCodeGenerator.blockvisit), whatever their loops and conditions
    assert len(pieces) == 1
    assert len(list(ours.get_template("nested.html").generate(**values))) == 1
    # a root that may still extend another stays Jinja's; its block is one piece
    alone = list(ours.get_template("maybe.html").generate(**{**values, "parent": None}))
    assert alone[-1] == "own &lt;a&gt;&amp;" and "".join(alone[:-1]) == "outside &lt;a&gt;&amp;"


def test_the_session_cookie_is_read_as_werkzeug_reads_it():
    """web.security._session_cookie splits plain Cookie headers itself: the same answer as
    request.cookies for a thousand generated headers (quotes, escapes, spaces, repeats,
    look-alike names, bare names), and for the ones a browser sends."""
    from random import Random

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from web.security import _session_cookie

    def both(header):
        environ = EnvironBuilder(path="/").get_environ()
        if header is not None:
            environ["HTTP_COOKIE"] = header
        return _session_cookie(Request(environ), "s"), Request(environ).cookies.get("s")

    signed = "eyJzdGFmZl9pZCI6Mn0.awXWkQ.KPbx3KdXesMU_kJOKr2MmOtUO3E"
    assert both(f"s={signed}") == (signed, signed)
    assert both(f"theme=dark; s={signed}; s=second") == (signed, signed)
    assert both(None) == (None, None) and both("t=1") == (None, None)
    rng = Random(9)
    names, values = ["s", "t", "s2", " s", "s "], [signed, "", "x y", "a\\b", '"q;s=x"', "a=b", "é"]
    for _ in range(1000):
        parts = [
            rng.choice(names) + rng.choice(["=", " = "]) + rng.choice(values)
            if rng.random() > 0.1
            else rng.choice(names)
            for _ in range(rng.randint(0, 4))
        ]
        header = rng.choice(["; ", ";", " ;  "]).join(parts)
        ours, werkzeugs = both(header)
        assert ours == werkzeugs, header
