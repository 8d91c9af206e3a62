"""GLUE (Appendix A.1): the nine tasks from the Hugging Face hub or the original distribution (the
seeded offline demo of the ``demo``/``smoke`` profiles is :mod:`qmtl_utils.data.glue_demo`).

Every loader returns ``{task: GlueTask}``; each split is a DataFrame with columns ``text_a``,
``text_b`` (None for CoLA and SST-2) and ``label`` (int class ids in the hub's order; STS-B scores
divided by 5 so they lie in [0, 1]). Text pairs follow the GLUE schema of Appendix A.1: MNLI
premise/hypothesis, QNLI question/sentence, QQP question1/question2, and sentence1/sentence2 for
MRPC, STS-B, RTE and WNLI. MNLI's validation split is ``validation_matched`` followed by
``validation_mismatched``, as in the paper.

The original distribution's TSVs are read as UTF-8 (or UTF-16; see :mod:`qmtl_utils.data.common`),
``FILE.gz`` where only that is there; every error names ``line N of FILE``, N the file line
(1-based, as an editor shows it; the header, where there is one, is line 1). In the same place a
task's file may also be a Hugging Face hub export (the hub's column names and class ids, recognised
by the header; CoLA's too), and either may have been re-saved by pandas (its CSV quoting is
undone). A missing file is a MissingDataError naming it; a file without data rows is an error,
never an empty split.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlparse

import pandas as pd

from qmtl_utils.data.common import DataFormatError, MissingDataError, csv_records, data_dir, hub_offline, is_empty_row, with_gz
from qmtl_utils.spec import BENCHMARKS

GLUE_TASKS: tuple[str, ...] = BENCHMARKS["glue"].task_names
SPLITS = ("train", "validation")
HUB_DATASET = "nyu-mll/glue"

_ENTAIL = {"entailment": 0, "not_entailment": 1}
_BINARY = {"0": 0, "1": 1}


@dataclass(frozen=True)
class _Schema:
    """Where one task lives: hub columns, the original distribution's folder, files and columns."""

    hub_a: str
    hub_b: str | None
    folder: str
    tsv_a: str
    tsv_b: str | None
    tsv_label: str
    labels: dict[str, int] | None  # None: regression score in [0, 5]
    dev_files: tuple[str, ...] = ("dev.tsv",)
    header: tuple[str, ...] | None = None  # column names of a header-less file (CoLA)


_SCHEMAS: dict[str, _Schema] = {
    "cola": _Schema(
        "sentence", None, "CoLA", "sentence", None, "label", _BINARY, header=("source", "label", "original_label", "sentence")
    ),
    "sst2": _Schema("sentence", None, "SST-2", "sentence", None, "label", _BINARY),
    "mrpc": _Schema("sentence1", "sentence2", "MRPC", "#1 String", "#2 String", "Quality", _BINARY),
    "stsb": _Schema("sentence1", "sentence2", "STS-B", "sentence1", "sentence2", "score", None),
    "qqp": _Schema("question1", "question2", "QQP", "question1", "question2", "is_duplicate", _BINARY),
    "mnli": _Schema(
        "premise",
        "hypothesis",
        "MNLI",
        "sentence1",
        "sentence2",
        "gold_label",
        {"entailment": 0, "neutral": 1, "contradiction": 2},
        dev_files=("dev_matched.tsv", "dev_mismatched.tsv"),
    ),
    "qnli": _Schema("question", "sentence", "QNLI", "question", "sentence", "label", _ENTAIL),
    "rte": _Schema("sentence1", "sentence2", "RTE", "sentence1", "sentence2", "label", _ENTAIL),
    "wnli": _Schema("sentence1", "sentence2", "WNLI", "sentence1", "sentence2", "label", _BINARY),
}


@dataclass(frozen=True)
class GlueTask:
    """One GLUE task: ``train`` and ``validation`` frames (text_a, text_b, label) and their source.

    Taught in: 00_data_prep, "GLUE (Appendix A.1)"
    """

    name: str
    train: pd.DataFrame
    validation: pd.DataFrame
    source: str

    @property
    def is_pair(self) -> bool:
        return _SCHEMAS[self.name].hub_b is not None

    def split(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {SPLITS}")
        return getattr(self, name)


def _frame(text_a: Iterable[str], text_b: Iterable[str] | None, labels: Iterable) -> pd.DataFrame:
    text_a = list(text_a)
    return pd.DataFrame(
        {"text_a": text_a, "text_b": list(text_b) if text_b is not None else [None] * len(text_a), "label": list(labels)}
    )


def _check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    unknown = [t for t in tasks if t not in _SCHEMAS]
    if unknown:
        raise ValueError(f"unknown GLUE task(s) {unknown}; choose from {', '.join(GLUE_TASKS)}")
    return tuple(tasks)


def glue_dir() -> Path:
    """The original GLUE distribution: ``$QMTL_GLUE_DIR`` or ``<data_dir()>/glue_data``."""
    return Path(os.environ.get("QMTL_GLUE_DIR", data_dir() / "glue_data"))


def _layout() -> str:
    lines = [f"  {s.folder}/train.tsv, " + ", ".join(f"{s.folder}/{f}" for f in s.dev_files) for s in _SCHEMAS.values()]
    return "\n".join(lines)


def _how_to_get(root: Path) -> str:
    return (
        "Either (a) make the Hugging Face hub reachable (internet, HF_HUB_OFFLINE=0 and "
        f"HF_DATASETS_OFFLINE=0) so that `datasets` downloads {HUB_DATASET}, or (b) download the "
        "original GLUE distribution (https://gluebenchmark.com/tasks, e.g. with the GLUE "
        f"`download_glue_data.py` script) and point QMTL_GLUE_DIR at its `glue_data` folder "
        f"(now: {root}), laid out as\n{_layout()}"
    )


# --------------------------------------------------------------------------- hub


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within ``timeout`` seconds.

    Checked before any download: without it `datasets`/`transformers` retry for about half a
    minute before giving up on a machine without internet.
    """
    if hub_offline():
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _hub_task(name: str, cache_dir: str | Path | None) -> GlueTask:
    import datasets

    schema = _SCHEMAS[name]
    ds = datasets.load_dataset(HUB_DATASET, name, cache_dir=None if cache_dir is None else str(cache_dir))
    dev_splits = ("validation_matched", "validation_mismatched") if name == "mnli" else ("validation",)

    def frame(splits: Sequence[str]) -> pd.DataFrame:
        df = pd.concat([ds[s].to_pandas() for s in splits], ignore_index=True)
        labels = df["label"] / 5.0 if schema.labels is None else df["label"].astype(int)
        return _frame(df[schema.hub_a], None if schema.hub_b is None else df[schema.hub_b], labels)

    return GlueTask(name, frame(("train",)), frame(dev_splits), f"hub:{HUB_DATASET}")


def load_glue_hub(tasks: Sequence[str] = GLUE_TASKS, cache_dir: str | Path | None = None) -> dict[str, GlueTask]:
    """GLUE from the hub (``nyu-mll/glue``, as in the paper). MissingDataError, quickly, when offline."""
    import httpx

    tasks = _check_tasks(tasks)
    if hub_offline():
        raise MissingDataError(
            "GLUE: Hugging Face hub downloads are switched off (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1). " + _how_to_get(glue_dir())
        )
    if not hub_reachable():
        raise MissingDataError("GLUE: the Hugging Face hub is unreachable from this machine. " + _how_to_get(glue_dir()))
    try:
        return {t: _hub_task(t, cache_dir) for t in tasks}
    except (OSError, httpx.HTTPError) as exc:
        raise MissingDataError(
            f"GLUE: download of {HUB_DATASET} failed ({type(exc).__name__}: {exc}). " + _how_to_get(glue_dir())
        ) from exc


# --------------------------------------------------------------------------- original distribution

_ONLY_SOME = "To run only the tasks you have, pass `-p glue_tasks cola,mrpc,...` to run_all.sh."
# A cell that CSV quoting wrapped (pandas' ``to_csv(sep="\t")``): quotes around it, every inner one doubled.
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


@dataclass(frozen=True)
class _Layout:
    """How one TSV holds a task: the positions of text_a, [text_b] and the label, whether the first
    record is a header, and whether the labels are the hub's class ids (a Hugging Face hub export)."""

    index: tuple[int, ...]
    has_header: bool
    hub: bool


def _hub_columns(schema: _Schema) -> list[str]:
    return [schema.hub_a, *([schema.hub_b] if schema.hub_b else []), "label"]


def _layout_of(first: list[str], schema: _Schema, path: Path, line: int = 1) -> _Layout:
    """The layout of a file whose first record is ``first``: the original distribution's (CoLA
    header-less), or a Hugging Face hub export (``ds.to_csv(sep="\\t")``: the hub's column names, an
    ``idx`` column, class ids as labels), recognised by its header."""
    cells = [cell.strip() for cell in first]
    original = [c for c in (schema.tsv_a, schema.tsv_b, schema.tsv_label) if c is not None]
    hub = _hub_columns(schema)
    if schema.header:  # header-less in the original distribution (CoLA)
        if all(c in cells for c in hub):
            return _Layout(tuple(cells.index(c) for c in hub), True, True)
        numbered = [str(i) for i in range(len(schema.header))]
        if cells in (numbered, ["", *numbered]):  # re-saved by pandas with its numbered header (and index)
            shift = len(cells) - len(numbered)
            return _Layout(tuple(schema.header.index(c) + shift for c in original), True, False)
        return _Layout(tuple(schema.header.index(c) for c in original), False, False)
    is_original, is_hub = all(c in cells for c in original), all(c in cells for c in hub)
    if is_hub and (not is_original or ("idx" in cells and "index" not in cells)):
        return _Layout(tuple(cells.index(c) for c in hub), True, True)
    if is_original:
        return _Layout(tuple(cells.index(c) for c in original), True, False)
    missing = next(c for c in original if c not in cells)
    raise DataFormatError(
        path,
        f"no column {missing!r} (columns: {cells}); is this the GLUE {schema.folder} file? "
        f"Expected the original distribution's columns {original} or a Hugging Face hub "
        f"export's {hub + ['idx']}, tab-separated, with the header as the first line",
        line=line,
    )


def _read_tsv(path: Path, schema: _Schema) -> pd.DataFrame:
    """One GLUE TSV as (text_a, text_b, label); ``path.gz`` is read where only that is there.

    Read: the original distribution (QUOTE_NONE: a ``"`` is text) and a Hugging Face hub export of
    the task (its header, class ids as labels; CoLA with a header too), each also re-saved by
    pandas (``to_csv(sep="\\t")``, which wraps cells holding a ``"`` in quotes and doubles the inner
    ones: when every cell holding a ``"`` in the file is wrapped so, they are unwrapped). Blank lines
    (or rows of empty cells) are ignored; rows with too few fields are skipped with one warning
    naming their lines, as the hub's own GLUE loader skips them. A file that is not UTF-8, a
    missing column, an unknown label, and a file without data rows (empty, header only, or every
    row skipped) are a DataFormatError naming the file and line (file lines, 1-based; the header,
    where there is one, is line 1)."""
    path = with_gz(path)
    if not path.is_file():
        raise MissingDataError(
            f"{path} is missing (GLUE task folder {schema.folder}). " + _how_to_get(path.parent.parent) + "\n" + _ONLY_SOME
        )
    rows = csv_records(path, delimiter="\t", quoting=csv.QUOTE_NONE)
    first = next((record for record in rows if not is_empty_row(record[1])), None)
    if first is None:
        what = "is empty (0 bytes)" if path.stat().st_size == 0 else "holds nothing but blank lines"
        raise DataFormatError(
            path,
            f"the file {what}: it was cut short when downloaded or copied; get it again (the GLUE download, or the hub export)",
        )
    layout = _layout_of(first[1], schema, path, first[0])
    if not layout.has_header:
        rows = itertools.chain([first], rows)
    index = layout.index
    records, skipped, n_rows = [], [], 0
    bare = doubled = False  # cells holding a quote not wrapped as CSV quoting writes it / wrapped with a doubled one
    for line, row in rows:
        if is_empty_row(row):
            continue
        n_rows += 1
        for cell in row:
            if '"' in cell:
                if _QUOTED.fullmatch(cell):
                    doubled = doubled or '""' in cell[1:-1]
                else:
                    bare = True
        if len(row) <= max(index):
            skipped.append(line)
            continue
        values = [row[i] for i in index]
        values[-1] = _parse_label(values[-1], schema, path, line, hub=layout.hub)
        records.append(values)
    if not records:
        what = (
            "holds no data rows" + (f", only its header (line {first[0]})" if layout.has_header else "")
            if not n_rows
            else f"has no usable row: all {n_rows} data row(s) have fewer than {max(index) + 1} tab-separated fields "
            f"(first at line {skipped[0]})"
        )
        raise DataFormatError(
            path,
            f"{what}; the file was cut short or saved without its rows (or not as "
            "tab-separated text). Get it again (the GLUE download, or the hub export)",
        )
    if skipped:
        shown = ", ".join(map(str, skipped[:10])) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        warnings.warn(
            f"{path}: skipped {len(skipped)} row(s) with missing fields (fewer than {max(index) + 1} "
            f"tab-separated fields) at line(s) {shown}, as the hub's GLUE loader does",
            stacklevel=3,
        )
    if doubled and not bare:  # re-saved with CSV quoting: unwrap the quoted texts
        for values in records:
            values[:-1] = [v[1:-1].replace('""', '"') if _QUOTED.fullmatch(v) else v for v in values[:-1]]
    columns = ["text_a", "text_b", "label"] if schema.tsv_b else ["text_a", "label"]
    df = pd.DataFrame(records, columns=columns)
    return _frame(df["text_a"], df["text_b"] if schema.tsv_b else None, df["label"])


def _parse_label(value: str, schema: _Schema, path: Path, line: int, hub: bool = False) -> int | float:
    """The class id (or STS-B score / 5) of a label cell: the original distribution's label names,
    or, in a hub export (``hub``), the hub's class ids ``0..k-1``."""
    if schema.labels is not None and hub:
        ids = [str(i) for i in range(len(set(schema.labels.values())))]
        if value.strip() in ids:
            return int(value)
        if value.strip() == "-1":
            raise DataFormatError(
                path,
                "label -1 is the hub's mark of an unlabelled test example; export the "
                "train and validation splits (GLUE's test labels are not public)",
                line,
            )
        raise DataFormatError(
            path,
            f"unknown label {value!r} in column 'label' of a Hugging Face hub export "
            f"(expected a class id {', '.join(ids)}); correct or delete that line",
            line,
        )
    if schema.labels is not None:
        if value not in schema.labels:
            hint = (
                " (a hub export has class ids as labels: keep its `idx` column, so that the file is recognised as one)"
                if value.strip().isdigit() and not any(k.isdigit() for k in schema.labels)
                else ""
            )
            raise DataFormatError(
                path,
                f"unknown label {value!r} in column {schema.tsv_label!r} "
                f"(expected one of {sorted(schema.labels)}){hint}; correct or delete that line",
                line,
            )
        return schema.labels[value]
    try:
        score = float(value)
    except ValueError:
        score = float("nan")
    if not 0.0 <= score <= 5.0:
        raise DataFormatError(path, f"score {value!r} is not a number in [0, 5]; correct or delete that line", line)
    return score / 5.0


def load_glue_dir(root: str | Path, tasks: Sequence[str] = GLUE_TASKS) -> dict[str, GlueTask]:
    """GLUE from the original distribution ``<root>/<TASK>/{train,dev}.tsv`` (MNLI: dev_matched +
    dev_mismatched), or the same files as a Hugging Face hub export (see :func:`_read_tsv`). CoLA
    is header-less (source, label, original label, sentence). A missing file is a
    MissingDataError naming it; ``FILE.gz`` stands in for a missing ``FILE``.

    Taught in: 00_data_prep, "GLUE (Appendix A.1)"
    """
    root = Path(root)
    out = {}
    for name in _check_tasks(tasks):
        schema = _SCHEMAS[name]
        folder = root / schema.folder
        train = _read_tsv(folder / "train.tsv", schema)
        dev = pd.concat([_read_tsv(folder / f, schema) for f in schema.dev_files], ignore_index=True)
        out[name] = GlueTask(name, train, dev, f"dir:{folder}")
    return out


def load_glue(settings: dict | None = None) -> dict[str, GlueTask]:
    """The real GLUE: the hub if reachable, else the original distribution if present.

    ``settings`` (a profile's ``data.glue``) may hold ``tasks``, ``dir`` (default :func:`glue_dir`)
    and ``hub_cache_dir``.

    Taught in: 00_data_prep, "GLUE (Appendix A.1)"
    """
    settings = settings or {}
    tasks = settings.get("tasks", GLUE_TASKS)
    root = Path(settings.get("dir") or glue_dir())
    try:
        return load_glue_hub(tasks, settings.get("hub_cache_dir"))
    except MissingDataError as hub_error:
        if root.is_dir():
            return load_glue_dir(root, tasks)
        raise MissingDataError(f"GLUE: the hub failed and {root} does not exist.\n{hub_error}") from hub_error


def write_glue_dir(data: dict[str, GlueTask], root: str | Path) -> Path:
    """Write tasks in the original distribution's layout (e.g. the demo, so that it goes through
    :func:`load_glue_dir` like real data): header-less CoLA, named columns elsewhere (only those the
    loader reads, plus ``index``), STS-B scores times 5, MNLI validation halved into matched and
    mismatched. Returns ``root``."""
    root = Path(root)
    for name, task in data.items():
        schema = _SCHEMAS[name]
        folder = root / schema.folder
        folder.mkdir(parents=True, exist_ok=True)
        _write_tsv(folder / "train.tsv", task.train, schema)
        parts = [len(task.validation) * i // len(schema.dev_files) for i in range(len(schema.dev_files) + 1)]
        for file, lo, hi in zip(schema.dev_files, parts, parts[1:]):
            _write_tsv(folder / file, task.validation.iloc[lo:hi], schema)
    return root


def _write_tsv(path: Path, frame: pd.DataFrame, schema: _Schema) -> None:
    names = {v: k for k, v in schema.labels.items()} if schema.labels else None
    rows = []
    for i, (a, b, label) in enumerate(zip(frame["text_a"], frame["text_b"], frame["label"])):
        if any(c in t for t in (a, b or "") for c in "\t\n\r"):
            raise ValueError(f"{path}: row {i + 1} has a tab or line break in its text")
        value = names[label] if names else f"{5 * label:.4f}"
        if schema.header:  # CoLA: source, label, original label marker, sentence
            rows.append(["demo", value, "" if label else "*", a])
        else:
            rows.append([str(i), a, *([b] if schema.tsv_b else []), value])
    header = [] if schema.header else [["index", schema.tsv_a, *([schema.tsv_b] if schema.tsv_b else []), schema.tsv_label]]
    path.write_text("".join("\t".join(r) + "\n" for r in header + rows), encoding="utf-8")
