"""The `rag` command line: setup, ingest, search, ask, chat, serve, eval.

Start-up is kept under a second: this module imports only typer, rich and the leaf
modules; the engine (torch, sentence-transformers, faiss, bm25s, jieba, gradio...) is
imported inside the commands that use it, after their arguments have been checked.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from rag.config import Settings, check_mode, check_question, get_settings
from rag.errors import ConfigError, QuestionError, RagError
from rag.evaluation.cli import app as eval_app
from rag.index.cli import app as index_app
from rag.types import Answer, Citation, StreamEvent

if TYPE_CHECKING:  # the engine is imported lazily: `rag --help` must not load torch
    from rag.service import RagService

app = typer.Typer(help="Offline question answering over Chinese news and finance articles.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()

IndexOption = Annotated[Optional[Path], typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or ./index).")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    level = logging.DEBUG if verbose else logging.INFO
    # The level is set on the handler too: some libraries (bm25s) set their own logger
    # to DEBUG when imported, which is after this runs, and would print without -v.
    handler = RichHandler(console=console, show_path=False, show_time=False, level=level)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler])
    for noisy in ("httpx", "sentence_transformers", "jieba", "urllib3", "faiss", "bm25s", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _settings()  # a misformatted setting stops every command here, with one line per key


def _settings() -> Settings:
    """The environment's settings; a misformatted value prints one line per key and exits 2."""
    try:
        return get_settings()
    except ConfigError as exc:
        for line in str(exc).splitlines():
            # soft_wrap: one line per key even on a narrow terminal (what a log grep expects).
            console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def setup(
    llm: Annotated[str, typer.Option(help="LLM models to assemble: 1.5b, 0.5b, all or none.")] = "all",
    quant: Annotated[str, typer.Option(
        help="Also transcode the assembled GGUF(s) into these types, e.g. q4_0,q8_0 (default: none).",
    )] = "none",
) -> None:
    """Build the offline models: convert the embedding model, assemble and verify the GGUF files."""
    from rag.models.convert_e5 import convert_e5

    from rag.models.transcode import TranscodeError, parse_quants

    settings = _settings()
    quants: list[str] = []
    if quant != "none":
        try:
            quants = parse_quants(quant)
        except ValueError as exc:
            _fail(str(exc), 2)
        if quants and llm == "none":
            _fail("--quant 需要 --llm 指定模型 (--quant needs --llm 1.5b, 0.5b or all)", 2)
    try:
        if not settings.embedding_model:
            convert_e5(Path(settings.embedding_model_path))
        if settings.embedding_backend != "torch" and Path(settings.embedding_model_path).is_dir():
            from rag.models.export_onnx import export_onnx

            export_onnx(Path(settings.embedding_model_path))  # RAG_EMBEDDING_BACKEND=onnx*: ~2 min once
        if llm != "none":
            from rag.models.llm_assemble import assemble

            for variant in (["1.5b", "0.5b"] if llm == "all" else [llm]):
                source = assemble(variant, settings.models_dir)  # type: ignore[arg-type]
                if quants:
                    from rag.models.transcode import ensure_transcoded

                    for q in quants:
                        console.print(f"{escape(ensure_transcoded(source, q).name)} ready")
    except (RagError, TranscodeError) as exc:
        _fail(str(exc))
    console.print("[green]models ready[/]")


@app.command()
def ingest(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Files or folders (default: the bundled corpus).")] = None,
    index: IndexOption = None,
) -> None:
    """Ingest documents into the hybrid index (incremental, atomic, resumable; progress with rate and ETA)."""
    from rag.ingest.pipeline import ingest as run_ingest

    try:
        report = run_ingest(paths or None, index_dir=index, settings=_settings())
    except (FileNotFoundError, RagError) as exc:  # a missing path, the index locked by another ingest
        _fail(str(exc))
        return
    table = Table(title="ingest summary")
    for column in ("file", "articles", "chunks"):
        table.add_column(column)
    for name, record in sorted(report.per_file.items()):
        table.add_row(name, str(record.articles), str(record.chunks))
    console.print(table)
    for name, reason in report.errors.items():
        console.print(f"[yellow]skipped[/] {name}: {reason}")
    if report.files_removed:
        console.print(f"removed from index: {', '.join(report.files_removed)}")
    if report.chunks_resumed:
        console.print(f"接着上次中断的导入：{report.chunks_resumed} 段已有向量，未重新计算 "
                      f"(resumed: {report.chunks_resumed} chunks were embedded by the interrupted run)")
    console.print(
        f"files: {report.files}  articles: {report.articles}  chunks: {report.chunks}  "
        f"chunks embedded: {report.chunks_embedded}  seconds: {report.seconds:.1f}"
    )


def _check(validate: Callable[[], object]) -> None:
    """Run a cheap argument check before any model loads; a ``QuestionError`` exits 2."""
    try:
        validate()
    except QuestionError as exc:
        _fail(str(exc), 2)


def _service(index: Optional[Path]) -> RagService:
    """The service on the environment's settings, warmed up; exits with the message when
    the index is missing or damaged."""
    from rag.service import RagService

    svc = RagService(_settings(), index)
    try:
        svc.warm_up()
    except RagError as exc:
        _fail(str(exc))
    return svc


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="The question or keywords.")],
    k: Annotated[int, typer.Option("--k", help="Number of passages.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    file: Annotated[Optional[list[str]], typer.Option("--file", help="Only these files.")] = None,
    section: Annotated[Optional[list[str]], typer.Option("--section", help="Only these sections.")] = None,
    title: Annotated[str, typer.Option("--title", help="Only articles whose title contains this.")] = "",
    index: IndexOption = None,
) -> None:
    """Ranked passages for a query (hybrid dense + BM25)."""
    _check(lambda: check_question(query, _settings()))
    from rag.retrieve.base import SearchFilters

    svc = _service(index)
    try:
        result = svc.search(query, k, SearchFilters(files=file or [], sections=section or [], title_contains=title))
    except QuestionError as exc:
        _fail(str(exc), 2)
        return
    if as_json:
        out.print_json(json.dumps(result.to_public(), ensure_ascii=False))
        return
    for rank, scored in enumerate(result.results, start=1):
        item = scored.to_passage()
        out.print(f"[bold]{rank}. {item.title}[/]  [dim]{item.section} · {item.file} · score {item.score:.4f}[/]")
        out.print(item.text, markup=False, highlight=False)
        out.print()


def _print_answer(answer: Answer) -> None:
    out.print(answer.answer, markup=False, highlight=False)
    if answer.notice:
        out.print(f"[yellow]{answer.notice}[/]")
    items = answer.citations or answer.related
    if items:
        out.print("[bold]来源[/]" if answer.citations else "[bold]可能相关的资料[/]")
    for item in items:
        label = f"[{item.n}]" if isinstance(item, Citation) else "-"
        out.print(f"{label} {item.title} ({item.file})", markup=False, highlight=False)
    t = answer.timings
    console.print(f"[dim]mode {answer.mode} · retrieve {t.retrieve_ms} ms · total {t.total_ms} ms[/]")


def _stream_answer(events: Iterator[StreamEvent]) -> Answer:
    """Print tokens as they arrive, then the checked answer with its sources; returns the answer."""
    answer: Answer | None = None
    for event in events:
        if event.type == "token":
            out.print(event.text, end="", markup=False, highlight=False)
        else:
            answer = event.answer
    out.print()
    assert answer is not None, "an answer stream ends with a final event"
    _print_answer(answer)
    return answer


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in Chinese.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    mode: Annotated[Optional[str], typer.Option("--mode", help="local, openai or extractive.")] = None,
    k: Annotated[Optional[int], typer.Option("--k", help="Passages to retrieve.")] = None,
    index: IndexOption = None,
) -> None:
    """Answer a question with checked citations (or an honest refusal)."""
    _check(lambda: (check_question(question, _settings()), check_mode(mode, _settings())))
    svc = _service(index)
    try:
        if as_json:
            result = svc.ask(question, k=k, mode=mode).to_dict()
            keys = ("question", "answer", "refused", "mode", "citations", "timings", "notice")
            public = {key: result[key] for key in keys}
            out.print_json(json.dumps(public, ensure_ascii=False))
            return
        _stream_answer(svc.ask_stream(question, k=k, mode=mode))
    except QuestionError as exc:
        _fail(str(exc), 2)


@app.command()
def chat(
    mode: Annotated[Optional[str], typer.Option("--mode", help="local, openai or extractive.")] = None,
    index: IndexOption = None,
) -> None:
    """Interactive multi-turn chat in the terminal (streaming). Empty line or Ctrl-D quits."""
    _check(lambda: check_mode(mode, _settings()))
    svc = _service(index)
    history: list[dict] = []
    while True:
        try:
            question = console.input("[bold cyan]问> [/]").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        try:
            answer = _stream_answer(svc.ask_stream(question, history=history, mode=mode))
        except QuestionError as exc:
            console.print(f"[red]{exc}[/]")
            continue
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


app.add_typer(eval_app, name="eval")
app.add_typer(index_app, name="index")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Bind address.")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port.")] = None,
    index: IndexOption = None,
) -> None:
    """Serve the chat UI, the HTTP API and the embeddable widget in one process."""
    from rag.server import serve as run_server

    settings = _settings()
    run_server(host or settings.host, port or settings.port, index, settings=settings)


def run() -> None:  # pragma: no cover - console entry for `python -m rag.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
