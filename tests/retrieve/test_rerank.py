"""Cross-encoder reranking with a tiny randomly initialised BERT built here (no downloads)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.retrieve.rerank import CrossEncoderReranker
from rag.types import Chunk, ScoredChunk

QUERY = "黑石BXPE基金管理费"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A 2-layer BERT sequence classifier (1 label) with a character vocabulary from the corpus."""
    import torch
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
    )

    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    chars: set[str] = set()
    for file in sorted((PROJECT_ROOT / "data" / "corpus").glob("*.txt")):
        chars.update(ch for ch in file.read_text(encoding="utf-8") if not ch.isspace())
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(chars | set("abcdefghijklmnopqrstuvwxyz0123456789"))
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True, model_max_length=512)
    tokenizer.save_pretrained(str(path))

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def reranker(tiny_cross_encoder: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(str(tiny_cross_encoder), batch_size=4)


def _scored(i: int, text: str, score: float) -> ScoredChunk:
    chunk = Chunk(chunk_id=f"id{i}", file="f.txt", article_index=i, title=f"标题{i}", section="", byline="",
                  source="", text=text, start=0, end=len(text))
    return ScoredChunk(chunk=chunk, score=score, dense_score=score / 2, bm25_score=score * 10, extra={"k": i})


PASSAGES = [
    "不同于以往每年1.5%-2%的管理费，黑石BXPE将收取1.25%的管理费。",
    "北京金融街集聚了1900多家金融机构。",
    "崂山区城市云脑汇集数据16亿余条。",
    "人工智能辅助科研要从可用走向可信。",
    "中央经济工作会议提出形成消费和投资相互促进的良性循环。",
    "VC/PE机构正在进行投资、退出策略调整以适应当前环境。",
]


def test_score_returns_one_float_per_passage(reranker):
    scores = reranker.score(QUERY, PASSAGES)
    assert len(scores) == len(PASSAGES)
    assert all(isinstance(s, float) for s in scores)
    assert len(set(scores)) > 1  # a real model, not a constant
    assert reranker.score(QUERY, PASSAGES) == pytest.approx(scores)  # deterministic
    assert reranker.score(QUERY, []) == []


def test_long_passage_is_truncated_not_rejected(reranker):
    (score,) = reranker.score(QUERY, ["很长的段落。" * 400])
    assert isinstance(score, float)


def test_rerank_resorts_by_new_scores_and_keeps_fusion_score(reranker):
    ranked = [_scored(i, text, 1.0 - i * 0.1) for i, text in enumerate(PASSAGES)]
    expected = dict(zip((r.chunk.chunk_id for r in ranked), reranker.score(QUERY, [r.chunk.indexed_text for r in ranked])))

    reranked = reranker.rerank(QUERY, ranked)
    assert sorted(r.chunk.chunk_id for r in reranked) == sorted(expected)
    assert [r.score for r in reranked] == sorted((r.score for r in reranked), reverse=True)
    by_id = {r.chunk.chunk_id: r for r in ranked}
    for item in reranked:
        original = by_id[item.chunk.chunk_id]
        assert item.score == pytest.approx(expected[item.chunk.chunk_id])
        assert item.extra["fusion_score"] == original.score
        assert item.extra["k"] == original.extra["k"]  # other extras survive
        assert item.chunk is original.chunk
        assert (item.dense_score, item.bm25_score) == (original.dense_score, original.bm25_score)
    # the input list is left as it was
    assert [r.score for r in ranked] == [1.0 - i * 0.1 for i in range(len(PASSAGES))]
    assert all("fusion_score" not in r.extra for r in ranked)


def test_rerank_of_nothing(reranker):
    assert reranker.rerank(QUERY, []) == []


def test_hybrid_retriever_uses_the_reranker(reranker, index_dir, settings):
    from rag.embed.sentence_transformer import embedder_from_settings
    from rag.index.store import load_index
    from rag.retrieve.hybrid import HybridRetriever

    index = load_index(index_dir)
    # 60 candidates whatever k is, so fusion scores are comparable between the two searches below
    settings = settings.model_copy(update={"retrieval_candidates": 60})
    plain = HybridRetriever(index, embedder_from_settings(settings), settings)
    reranked = HybridRetriever(index, plain.embedder, settings, reranker=reranker)

    result = reranked.search(QUERY, k=5, merge=False)
    assert len(result.results) == 5
    scores = [r.score for r in result.results]
    assert scores == sorted(scores, reverse=True)
    texts = [r.chunk.indexed_text for r in result.results]
    assert scores == pytest.approx(reranker.score(QUERY, texts), abs=1e-5)
    fusion_candidates = {r.chunk.chunk_id: r.score for r in plain.search(QUERY, k=20, merge=False).results}
    for item in result.results:
        # every reranked passage came from the fused candidates, with its fusion score kept
        assert item.chunk.chunk_id in fusion_candidates
        assert item.extra["fusion_score"] == pytest.approx(fusion_candidates[item.chunk.chunk_id])
    # the confidence signal is still the retrieval one, not the reranker's
    assert result.confidence.dense == pytest.approx(plain.search(QUERY).confidence.dense)

    merged = reranked.search(QUERY, k=5)
    assert [r.score for r in merged.results] == sorted((r.score for r in merged.results), reverse=True)
    assert all("fusion_score" in r.extra for r in merged.results)


def test_construction_loads_nothing_and_scoring_warms_up_lazily(tmp_path, tiny_cross_encoder, reranker):
    CrossEncoderReranker(str(tmp_path / "no-model"))  # cheap: nothing is read until warm_up
    lazy = CrossEncoderReranker(str(tiny_cross_encoder), batch_size=4)
    assert lazy.score(QUERY, PASSAGES[:2]) == pytest.approx(reranker.score(QUERY, PASSAGES[:2]))
    lazy.warm_up()  # idempotent
    assert lazy.score(QUERY, PASSAGES[:2]) == pytest.approx(reranker.score(QUERY, PASSAGES[:2]))
