"""Which GGUF quantization of the same weights reads prompts fastest on this machine?

Compares the shipped Q4_K_M with the same weights transcoded at set-up into Q4_0 and
Q8_0 (``rag.models.transcode``; built here if missing), for every thread / batch setting
asked for.  One llama.cpp server (xllamacpp) per (model, setting) is started once and
kept up; requests then go in interleaved rounds (A B C A B C ...) so that noise from
other work on the shared machine hits every configuration alike.  Each request is a
RAG-style Chinese prompt (the product's own system prompt and user template) holding
~270 / ~450 / ~700 characters of real passage text from data/corpus, sent cold (the
prompt cache is bypassed), generating a fixed number of tokens (EOS ignored).  Speeds
come from llama.cpp's own ``timings``.  Also reported: model file size, server load
time, RSS after load, the CPU repack buffer llama.cpp logs, and a quality sanity check:
10 dev questions with their evidence passages at temperature 0, counting answers that
contain the key facts (``rag.evaluation.metrics.answers.key_fact_correct``).

    .venv/bin/python bench/llm_quant.py                       # 1.5B, batch 512 and 256
    .venv/bin/python bench/llm_quant.py --variant 0.5b --rounds 1 --batch 512 --json out.json

The production server (``rag.llm_runtime``) has no batch-size parameter yet, so this
script launches llama.cpp through its own small entry point (``serve`` sub-command)
that sets ``n_batch``/``n_ubatch``; everything else matches ``rag.llm_runtime.child``.
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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.llm_runtime.server import LocalLLMServer  # noqa: E402

log = logging.getLogger("bench.llm_quant")

QUANTS = ("q4_k_m", "q4_0", "q8_0")
SPEED_FILE = "000_ded5f9605ad5baf4.txt"  # the passage text for the speed prompts
SPEED_QUESTION = "按清科的统计，2022年前三季度国内股权投资项目里，靠被投企业上市实现退出的有多少笔？"
N_QUALITY = 10


# --- data -------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    quant: str
    path: Path
    threads: int
    threads_batch: int
    batch: int

    @property
    def label(self) -> str:
        return f"{self.quant} t{self.threads}/{self.threads_batch} b{self.batch}"

    @property
    def setting(self) -> str:
        return f"t{self.threads}/{self.threads_batch} b{self.batch}"


@dataclass
class ServerInfo:
    label: str
    file_mb: float
    load_s: float
    rss_mib: float
    rss_anon_mib: float
    repack_mib: float | None  # llama.cpp's CPU_REPACK buffer (None: not logged / none)


@dataclass
class Sample:
    label: str
    chars: int
    round: int
    prompt_n: int
    prompt_ms: float
    prompt_tps: float
    gen_n: int
    gen_tps: float
    wall_s: float


@dataclass
class QualityRow:
    quant: str
    id: str
    correct: bool
    answer: str
    prompt_tps: float
    gen_tps: float


@dataclass
class Results:
    cores: int | None
    load_avg_start: str
    load_avg_end: str = ""
    servers: list[ServerInfo] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    quality: list[QualityRow] = field(default_factory=list)
    seconds: float = 0.0


# --- the server ------------------------------------------------------------------


class BenchServer(LocalLLMServer):
    """LocalLLMServer started through this script's ``serve`` entry point, which can
    set llama.cpp's batch sizes (the production child has no such option yet)."""

    def __init__(self, cfg: Config, ctx: int, log_path: Path) -> None:
        super().__init__(cfg.path, port=0, threads=cfg.threads, ctx=ctx,
                         threads_batch=cfg.threads_batch, cache_ram_mib=0, log_path=log_path)
        self.batch = cfg.batch

    def command(self) -> list[str]:
        return [
            sys.executable, str(Path(__file__).resolve()), "serve",
            "--model", str(self.model_path), "--host", self.host, "--port", str(self.port),
            "--threads", str(self.threads), "--threads-batch", str(self.threads_batch),
            "--ctx", str(self.ctx), "--batch", str(self.batch),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip


def serve_main(argv: Sequence[str]) -> None:
    """The server process: ``rag.llm_runtime.child``'s parameters plus n_batch/n_ubatch."""
    ap = argparse.ArgumentParser(prog="llm_quant.py serve")
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--threads-batch", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--parent-pid", type=int, default=None)
    ap.add_argument("--verbosity", type=int, default=5)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import xllamacpp as xlc

    from rag.llm_runtime.child import serve

    params = xlc.CommonParams()
    params.model.path = a.model
    params.model_alias = {Path(a.model).stem}
    params.hostnames = [a.host]
    params.port = a.port
    params.n_ctx = a.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = a.threads
    params.cpuparams_batch.n_threads = a.threads_batch
    # n_batch: tokens per decode call; n_ubatch: tokens per compute graph (what the
    # matrix kernels see at once).  Kept equal so one number describes the setting.
    params.n_batch = a.batch
    params.n_ubatch = a.batch
    params.cache_prompt = True  # requests opt out with cache_prompt=false
    params.cache_ram_mib = 0
    params.ctx_shift = False
    params.ui = False
    params.verbosity = a.verbosity  # high enough to log the CPU_REPACK buffer size
    serve(params, a.parent_pid)


def _post(root: str, path: str, body: dict[str, Any], timeout: float = 900) -> dict[str, Any]:
    req = urllib.request.Request(root + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=timeout) as r:
        return json.loads(r.read())


def _proc_mem(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon", "RssFile"):
            out[k] = int(v.split()[0]) / 1024
    return out


_REPACK = re.compile(r"CPU_REPACK model buffer size\s*=\s*([\d.]+)\s*MiB")


def _repack_mib(log_text: str) -> float | None:
    # llama.cpp logs a dry run (fitting parameters to memory, 0 MiB) before the real load.
    hits = [float(m) for m in _REPACK.findall(log_text)]
    return hits[-1] if hits else None


# --- prompts ----------------------------------------------------------------------


def _clean_article(name: str) -> str:
    from rag.ingest.clean import clean_text

    return clean_text((ROOT / "data" / "corpus" / name).read_text(encoding="utf-8"))


def _messages(passages: str, question: str) -> list[dict[str, str]]:
    from rag.answer.prompts import load_prompt

    user = load_prompt("answer_user").format(passages=passages, question=question)
    return [{"role": "system", "content": load_prompt("answer_system")},
            {"role": "user", "content": user}]


def speed_passage(chars: int) -> str:
    """``chars`` characters of real article text, starting at the answer's sentence."""
    text = re.sub(r"\s+", "", _clean_article(SPEED_FILE))
    start = text.find("IPO退出仍是VC/PE退出的最重要途径")
    text = text[max(start, 0):] + text[: max(start, 0)]
    return text[:chars]


def quality_items(n: int = N_QUALITY, chars: int = 450) -> list[tuple[dict[str, Any], str]]:
    """``n`` answerable dev questions (types mixed, fixed order) with a passage of about
    ``chars`` characters of the cleaned article around their first evidence quote."""
    from rag.evaluation.dataset import evidence_quotes, is_answerable, load_dataset, must_include

    rows = [r for r in load_dataset(ROOT / "eval" / "datasets" / "dev.jsonl")
            if is_answerable(r) and must_include(r) and r.get("evidence")]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_type.setdefault(str(r.get("type")), []).append(r)
    picked: list[dict[str, Any]] = []
    while len(picked) < n and any(by_type.values()):  # round-robin over types
        for t in sorted(by_type):
            if by_type[t] and len(picked) < n:
                picked.append(by_type[t].pop(0))
    cache: dict[str, str] = {}
    out = []
    for r in picked:
        name = r["evidence"][0]["file"]
        text = cache.setdefault(name, re.sub(r"\s+", "", _clean_article(name)))
        quote = re.sub(r"\s+", "", evidence_quotes(r)[0])
        at = text.find(quote)
        if at < 0:  # the quote is checked against the cleaned text; keep going if not
            passage = quote
        else:
            before = max(0, (chars - len(quote)) // 2)
            lo = max(0, at - before)
            passage = text[lo: lo + max(chars, len(quote))]
        out.append((r, f"[1]{passage}"))
    return out


# --- the run ----------------------------------------------------------------------


def _request(srv: LocalLLMServer, messages: list[dict[str, str]], max_tokens: int,
             ignore_eos: bool) -> tuple[dict[str, Any], float]:
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "seed": 1,
            "cache_prompt": False, "ignore_eos": ignore_eos}
    t0 = time.monotonic()
    r = _post(srv.root_url, "/v1/chat/completions", body)
    return r, time.monotonic() - t0


def run(configs: list[Config], args: argparse.Namespace) -> Results:
    res = Results(cores=os.cpu_count(), load_avg_start=_load())
    t_start = time.monotonic()
    servers: dict[str, BenchServer] = {}
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for cfg in configs:  # started one at a time, so load times are not shared
            srv = BenchServer(cfg, args.ctx, log_dir / f"{cfg.label.replace(' ', '_').replace('/', '-')}.log")
            t0 = time.monotonic()
            srv.start(timeout=600)
            load_s = time.monotonic() - t0
            assert srv.pid is not None
            mem = _proc_mem(srv.pid)
            _request(srv, _messages("[1]你好。", "你好吗？"), 4, True)  # first-request effects
            info = ServerInfo(cfg.label, cfg.path.stat().st_size / 1e6, load_s,
                              mem.get("VmRSS", 0.0), mem.get("RssAnon", 0.0),
                              _repack_mib(srv.log_tail(200_000)))
            res.servers.append(info)
            servers[cfg.label] = srv
            print(f"  ready {cfg.label}: load {load_s:.1f}s RSS {info.rss_mib:.0f} MiB"
                  f" repack {info.repack_mib} MiB", flush=True)

        prompts = {c: _messages(f"[1]{speed_passage(c)}", SPEED_QUESTION) for c in args.chars}
        for rnd in range(args.rounds):
            for chars in args.chars:
                for cfg in configs:  # A B C A B C: every config sees the same moment's noise
                    r, wall = _request(servers[cfg.label], prompts[chars], args.gen_tokens, True)
                    t = r["timings"]
                    res.samples.append(Sample(cfg.label, chars, rnd, int(t["prompt_n"]),
                                              float(t["prompt_ms"]), float(t["prompt_per_second"]),
                                              int(t["predicted_n"]), float(t["predicted_per_second"]),
                                              wall))
            print(f"  round {rnd + 1}/{args.rounds} done, load {_load()}", flush=True)

        if args.quality:
            # Quality depends on the weights only: one server per quant (the first setting).
            per_quant = {}
            for cfg in configs:
                per_quant.setdefault(cfg.quant, cfg)
            from rag.evaluation.metrics.answers import key_fact_correct

            for item, passage in quality_items():
                msgs = _messages(passage, item["question"])
                for quant, cfg in per_quant.items():  # interleaved here too
                    r, _ = _request(servers[cfg.label], msgs, args.answer_tokens, False)
                    answer = r["choices"][0]["message"]["content"] or ""
                    t = r["timings"]
                    res.quality.append(QualityRow(quant, item["id"], bool(key_fact_correct(item, answer)),
                                                  answer, float(t["prompt_per_second"]),
                                                  float(t["predicted_per_second"])))
            print(f"  quality check done, load {_load()}", flush=True)
    finally:
        for srv in servers.values():
            srv.stop()
    res.load_avg_end = _load()
    res.seconds = time.monotonic() - t_start
    return res


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- report -----------------------------------------------------------------------


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(res: Results, configs: list[Config]) -> str:
    lines = [f"cores {res.cores}  load average start {res.load_avg_start}  end {res.load_avg_end}"
             f"  run {res.seconds / 60:.1f} min"]
    lines.append("\nmodels")
    lines.append(f"  {'config':<22}{'file MB':>9}{'load s':>8}{'RSS MiB':>9}{'anon MiB':>10}{'repack MiB':>12}")
    for s in res.servers:
        rp = "-" if s.repack_mib is None else f"{s.repack_mib:.0f}"
        lines.append(f"  {s.label:<22}{s.file_mb:>9.0f}{s.load_s:>8.1f}{s.rss_mib:>9.0f}"
                     f"{s.rss_anon_mib:>10.0f}{rp:>12}")

    by: dict[tuple[str, int], list[Sample]] = {}
    for smp in res.samples:
        by.setdefault((smp.label, smp.chars), []).append(smp)
    base = {c.setting: next((b for b in configs if b.quant == "q4_k_m" and b.setting == c.setting), None)
            for c in configs}
    lines.append("\nspeed (median over rounds; ratio = vs q4_k_m at the same setting and size)")
    lines.append(f"  {'config':<22}{'chars':>6}{'p tok':>6}{'prompt tok/s':>13}{'ratio':>7}"
                 f"{'prompt ms':>10}{'gen tok/s':>10}{'ratio':>7}  prompt tok/s per round")
    chars_list = sorted({s.chars for s in res.samples})
    for chars in chars_list:
        for cfg in configs:
            ss = by.get((cfg.label, chars), [])
            if not ss:
                continue
            ptps, gtps = _med([s.prompt_tps for s in ss]), _med([s.gen_tps for s in ss])
            b = base.get(cfg.setting)
            bs = by.get((b.label, chars), []) if b else []
            pr = ptps / _med([s.prompt_tps for s in bs]) if bs else float("nan")
            gr = gtps / _med([s.gen_tps for s in bs]) if bs else float("nan")
            lines.append(f"  {cfg.label:<22}{chars:>6}{ss[0].prompt_n:>6}{ptps:>13.1f}{pr:>7.2f}"
                         f"{_med([s.prompt_ms for s in ss]):>10.0f}{gtps:>10.1f}{gr:>7.2f}"
                         f"  {[round(s.prompt_tps, 1) for s in ss]}")
        lines.append("")

    if res.quality:
        lines.append(f"quality sanity check: {N_QUALITY} dev questions with their passage, temperature 0")
        quants = list(dict.fromkeys(q.quant for q in res.quality))
        for q in quants:
            rows = [r for r in res.quality if r.quant == q]
            wrong = [r.id for r in rows if not r.correct]
            lines.append(f"  {q:<8} key fact in answer {sum(r.correct for r in rows)}/{len(rows)}"
                         f"   prompt {_med([r.prompt_tps for r in rows]):.1f} tok/s"
                         f"   missed {wrong}")
        ids = list(dict.fromkeys(r.id for r in res.quality))
        differ = [i for i in ids if len({r.answer for r in res.quality if r.id == i}) > 1]
        lines.append(f"  answers differing between quants: {len(differ)}/{len(ids)}")
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------


def _model_paths(variant: str, quants: list[str]) -> dict[str, Path]:
    from rag.config import get_settings
    from rag.models.llm_assemble import SPECS, assemble
    from rag.models.transcode import ensure_transcoded

    source = assemble(variant, get_settings().models_dir)  # type: ignore[arg-type]
    paths = {"q4_k_m": source}
    for q in quants:
        if q != "q4_k_m":
            paths[q] = ensure_transcoded(source, q)
    assert SPECS[variant].filename == source.name
    return paths


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        serve_main(argv[1:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="1.5b", choices=["1.5b", "0.5b"])
    ap.add_argument("--quants", default=",".join(QUANTS), help="comma list of q4_k_m,q4_0,q8_0")
    ap.add_argument("--threads", type=int, nargs="+", default=[2], help="generation threads")
    ap.add_argument("--threads-batch", type=int, nargs="+", default=[2], help="prompt threads")
    ap.add_argument("--batch", type=int, nargs="+", default=[512, 256], help="n_batch = n_ubatch")
    ap.add_argument("--chars", type=int, nargs="+", default=[270, 450, 700])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--gen-tokens", type=int, default=32, help="tokens generated per speed request")
    ap.add_argument("--answer-tokens", type=int, default=160, help="max tokens per quality answer")
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--no-quality", dest="quality", action="store_false")
    ap.add_argument("--log-dir", default="/tmp/llm_quant_logs")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw results here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    quants = [q.strip() for q in args.quants.split(",") if q.strip()]
    bad = [q for q in quants if q not in QUANTS]
    if bad:
        ap.error(f"unknown quant {bad}; expected {QUANTS}")
    print(f"preparing models ({args.variant}: {', '.join(quants)}) ...", flush=True)
    paths = _model_paths(args.variant, quants)
    configs = [Config(q, paths[q], t, tb, b)
               for b in args.batch for t in args.threads for tb in args.threads_batch for q in quants]
    print(f"{len(configs)} configurations, {args.rounds} rounds x {len(args.chars)} prompt sizes",
          flush=True)
    res = run(configs, args)
    print(report(res, configs), flush=True)
    if args.json:
        data = asdict(res)
        data["configs"] = [{**asdict(c), "path": str(c.path), "label": c.label} for c in configs]
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"raw results: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
