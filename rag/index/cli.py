"""`rag index verify` and `rag index rollback`: check every stored index version, and
switch back to the newest older one that verifies when the live one is damaged.

The store is imported inside the commands so `rag --help` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rag.config import get_settings
from rag.errors import RagError

app = typer.Typer(help="Check the stored index versions; roll back to an older one.", no_args_is_help=True)
console = Console(stderr=True)
out = Console()

T = TypeVar("T")
IndexOption = Annotated[Optional[Path], typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or ./index).")]


def _index_dir(index: Optional[Path]) -> Path:
    return Path(index or get_settings().index_dir)


def _or_fail(action: Callable[[], T]) -> T:
    """``action()``, or the engine's error as one line on stderr and exit code 1."""
    try:
        return action()
    except RagError as exc:
        # soft_wrap: the message stays one line whatever the terminal width.
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command()
def verify(index: IndexOption = None) -> None:
    """Check every stored version (checksums, files readable, counts consistent); exit 1 when
    the live version is damaged."""
    from rag.index.store import load_index, verify_index

    index_dir = _index_dir(index)
    statuses = verify_index(index_dir)
    if statuses:
        table = Table(title=f"index versions in {index_dir}")
        for column in ("version", "live", "chunks", "status"):
            table.add_column(column)
        for status in statuses:
            table.add_row(
                status.name, "✓" if status.live else "", "" if status.chunks is None else str(status.chunks),
                "完好 (ok)" if status.ok else status.problem or "",
            )
        out.print(table)
    live = _or_fail(lambda: load_index(index_dir))
    out.print(f"索引完好：当前版本 {live.version}，{len(live.chunks)} 段 (live version is sound)", highlight=False)


@app.command()
def rollback(index: IndexOption = None) -> None:
    """Make the newest version older than the live one that verifies live again (running
    servers switch on their next request)."""
    from rag.index.store import rollback as roll_back

    index_dir = _index_dir(index)
    name = _or_fail(lambda: roll_back(index_dir))
    out.print(f"已回退到版本 {name} (CURRENT now names {name})", highlight=False)
