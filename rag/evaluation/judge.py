"""Optional LLM-as-judge: an OpenAI-compatible model scores an answer 0 / 0.5 / 1
against the dataset's reference answer.

Why a judge at all: key facts check that the right strings are there, not that the
answer is right; for questions without key facts the judge is the only correctness
signal. Why optional and separate from the metrics: it needs a network endpoint
(``RAG_JUDGE_*``, settings of its own because only evaluation uses them), its
scores are computed once at run time and cached with the prediction, and the
metrics only average them (:func:`rag.evaluation.metrics.answers.judge_mean`).

The prompt is ``templates/judge.txt``.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from openai import APIError
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

MAX_REPLY_TOKENS = 200


class JudgeSettings(BaseSettings):
    """The judge endpoint (OpenAI-compatible), from ``RAG_JUDGE_*`` / ``.env``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="RAG_", extra="ignore", env_file_encoding="utf-8"
    )

    judge_base_url: str = ""
    judge_model: str = ""
    judge_api_key: str = "not-needed"
    judge_timeout_s: float = 60.0

    @property
    def enabled(self) -> bool:
        return bool(self.judge_base_url and self.judge_model)


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    # A prompt is plain text: no HTML escaping of the answer being judged.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rag.evaluation", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("judge.txt")


def judge_prompt(question: str, reference: str, answer: str) -> str:
    """The judge's user message for one answer."""
    return _template().render(question=question, reference=reference, answer=answer)


def parse_judge_reply(text: str) -> tuple[float, str] | None:
    """Read ``{"score": x, "reason": ...}`` from a judge reply (tolerates prose around it)."""
    m = re.search(r"\{.*\}", text or "", re.S)
    if m:
        try:
            data = json.loads(m.group(0))
            score = float(data["score"])
            return min(1.0, max(0.0, score)), str(data.get("reason", ""))
        except (ValueError, KeyError, TypeError):
            pass
    m = re.search(r"score\"?\s*[:：=]\s*([01](?:\.\d+)?)", text or "")
    if m:
        return min(1.0, max(0.0, float(m.group(1)))), ""
    return None


@dataclass(frozen=True)
class Judge:
    """A judge model behind an OpenAI-compatible client (``client.chat.completions.create``)."""

    client: Any
    model: str

    @classmethod
    def from_settings(cls, settings: JudgeSettings) -> Judge | None:
        """The configured judge, or None when ``RAG_JUDGE_BASE_URL``/``RAG_JUDGE_MODEL`` are unset."""
        if not settings.enabled:
            return None
        from openai import OpenAI

        client = OpenAI(
            base_url=settings.judge_base_url, api_key=settings.judge_api_key, timeout=settings.judge_timeout_s
        )
        return cls(client, settings.judge_model)

    def score(self, question: str, reference: str, answer: str) -> float | None:
        """0 / 0.5 / 1 for ``answer`` against ``reference``.

        None when the endpoint fails (connection, timeout, HTTP error) or replies
        with something unreadable: a judge outage must not turn into zeros. Any
        other exception is a bug and propagates.
        """
        try:
            resp = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": judge_prompt(question, reference, answer)}],
                temperature=0,
                max_tokens=MAX_REPLY_TOKENS,
            )
        except APIError:
            logger.warning("judge call failed", exc_info=True)
            return None
        text = resp.choices[0].message.content or ""
        parsed = parse_judge_reply(text)
        if parsed is None:
            logger.warning("unreadable judge reply: %r", text[:200])
            return None
        return parsed[0]
