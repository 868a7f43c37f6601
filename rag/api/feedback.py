"""``POST /api/feedback`` (any client with the API token) and ``GET /api/feedback`` (admin: list, CSV export)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from rag.api.deps import Holder, require_admin, require_token
from rag.api.schemas import Text, _Strict
from rag.feedback import FeedbackEntry, FeedbackStore, to_csv

router = APIRouter(prefix="/api", tags=["feedback"])


class FeedbackCitation(BaseModel):
    """A citation as the answer gave it; only these fields are kept (the rest of the passage is in the index)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    n: int | None = Field(default=None, ge=0, le=1000, description="The marker number [n].")
    file: Text | None = Field(default=None, max_length=500, description="The source file.")
    title: Text | None = Field(default=None, max_length=500, description="The article title.")
    section: Text | None = Field(default=None, max_length=500, description="The section.")
    chunk_id: Text | None = Field(default=None, max_length=200, description="The passage id in the index.")
    text: Text | None = Field(default=None, max_length=5_000, description="The passage text.")


class FeedbackRequest(_Strict):
    rating: Literal["up", "down"] = Field(description="up (👍) or down (👎).")
    question: Text = Field(min_length=1, max_length=2_000, description="The question that was answered.")
    answer: Text = Field(max_length=20_000, description="The answer as shown, with its [n] markers.")
    citations: list[FeedbackCitation] = Field(default_factory=list, max_length=50, description="The answer's citations.")
    comment: Text = Field(default="", max_length=2_000, description="Optional remark of the user.")
    index_version: Text | None = Field(
        default=None, max_length=100, description="The index version that answered; default: the live one."
    )
    mode: Text | None = Field(default=None, max_length=20, description="The answer mode (local, openai, extractive).")
    refused: bool | None = Field(default=None, description="Whether the answer was a refusal.")
    source: Text = Field(default="api", max_length=32, description="Who sends it: ui, widget, api or any name.")


class FeedbackStored(BaseModel):
    id: str = Field(description="Id of the stored rating.")
    index_version: str | None = Field(description="The index version recorded with it.")


class FeedbackList(BaseModel):
    count: int = Field(description="Ratings returned.")
    items: list[dict[str, Any]] = Field(description="The ratings, oldest first (FeedbackEntry fields).")


def feedback_store(request: Request) -> FeedbackStore:
    return request.app.state.feedback


Store = Annotated[FeedbackStore, Depends(feedback_store)]


@router.post("/feedback", status_code=201, response_model=FeedbackStored, dependencies=[Depends(require_token)])
def post_feedback(body: FeedbackRequest, store: Store, holder: Holder) -> dict[str, Any]:
    """Store a 👍/👎 (and comment) on an answer, with its question, citations and index version."""
    version = body.index_version
    if version is None and (svc := holder.peek()) is not None:
        version = svc.index_version
    entry = store.add(
        FeedbackEntry(
            rating=body.rating,
            question=body.question,
            answer=body.answer,
            citations=[c.model_dump(exclude_none=True) for c in body.citations],
            index_version=version,
            comment=body.comment,
            mode=body.mode,
            refused=body.refused,
            source=body.source,
        )
    )
    return {"id": entry.id, "index_version": entry.index_version}


@router.get(
    "/feedback",
    response_model=FeedbackList,
    dependencies=[Depends(require_admin)],
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
def list_feedback(
    store: Store,
    format: Literal["json", "csv"] = "json",  # noqa: A002 (the query parameter's name)
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Any:
    """All ratings (the last ``limit``), as JSON or as a CSV download (admin token)."""
    entries = store.entries(limit)
    if format == "csv":
        return Response(
            to_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="feedback.csv"'},
        )
    return {"count": len(entries), "items": [e.to_dict() for e in entries]}
