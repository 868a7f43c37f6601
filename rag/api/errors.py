"""The one error convention of the HTTP API: every error body is ``{"error": {"message", "type"}}``
(plus OpenAI's ``param`` and ``code`` where they say something, e.g. ``model_not_found``).

The same shape as OpenAI's, so its clients parse our errors too. Statuses:

* 400 ``invalid_request_error`` - the body is not valid JSON;
* 422 ``invalid_request_error`` - valid JSON with a wrong field (missing, wrong type,
  unknown field, k out of range, text that is not valid Unicode) or a question the
  service rejects (``QuestionError``: empty, too long, unknown or unconfigured mode);
* 401 ``authentication_error`` - ``RAG_API_TOKEN`` is set and the bearer token is missing or wrong;
* 404 ``not_found_error`` / 405 ``method_not_allowed``; on ``/v1/chat/completions`` a model
  that ``/v1/models`` does not list is a 404 ``invalid_request_error`` with ``param: "model"``
  and ``code: "model_not_found"``, as OpenAI answers;
* 503 ``service_unavailable`` - the index and models are still loading (or failed to), the
  index is missing, damaged or locked by an ingest, or the LLM endpoint is down;
* 500 ``server_error`` - a bug (logged; the client sees no details).

``RAG_STATUS`` is the one place that maps the engine's errors (``rag.errors``) to statuses.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import (
    ConfigError,
    IndexBusyError,
    IndexCorruptError,
    IndexNotFoundError,
    LLMUnavailableError,
    QuestionError,
    RagError,
)

log = logging.getLogger(__name__)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "method_not_allowed",
    413: "invalid_request_error",
    422: "invalid_request_error",
    500: "server_error",
    503: "service_unavailable",
}

# The engine's deliberate errors; their messages are meant for the user. Looked up
# along the exception's MRO, so a subclass gets its parent's status.
RAG_STATUS: dict[type[RagError], int] = {
    QuestionError: 422,
    IndexNotFoundError: 503,
    IndexCorruptError: 503,
    IndexBusyError: 503,
    LLMUnavailableError: 503,
    ConfigError: 500,
    RagError: 500,
}

INTERNAL_ERROR = "服务器内部错误 (internal server error)"
STREAM_FAILED = "生成回答时出错 (answer generation failed)"


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body has this shape (the same as OpenAI's, so its clients parse it)."""

    error: ErrorDetail


# For the OpenAPI description of every route.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 422, 503)}


class ApiError(Exception):
    """An error with a status code and a message meant for the client."""

    def __init__(
        self, status: int, message: str, type_: str | None = None, *, param: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or ERROR_TYPES.get(status, "api_error")
        self.param = param
        self.code = code


def error_body(message: str, type_: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The one error shape; ``param`` and ``code`` (OpenAI's) only when they say something."""
    error: dict[str, Any] = {"message": message, "type": type_}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
    return {"error": error}


def rag_status(exc: RagError) -> int:
    """The HTTP status of an engine error (see ``RAG_STATUS``)."""
    for cls in type(exc).__mro__:
        if cls in RAG_STATUS:
            return RAG_STATUS[cls]  # type: ignore[index]
    return 500


def in_band_error(exc: Exception) -> dict[str, Any]:
    """The error body sent inside a stream whose 200 status is already on the wire.

    Engine errors keep their message; anything else is a bug, logged by the caller,
    and the client gets a generic sentence.
    """
    if isinstance(exc, RagError):
        return error_body(str(exc), ERROR_TYPES.get(rag_status(exc), "server_error"))
    return error_body(STREAM_FAILED, "server_error")


def validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """(status, message): 400 for a body that is not JSON, else 422 naming the first wrong fields."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "请求体不是有效的 JSON (request body is not valid JSON)"
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return 422, "请求参数无效 (invalid request): " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Make every failure, ours or FastAPI's, answer in the one error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        body = error_body(exc.message, exc.type, param=exc.param, code=exc.code)
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
        status = rag_status(exc)
        if status >= 500:
            log.error("%s on %s %s: %s", type(exc).__name__, request.method, request.url.path, exc)
        return JSONResponse(error_body(str(exc), ERROR_TYPES.get(status, "server_error")), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = validation_message(exc)
        return JSONResponse(error_body(message, "invalid_request_error"), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            error_body(message, ERROR_TYPES.get(exc.status_code, "api_error")),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(INTERNAL_ERROR, "server_error"), status_code=500)
