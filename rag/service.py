"""The answer engine behind the CLI, the UI and the API: one object per process.

It loads the index, the embedder and the retriever once, reloads when a new
index version is written (by `rag ingest` or the admin page), and runs the chain:
condense follow-up → hybrid retrieval → refusal check → generate (LLM or
extractive, with extractive as the fallback) → citation check → answer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rag.config import Settings, get_settings
from rag.verify.answerability import near_misses, unsupported_question_terms
from rag.verify.citations import check_citations, renumber, support_score, split_sentences
from rag.answer.evidence import QUESTION_WORDS, IdfTable, context_for_llm, split_subquestions
from rag.answer.extractive import extractive_answer
from rag.answer.llm import NO_ANSWER_TOKEN, Excerpt, generator_for
from rag.index.store import current_version_dir, load_index
from rag.index.tokenize import tokenize
from rag.ingest.chunk import split_sentences as sentence_spans
from rag.retrieve.base import RetrievalResult, SearchFilters
from rag.retrieve.hybrid import HybridRetriever
from rag.types import ScoredChunk

log = logging.getLogger(__name__)

MODES = ("local", "openai", "extractive")
REFUSAL = "知识库中没有找到与该问题相关的信息。"
FALLBACK_NOTICE = "大模型服务不可用（{reason}），已改用抽取式回答。"
# Follow-ups that lean on the previous turn: pronoun-led ("那它的…", "还有…"),
_PRONOUNS = re.compile(r"^(那|那么|它|他|她|其|该|这|此|还有|另外)|[它他她其]们?的|这(个|家|只|些)|那(个|家|只|些)")
# or an elliptical "…呢？" that asks nothing of its own ("管理费呢？", "今年呢？").
_ELLIPSIS = re.compile(r"呢\W*$")
_ASKS = re.compile(r"什么|多少|哪|谁|几|怎|如何|为何|是否|吗")
_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]")


def _leans_on_previous(question: str, idf: IdfTable | None) -> bool:
    """True when a question cannot stand alone and should borrow the previous question's topic:
    it is pronoun- or ellipsis-led, or names no topic the index knows (only QUESTION_WORDS)."""
    if _PRONOUNS.search(question) or (_ELLIPSIS.search(question) and not _ASKS.search(question)):
        return True
    terms = [t for t in tokenize(question) if t not in QUESTION_WORDS]
    return not any(idf.df.get(t, 0) > 0 for t in terms) if idf else not terms


class QuestionError(ValueError):
    """A question or request the engine cannot take; the message is shown to the user."""


class RagService:
    def __init__(self, settings: Settings | None = None, index_dir: Path | None = None):
        self.settings = settings or get_settings()
        self.index_dir = Path(index_dir or self.settings.index_dir)
        self._lock = threading.RLock()
        self.retriever: HybridRetriever | None = None
        self.idf: IdfTable | None = None
        self._generators: dict[str, Any] = {}
        self._load()

    # ---------------------------------------------------------------- loading
    def _load(self) -> None:
        from rag.embed.sentence_transformer import embedder_from_settings

        index = load_index(self.index_dir)
        reranker = None
        if self.settings.reranker_model:
            from rag.retrieve.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(self.settings.reranker_model, self.settings.embedding_device)
        self.retriever = HybridRetriever(index, embedder_from_settings(self.settings), self.settings, reranker)
        self.idf = IdfTable(index.tokens)
        # Warm up jieba and the model now, not on the first user's question.
        self.retriever.search("预热", k=1)

    def _fresh(self) -> HybridRetriever:
        """The retriever for the live index version, reloading if ingest wrote a new one."""
        live = current_version_dir(self.index_dir)
        with self._lock:
            if self.retriever is None or (live is not None and live.name != self.retriever.index.version):
                log.info("index changed on disk: reloading")
                self._load()
            assert self.retriever is not None
            return self.retriever

    @property
    def index_version(self) -> str:
        return self._fresh().index.version

    # ---------------------------------------------------------------- search
    def retrieve(
        self, query: str, k: int | None = None, filters: SearchFilters | None = None, method: str = "hybrid"
    ) -> RetrievalResult:
        query = self._check_text(query)
        return self._fresh().search(query, k=self._check_k(k), filters=filters, method=method)  # type: ignore[arg-type]

    def search(self, query: str, k: int | None = None, filters: SearchFilters | None = None) -> dict[str, Any]:
        return self.retrieve(query, k, filters).to_public()

    # ---------------------------------------------------------------- answer
    def ask(
        self, question: str, history: list[dict] | None = None, k: int | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for event in self.ask_stream(question, history, k, mode):
            if event["type"] == "final":
                result = event["result"]
        return result

    def ask_stream(
        self, question: str, history: list[dict] | None = None, k: int | None = None, mode: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yields {"type": "token", "text"} while the LLM writes, then {"type": "final", "result"}."""
        started = time.perf_counter()
        question = self._check_text(question)
        mode = self._check_mode(mode)
        k = self._check_k(k)
        history = [m for m in (history or []) if isinstance(m, dict) and m.get("content")]
        notice: str | None = None
        timings: dict[str, float | None] = {"condense_ms": None, "ttft_ms": None}

        standalone = question
        if history:
            t = time.perf_counter()
            standalone, notice = self._condense(question, history, mode)
            timings["condense_ms"] = _ms(t)

        t = time.perf_counter()
        retrieval = self._fresh().search_compound(standalone, split_subquestions(standalone), k=k)
        timings["retrieve_ms"] = _ms(t)
        passages = retrieval.results

        answer: str | None = None
        no_answer_logprob: float | None = None
        tokens = 0
        t = time.perf_counter()
        used_mode = mode
        if retrieval.confidence.relevant and passages:
            if mode != "extractive":
                try:
                    generator = self._generator(mode)
                    excerpts = [
                        Excerpt(n, passages[n - 1].chunk.title, passages[n - 1].chunk.source, text)
                        for n, text in context_for_llm(standalone, passages, self.idf, self.settings.llm_context_chars)  # type: ignore[arg-type]
                    ]
                    parts: list[str] = []
                    stream = generator.stream_answer(standalone, excerpts)
                    for piece in stream:
                        if timings["ttft_ms"] is None:
                            timings["ttft_ms"] = _ms(started)
                        parts.append(piece)
                        tokens += 1
                        yield {"type": "token", "text": piece}
                    answer = "".join(parts).strip()
                    no_answer_logprob = stream.no_answer_logprob
                    if not answer or NO_ANSWER_TOKEN in answer[:20] or self._model_doubts(no_answer_logprob):
                        answer = None
                except Exception as exc:  # endpoint down, timeout, HTTP error: answer anyway
                    log.warning("LLM generation failed (%s): falling back to extractive", exc)
                    notice = FALLBACK_NOTICE.format(reason=type(exc).__name__)
                    used_mode = "extractive"
                    answer = extractive_answer(standalone, passages, self.idf)  # type: ignore[arg-type]
            else:
                answer = extractive_answer(standalone, passages, self.idf)  # type: ignore[arg-type]
        timings["generate_ms"] = _ms(t)

        result = self._finish(question, standalone, answer, passages, used_mode, notice, retrieval)
        result["tokens_generated"] = tokens if mode != "extractive" else None
        result["no_answer_logprob"] = None if no_answer_logprob is None else round(no_answer_logprob, 3)
        timings["total_ms"] = _ms(started)
        result["timings"] = {key: (round(v, 1) if v is not None else None) for key, v in timings.items()}
        yield {"type": "final", "result": result}

    def _finish(
        self,
        question: str,
        standalone: str,
        answer: str | None,
        passages: list[ScoredChunk],
        mode: str,
        notice: str | None,
        retrieval: RetrievalResult,
    ) -> dict[str, Any]:
        base: dict[str, Any] = {
            "question": question,
            "standalone_question": standalone,
            "mode": mode,
            "notice": notice,
            "confidence": retrieval.confidence.to_dict(),
            "retrieved": [p.to_public() for p in passages],
        }
        texts = [p.chunk.text for p in passages]
        checked = check_citations(answer, texts, question=standalone) if answer else None
        # A figure taken from a sentence about another year, measure or period answers
        # a neighbouring question, not this one.
        mismatches = near_misses(standalone, answer, texts) if checked and checked.cited else []
        if checked is None or not checked.cited or mismatches:
            # Nothing the passages support: refuse rather than answer from the model's memory.
            return {
                **base,
                "answer": REFUSAL,
                "refused": True,
                "citations": [],
                "unsupported": checked.unsupported_sentences if checked else [],
                "near_misses": mismatches,
                "related": [p.to_public() for p in passages[:3]],
            }
        text, mapping = renumber(checked)
        sentences = split_sentences(text)
        citations = []
        for new_n, original in sorted(mapping.items()):
            item = passages[original - 1]
            claims = [s for s in sentences if f"[{new_n}]" in s]
            citations.append({"n": new_n, **item.to_public(), "highlight": _highlight(item.chunk.text, claims)})
        cited_texts = [passages[original - 1].chunk.text for original in mapping.values()]
        return {
            **base,
            "answer": text,
            "refused": False,
            "citations": citations,
            "unsupported": checked.unsupported_sentences,
            # Question terms the answer asserts that no cited passage contains: a hint
            # that the model answered a neighbouring fact (see rag.verify.answerability).
            "unverified_terms": unsupported_question_terms(standalone, text, cited_texts, self.idf),  # type: ignore[arg-type]
            "near_misses": [],
            "related": [],
        }

    def _model_doubts(self, no_answer_logprob: float | None) -> bool:
        """The model put enough weight on "无法回答" that its answer is not to be trusted."""
        threshold = self.settings.llm_no_answer_logprob
        return threshold is not None and no_answer_logprob is not None and no_answer_logprob >= threshold

    def _condense(self, question: str, history: list[dict], mode: str) -> tuple[str, str | None]:
        last_user = next((m["content"] for m in reversed(history) if m.get("role") == "user"), "")
        if mode != "extractive":
            try:
                return self._generator(mode).condense(question, history), None
            except Exception as exc:
                log.warning("condensing with the LLM failed (%s)", exc)
        # Without an LLM: a follow-up that cannot stand alone borrows the previous question's topic.
        if last_user and _leans_on_previous(question, self.idf):
            return f"{last_user} {question}", None
        return question, None

    def _generator(self, mode: str):
        with self._lock:
            if mode not in self._generators:
                self._generators[mode] = generator_for(self.settings, mode)
            return self._generators[mode]

    # ---------------------------------------------------------------- validation
    def _check_text(self, text: Any) -> str:
        if not isinstance(text, str):
            raise QuestionError("问题必须是文本 (question must be a string)")
        text = text.strip()
        if not text:
            raise QuestionError("问题不能为空 (question is empty)")
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(
                f"问题过长：最多 {self.settings.max_question_chars} 个字符 "
                f"(question longer than {self.settings.max_question_chars} characters)"
            )
        return text

    def _check_mode(self, mode: str | None) -> str:
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise QuestionError(f"未知模式 {mode!r}，可选：{', '.join(MODES)} (unknown mode)")
        return mode

    def _check_k(self, k: int | None) -> int:
        if k is None:
            return self.settings.top_k
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50:
            raise QuestionError("k 必须是 1 到 50 之间的整数 (k must be an integer from 1 to 50)")
        return k

    # ---------------------------------------------------------------- documents
    @property
    def upload_dir(self) -> Path:
        return Path(self.settings.data_dir) / "uploads"

    def ingest_paths(self) -> list[Path]:
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        return [Path(self.settings.corpus_dir), self.upload_dir]

    def ingest(self, on_progress: Callable[[str, float], None] | None = None):
        from rag.ingest.pipeline import ingest

        report = ingest(self.ingest_paths(), self.index_dir, settings=self.settings, progress=False, on_progress=on_progress)
        self._fresh()
        return report

    def list_files(self) -> list[dict[str, Any]]:
        manifest = self._fresh().index.manifest
        return [
            {"file": name, "articles": rec.articles, "chunks": rec.chunks, "size": rec.size}
            for name, rec in sorted(manifest.files.items())
        ]

    def add_upload(self, filename: str, data: bytes) -> str:
        name = sanitize_filename(filename)
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        target = self.upload_dir / name
        tmp = target.with_name(f".{name}.part")
        tmp.write_bytes(data)
        tmp.replace(target)
        return name

    def remove_file(self, name: str) -> None:
        """Remove an uploaded or bundled file from the knowledge base and re-index."""
        name = sanitize_filename(name)
        for folder in self.ingest_paths():
            path = folder / name
            if path.is_file():
                path.unlink()
                self.ingest()
                return
        raise QuestionError(f"没有这个文件：{name} (no such file)")


def sanitize_filename(filename: str) -> str:
    """A plain file name: no folders, no traversal, no hidden files, safe characters only."""
    name = Path(str(filename).replace("\\", "/")).name
    name = _SAFE_NAME.sub("_", name).lstrip(".")
    if not name or name in {"_", ".."}:
        raise QuestionError("无效的文件名 (invalid file name)")
    return name[:120]


def _highlight(passage: str, claims: list[str]) -> str | list[str]:
    """The passage sentence(s) that best support the answer's claims citing it.

    One string when they are adjacent in the passage, else a list of sentences
    (the UI and widget mark each one).
    """
    spans = sentence_spans(passage)
    best: list[int] = []
    for claim in claims:
        scored = sorted(range(len(spans)), key=lambda i: -support_score(claim, passage[spans[i][0] : spans[i][1]]))
        if scored and scored[0] not in best:
            best.append(scored[0])
    best.sort()
    pieces: list[str] = []
    for i, idx in enumerate(best):
        start, end = spans[idx]
        if i and best[i - 1] == idx - 1:
            pieces[-1] += passage[spans[idx - 1][1] : end]  # adjacent: one run of text
        else:
            pieces.append(passage[start:end])
    return pieces[0] if len(pieces) == 1 else pieces


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


_service: RagService | None = None
_service_lock = threading.Lock()


def get_service(index_dir: Path | None = None) -> RagService:
    """The process-wide service (models and index loaded once)."""
    global _service
    with _service_lock:
        if _service is None or (index_dir is not None and Path(index_dir) != _service.index_dir):
            _service = RagService(index_dir=index_dir)
        return _service
