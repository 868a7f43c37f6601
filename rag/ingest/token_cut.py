"""Cutting the chunks' BM25 tokens, on every core once there are enough of them.

jieba is pure Python, so one process cuts on one core (about 1,100 news chunks a second
here): 1.7 minutes for the 112,519 chunks of the news corpus while the other core idles.
From :data:`PARALLEL_FROM` chunks on, blocks go to worker processes, each with its own
tokenizer built from the same lexicon, so the tokens are the ones one process cuts (a test
checks it). Below it, a worker's start (importing jieba and loading its dictionary, about a
second) costs more than it saves.

The workers are ``python -m rag.ingest.token_cut`` reading a block of texts per line and
answering with its tokens, rather than a ``multiprocessing`` pool: a pool would fork the
ingest process (which may hold the embedder's or a server's threads) or, spawned, import
the caller's main module again (running a script without a ``__main__`` guard twice).
"""

from __future__ import annotations

import io
import json
import queue
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO

from rag.cpus import usable_cpus
from rag.index.tokenize import Lexicon, tokenizer_for
from rag.index.version import encode_tokens

PARALLEL_FROM = 20_000

# Blocks of texts in, for each block the JSON of every text's tokens out (the form the
# chunk table stores: the workers encode, so the ingest process only writes).
CutBlocks = Callable[[Iterable[list[str]]], Iterator[list[str]]]
BLOCKS_IN_FLIGHT = 2  # per worker: the next block is there when a worker finishes one


class CutWorkerError(RuntimeError):
    """A token-cutting worker process died or answered out of protocol."""


def block_cutter(
    lexicon: Lexicon, chunks: int, workers: int | None = None, parallel_from: int | None = None
) -> CutBlocks:
    """A function from blocks of texts to their blocks of encoded tokens (:func:`rag.index.version.encode_tokens`), in
    order, cut as :func:`rag.index.tokenize.tokenizer_for` ``(lexicon)`` cuts: in worker
    processes when ``chunks`` (how many will be cut) reaches ``parallel_from`` and there is
    more than one core."""
    workers = workers or usable_cpus()
    if workers > 1 and chunks >= (PARALLEL_FROM if parallel_from is None else parallel_from):
        return lambda blocks: _cut_in_processes(lexicon, blocks, workers)
    cut = tokenizer_for(lexicon)
    return lambda blocks: ([encode_tokens(cut(text)) for text in block] for block in blocks)


def _cut_in_processes(lexicon: Lexicon, blocks: Iterable[list[str]], workers: int) -> Iterator[list[str]]:
    """Block k goes to worker k mod n, at most :data:`BLOCKS_IN_FLIGHT` a worker. A worker
    reads its input on a thread of its own (:func:`serve`), so writing to one never waits
    on its output, and answers are read in order."""
    procs = [
        subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, encoding="utf-8")
        for _ in range(workers)
    ]
    try:
        for proc in procs:
            _send(proc, lexicon.to_json())
        in_flight: deque[int] = deque()  # the worker of each block sent and not yet answered, in order
        for k, block in enumerate(blocks):
            if len(in_flight) == workers * BLOCKS_IN_FLIGHT:
                yield _receive(procs[in_flight.popleft()])
            _send(procs[k % workers], json.dumps(block, ensure_ascii=False))
            in_flight.append(k % workers)
        while in_flight:
            yield _receive(procs[in_flight.popleft()])
    finally:
        for proc in procs:
            if proc.stdin and not proc.stdin.closed:
                try:
                    proc.stdin.close()  # end of input: the worker exits
                except BrokenPipeError:
                    pass
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()


def _send(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
    except BrokenPipeError:
        raise CutWorkerError(f"token-cutting worker exited with code {proc.wait()}") from None


def _receive(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise CutWorkerError(f"token-cutting worker exited with code {proc.wait()}")
    return json.loads(line)


def serve(lines_in: IO[str], lines_out: IO[str]) -> None:
    """The worker: the lexicon on the first line, then a JSON list of texts per line, each
    answered by a JSON list of their encoded tokens. Input is read ahead on a thread, so the
    sender is never kept waiting while this process writes an answer."""
    first = lines_in.readline()
    if not first:
        return
    cut = tokenizer_for(Lexicon.from_json(first))
    pending: queue.Queue[str | None] = queue.Queue()

    def read_ahead() -> None:
        for line in lines_in:
            pending.put(line)
        pending.put(None)

    threading.Thread(target=read_ahead, daemon=True).start()
    while (line := pending.get()) is not None:
        lines_out.write(json.dumps([encode_tokens(cut(text)) for text in json.loads(line)], ensure_ascii=False) + "\n")
        lines_out.flush()


if __name__ == "__main__":
    # UTF-8 whatever the locale: the parent writes and reads UTF-8.
    serve(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8"),
          io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", write_through=True))
