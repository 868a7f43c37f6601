"""The answer engine behind the CLI, the UI and the API: one object per process.

It holds one immutable :class:`Snapshot` of the live index (index data, retriever, IDF
table) and swaps it whole when `rag ingest` or the admin page writes a new version, so a
question never mixes two versions. Per question it runs: condense a follow-up → analyse
the question once (:class:`rag.query.Query`) → hybrid retrieval → refusal check →
evidence selection → generate (LLM, or extractive, which is also the fallback when the
LLM is unreachable) → citation check → :class:`rag.types.Answer`.

The constructor is cheap; :meth:`RagService.warm_up` loads the index and the models.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answer.evidence import Evidence, context_for_llm, select_evidence
from rag.answer.extractive import extractive_answer
from rag.answer.gate import MIN_GATE_CHUNKS
from rag.answer.llm import NO_ANSWER_TOKEN, Excerpt, LLMGenerator, generator_for
from rag.answer.ranker import RankerModel, load_model
from rag.config import MODES, Settings, check_question
from rag.conversation import clean_history, standalone_question
from rag.documents import DocumentLibrary
from rag.embed.base import Embedder
from rag.errors import LLMUnavailableError, QuestionError
from rag.index.store import IndexData, Manifest, load_index
from rag.index.tokenize import use_lexicon
from rag.index.tokenize import warm_up as warm_up_tokenizer
from rag.query import Query, analyse
from rag.retrieve.base import RetrievalResult, SearchFilters
from rag.retrieve.bm25 import IdfTable
from rag.retrieve.hybrid import HybridRetriever
from rag.stores.factory import live_version
from rag.text.sentences import split_sentences
from rag.types import Answer, Citation, Passage, ScoredChunk, StreamEvent, Timings
from rag.verify.answerability import near_misses, unsupported_question_terms
from rag.verify.citations import check_citations, renumber
from rag.verify.highlight import highlight_spans, highlight_text
from rag.verify.support import restates_question

log = logging.getLogger(__name__)

REFUSAL = "知识库中没有找到与该问题相关的信息。"
FALLBACK_NOTICE = "大模型服务不可用（{reason}），已改用抽取式回答。"
RESTATED_NOTICE = "大模型的回答只复述了问题，以下为原文摘录。"


@dataclass(frozen=True)
class Snapshot:
    """One index version and everything built from it; replaced whole, never mutated."""

    index: IndexData
    retriever: HybridRetriever

    @property
    def version(self) -> str:
        return self.index.version

    @property
    def idf(self) -> IdfTable:
        return self.retriever.idf


@dataclass(frozen=True)
class Retrieved:
    """A question made standalone, analysed once, and the passages retrieved for it."""

    snapshot: Snapshot
    standalone: str
    query: Query
    retrieval: RetrievalResult


class RagService:
    def __init__(self, settings: Settings, index_dir: Path | None = None, embedder: Embedder | None = None):
        """``embedder`` replaces the one ``settings`` name (tests pass a fake one)."""
        self.settings = settings
        self._embedder = embedder
        self.index_dir = Path(index_dir or settings.index_dir)
        self._lock = threading.RLock()
        self._snapshot: Snapshot | None = None
        self._generators: dict[str, LLMGenerator] = {}
        self.documents = DocumentLibrary(settings, self.index_dir, lambda: self.snapshot().index.manifest, self.snapshot)

    # ---------------------------------------------------------------- loading
    def warm_up(self) -> RagService:
        """Load the index and the models now, not on the first user's question."""
        self.snapshot().retriever.warm_up()
        warm_up_tokenizer()  # the question analysis tags words for names (rag.query)
        return self

    def _load(self) -> Snapshot:
        from rag.embed.factory import embedder_from_settings

        embedder = self._embedder or embedder_from_settings(self.settings)
        reranker = None
        if self.settings.reranker_model:
            from rag.retrieve.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(self.settings.reranker_model, self.settings.embedding_device)
        if self.settings.store != "embedded":  # RAG_STORE=milvus (rag.stores)
            from rag.stores.factory import load_store

            view, retriever = load_store(self.settings, self.index_dir, embedder, reranker)
            return Snapshot(index=view, retriever=retriever)  # type: ignore[arg-type]  # same reading surface
        index = load_index(self.index_dir)
        return Snapshot(index=index, retriever=HybridRetriever(index, embedder, self.settings, reranker))

    def snapshot(self) -> Snapshot:
        """The live index version, reloaded first if ingest wrote a new one."""
        live = live_version(self.settings, self.index_dir)
        with self._lock:
            current = self._snapshot
            if current is None or (live is not None and live != current.version):
                if current is not None:
                    log.info("index changed on disk: reloading")
                current = self._snapshot = self._load()
            if isinstance(current.index, IndexData):
                use_lexicon(current.index.lexicon)  # questions are cut as the index's chunks were
            return current

    @property
    def index_version(self) -> str:
        return self.snapshot().version

    @property
    def index_manifest(self) -> Manifest:
        return self.snapshot().index.manifest

    # ---------------------------------------------------------------- search
    def search(
        self, query: str, k: int | None = None, filters: SearchFilters | None = None, method: str = "hybrid"
    ) -> RetrievalResult:
        query = self._check_text(query)
        return self.snapshot().retriever.search(query, k=self._check_k(k), filters=filters, method=method)  # type: ignore[arg-type]

    # ---------------------------------------------------------------- answer
    def ask(
        self, question: str, history: list[dict] | None = None, k: int | None = None, mode: str | None = None
    ) -> Answer:
        answer: Answer | None = None
        for event in self.ask_stream(question, history, k, mode):
            if event.type == "final":
                answer = event.answer
        assert answer is not None
        return answer

    def ask_stream(
        self, question: str, history: list[dict] | None = None, k: int | None = None, mode: str | None = None
    ) -> Iterator[StreamEvent]:
        """Yields a token event per piece the LLM writes, then one final event with the Answer."""
        started = time.perf_counter()
        question = self._check_text(question)
        mode = self._check_mode(mode)
        k = self._check_k(k)
        timings = Timings()
        notice: str | None = None
        found = self._retrieve(question, history, k, mode, timings)
        snap, standalone, query, retrieval = found.snapshot, found.standalone, found.query, found.retrieval
        passages = retrieval.results

        text: str | None = None
        no_answer_logprob: float | None = None
        tokens = 0
        used_mode = mode
        t = time.perf_counter()
        ranker = self.evidence_model()
        if retrieval.confidence.relevant and passages:
            n_chunks = len(snap.index.chunks)
            evidence = select_evidence(query, passages, snap.idf, ranker, n_chunks=n_chunks)
            # The learned gate: passages on topic that do not hold what is asked (another
            # company, year, measure) are refused before any generation.
            refused_by_gate = evidence.answerable < self._gate_threshold(ranker, mode, n_chunks)
            quote_threshold = self._gate_threshold(ranker, "extractive", n_chunks)
            if refused_by_gate:
                log.info("answerability gate refuses (p=%.2f; absent from every passage: %s)", evidence.answerable, evidence.absent)
            elif mode != "extractive":
                quote_instead: str | None = None  # why the extractive answer replaces the model's
                try:
                    excerpts = [
                        Excerpt(n, passages[n - 1].chunk.title, passages[n - 1].chunk.source, excerpt)
                        for n, excerpt in context_for_llm(evidence, self.settings.llm_context_chars)
                    ]
                    stream = self._generator(mode).stream_answer(standalone, excerpts)
                    parts: list[str] = []
                    for piece in stream:
                        if timings.ttft_ms is None:
                            timings.ttft_ms = _ms(started)
                        parts.append(piece)
                        tokens += 1
                        yield StreamEvent("token", text=piece)
                    text = "".join(parts).strip()
                    no_answer_logprob = stream.no_answer_logprob
                    if not text or NO_ANSWER_TOKEN in text[:20] or self._model_doubts(no_answer_logprob):
                        text = None
                    elif restates_question(text, standalone):
                        # Repeating the question around a marker passes the citation check
                        # (the passage holds the question's words) and answers nothing. The
                        # model did not refuse and the passages passed the gate: quote them.
                        log.info("the model only restated the question: answering with quotes")
                        quote_instead = RESTATED_NOTICE
                except LLMUnavailableError as exc:  # endpoint down, timeout, HTTP error: answer anyway
                    log.warning("LLM generation failed (%s): falling back to extractive", exc.reason)
                    quote_instead = FALLBACK_NOTICE.format(reason=exc.reason)
                if quote_instead is not None:
                    notice, used_mode = quote_instead, "extractive"
                    text = extractive_answer(evidence, quote_threshold)
            else:
                text = extractive_answer(evidence, quote_threshold)
        timings.generate_ms = _ms(t)

        answer = _assemble(question, query, text, passages, used_mode, notice, retrieval)
        answer.tokens_generated = tokens if mode != "extractive" else None
        answer.no_answer_logprob = None if no_answer_logprob is None else round(no_answer_logprob, 3)
        timings.total_ms = _ms(started)
        answer.timings = timings.rounded()
        yield StreamEvent("final", answer=answer)

    def retrieve(
        self, question: str, history: list[dict] | None = None, k: int | None = None, mode: str | None = None
    ) -> Retrieved:
        """The first half of :meth:`ask`: the standalone question, analysed, and its passages.

        The evaluation's evidence-ranker training reads the same passages the answer step
        would (``eval/train_evidence_ranker.py``).
        """
        return self._retrieve(self._check_text(question), history, self._check_k(k), self._check_mode(mode), Timings())

    def _retrieve(self, question: str, history: list[dict] | None, k: int, mode: str, timings: Timings) -> Retrieved:
        turns = clean_history(history)
        snap = self.snapshot()  # one index version for the whole question
        standalone = question
        if turns:
            t = time.perf_counter()
            rewrite = (lambda q, h: self._generator(mode).condense(q, h)) if mode != "extractive" else None
            standalone = standalone_question(question, turns, lambda term: snap.idf.df.get(term, 0) > 0, rewrite)
            timings.condense_ms = _ms(t)
        query = analyse(standalone, snap.idf)
        t = time.perf_counter()
        retrieval = snap.retriever.search_compound(
            query.text,
            query.part_texts,
            k=k,
            query_tokens=[list(p.search_tokens) for p in (query.parts or (query,))],
            whole_tokens=list(query.search_tokens),
        )
        timings.retrieve_ms = _ms(t)
        return Retrieved(snapshot=snap, standalone=standalone, query=query, retrieval=retrieval)

    def evidence_model(self) -> RankerModel:
        """The sentence ranker and answerability gate (``RAG_EVIDENCE_MODEL``, else the bundled one)."""
        return load_model(self.settings.evidence_model) if self.settings.evidence_model else load_model()

    def _gate_threshold(self, ranker: RankerModel, mode: str, n_chunks: int) -> float:
        """Least gate probability for ``mode`` to answer: 0 (the gate is off) with
        ``RAG_ANSWER_GATE=false`` or an index smaller than the gate knows how to read."""
        if not self.settings.answer_gate or n_chunks < MIN_GATE_CHUNKS:
            return 0.0
        return ranker.threshold(mode)

    def _model_doubts(self, no_answer_logprob: float | None) -> bool:
        """The model put enough weight on "无法回答" that its answer is not to be trusted."""
        threshold = self.settings.llm_no_answer_logprob
        return threshold is not None and no_answer_logprob is not None and no_answer_logprob >= threshold

    def _generator(self, mode: str) -> LLMGenerator:
        with self._lock:
            if mode not in self._generators:
                self._generators[mode] = generator_for(self.settings, mode)
            return self._generators[mode]

    # ---------------------------------------------------------------- validation
    def _check_text(self, text: Any) -> str:
        return check_question(text, self.settings)

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


def _assemble(
    question: str,
    query: Query,
    text: str | None,
    passages: list[ScoredChunk],
    mode: str,
    notice: str | None,
    retrieval: RetrievalResult,
) -> Answer:
    """The checked answer, or a refusal when no passage supports it."""
    base: dict[str, Any] = {
        "question": question,
        "standalone_question": query.text,
        "mode": mode,
        "notice": notice,
        "confidence": retrieval.confidence,
        "retrieved": [p.to_passage() for p in passages],
    }
    texts = [p.chunk.text for p in passages]
    checked = check_citations(text, texts, question=query.text) if text else None
    # A figure taken from a sentence about another year, measure or period answers
    # a neighbouring question, not this one.
    mismatches = near_misses(query, text, texts) if text and checked and checked.cited else []
    if checked is None or not checked.cited or mismatches:
        # Nothing the passages support: refuse rather than answer from the model's memory.
        return Answer(
            **base,
            answer=REFUSAL,
            refused=True,
            unsupported=checked.unsupported_sentences if checked else [],
            near_misses=mismatches,
            related=[p.to_passage() for p in passages[:3]],
        )
    final, mapping = renumber(checked)
    sentences = split_sentences(final)
    citations = []
    for new_n, original in sorted(mapping.items()):
        chunk_text = passages[original - 1].chunk.text
        claims = [s for s in sentences if f"[{new_n}]" in s]
        runs = highlight_spans(chunk_text, claims)
        passage: Passage = passages[original - 1].to_passage()
        citations.append(
            Citation(**vars(passage), n=new_n, highlight=highlight_text(chunk_text, runs), highlight_spans=runs)
        )
    cited_texts = [passages[original - 1].chunk.text for original in mapping.values()]
    return Answer(
        **base,
        answer=final,
        refused=False,
        citations=citations,
        unsupported=checked.unsupported_sentences,
        unverified_terms=unsupported_question_terms(query, final, cited_texts),
    )


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
