"""Measure the local LLMs: assembly time, server RAM, prompt and generation speed.

For each model variant: assemble the GGUF (timed; instant when already
there), start ``LocalLLMServer`` on a free loopback port, build a Chinese
RAG-style prompt of about ``--prompt-tokens`` tokens (a passage from
data/corpus, or a built-in one, cut with the server's own tokenizer), and
send it ``--runs`` times with the prompt cache bypassed (cold prompt
evaluation), then twice with it on (the second shows the cache hit).  Speeds
come from llama.cpp's own ``timings`` in each response.  RSS is read from
/proc after loading and after the requests.

    .venv/bin/python bench/llm_speed.py                 # both models
    .venv/bin/python bench/llm_speed.py 0.5b --threads 1 --threads 2

The machine may be shared (2 cores here), so treat figures as noisy: the
script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.llm_runtime.server import LocalLLMServer  # noqa: E402
from rag.models.gguf import read_gguf_metadata  # noqa: E402
from rag.models.llm_assemble import SPECS, assemble  # noqa: E402

SYSTEM = (
    "你是一个严谨的中文问答助手。只根据提供的资料回答问题，并注明依据；"
    "资料中没有答案时直接说不知道。"
)
QUESTION = "根据以上资料，VC/PE 机构在当前政策环境下如何调整投资和退出策略？请用三点简要回答。"
FALLBACK_PASSAGE = (
    "近日，多项活跃资本市场、提振投资者信心的重磅政策接连推出，为二级市场长期稳定发展带来助力。"
    "当政策影响传导到一级市场，VC/PE 机构正在进行投资、退出策略调整以适应当前环境。"
    "长期以来，IPO 退出一直是对 VC/PE 机构来说收益最高的退出方式，也是优质被投企业的首选退出方式。"
    "随着证监会一系列政策的推出，被投企业上市退出的行为不会发生根本性变化。"
    "但在 IPO 节奏把控的情况下，对拟上市企业的质量将提出更高要求。"
    "同时，当项目 IPO 速度放缓，VC/PE 机构也希望在并购退出、转让退出方面进行更多积极尝试，"
    "以寻求更加多元化的退出方式。"
)


def _post(root: str, path: str, body: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    req = urllib.request.Request(root + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as r:
        return json.loads(r.read())


def _proc_mem(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0]) / 1024  # MiB
    return out


def _passage() -> str:
    corpus = ROOT / "data" / "corpus"
    files = sorted(corpus.glob("*.txt")) if corpus.is_dir() else []
    if files:
        text = files[0].read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"\s+", "", text)  # the PDF extraction breaks lines mid-sentence
        if len(text) > 3000:
            return text[:3000]
    return FALLBACK_PASSAGE * 8


def build_messages(root: str, target_tokens: int) -> list[dict[str, str]]:
    """Chat messages whose templated prompt is about ``target_tokens`` tokens."""

    def n_tokens(passage: str) -> int:
        msgs = _messages(passage)
        prompt = _post(root, "/apply-template", {"messages": msgs})["prompt"]
        return len(_post(root, "/tokenize", {"content": prompt, "add_special": True})["tokens"])

    passage = _passage()
    toks = _post(root, "/tokenize", {"content": passage, "add_special": False})["tokens"]
    overhead = n_tokens("")
    keep = max(16, min(len(toks), target_tokens - overhead))
    passage = _post(root, "/detokenize", {"tokens": toks[:keep]})["content"]
    return _messages(passage)


def _messages(passage: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"资料：\n{passage}\n\n问题：{QUESTION}"},
    ]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_variant(variant: str, threads: int, args: argparse.Namespace) -> dict[str, Any]:
    spec = SPECS[variant]
    t0 = time.monotonic()
    path = assemble(variant)  # type: ignore[arg-type]
    t_assemble = time.monotonic() - t0
    meta = read_gguf_metadata(path)

    srv = LocalLLMServer(path, port=0, threads=threads, ctx=args.ctx, poll=args.poll,
                         threads_batch=args.threads_batch)
    t0 = time.monotonic()
    with srv:
        t_load = time.monotonic() - t0
        assert srv.pid is not None
        mem_loaded = _proc_mem(srv.pid)
        messages = build_messages(srv.root_url, args.prompt_tokens)
        body = {"messages": messages, "max_tokens": args.max_tokens, "temperature": 0.0,
                "seed": 1}

        cold: list[dict[str, Any]] = []
        answer = ""
        for _ in range(args.runs):
            t0 = time.monotonic()
            r = _post(srv.root_url, "/v1/chat/completions", {**body, "cache_prompt": False})
            r["wall_s"] = time.monotonic() - t0
            cold.append(r)
            answer = r["choices"][0]["message"]["content"]
        warm: list[dict[str, Any]] = []
        for _ in range(2):
            t0 = time.monotonic()
            r = _post(srv.root_url, "/v1/chat/completions", {**body, "cache_prompt": True})
            r["wall_s"] = time.monotonic() - t0
            warm.append(r)
        mem_after = _proc_mem(srv.pid)

    def med(rs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r["timings"][key] for r in rs)

    return {
        "variant": variant,
        "name": meta.get("general.name"),
        "file": spec.filename,
        "sha256": spec.sha256,
        "threads": threads,
        "threads_batch": srv.threads_batch,
        "assemble_s": t_assemble,
        "load_s": t_load,
        "rss_loaded_mib": mem_loaded.get("VmRSS", 0.0),
        "rss_after_mib": mem_after.get("VmRSS", 0.0),
        "rss_anon_after_mib": mem_after.get("RssAnon", 0.0),
        "rss_file_after_mib": mem_after.get("RssFile", 0.0),
        "rss_peak_mib": mem_after.get("VmHWM", 0.0),
        "prompt_tokens": cold[0]["usage"]["prompt_tokens"],
        "prompt_tps": med(cold, "prompt_per_second"),
        "gen_tokens": statistics.median(r["timings"]["predicted_n"] for r in cold),
        "gen_tps": med(cold, "predicted_per_second"),
        "cold_wall_s": statistics.median(r["wall_s"] for r in cold),
        "warm_cache_n": warm[-1]["timings"].get("cache_n", 0),
        "warm_prompt_ms": warm[-1]["timings"]["prompt_ms"],
        "warm_wall_s": warm[-1]["wall_s"],
        "warm_gen_tokens": warm[-1]["timings"]["predicted_n"],
        "warm_gen_tps": warm[-1]["timings"]["predicted_per_second"],
        "all_prompt_tps": [round(r["timings"]["prompt_per_second"], 1) for r in cold],
        "all_gen_tps": [round(r["timings"]["predicted_per_second"], 1) for r in cold],
        "answer": answer,
        "load_avg": _load(),
    }


def _report(r: dict[str, Any]) -> str:
    return "\n".join([
        f"\n== {r['variant']}  {r['name']}  threads={r['threads']}/{r['threads_batch']}",
        f"  file            {r['file']}",
        f"  sha256          {r['sha256']}",
        f"  assemble        {r['assemble_s']:.1f} s (~0 when already assembled)",
        f"  server ready    {r['load_s']:.1f} s",
        f"  RSS loaded      {r['rss_loaded_mib']:.0f} MiB",
        f"  RSS after runs  {r['rss_after_mib']:.0f} MiB (anon {r['rss_anon_after_mib']:.0f},"
        f" file-backed {r['rss_file_after_mib']:.0f}; peak {r['rss_peak_mib']:.0f})",
        f"  prompt          {r['prompt_tokens']} tokens, eval {r['prompt_tps']:.1f} tok/s"
        f"  (runs {r['all_prompt_tps']})",
        f"  generation      {r['gen_tokens']:.0f} tokens, {r['gen_tps']:.1f} tok/s"
        f"  (runs {r['all_gen_tps']})",
        f"  cold request    {r['cold_wall_s']:.1f} s wall",
        f"  cached prompt   {r['warm_cache_n']} tokens reused, prompt {r['warm_prompt_ms']:.0f} ms,"
        f" request {r['warm_wall_s']:.1f} s wall",
        f"                  ({r['warm_gen_tokens']} tokens at {r['warm_gen_tps']:.1f} tok/s)",
        f"  load average    {r['load_avg']}",
        f"  answer          {r['answer'][:200]!r}",
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="*", default=["0.5b", "1.5b"], choices=list(SPECS))
    ap.add_argument("--threads", type=int, action="append", default=None,
                    help="repeat to compare thread counts (default: 2)")
    ap.add_argument("--threads-batch", type=int, default=None,
                    help="threads for prompt evaluation (default: same as --threads)")
    ap.add_argument("--poll", type=int, default=None, help="llama.cpp thread polling 0-100")
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--prompt-tokens", type=int, default=600)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=2, help="cold runs per model (median reported)")
    ap.add_argument("--json", action="store_true", help="also print raw results as JSON")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    print(f"cores: {os.cpu_count()}  load average at start: {_load()}", flush=True)
    results = []
    for variant in args.variants:
        for threads in args.threads or [2]:
            res = bench_variant(variant, threads, args)
            results.append(res)
            print(_report(res), flush=True)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
