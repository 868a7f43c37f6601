"""Plain data objects passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class RawDocument:
    """Text as it came out of a loader, before cleaning and article segmentation."""

    text: str
    file: str  # file name relative to the corpus root
    title: str = ""
    date: str = ""
    source: str = ""
    # True when the loader already yields one article per document (jsonl, html):
    # segmentation then keeps it whole instead of looking for article boundaries.
    single_article: bool = False


@dataclass
class Article:
    file: str
    index: int  # position of the article inside its file
    title: str
    text: str  # cleaned body; chunk offsets point into this
    section: str = ""
    byline: str = ""
    source: str = ""
    date: str = ""


@dataclass
class Chunk:
    chunk_id: str  # content hash: stable across runs for the same text and place
    file: str
    article_index: int
    title: str
    section: str
    byline: str
    source: str
    text: str  # the passage itself (shown to the user, cited)
    start: int  # character offsets into Article.text
    end: int
    date: str = ""
    # The original text of a table chunk, for display; its ``text`` is the table's cells
    # as self-describing sentences (rag.ingest.tables), which is what is indexed and cited.
    # Empty for every other chunk (then ``text`` is the original, Article.text[start:end]).
    display_text: str = ""

    @property
    def shown_text(self) -> str:
        """What to show a reader as the passage: the original table, or the text itself."""
        return self.display_text or self.text

    @property
    def indexed_text(self) -> str:
        """What gets embedded and BM25-indexed: the title gives the passage its topic."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScoredChunk:
    chunk: Chunk
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_passage(self) -> Passage:
        c = self.chunk
        return Passage(text=c.text, file=c.file, title=c.title, section=c.section,
                       score=round(float(self.score), 6), chunk_id=c.chunk_id)

    def to_public(self) -> dict[str, Any]:
        return asdict(self.to_passage())


# ------------------------------------------------------------------ answers
# What the engine returns. The API schemas (rag.api.schemas) describe the same
# fields; `to_dict()` is the JSON shape every client reads.

Span = tuple[int, int]


@dataclass
class Passage:
    """A retrieved passage as clients see it."""

    text: str
    file: str
    title: str
    section: str
    score: float
    chunk_id: str


@dataclass
class Citation(Passage):
    """The passage an answer's ``[n]`` points to, with the sentences that support it.

    ``highlight_spans`` are (start, end) offsets into ``text`` of the supporting
    sentences, so the UI and the widget mark them without re-finding them;
    ``highlight`` is the same text (one string when the sentences are adjacent,
    else a list).
    """

    n: int = 0
    highlight: str | list[str] = ""
    highlight_spans: list[Span] = field(default_factory=list)


@dataclass
class Confidence:
    """How sure retrieval is that the index holds something relevant to the query."""

    dense: float  # best cosine similarity between query and passage
    bm25: float  # best BM25 score
    relevant: bool = True  # above the calibrated thresholds

    def to_dict(self) -> dict[str, Any]:
        return {"dense": round(self.dense, 4), "bm25": round(self.bm25, 3), "relevant": self.relevant}


@dataclass
class Timings:
    """Milliseconds per step; None for a step that did not run."""

    condense_ms: float | None = None
    ttft_ms: float | None = None
    retrieve_ms: float | None = None
    generate_ms: float | None = None
    total_ms: float | None = None

    def rounded(self) -> Timings:
        return Timings(**{k: (round(v, 1) if v is not None else None) for k, v in asdict(self).items()})


@dataclass
class Answer:
    """A checked answer, or a refusal (``refused``; ``answer`` then says so)."""

    question: str
    standalone_question: str
    answer: str
    mode: str
    refused: bool
    confidence: Confidence
    retrieved: list[Passage]
    citations: list[Citation] = field(default_factory=list)
    related: list[Passage] = field(default_factory=list)  # offered when refusing
    notice: str | None = None
    unsupported: list[str] = field(default_factory=list)  # claims no passage supports
    # Question terms the answer asserts that no cited passage contains (rag.verify.answerability).
    unverified_terms: list[str] = field(default_factory=list)
    near_misses: list[str] = field(default_factory=list)
    tokens_generated: int | None = None
    no_answer_logprob: float | None = None
    timings: Timings = field(default_factory=Timings)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["confidence"] = self.confidence.to_dict()
        return data


@dataclass
class StreamEvent:
    """One event of an answer stream: model text as it is written, then the checked answer."""

    type: Literal["token", "final"]
    text: str = ""
    answer: Answer | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.type == "token":
            return {"type": "token", "text": self.text}
        assert self.answer is not None
        return {"type": "final", "result": self.answer.to_dict()}
