"""Tables in cleaned article text, rewritten as self-describing sentences.

PDF extraction and cleaning (:mod:`rag.ingest.clean`) flatten a table: the tabs next
to CJK characters go, so header cells run together ("年份上证综指深证综指沪深300…")
and a row label is glued to its first value ("2023年-3.7\\t-6.97…"); a row that ends
in "--" runs on into the next ("…0.37\\t--2020年13.87…"). Neither a sentence ranker
nor a small model can read a cell out of that: a question such as
"上证综指2023年涨跌幅是多少" matches the whole run of figures, and the model picks a
neighbour's. This module finds such regions and writes every cell as one sentence
naming its row, its column and its value, ending in "。" so that the one sentence
splitter (:mod:`rag.text.sentences`) keeps it whole:
"A股十年主要股指涨跌幅：2023年 上证综指 -3.7%。"

Detection is strict, because a false table rewrites prose into nonsense while a missed
one only stays as it was:

* rows sit on consecutive lines, at least two of them (three when a row has a single
  value), each a short label and the same number of numeric cells;
* cells are separated by whitespace, which prose never puts between two figures;
* the line above the rows is a header that splits into exactly one name per column.
  The names come from the source line when it still has its tabs (``source``, from
  :func:`source_cells`), otherwise from a scoring of likely cell boundaries; a header
  whose best split is not clearly better than the next one means no table.

Optional lines around it belong to the table too: a caption and a "单位：…" line above
the header, note lines below ("数据来源：…", see ``rag/wordlists/table_notes.txt``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

from rag import wordlists
from rag.ingest.clean import CJK, normalize_spaces

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ cell syntax
# Atomic groups: a figure is never cut short to make the rest of a row fit.
_NUMBER = r"(?>[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?[%‰]?)"
_MISSING = r"(?>--|—{1,2}|－{1,2}|-(?![\d.])|N/?A)"
_VALUE = rf"(?:{_NUMBER}|{_MISSING})"
_SEP = r"[ \t]+"
# A label may touch its first value only where cleaning removed a tab: after a letter
# (CJK included) or punctuation, never after a digit, a sign or a decimal point.
_GLUE = r"(?<=[^\d\s.,%‰+\-−—－])"
_VALUE_RE = re.compile(_VALUE)
_MISSING_RE = re.compile(rf"^{_MISSING}$")
_FIRST_ROW_RE = re.compile(rf"(?P<label>\S[^\t\n]*?)(?:{_SEP}|{_GLUE})(?P<values>{_VALUE}(?:{_SEP}{_VALUE})*)(?![ \t])")

MAX_COLUMNS = 24
MAX_LABEL_CHARS = 24
MAX_SINGLE_VALUE_LABEL_CHARS = 16
MAX_HEADER_CHARS = 160
MAX_CAPTION_CHARS = 40
MAX_NOTE_CHARS = 80
# Sentence ends and clause punctuation: prose, never a label, header or caption.
_PROSE_PUNCT = re.compile(r"[。！？；，、,;!?…]")
_LETTER = re.compile(r"[^\W\d_]")
_DECIMAL_END = re.compile(r"\d[.,]\d+[%‰]?$|%$")
_UNIT_LINE = re.compile(r"^[（(]?单位[:：]\s*(?P<unit>[^（）()\d\s]{1,8})[）)]?$")
_HEADER_UNIT = re.compile(r"^(?P<name>.+?)\s*[（(](?:单位[:：])?\s*(?P<unit>[^（）()\d]{1,6})[）)]$")
_YEAR = re.compile(r"^(19|20)\d\d$")


@cache
def _row_re(k: int) -> re.Pattern[str]:
    return re.compile(
        rf"(?P<label>\S[^\t\n]*?)(?:{_SEP}|{_GLUE})(?P<values>{_VALUE}(?:{_SEP}{_VALUE}){{{k - 1}}})(?![ \t])"
    )


@lru_cache(maxsize=1)
def _note_words() -> tuple[str, ...]:
    return tuple(sorted(wordlists.load("table_notes"), key=len, reverse=True))


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class TableCell:
    """One value of a row, under one column."""

    row: str  # the row label, e.g. "2023年"
    column: str  # the column name without its unit, e.g. "上证综指"
    value: str  # as printed, e.g. "-3.7"
    unit: str  # from the column header "(亿元)" or the table's "单位：%" line; "" if none
    start: int  # offsets of the value in the article text
    end: int

    @property
    def shown_value(self) -> str:
        """The value with its unit, unless the figure already carries one ("31.70%")."""
        if not self.unit or self.value.endswith(("%", "‰")):
            return self.value
        return self.value + self.unit


@dataclass(frozen=True)
class TableRow:
    label: str
    cells: tuple[TableCell, ...]  # empty cells ("--") are left out
    start: int  # offsets of the row (label and values) in the article text
    end: int


@dataclass(frozen=True)
class Table:
    """A table region of an article: ``text[start:end]`` is its original text."""

    start: int  # where the caption (or unit line, or header) begins
    end: int  # where the last row or note ends
    body_start: int  # where the first row begins: text[start:body_start] is caption and header
    caption: str  # "" when the table has none
    unit: str  # the "单位：…" of the whole table, "" when none
    label_header: str  # the header's name for the label column, "" when it has none
    columns: tuple[str, ...]  # one name per value column (units moved to the cells)
    rows: tuple[TableRow, ...]
    notes: tuple[str, ...]  # "截止日期:2023年12月", "数据来源:证监会官网"

    def cell_sentence(self, cell: TableCell) -> str:
        """"<caption>：<row> <column> <value>。" - one sentence a ranker can match."""
        body = f"{cell.row} {cell.column} {cell.shown_value}"
        return f"{self.caption}：{body}。" if self.caption else f"{body}。"

    def row_sentences(self, row: TableRow) -> list[str]:
        return [self.cell_sentence(cell) for cell in row.cells]

    def note_sentences(self) -> list[str]:
        return [note if note.endswith("。") else f"{note}。" for note in self.notes]

    def sentences(self) -> list[str]:
        """Every cell as a sentence, row by row, then the notes."""
        return [s for row in self.rows for s in self.row_sentences(row)] + self.note_sentences()


# ------------------------------------------------------------------ source lines
def _key(text: str) -> str:
    return re.sub(r"\s+", "", text)


def source_cells(raw: str) -> dict[str, str]:
    """Source lines that still separate cells with whitespace, by their whitespace-free text.

    Cleaning drops the tabs between CJK cells, so a header's cell boundaries are only
    known from the text the loader produced; ``find_tables`` looks its headers up here.
    """
    found: dict[str, str] = {}
    for line in raw.splitlines():
        stripped = line.strip()
        if stripped and len(stripped) <= 2 * MAX_HEADER_CHARS and re.search(r"\S\s+\S", stripped):
            found.setdefault(_key(stripped), stripped)
    return found


# ------------------------------------------------------------------ rows
@dataclass(frozen=True)
class _Line:
    text: str
    start: int


@dataclass(frozen=True)
class _ParsedRow:
    label: str
    values: tuple[tuple[str, int, int], ...]  # value, start, end (absolute offsets)
    start: int
    end: int


# A line read as rows of k values: the rows, and the text after them ("" when none).
_Reading = tuple[list[_ParsedRow], str]


def _valid_label(label: str, k: int) -> bool:
    limit = MAX_SINGLE_VALUE_LABEL_CHARS if k == 1 else MAX_LABEL_CHARS
    return (
        len(label) <= limit
        and bool(_LETTER.search(label))
        and not _PROSE_PUNCT.search(label)
        and not re.search(r"[:：]", label)
        # "国有理财公司117.7833" would be a label only by swallowing a value
        and not _DECIMAL_END.search(label)
    )


def _parse_rows(line: _Line, k: int) -> _Reading | None:
    """The rows of ``k`` values that ``line`` holds from its start, and what follows them."""
    pattern = _row_re(k)
    rows: list[_ParsedRow] = []
    pos = 0
    text = line.text
    while pos < len(text):
        match = pattern.match(text, pos)
        if match is None or not _valid_label(match["label"], k):
            break
        base = line.start + match.start("values")
        values = tuple(
            (v.group(), base + v.start(), base + v.end()) for v in _VALUE_RE.finditer(match["values"])
        )
        rows.append(_ParsedRow(match["label"], values, line.start + match.start(), line.start + match.end()))
        pos = match.end()
    if not rows:
        return None
    return rows, text[pos:]


def _feasible(line: _Line) -> dict[int, _Reading]:
    """For each number of values per row this line can be read with: its rows and rest."""
    first = _FIRST_ROW_RE.match(line.text)
    if first is None:
        return {}
    most = len(_VALUE_RE.findall(first["values"]))
    found: dict[int, _Reading] = {}
    # One fewer value: a label ending in digits ("沪深300") keeps its tab before the values.
    for k in {most, most - 1}:
        if 1 <= k <= MAX_COLUMNS:
            parsed = _parse_rows(line, k)
            # A single value has no whitespace to tell it from prose or from a glued
            # header ("…沪深300深证成指…"): such a row must be a whole line of its own.
            if parsed is not None and (k > 1 or (len(parsed[0]) == 1 and not parsed[1])):
                found[k] = parsed
    return found


def _is_note(text: str) -> bool:
    text = text.strip()
    return 0 < len(text) <= MAX_NOTE_CHARS and any(
        text.startswith(word) and text[len(word) : len(word) + 1] in (":", "：") for word in _note_words()
    )


# ------------------------------------------------------------------ headers
def _header_ok(text: str) -> bool:
    return 0 < len(text) <= MAX_HEADER_CHARS and not _PROSE_PUNCT.search(text) and not re.search(r"[:：]", text)


def split_header(header: str, count: int, source: Mapping[str, str] | None = None, guess: bool = True) -> tuple[str, ...] | None:
    """``header`` cut into ``count`` cells, or None when that cannot be done with confidence.

    The cells come from the header's source line when it has whitespace between them;
    otherwise, with ``guess``, from a scoring of likely cut points (:func:`_guess_cells`).
    """
    raw = (source or {}).get(_key(header))
    candidates = [raw] if raw else []
    if re.search(r"\s", header):
        candidates.append(header)
    for text in candidates:
        for splitter in (r"\t+|\s{2,}", r"\s+"):
            cells = tuple(normalize_spaces(c) for c in re.split(splitter, text.strip()) if c.strip())
            if len(cells) == count and _key("".join(cells)) == _key(header):
                return cells
    if candidates or not guess:
        return None  # whitespace that does not give the right count: do not guess around it
    return _guess_cells(header, count)


# Scoring of a flattened header's cut points (used only when no source line has the tabs).
_CUE_BRACKET = 3.0  # "存续规模(亿元)|存续规模占比": a unit in brackets closes a cell
_CUE_DIGITS = 2.0  # "沪深300|深证成指": a number ends an index-like name
_CUE_YEAR = 2.0  # "项目|2023年末": a year opens a period column
_CUE_REPEAT = 1.0  # cells that share a beginning or an end ("上证综指|深证综指")
_MIN_MARGIN = 1.0  # the best split must beat the next one by this much
_TIME_UNITS = "年月日季周期度末初底"


@lru_cache(maxsize=1)
def _jieba_tokenizer():  # noqa: ANN202 - jieba has no types
    import jieba

    jieba.setLogLevel(logging.WARNING)
    # A private tokenizer with the stock dictionary: header cuts must not depend on
    # user words another part of the program may load into the global one.
    return jieba.Tokenizer()


def _atoms(header: str) -> list[str]:
    """The header cut into pieces no cell boundary falls inside."""
    pieces = re.findall(rf"[（(][^（）()]*[）)]|[-+]?\d[\d.,%]*|[A-Za-z]+|[{CJK}]+|.", header)
    atoms: list[str] = []
    for piece in pieces:
        if piece[0] in "（(" and atoms:
            atoms[-1] += piece  # a bracket belongs to the name before it
        elif re.fullmatch(rf"[{CJK}]+", piece):
            atoms.extend(_jieba_tokenizer().lcut(piece, HMM=False))
        elif piece[0].isdigit() and atoms and not _YEAR.match(piece) and re.search(rf"[{CJK}A-Za-z]$", atoms[-1]):
            atoms[-1] += piece  # "上证" + "50": a number that is not a year ends the name before it
        else:
            atoms.append(piece)
    # A year and its time unit are one piece: "2023" + "年末".
    merged: list[str] = []
    for atom in atoms:
        if merged and re.fullmatch(r"\d+", merged[-1]) and atom[0] in _TIME_UNITS:
            merged[-1] += atom
        else:
            merged.append(atom)
    return merged


def _repeat_cues(header: str) -> dict[int, float]:
    """Cut points where a repeated substring (≥ 2 letters) starts or ends."""
    cues: dict[int, float] = {}
    n = len(header)
    for i in range(n):
        for j in range(i + 1, n):
            if i and header[i - 1] == header[j - 1]:
                continue  # not left-maximal: counted from further left
            length = 0
            while j + length < n and header[i + length] == header[j + length] and i + length < j:
                length += 1
            if length >= 2 and _LETTER.search(header[i : i + length]):
                for pos in (i, j, i + length, j + length):
                    cues[pos] = cues.get(pos, 0.0) + _CUE_REPEAT
    return cues


def _guess_cells(header: str, n: int) -> tuple[str, ...] | None:
    atoms = _atoms(header)
    if n < 2 or len(atoms) < n:
        return None
    bounds = [0]
    for atom in atoms:
        bounds.append(bounds[-1] + len(atom))
    repeat = _repeat_cues(header)

    def cue(a: int) -> float:  # cutting before atoms[a]
        before, after = atoms[a - 1], atoms[a]
        score = repeat.get(bounds[a], 0.0)
        if before[-1] in ")）":
            score += _CUE_BRACKET
        if before[-1].isdigit() and not after[0].isdigit():
            score += _CUE_DIGITS
        if after[0].isdigit() and _YEAR.match(re.match(r"\d+", after).group()):
            score += _CUE_YEAR
        return score

    mean = len(header) / n
    m = len(atoms)
    # best[c][a]: the two lowest costs of cutting atoms[:a] into c cells (cost, cuts).
    best: list[list[list[tuple[float, tuple[int, ...]]]]] = [[[] for _ in range(m + 1)] for _ in range(n + 1)]
    best[0][0] = [(0.0, ())]
    for c in range(1, n + 1):
        for a in range(c, m + 1):
            options = []
            for b in range(c - 1, a):
                for cost, cuts in best[c - 1][b]:
                    part = bounds[a] - bounds[b]
                    extra = (part - mean) ** 2 / mean - (cue(b) if b else 0.0)
                    options.append((cost + extra, cuts + ((b,) if b else ())))
            best[c][a] = sorted(options)[:2]
    ranked = best[n][m]
    if not ranked or (len(ranked) > 1 and ranked[1][0] - ranked[0][0] < _MIN_MARGIN):
        return None
    cuts = (0, *ranked[0][1], m)
    return tuple("".join(atoms[x:y]) for x, y in zip(cuts, cuts[1:]))


def _column(name: str) -> tuple[str, str]:
    """A header cell as (name, unit): "存续规模(亿元)" -> ("存续规模", "亿元")."""
    match = _HEADER_UNIT.match(name)
    if match and match["name"].strip():
        return match["name"].strip(), match["unit"].strip()
    return name, ""


# ------------------------------------------------------------------ regions
def _lines(text: str) -> list[_Line]:
    lines, start = [], 0
    for part in text.split("\n"):
        lines.append(_Line(part, start))
        start += len(part) + 1
    return lines


def _block_at(feasible: list[dict[int, _Reading]], i: int) -> tuple[int, set[int]]:
    """The last line of the block of rows starting at line i, and the value counts it allows.

    Every line but the last must hold rows only; the last may end in other text (a note).
    """
    ks = set(feasible[i])
    j = i
    while True:
        whole = {k for k in ks if feasible[j][k][1] == ""}
        following = whole & set(feasible[j + 1]) if whole and j + 1 < len(feasible) else set()
        if not following:
            return j, ks
        ks = following
        j += 1


def find_tables(text: str, source: Mapping[str, str] | None = None) -> list[Table]:
    """The tables of an article's cleaned ``text``, in order; ``source`` from :func:`source_cells`."""
    lines = _lines(text)
    feasible = [_feasible(line) if line.text else {} for line in lines]
    tables: list[Table] = []
    i = 0
    while i < len(lines):
        if not feasible[i] or i == 0:
            i += 1
            continue
        last, ks = _block_at(feasible, i)
        table = _build(lines, feasible, i, last, ks, source)
        if table is None:
            i += 1
            continue
        tables.append(table)
        i = last + 1
        while i < len(lines) and lines[i].start < table.end:
            i += 1
    return tables


def _build(
    lines: list[_Line],
    feasible: list[dict[int, _Reading]],
    first: int,
    last: int,
    ks: set[int],
    source: Mapping[str, str] | None,
) -> Table | None:
    """The table whose rows are lines ``first``..``last``, or None when its header does not fit."""
    header_line = lines[first - 1]
    header = header_line.text.strip()
    if not _header_ok(header) or feasible[first - 1]:
        return None
    # With several readings of the rows, take the one the header has names for, label
    # column named first; unsure readings (no source tabs, two fitting counts) are dropped.
    choices = []
    for labelled in (True, False):
        for k in sorted(ks):
            count = k + 1 if labelled else k
            rows_needed = 3 if k == 1 else 2
            rows = [row for j in range(first, last + 1) for row in feasible[j][k][0]]
            if len(rows) < rows_needed:
                continue
            # A guessed header must name the label column too: with both counts open, a
            # guess could as well merge two names into one ("机构类型存续规模|存续规模占比").
            # One value per row shows no whitespace between cells: then only a source
            # header with its tabs makes it a table.
            cells = split_header(header, count, source, guess=labelled and k > 1)
            if cells is not None:
                choices.append((k, labelled, cells, rows))
    if not choices:
        return None
    if len({c[0] for c in choices}) > 1 and _key(header) not in (source or {}):
        log.debug("table rows read with several cell counts and no source header: skipped")
        return None
    k, labelled, cells, parsed = choices[0]
    label_header = cells[0] if labelled else ""
    names = cells[1:] if labelled else cells
    columns = [_column(name) for name in names]

    start = header_line.start
    caption = unit = ""
    above = first - 2
    if above >= 0 and (unit_match := _UNIT_LINE.match(lines[above].text.strip())):
        unit = unit_match["unit"].strip()
        start = lines[above].start
        above -= 1
    if above >= 0 and _is_caption(lines[above].text.strip(), feasible[above]):
        caption = lines[above].text.strip().rstrip(":：")
        start = lines[above].start
        if not unit and (inline := re.search(r"[（(]单位[:：]\s*(?P<unit>[^（）()\d\s]{1,8})[）)]$", caption)):
            unit = inline["unit"]
            caption = caption[: inline.start()].strip()

    rows: list[TableRow] = []
    for row in parsed:
        cells_out = tuple(
            TableCell(row.label, name, value, column_unit or unit, v_start, v_end)
            for (value, v_start, v_end), (name, column_unit) in zip(row.values, columns)
            if not _MISSING_RE.match(value)
        )
        rows.append(TableRow(row.label, cells_out, row.start, row.end))

    notes: list[str] = []
    end = lines[last].start + len(lines[last].text)
    rest = feasible[last][k][1].strip()
    if rest:
        if not (_is_note(rest) or (len(rest) <= MAX_CAPTION_CHARS and not _PROSE_PUNCT.search(rest))):
            return None  # rows run into prose: the region would end inside a sentence
        notes.append(rest)
    below = last + 1
    while below < len(lines) and len(notes) < 3 and _is_note(lines[below].text):
        notes.append(lines[below].text.strip())
        end = lines[below].start + len(lines[below].text)
        below += 1
    return Table(
        start=start,
        end=end,
        body_start=parsed[0].start,
        caption=caption,
        unit=unit,
        label_header=label_header,
        columns=tuple(name for name, _ in columns),
        rows=tuple(rows),
        notes=tuple(notes),
    )


def _is_caption(text: str, feasible_rows: dict[int, _Reading]) -> bool:
    return (
        0 < len(text) <= MAX_CAPTION_CHARS
        and not feasible_rows
        and not _PROSE_PUNCT.search(text)
        and not _is_note(text)
        and bool(_LETTER.search(text))
    )
