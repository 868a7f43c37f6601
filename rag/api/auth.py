"""Who may read the knowledge base: the bearer token, or the session cookie the login page sets.

With ``RAG_API_TOKEN`` set, every route that reads the knowledge base needs one of:

* ``Authorization: Bearer <token>`` (API clients, the widget, ``gradio_client`` with
  ``headers=``);
* the ``rag_session`` cookie that ``POST /login`` sets after the user typed the token
  into the login page (browsers on the chat UI).

The cookie holds an HMAC of the token, not the token: a leaked cookie (a log, a proxy)
does not hand out the API token, and changing the token logs every browser out.

``RequireCredential`` guards whole path prefixes (the Gradio app at /ui, whose API
routes such as ``/ui/gradio_api/info`` and the ``/_chat`` handler are not FastAPI routes
of ours): a browser asking for a page is sent to the login page, anything else gets a
401 in the API's error shape.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
from collections.abc import Callable, Sequence
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.api.errors import error_body
from rag.config import Settings, token_accepted

log = logging.getLogger(__name__)

COOKIE = "rag_session"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
UNAUTHORIZED = "缺少或错误的访问令牌 (missing or invalid bearer token)"
# A week: staff should not retype the token daily; a new token ends every session anyway.
COOKIE_MAX_AGE_S = 7 * 24 * 3600


def session_value(token: str) -> str:
    """The cookie value for ``token`` (an HMAC, so the cookie never carries the token itself)."""
    return hmac.new(token.encode("utf-8"), b"rag-ui-session-v1", hashlib.sha256).hexdigest()


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def credential_ok(required: str, authorization: str | None, cookie: str | None) -> bool:
    """True when no token is required, or the bearer token or the session cookie matches it."""
    if not required:
        return True
    given = bearer_of(authorization)
    if given is not None and token_accepted(required, given):
        return True
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(required).encode())


def request_ok(request: Request, required: str) -> bool:
    return credential_ok(required, request.headers.get("authorization"), request.cookies.get(COOKIE))


# ---------------------------------------------------------------- FastAPI dependencies

_bearer = HTTPBearer(auto_error=False, description="Needed only when RAG_API_TOKEN is set.")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def may_read(request: Request, _: Bearer) -> bool:
    """Dependency: whether this request carries the API credential (True when none is configured).

    ``_`` puts the bearer scheme into the OpenAPI description of the routes that use it.
    """
    return request_ok(request, settings_of(request).api_token)


# ---------------------------------------------------------------- the /ui guard


class RequireCredential:
    """ASGI middleware: requests under ``prefixes`` need the credential ``required()`` names.

    A ``GET`` for a page (the browser's ``Accept: text/html``) is redirected to the login
    page with ``next`` set; every other request (Gradio's API, its queue, file routes,
    websockets) is refused with 401 and nothing is passed on to the app underneath.
    """

    def __init__(self, app: ASGIApp, prefixes: Sequence[str], required: Callable[[], str]):
        self.app = app
        self.prefixes = tuple(p.rstrip("/") for p in prefixes)
        self.required = required

    def _guarded(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self._guarded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        required = self.required()
        if not required:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if credential_ok(required, request.headers.get("authorization"), request.cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response: Response
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
        else:
            response = Response(
                json.dumps(error_body(UNAUTHORIZED, "authentication_error"), ensure_ascii=False),
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": "Bearer"},
            )
        await response(scope, receive, send)


# ---------------------------------------------------------------- the login page

login_router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · 知识库问答</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f5f6f8;margin:0;display:flex;min-height:100vh;
align-items:center;justify-content:center}}
form{{background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002;width:min(22em,90vw)}}
h1{{font-size:1.3em;margin:0 0 .8em}} label{{display:block;margin-bottom:.4em}}
input[type=password]{{width:100%;box-sizing:border-box;padding:.6em;font-size:1em;margin-bottom:1em}}
button{{width:100%;padding:.6em;font-size:1em;background:#2563eb;color:#fff;border:0;border-radius:4px}}
.err{{color:#b91c1c;margin:0 0 1em}} .hint{{color:#666;font-size:.85em;margin-top:1em}}
</style></head><body>
<form method="post" action="{action}">
<h1>知识库问答</h1>
{error}
<label for="token">访问令牌 (access token)</label>
<input id="token" name="token" type="password" autocomplete="current-password" autofocus required>
<input type="hidden" name="next" value="{next}">
<button type="submit">登录</button>
<p class="hint">令牌由管理员提供（即服务器的 RAG_API_TOKEN）。</p>
</form></body></html>"""


def safe_next(target: str | None) -> str:
    """A local path to go to after logging in; anything else (another host: an open redirect) is /ui/."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/ui/"
    return target


def login_page(next_: str, error: str = "", status: int = 200) -> HTMLResponse:
    body = _PAGE.format(
        action=LOGIN_PATH,
        next=html.escape(safe_next(next_), quote=True),
        error=f'<p class="err">{html.escape(error)}</p>' if error else "",
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@login_router.get(LOGIN_PATH)
def login_form(request: Request, next: str = "/ui/") -> Response:  # noqa: A002 (the query parameter's name)
    if not settings_of(request).api_token:  # nothing to log in to
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(next)


@login_router.post(LOGIN_PATH)
def login(
    request: Request, token: Annotated[str, Form(max_length=4096)] = "", next: Annotated[str, Form(max_length=2048)] = "/ui/"  # noqa: A002
) -> Response:
    required = settings_of(request).api_token
    if required and not token_accepted(required, token):
        log.warning("login refused: wrong token from %s", request.client.host if request.client else "?")
        return login_page(next, "令牌错误，请重新输入 (wrong token)", status=401)
    response = RedirectResponse(safe_next(next), status_code=303)
    if required:
        response.set_cookie(
            COOKIE,
            session_value(required),
            max_age=COOKIE_MAX_AGE_S,
            httponly=True,  # page scripts (and an XSS) cannot read it
            samesite="lax",  # not sent on other sites' POSTs (no cross-site requests in our name)
            secure=request.url.scheme == "https",
            path="/",
        )
    return response


@login_router.get(LOGOUT_PATH)
def logout() -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
