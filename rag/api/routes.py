"""The JSON API (``/api/*``) and the health check (``/healthz``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

import rag
from rag.api.auth import may_read
from rag.api.deps import AppSettings, Holder, ReadyService
from rag.api.schemas import AskRequest, AskResponse, HealthResponse, SearchRequest, SearchResponse
from rag.api.streaming import answer_frames, sse_response, started
from rag.config import Settings, check_mode

api_router = APIRouter(prefix="/api", tags=["api"])
ops_router = APIRouter(tags=["ops"])


@ops_router.get("/healthz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def healthz(holder: Holder, settings: AppSettings, readable: Annotated[bool, Depends(may_read)]) -> JSONResponse:
    """200 once the service is loaded; 503 while it loads or after it failed to.

    With ``RAG_API_TOKEN`` set and no credential only ``status`` is reported (what a load
    balancer needs); with it, also the index version and size, the answer mode and the
    local LLM server's state (``llm``: running / restarting / failed, restart count).
    """
    svc = holder.peek()
    if svc is None:
        status = "error" if holder.error else "loading"
        body: dict[str, Any] = {"status": status}
        if readable:
            body |= {"index_version": None, "error": holder.error, "llm": llm_state(settings)}
        return JSONResponse(body, status_code=503)
    if not readable:
        return JSONResponse({"status": "ok"})
    files = svc.documents.list_files()  # also picks up a new index version written by ingest
    return JSONResponse(
        {
            "status": "ok",
            "index_version": svc.index_version,
            "chunks": sum(f.chunks for f in files),
            "files": len(files),
            "mode": settings.mode,
            "version": rag.__version__,
            "llm": llm_state(settings),
        }
    )


def llm_state(settings: Settings) -> dict[str, Any]:
    """The local LLM server's supervision state (``not_started`` before the first local question)."""
    from rag.llm_runtime.net import root_url
    from rag.llm_runtime.registry import local_server_status

    status = local_server_status(settings)
    if status is None:
        return {"state": "not_started", "url": f"{root_url(settings.llm_host, settings.llm_port)}/v1", "restarts": 0}
    return status.to_dict()


@api_router.post("/ask", response_model=AskResponse)
def ask(body: AskRequest, svc: ReadyService, settings: AppSettings) -> dict[str, Any]:
    """Answer a question with numbered citations ([n] in the answer = citations[].n)."""
    check_mode(body.mode, settings)  # an unconfigured mode is a 422, not a silent fallback
    return svc.ask(body.question, history=body.history_dicts(), k=body.k, mode=body.mode).to_dict()


@api_router.post(
    "/ask/stream",
    responses={200: {"content": {"text/event-stream": {}}, "description": "token events, then one final event"}},
)
async def ask_stream(body: AskRequest, svc: ReadyService, settings: AppSettings) -> Any:
    """Server-sent events: ``token`` events ``{"type","text"}``, then ``final`` ``{"type","result"}``."""
    check_mode(body.mode, settings)
    events = await started(svc.ask_stream(body.question, history=body.history_dicts(), k=body.k, mode=body.mode))
    return sse_response(answer_frames(events))


@api_router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, svc: ReadyService) -> dict[str, Any]:
    """Ranked passages for a query, no answer generation."""
    return svc.search(body.query, k=body.k).to_public()
