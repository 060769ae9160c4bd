"""Errors as sentences: an HTML page for people, a JSON object for machines, never a trace."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

# what a person should read, per status; anything else gets werkzeug's own description
SENTENCES = {
    400: "The request could not be understood. Go back and try again.",
    401: "You need to log in first.",
    403: "You are not allowed to do that.",
    404: "There is no page at this address. Check the link or go back to the counter.",
    405: "This address does not accept that kind of request.",
    413: "That is more data than the box accepts in one request.",
    500: "Something went wrong on the box. The problem was logged; try again in a moment.",
}
CSRF_SENTENCE = (
    "This form has expired or did not come from this box. Reload the page and try again."
)


def wants_json() -> bool:
    """True for the API and for the counter screen's own fetch() calls."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def json_error(code: int, message: str, **headers):
    return jsonify({"status": "error", "error": message}), code, headers


def _respond(code: int, message: str):
    if wants_json():
        return json_error(code, message)
    return render_template("errors/error.html", code=code, message=message), code


def _http_error(exc: HTTPException):
    return _respond(exc.code or 500, SENTENCES.get(exc.code, exc.description))


def _csrf_error(exc: CSRFError):
    return _respond(400, CSRF_SENTENCE)


def _server_error(exc: Exception):
    # Flask has already logged the traceback; the person sees only the sentence
    return _respond(500, SENTENCES[500])


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
