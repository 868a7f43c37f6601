"""The hash embedder's own promises: any dimension, stable across processes, similar texts close."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rag.embed.fake import HashEmbedder


@pytest.mark.parametrize("dimension", [1, 8, 384, 1024])
def test_any_dimension(dimension):
    embedder = HashEmbedder(dimension=dimension)
    assert embedder.embed_query("管理费").shape == (dimension,)
    assert embedder.embed_passages(["管理费", "云脑"]).shape == (2, dimension)
    assert np.allclose(np.linalg.norm(embedder.embed_passages(["管理费", ""]), axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError):
        HashEmbedder(dimension=0)


def test_same_vectors_in_another_process():
    here = HashEmbedder(dimension=32).embed_query("黑石BXPE基金管理费")
    code = ("from rag.embed.fake import HashEmbedder; "
            "print(HashEmbedder(dimension=32).embed_query('黑石BXPE基金管理费').tobytes().hex())")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert bytes.fromhex(there) == here.tobytes()


def test_shared_characters_make_vectors_close():
    embedder = HashEmbedder()
    query = embedder.embed_query("北京金融街的金融机构")
    near, far = embedder.embed_passages(["金融街集聚了两千家金融机构", "老旧小区加装电梯"])
    assert float(query @ near) > 0.3 > float(query @ far)
    # width and case do not matter (the text is folded first)
    assert np.array_equal(embedder.embed_query("ＧＤＰ增长"), embedder.embed_query("gdp增长"))
    assert embedder.name == "hash-ngrams-384"
