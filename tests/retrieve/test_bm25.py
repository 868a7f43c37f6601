"""BM25 search and the IDF table read from bm25s's statistics."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from rag.index.tokenize import tokenize
from rag.retrieve.bm25 import Bm25Search, IdfTable


def counted_idf(token_lists: list[list[str]]) -> IdfTable:
    """The reference: document frequencies counted from the token lists, as the service did before."""
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(tokens))
    return IdfTable(n=max(len(token_lists), 1), df=dict(df))


def assert_same_idf(table: IdfTable, reference: IdfTable) -> None:
    assert table.n == reference.n
    assert dict(table.df) == dict(reference.df)
    for token in [*reference.df, "从未出现的词", ""]:
        assert table.df.get(token, 0) == reference.df.get(token, 0)
        assert table.idf(token) == reference.idf(token)  # exactly, not approximately


def test_idf_from_bm25_matches_counted_frequencies_on_the_small_index(small_index):
    assert_same_idf(Bm25Search(small_index.tokens).idf, counted_idf(small_index.tokens))


def test_idf_from_bm25_matches_counted_frequencies_on_the_real_index(index_dir):
    from rag.index.store import load_index

    index = load_index(index_dir)
    assert len(index.tokens) > 100
    assert_same_idf(Bm25Search(index.tokens).idf, counted_idf(index.tokens))


def test_idf_counts_a_token_once_per_chunk():
    table = Bm25Search([["管理费", "管理费", "基金"], ["基金"], ["云脑"]]).idf
    assert table.n == 3
    assert dict(table.df) == {"管理费": 1, "基金": 2, "云脑": 1}
    assert table.idf("管理费") == pytest.approx(math.log(1 + 2.5 / 1.5))
    assert table.idf("管理费") > table.idf("基金") > 0
    assert table.idf("没有") == pytest.approx(math.log(1 + 3.5 / 0.5))  # unknown: rarest of all


def test_empty_index_has_an_empty_table_and_finds_nothing():
    search = Bm25Search([])
    assert search.idf.n == 1 and search.idf.df.get("基金", 0) == 0
    assert search.search(["基金"], n=5) == {}


def test_search_scores_the_chunks_holding_the_tokens():
    search = Bm25Search([tokenize("黑石BXPE基金的管理费"), tokenize("城市云脑汇集数据"), tokenize("基金业绩")])
    hits = search.search(search.query_tokens("BXPE基金管理费"), n=5)
    assert list(hits) == [0, 2]  # best first; the chunk sharing no token is left out
    assert hits[0] > hits[2] > 0
    assert search.search(["没有这个词"], n=5) == {}
    assert search.search([], n=5) == {}
    within = search.search(search.query_tokens("BXPE基金管理费"), n=5, allowed=np.array([1, 2], dtype=np.int64))
    assert list(within) == [2] and within[2] == hits[2]
    assert list(search.search(search.query_tokens("基金"), n=1)) in ([0], [2])
