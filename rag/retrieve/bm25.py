"""BM25 over the index's jieba tokens (bm25s), and the IDF table read from the same statistics.

The index stores each chunk's tokens; the BM25 matrix is rebuilt from them at load
time (milliseconds for this corpus size). Everything else that weighs query terms
by rarity (sentence ranking, answerability, follow-up detection) reads the
:class:`IdfTable` built from that matrix, so the weights always belong to the
index version being searched and nothing is counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np

from rag.index.tokenize import query_tokens


@dataclass(frozen=True)
class IdfTable:
    """Inverse document frequencies of the index's BM25 tokens, for weighting query terms.

    ``n`` is the number of chunks (at least 1), ``df`` maps a token to the number of
    chunks holding it; tokens the index does not know have df 0 (``df.get(t, 0)``).
    """

    n: int
    df: Mapping[str, int] = field(default_factory=dict)

    def idf(self, token: str) -> float:
        """Lucene's BM25 idf, the same formula bm25s scores with."""
        df = self.df.get(token, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))


class Bm25Search:
    """A bm25s index over one index version's token lists; row i is chunk i."""

    def __init__(self, token_lists: Sequence[Sequence[str]]):
        self.model = bm25s.BM25()
        self.size = len(token_lists)
        if self.size:
            self.model.index([list(tokens) for tokens in token_lists], show_progress=False)
        self.idf = self._idf_table()

    def _idf_table(self) -> IdfTable:
        """Document frequencies as bm25s stores them: the score matrix is CSC with one
        column per vocabulary token and one stored entry per chunk holding it, so a
        column's entry count is that token's document frequency."""
        if not self.size:
            return IdfTable(n=1, df={})
        per_column = np.diff(self.model.scores["indptr"])
        # bm25s adds an empty-string token past the last column; it has no column.
        df = {token: int(per_column[col]) for token, col in self.model.vocab_dict.items() if col < len(per_column)}
        return IdfTable(n=self.size, df=df)

    def query_tokens(self, query: str) -> list[str]:
        """The query's tokens as the index was tokenised (jieba search mode, stop words dropped),
        with those of the other names of the names it mentions (rag.index.tokenize.query_tokens)."""
        return query_tokens(query)

    def search(self, tokens: Sequence[str], n: int, allowed: np.ndarray | None = None) -> dict[int, float]:
        """The n best rows (row -> BM25 score > 0) for the query tokens, within ``allowed`` rows if given."""
        # "" is bm25s's padding token (no column); tokenize() never yields it.
        known = [t for t in tokens if t and t in self.model.vocab_dict] if self.size else []
        if not known:
            return {}
        scores = self.model.get_scores(known)
        if allowed is not None:
            mask = np.full(len(scores), -np.inf)
            mask[allowed] = scores[allowed]
            scores = mask
        order = np.argsort(-scores)[:n]
        return {int(i): float(scores[i]) for i in order if scores[i] > 0}
