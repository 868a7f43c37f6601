"""``rag eval``: run a dataset, benchmark retrieval, compare runs, import public benchmarks.

Mounted by :mod:`rag.cli` as a typer sub-app. ``rag eval DATASET ...`` (no command)
still means ``rag eval run DATASET ...``, and ``rag eval --retrieval DATASET`` means
``rag eval retrieval DATASET``, so the commands written before the sub-commands
existed keep working. Heavy imports (the service, matplotlib) happen inside the
commands: ``rag --help`` must stay fast.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, Optional

import click
import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table
from typer.core import TyperGroup

if TYPE_CHECKING:
    from rag.service import RagService

logger = logging.getLogger(__name__)
console = Console(stderr=True)
out = Console()

RETRIEVAL_COLUMNS = ("recall@1", "recall@3", "recall@5", "recall@10", "mrr@10", "p50_ms", "p95_ms")
LEGACY_RETRIEVAL_FLAG = "--retrieval"


class _RunByDefault(TyperGroup):
    """A group whose first word, when it names no command, is the dataset of ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            if LEGACY_RETRIEVAL_FLAG in args:
                args = ["retrieval", *(a for a in args if a != LEGACY_RETRIEVAL_FLAG)]
            else:
                args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    no_args_is_help=True,
    help="Evaluate: run a dataset through the pipeline, benchmark retrieval, compare runs, import benchmarks.",
)
import_app = typer.Typer(no_args_is_help=True, help="Turn a public benchmark into a corpus folder plus a dataset.")
app.add_typer(import_app, name="import")

IndexOption = Annotated[Optional[Path], typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or ./index).")]
LimitOption = Annotated[Optional[int], typer.Option("--limit", help="Only the first N questions.")]
DatasetArgument = Annotated[
    list[Path], typer.Argument(help="The dataset(s) (JSONL, eval/README.md schema); several are read as one set.")
]
SplitOption = Annotated[
    Optional[str],
    typer.Option("--split", help="Only the rows of this side of the tune/test split (tune or test)."),
]
SPLIT_CHOICES = ("tune", "test")
ImportOutArgument = Annotated[Path, typer.Argument(help="Output folder: corpus/, dataset.jsonl, import.json.")]


def _fail(message: str, code: int = 1) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _check_datasets(datasets: list[Path], split: Optional[str]) -> None:
    for dataset in datasets:
        if not dataset.is_file():
            _fail(f"no such dataset: {dataset}", 2)
    if split is not None and split not in SPLIT_CHOICES:
        _fail(f"--split must be one of {', '.join(SPLIT_CHOICES)}, not {split!r}", 2)


def _run_name(datasets: list[Path], mode: str, k: int, split: Optional[str]) -> str:
    """The default run folder name: ``dev+heldout-local-k5-test``."""
    name = f"{'+'.join(d.stem for d in datasets)}-{mode}-k{k}"
    return f"{name}-{split}" if split else name


def _service(index: Optional[Path]) -> RagService:
    from rag.config import get_settings
    from rag.errors import RagError
    from rag.service import RagService

    service = RagService(get_settings(), index_dir=index)
    try:
        service.warm_up()
    except RagError as exc:  # no index, or one being written or damaged
        _fail(str(exc))
    return service


@app.command()
def run(
    dataset: DatasetArgument,
    mode: Annotated[Optional[str], typer.Option("--mode", help="local, openai or extractive.")] = None,
    k: Annotated[Optional[int], typer.Option("--k", help="Passages per question.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder for reports and the answer cache.")] = None,
    limit: LimitOption = None,
    index: IndexOption = None,
    split: SplitOption = None,
) -> None:
    """Run benchmark sets through the full pipeline and write metrics and reports (resumable)."""
    _check_datasets(dataset, split)
    from rag.evaluation.pipeline import run_answer_eval

    service = _service(index)
    settings = service.settings
    mode = mode or settings.mode
    k = k or settings.top_k
    out_dir = out_dir or settings.data_dir / "eval" / _run_name(dataset, mode, k, split)
    run_answer_eval(service, dataset, mode, k, out_dir, limit, split)
    report = out_dir / "report.md"
    if report.exists():
        out.print(Markdown(report.read_text(encoding="utf-8").split("## Per question")[0]))
    console.print(f"reports in {out_dir} (metrics.json, report.md, report.html, charts/)")


@app.command()
def retrieval(
    dataset: DatasetArgument,
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Also write retrieval.json here.")] = None,
    limit: LimitOption = None,
    index: IndexOption = None,
    split: SplitOption = None,
) -> None:
    """Retrieval benchmark only: recall@k, MRR@10 and latency of BM25, dense and hybrid."""
    _check_datasets(dataset, split)
    from rag.evaluation.pipeline import retrieval_benchmark

    table = retrieval_benchmark(_service(index), dataset, limit, split)
    title = ", ".join(d.name for d in dataset) + (f" ({split})" if split else "")
    grid = Table(title=f"retrieval benchmark: {title}")
    grid.add_column("method")
    for column in RETRIEVAL_COLUMNS:
        grid.add_column(column, justify="right")
    for method, row in table.items():
        grid.add_row(method, *(f"{row[c]:.3f}" if "ms" not in c else f"{row[c]:.1f}" for c in RETRIEVAL_COLUMNS))
    out.print(grid)
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "retrieval.json").write_text(json.dumps(table, indent=2), encoding="utf-8")


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="First run folder (A).")],
    run_b: Annotated[Path, typer.Argument(help="Second run folder (B).")],
    chart: Annotated[Optional[Path], typer.Option("--chart", help="Also write a metrics-per-run PNG here.")] = None,
) -> None:
    """Compare two runs: metrics side by side (B − A) and the questions whose outcome changed."""
    from rag.evaluation.compare import compare_runs

    out.print(Markdown(compare_runs(run_a, run_b)))
    if chart:
        from rag.evaluation.charts import write_runs_chart

        write_runs_chart([run_a, run_b], chart)
        console.print(f"chart written to {chart}")


@app.command()
def frontier(
    runs: Annotated[list[Path], typer.Argument(help="Local-mode run folders, one per context size.")],
    chart: Annotated[Optional[Path], typer.Option("--chart", help="Also write the frontier PNG here.")] = None,
) -> None:
    """Key facts against context size and time to first token, from runs at several
    RAG_LLM_CONTEXT_CHARS: the points the default context size is chosen on."""
    from rag.evaluation.frontier import FrontierError, frontier_points, frontier_table

    try:
        points = frontier_points(runs)
    except FrontierError as exc:
        _fail(str(exc))
    out.print(Markdown(frontier_table(points)))
    if chart:
        from rag.evaluation.charts import plot_frontier

        plot_frontier(points, chart)
        console.print(f"chart written to {chart}")


def _print_summary(summary: object) -> None:
    out.print_json(json.dumps(asdict(summary), ensure_ascii=False))  # type: ignore[call-overload]


@import_app.command("rgb")
def import_rgb_command(
    input_path: Annotated[Path, typer.Argument(help="An RGB file (zh.json, zh_int.json, zh_fact.json).")],
    out_dir: ImportOutArgument,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Max questions.")] = None,
    unanswerable_share: Annotated[
        float, typer.Option("--unanswerable-share", help="Share of questions made unanswerable.")
    ] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Picks the unanswerable questions.")] = 0,
) -> None:
    """Import an RGB benchmark file as a corpus folder plus a dataset."""
    from rag.evaluation.importers.rgb import import_rgb

    _print_summary(import_rgb(input_path, out_dir, limit, unanswerable_share, seed))


@import_app.command("crud")
def import_crud_command(
    input_path: Annotated[Path, typer.Argument(help="CRUD-RAG's crud_split/split_merged.json.")],
    out_dir: ImportOutArgument,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Max questions per task.")] = None,
    tasks: Annotated[
        Optional[list[str]], typer.Option("--tasks", help="Task keys, repeatable (default: every questanswer_*).")
    ] = None,
) -> None:
    """Import CRUD-RAG's question-answer tasks as a corpus folder plus a dataset."""
    from rag.evaluation.importers.crud import import_crud

    _print_summary(import_crud(input_path, out_dir, limit, tasks or None))
