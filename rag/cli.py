"""The `rag` command line: setup, ingest, search, ask, chat, serve, eval."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from rag.config import get_settings

app = typer.Typer(help="Offline question answering over Chinese news and finance articles.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()

IndexOption = Annotated[Optional[Path], typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or ./index).")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
    )
    for noisy in ("httpx", "sentence_transformers", "jieba", "urllib3", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.command()
def setup(
    llm: Annotated[str, typer.Option(help="LLM models to assemble: 1.5b, 0.5b, all or none.")] = "all",
) -> None:
    """Build the offline models: convert the embedding model, assemble and verify the GGUF files."""
    from rag.models.convert_e5 import convert_e5

    settings = get_settings()
    if not settings.embedding_model:
        convert_e5(Path(settings.embedding_model_path))
    if llm != "none":
        from rag.models.llm_assemble import assemble

        for variant in (["1.5b", "0.5b"] if llm == "all" else [llm]):
            assemble(variant, settings.models_dir)  # type: ignore[arg-type]
    console.print("[green]models ready[/]")


@app.command()
def ingest(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Files or folders (default: the bundled corpus).")] = None,
    index: IndexOption = None,
) -> None:
    """Ingest documents into the hybrid index (incremental, atomic)."""
    from rag.ingest.pipeline import ingest as run_ingest

    try:
        report = run_ingest(paths or None, index_dir=index)
    except (FileNotFoundError, RuntimeError) as exc:
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
    console.print(
        f"files: {report.files}  articles: {report.articles}  chunks: {report.chunks}  "
        f"chunks embedded: {report.chunks_embedded}  seconds: {report.seconds:.1f}"
    )


def run() -> None:  # pragma: no cover - console entry for `python -m rag.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
