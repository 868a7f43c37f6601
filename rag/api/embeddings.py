"""``POST /v1/embeddings``: the server's own embedding model behind OpenAI's embeddings API,
so other services (or other ``rag`` processes, RAG_EMBEDDING_BASE_URL) can share it.

Like TEI or vLLM serving an e5 model, the server embeds the text it is sent; the e5
prefixes tell the role: an input starting with the query prefix (``query: ``) is embedded
as a query, any other as a passage (its passage prefix, if present, is not doubled). That
is exactly what :class:`rag.embed.remote.RemoteEmbedder` sends. ``model`` is accepted
whatever it says and answered with the server's own embedder name: there is one model.
``encoding_format`` ``float`` and ``base64`` (little-endian float32, what the openai
package asks for by default) are both served.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rag.api.deps import ReadyService
from rag.embed.base import Embedder

MAX_INPUTS = 2048  # OpenAI's own limit per request

router = APIRouter(prefix="/v1", tags=["openai"])


class EmbeddingRequest(BaseModel):
    input: str | list[str] = Field(description="One text or a list of texts (token arrays are not accepted).")
    model: str = Field(default="", description="Ignored: the server embeds with its own model.")
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None


def embed_inputs(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors for raw inputs, each embedded as a query or a passage by its e5 prefix."""
    query_prefix = getattr(embedder, "query_prefix", "")
    passage_prefix = getattr(embedder, "passage_prefix", "")
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    passages = []
    for i, text in enumerate(texts):
        if query_prefix and text.startswith(query_prefix):
            vectors[i] = embedder.embed_query(text[len(query_prefix):])
        else:
            passages.append(i)
    if passages:
        bare = [texts[i][len(passage_prefix):] if passage_prefix and texts[i].startswith(passage_prefix) else texts[i]
                for i in passages]
        vectors[passages] = embedder.embed_passages(bare)
    return vectors


@router.post("/embeddings", summary="OpenAI-compatible embeddings with the server's embedding model")
async def create_embeddings(body: EmbeddingRequest, svc: ReadyService) -> dict[str, Any]:
    from rag.errors import QuestionError

    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts or len(texts) > MAX_INPUTS:
        raise QuestionError(f"input 需要 1 到 {MAX_INPUTS} 段文本 (input must hold 1 to {MAX_INPUTS} texts)")
    embedder = svc.snapshot().retriever.embedder
    vectors = await run_in_threadpool(embed_inputs, embedder, texts)

    def encoded(vector: np.ndarray) -> list[float] | str:
        if body.encoding_format == "base64":
            return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
        return [float(x) for x in vector]

    return {
        "object": "list",
        "model": embedder.name,
        "data": [{"object": "embedding", "index": i, "embedding": encoded(v)} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    }
