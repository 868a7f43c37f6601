"""Optional LLM-as-judge: an OpenAI-compatible model scores an answer 0 / 0.5 / 1
against the dataset's reference answer, and says whether a cited passage supports
the sentence citing it.

Why a judge at all: key facts check that the right strings are there, not that the
answer is right; for questions without key facts the judge is the only correctness
signal. Why optional and separate from the metrics: it needs a network endpoint
(``RAG_JUDGE_*``, settings of its own because only evaluation uses them), its
scores are computed once at run time and cached with the prediction, and the
metrics only average them (:func:`rag.evaluation.metrics.answers.judge_mean`).

The second verdict serves the independent citation metric
(:func:`rag.evaluation.metrics.citations.evidence_citation_counts`): a cited passage
that does not hold the item's evidence quote may still back the sentence (the same
fact in another article); only a separate judge, never the answer-time checker,
may say so.

The prompts are ``templates/judge.txt`` and ``templates/judge_citation.txt``.
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


@lru_cache(maxsize=2)
def _template(name: str = "judge.txt") -> jinja2.Template:
    # A prompt is plain text: no HTML escaping of the answer being judged.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rag.evaluation", "templates"),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(name)


def judge_prompt(question: str, reference: str, answer: str) -> str:
    """The judge's user message for one answer."""
    return _template().render(question=question, reference=reference, answer=answer)


def citation_prompt(claim: str, passage: str) -> str:
    """The judge's user message for one cited passage and the sentence(s) citing it."""
    return _template("judge_citation.txt").render(claim=claim, passage=passage)


def parse_citation_reply(text: str) -> bool | None:
    """Read ``{"supported": true|false, ...}`` from a judge reply (tolerates prose around it)."""
    m = re.search(r"\{.*\}", text or "", re.S)
    if m:
        try:
            value = json.loads(m.group(0))["supported"]
            if isinstance(value, bool):
                return value
        except (ValueError, KeyError, TypeError):
            pass
    m = re.search(r"supported\"?\s*[:：=]\s*(true|false)", text or "", re.I)
    return m.group(1).lower() == "true" if m else None


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
        text = self._reply(judge_prompt(question, reference, answer))
        parsed = parse_judge_reply(text) if text is not None else None
        if text is not None and parsed is None:
            logger.warning("unreadable judge reply: %r", text[:200])
        return parsed[0] if parsed else None

    def supports(self, claim: str, passage: str) -> bool | None:
        """Does ``passage`` back the facts of ``claim``? None on a failing endpoint or an unreadable reply."""
        text = self._reply(citation_prompt(claim, passage))
        verdict = parse_citation_reply(text) if text is not None else None
        if text is not None and verdict is None:
            logger.warning("unreadable citation verdict: %r", text[:200])
        return verdict

    def _reply(self, prompt: str) -> str | None:
        try:
            resp = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
                max_tokens=MAX_REPLY_TOKENS,
            )
        except APIError:
            logger.warning("judge call failed", exc_info=True)
            return None
        return resp.choices[0].message.content or ""
