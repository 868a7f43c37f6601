"""Server-sent events: starting a stream so rejected questions still get a 4xx, and the SSE framing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TypeVar

from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from rag.api.errors import in_band_error
from rag.types import StreamEvent

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds between SSE comments that keep proxies from closing a stream while the
# answer is still being checked.
PING_S = 10


def start_stream(events: Iterator[T]) -> Iterator[T]:
    """Pull the first event now, so a rejected question becomes a 422, not a broken stream.

    The service validates lazily (ask_stream is a generator); once an SSE response
    has started, its status can no longer change.
    """
    first = next(events, None)

    def chained() -> Iterator[T]:
        if first is not None:
            yield first
            yield from events

    return chained()


async def started(events: Iterator[T]) -> Iterator[T]:
    """``start_stream`` off the event loop (the first event may take a retrieval)."""
    return await run_in_threadpool(start_stream, events)


def sse_response(frames: Iterator[dict[str, str]]) -> EventSourceResponse:
    return EventSourceResponse(frames, sep="\n", ping=PING_S)


def answer_frames(events: Iterator[StreamEvent]) -> Iterator[dict[str, str]]:
    """``/api/ask/stream`` frames: ``token`` events, one ``final`` event, or an in-band ``error``."""
    try:
        for event in events:
            yield {"event": event.type, "data": json.dumps(event.to_dict(), ensure_ascii=False)}
    except Exception as exc:  # the status is already sent: report in-band
        log.exception("stream failed")
        yield {"event": "error", "data": json.dumps({"type": "error", **in_band_error(exc)}, ensure_ascii=False)}
