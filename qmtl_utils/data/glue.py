"""GLUE (Appendix A.1): the nine tasks from the Hugging Face hub or the original distribution, and
the seeded offline demo of the ``demo``/``smoke`` profiles.

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
import random
import re
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence
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
    "cola": _Schema("sentence", None, "CoLA", "sentence", None, "label", _BINARY,
                    header=("source", "label", "original_label", "sentence")),
    "sst2": _Schema("sentence", None, "SST-2", "sentence", None, "label", _BINARY),
    "mrpc": _Schema("sentence1", "sentence2", "MRPC", "#1 String", "#2 String", "Quality", _BINARY),
    "stsb": _Schema("sentence1", "sentence2", "STS-B", "sentence1", "sentence2", "score", None),
    "qqp": _Schema("question1", "question2", "QQP", "question1", "question2", "is_duplicate", _BINARY),
    "mnli": _Schema("premise", "hypothesis", "MNLI", "sentence1", "sentence2", "gold_label",
                    {"entailment": 0, "neutral": 1, "contradiction": 2},
                    dev_files=("dev_matched.tsv", "dev_mismatched.tsv")),
    "qnli": _Schema("question", "sentence", "QNLI", "question", "sentence", "label", _ENTAIL),
    "rte": _Schema("sentence1", "sentence2", "RTE", "sentence1", "sentence2", "label", _ENTAIL),
    "wnli": _Schema("sentence1", "sentence2", "WNLI", "sentence1", "sentence2", "label", _BINARY),
}


@dataclass(frozen=True)
class GlueTask:
    """One GLUE task: ``train`` and ``validation`` frames (text_a, text_b, label) and their source."""

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
    return pd.DataFrame({"text_a": text_a,
                         "text_b": list(text_b) if text_b is not None else [None] * len(text_a),
                         "label": list(labels)})


def _check_tasks(tasks: Sequence[str]) -> tuple[str, ...]:
    unknown = [t for t in tasks if t not in _SCHEMAS]
    if unknown:
        raise ValueError(f"unknown GLUE task(s) {unknown}; choose from {', '.join(GLUE_TASKS)}")
    return tuple(tasks)


def glue_dir() -> Path:
    """The original GLUE distribution: ``$QMTL_GLUE_DIR`` or ``<data_dir()>/glue_data``."""
    return Path(os.environ.get("QMTL_GLUE_DIR", data_dir() / "glue_data"))


def _layout() -> str:
    lines = [f"  {s.folder}/train.tsv, " + ", ".join(f"{s.folder}/{f}" for f in s.dev_files)
             for s in _SCHEMAS.values()]
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


def load_glue_hub(tasks: Sequence[str] = GLUE_TASKS,
                  cache_dir: str | Path | None = None) -> dict[str, GlueTask]:
    """GLUE from the hub (``nyu-mll/glue``, as in the paper). MissingDataError, quickly, when offline."""
    import httpx

    tasks = _check_tasks(tasks)
    if hub_offline():
        raise MissingDataError(
            "GLUE: Hugging Face hub downloads are switched off (HF_HUB_OFFLINE/HF_DATASETS_OFFLINE=1). "
            + _how_to_get(glue_dir()))
    if not hub_reachable():
        raise MissingDataError("GLUE: the Hugging Face hub is unreachable from this machine. "
                               + _how_to_get(glue_dir()))
    try:
        return {t: _hub_task(t, cache_dir) for t in tasks}
    except (OSError, httpx.HTTPError) as exc:
        raise MissingDataError(f"GLUE: download of {HUB_DATASET} failed ({type(exc).__name__}: {exc}). "
                               + _how_to_get(glue_dir())) from exc


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
    raise DataFormatError(path, f"no column {missing!r} (columns: {cells}); is this the GLUE {schema.folder} file? "
                                f"Expected the original distribution's columns {original} or a Hugging Face hub "
                                f"export's {hub + ['idx']}, tab-separated, with the header as the first line", line=line)


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
        raise MissingDataError(f"{path} is missing (GLUE task folder {schema.folder}). "
                               + _how_to_get(path.parent.parent) + "\n" + _ONLY_SOME)
    rows = csv_records(path, delimiter="\t", quoting=csv.QUOTE_NONE)
    first = next((record for record in rows if not is_empty_row(record[1])), None)
    if first is None:
        what = "is empty (0 bytes)" if path.stat().st_size == 0 else "holds nothing but blank lines"
        raise DataFormatError(path, f"the file {what}: it was cut short when downloaded or copied; get it again "
                                    "(the GLUE download, or the hub export)")
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
        what = ("holds no data rows" + (f", only its header (line {first[0]})" if layout.has_header else "")
                if not n_rows else
                f"has no usable row: all {n_rows} data row(s) have fewer than {max(index) + 1} tab-separated fields "
                f"(first at line {skipped[0]})")
        raise DataFormatError(path, f"{what}; the file was cut short or saved without its rows (or not as "
                                    "tab-separated text). Get it again (the GLUE download, or the hub export)")
    if skipped:
        shown = ", ".join(map(str, skipped[:10])) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        warnings.warn(f"{path}: skipped {len(skipped)} row(s) with missing fields (fewer than {max(index) + 1} "
                      f"tab-separated fields) at line(s) {shown}, as the hub's GLUE loader does", stacklevel=3)
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
            raise DataFormatError(path, "label -1 is the hub's mark of an unlabelled test example; export the "
                                        "train and validation splits (GLUE's test labels are not public)", line)
        raise DataFormatError(path, f"unknown label {value!r} in column 'label' of a Hugging Face hub export "
                                    f"(expected a class id {', '.join(ids)}); correct or delete that line", line)
    if schema.labels is not None:
        if value not in schema.labels:
            hint = (" (a hub export has class ids as labels: keep its `idx` column, so that the file is "
                    "recognised as one)" if value.strip().isdigit() and not any(k.isdigit() for k in schema.labels) else "")
            raise DataFormatError(path, f"unknown label {value!r} in column {schema.tsv_label!r} "
                                        f"(expected one of {sorted(schema.labels)}){hint}; correct or delete that line",
                                  line)
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
    MissingDataError naming it; ``FILE.gz`` stands in for a missing ``FILE``."""
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
    header = [] if schema.header else [["index", schema.tsv_a, *([schema.tsv_b] if schema.tsv_b else []),
                                        schema.tsv_label]]
    path.write_text("".join("\t".join(r) + "\n" for r in header + rows), encoding="utf-8")


# --------------------------------------------------------------------------- offline demo

_PEOPLE = {"teacher": "person", "doctor": "person", "farmer": "person", "student": "person",
           "painter": "person", "nurse": "person", "pilot": "person", "baker": "person",
           "lawyer": "person", "engineer": "person"}
_THINGS = {"car": "vehicle", "truck": "vehicle", "bicycle": "vehicle", "boat": "vehicle",
           "guitar": "instrument", "piano": "instrument", "violin": "instrument", "drum": "instrument",
           "apple": "fruit", "banana": "fruit", "orange": "fruit", "pear": "fruit",
           "hammer": "tool", "shovel": "tool", "drill": "tool", "wrench": "tool",
           "rose": "flower", "tulip": "flower", "lily": "flower", "daisy": "flower"}
# Synonym groups of (past, base, participle), with the object categories they take (None: all).
_VERBS: list[tuple[list[tuple[str, str, str]], set[str] | None]] = [
    ([("bought", "buy", "bought"), ("purchased", "purchase", "purchased")], None),
    ([("found", "find", "found"), ("discovered", "discover", "discovered")], None),
    ([("fixed", "fix", "fixed"), ("repaired", "repair", "repaired")], {"vehicle", "instrument", "tool"}),
    ([("chose", "choose", "chosen"), ("selected", "select", "selected"), ("picked", "pick", "picked")], None),
    ([("saw", "see", "seen"), ("noticed", "notice", "noticed"), ("spotted", "spot", "spotted")], None),
    ([("cleaned", "clean", "cleaned"), ("washed", "wash", "washed")], None),
    ([("examined", "examine", "examined"), ("inspected", "inspect", "inspected")], None),
    ([("lost", "lose", "lost"), ("misplaced", "misplace", "misplaced")], {"instrument", "tool", "fruit"}),
    ([("wanted", "want", "wanted"), ("desired", "desire", "desired")], None),
]
_FREE_VERBS = [g for g, (_, cats) in enumerate(_VERBS) if cats is None]  # groups taking any object
_MODIFIERS = ("red", "blue", "green", "old", "new", "small", "large", "heavy", "cheap", "shiny")
_PLACES = ("in the park", "at the market", "near the river", "in the garage", "at the station",
           "in the village", "behind the school", "at the harbour")
_TIMES = ("yesterday", "last week", "this morning", "on monday", "in the evening", "last summer")
_REASONS = ("for a friend", "because it was cheap", "for the festival", "as a birthday present")
# SST-2: synonym pairs by polarity; the review's topic; neutral intensifiers.
_POSITIVE = [("wonderful", "marvelous"), ("brilliant", "superb"), ("charming", "delightful"),
             ("moving", "touching"), ("funny", "hilarious"), ("fresh", "original"), ("gripping", "thrilling")]
_NEGATIVE = [("terrible", "awful"), ("boring", "tedious"), ("dull", "bland"), ("clumsy", "awkward"),
             ("predictable", "formulaic"), ("painful", "unbearable"), ("confusing", "muddled")]
_TOPICS = ("the movie", "the film", "the plot", "the acting", "the script", "the soundtrack",
           "the ending", "this comedy", "the director's new picture", "the dialogue")
_INTENSIFIERS = ("", "", "truly ", "rather ", "remarkably ", "quite ")
_NEGATORS = ("not ", "never ", "hardly ", "far from ")
# WNLI: Winograd-style schemas; the clause after "because she" decides who "she" is (0: a, 1: b).
_SCHEMAS_WNLI = [
    ("the {a} gave the {b} a {thing}", [("was generous", 0), ("needed one", 1)]),
    ("the {a} thanked the {b}", [("had received help", 0), ("had been helpful", 1)]),
    ("the {a} could not see the {b}", [("was too short", 0), ("was hiding behind a wall", 1)]),
    ("the {a} paid the {b}", [("owed money", 0), ("had finished the work", 1)]),
    ("the {a} called the {b}", [("needed advice", 0), ("was an expert", 1)]),
    ("the {a} beat the {b} at chess", [("was a strong player", 0), ("was a weak player", 1)]),
]


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


@dataclass
class _Event:
    """A simple event: subject, verb (group, member), object, optional modifier, place and time."""

    subj: str
    group: int
    verb: int
    obj: str
    mod: str | None = None
    place: str | None = None
    time: str | None = None

    def verb_form(self, which: int) -> str:
        return _VERBS[self.group][0][self.verb][which]

    def np_obj(self, article: str = "a") -> str:
        noun = f"{self.mod} {self.obj}" if self.mod else self.obj
        return _a(noun) if article == "a" else f"the {noun}"

    def tail(self) -> str:
        return "".join(f" {x}" for x in (self.place, self.time) if x)

    def active(self, subj: str | None = None, obj: str | None = None) -> str:
        return f"{subj or 'the ' + self.subj} {self.verb_form(0)} {obj or self.np_obj()}{self.tail()}"

    def passive(self) -> str:
        return f"{self.np_obj()} was {self.verb_form(2)} by the {self.subj}{self.tail()}"

    def negated(self, subj: str | None = None) -> str:
        return f"{subj or 'the ' + self.subj} did not {self.verb_form(1)} {self.np_obj()}{self.tail()}"


def _event(rng: random.Random, mod=0.4, place=0.5, time=0.4) -> _Event:
    group = rng.randrange(len(_VERBS))
    cats = _VERBS[group][1]
    obj = rng.choice([t for t, c in _THINGS.items() if cats is None or c in cats])
    return _Event(rng.choice(list(_PEOPLE)), group, rng.randrange(len(_VERBS[group][0])), obj,
                  rng.choice(_MODIFIERS) if rng.random() < mod else None,
                  rng.choice(_PLACES) if rng.random() < place else None,
                  rng.choice(_TIMES) if rng.random() < time else None)


def _synonym(rng: random.Random, e: _Event) -> _Event:
    """The same event with a (possibly) different verb of the same synonym group."""
    return _Event(e.subj, e.group, rng.randrange(len(_VERBS[e.group][0])), e.obj, e.mod, e.place, e.time)


def _other(rng: random.Random, pool: Sequence, current):
    return rng.choice([x for x in pool if x != current])


def _change(rng: random.Random, e: _Event, slot: str) -> _Event:
    """The event with one slot (subj, verb, obj, place) changed to a different meaning."""
    e = _Event(**vars(e))
    if slot == "subj":
        e.subj = _other(rng, list(_PEOPLE), e.subj)
    elif slot == "verb":
        e.group = _other(rng, _FREE_VERBS, e.group)
        e.verb = rng.randrange(len(_VERBS[e.group][0]))
    elif slot == "obj":
        cats = _VERBS[e.group][1]
        e.obj = _other(rng, [t for t, c in _THINGS.items() if cats is None or c in cats], e.obj)
    else:
        e.place = _other(rng, _PLACES, e.place)
    return e


def _paraphrase(rng: random.Random, e: _Event) -> str:
    """Same meaning, different words: verb synonym, passive voice or a fronted time adverb."""
    e = _synonym(rng, e)
    form = rng.randrange(3)
    if form == 1:
        return e.passive()
    if form == 2 and e.time:
        return f"{e.time}, {_Event(**{**vars(e), 'time': None}).active()}"
    return e.active()


def _sentence(text: str, end: str = ".") -> str:
    return text[0].upper() + text[1:] + end


def _demo_cola(rng: random.Random) -> tuple[str, None, int]:
    e = _event(rng)
    good = rng.choice([e.active, e.passive, e.negated])()
    if rng.random() < 0.7:
        return _sentence(good), None, 1
    words = e.active().split()
    corruption = rng.randrange(4)
    if corruption == 0:  # scrambled word order
        scrambled = words[:]
        while scrambled == words:
            rng.shuffle(scrambled)
        bad = " ".join(scrambled)
    elif corruption == 1:  # past tense after "did not"
        bad = f"the {e.subj} did not {e.verb_form(0)} {e.np_obj()}{e.tail()}"
    elif corruption == 2:  # agreement: singular subject with "were"
        bad = f"{e.np_obj()} were {e.verb_form(2)} by the {e.subj}{e.tail()}"
    else:  # a determiner without its noun
        bad = f"the {e.subj} {e.verb_form(0)} a{e.tail()}"
    return _sentence(bad), None, 0


def _polar(rng: random.Random, positive: bool) -> str:
    return rng.choice(rng.choice(_POSITIVE if positive else _NEGATIVE))


def _demo_sst2(rng: random.Random) -> tuple[str, None, int]:
    positive = rng.random() < 0.55
    topic = rng.choice(_TOPICS)
    if rng.random() < 0.15:  # contrast: the clause after "but" decides
        text = f"{topic} starts {_polar(rng, not positive)} but ends {_polar(rng, positive)}"
        return text, None, int(positive)
    negated = rng.random() < 0.3
    word = _polar(rng, positive != negated)
    neg = rng.choice(_NEGATORS) if negated else ""
    template = rng.randrange(3)
    if template == 0:
        text = f"{topic} is {neg}{rng.choice(_INTENSIFIERS)}{word}"
    elif template == 1:
        text = f"{topic} is {neg}{word} and {_polar(rng, positive != negated)}"
    else:
        text = f"i {'did not find' if negated else 'found'} {topic} {rng.choice(_INTENSIFIERS)}{word}"
    return text, None, int(positive)


def _demo_mrpc(rng: random.Random) -> tuple[str, str, int]:
    e = _event(rng, place=0.7, time=0.6)
    if rng.random() < 0.68:
        return _sentence(e.active()), _sentence(_paraphrase(rng, e)), 1
    slot = rng.choice(["subj", "verb", "obj"] + (["place"] if e.place else []))
    return _sentence(e.active()), _sentence(_paraphrase(rng, _change(rng, e, slot))), 0


_QQP_FAMILIES = [
    ("how can i {v} {o}?", "what is the best way to {v} {o}?", "how do i {v} {o}?"),
    ("where can i {v} {o}?", "where is the best place to {v} {o}?"),
    ("why would anyone {v} {o}?", "what is the reason to {v} {o}?"),
]


def _demo_qqp(rng: random.Random) -> tuple[str, str, int]:
    e = _event(rng)

    def ask(family: int, ev: _Event) -> str:
        template = rng.choice(_QQP_FAMILIES[family])
        return _sentence(template.format(v=_synonym(rng, ev).verb_form(1), o=ev.np_obj()), "")

    family = rng.randrange(len(_QQP_FAMILIES))
    if rng.random() < 0.37:
        return ask(family, e), ask(family, e), 1
    if rng.random() < 0.4:
        return ask(family, e), ask(_other(rng, range(len(_QQP_FAMILIES)), family), e), 0
    return ask(family, e), ask(family, _change(rng, e, rng.choice(["verb", "obj"]))), 0


def _demo_stsb(rng: random.Random) -> tuple[str, str, float]:
    e = _event(rng, place=1.0, time=0.0)
    slots = ["subj", "verb", "obj", "place"]
    k = rng.randrange(5)
    other = e
    for slot in rng.sample(slots, k):
        other = _change(rng, other, slot)
    score = min(5.0, max(0.0, 5.0 * (4 - k) / 4 + rng.gauss(0.0, 0.3)))
    # the 4th element is the noiseless score (4 - k)/4: what a model of the meaning predicts at best
    return _sentence(e.active()), _sentence(_paraphrase(rng, other)), round(score / 5.0, 4), (4 - k) / 4


@dataclass(frozen=True)
class _Claim:
    """An NLI statement about one verb group: ``kind`` "some" (S V O), "not" (the S did not V O) or
    "none" (nobody V O). ``subj`` is a person or "person" (anyone); ``obj`` a thing or its category."""

    kind: str
    subj: str
    group: int
    obj: str
    mod: str | None = None
    adjuncts: tuple[str, ...] = ()

    def render(self, rng: random.Random) -> str:
        past, base, participle = rng.choice(_VERBS[self.group][0])
        obj = _a(f"{self.mod} {self.obj}" if self.mod else self.obj)
        tail = "".join(f" {a}" for a in self.adjuncts)
        if self.kind == "none":
            return f"{rng.choice(['nobody', 'no one'])} {past} {obj}{tail}"
        subj = rng.choice(["a person", "someone"]) if self.subj == "person" else f"the {self.subj}"
        if self.kind == "not":
            return f"{subj} did not {base} {obj}{tail}"
        if rng.random() < 0.3:
            return f"{obj} was {participle} by {subj}{tail}"
        return f"{subj} {past} {obj}{tail}"


def _covers(general: str, specific: str) -> bool:
    """``general`` is ``specific`` or its hypernym (person > teacher, vehicle > car)."""
    return (general == specific or _THINGS.get(specific) == general
            or (general == "person" and specific in _PEOPLE))


def _nli_label(p: _Claim, h: _Claim) -> int:
    """0 entailment, 1 neutral, 2 contradiction, by monotonicity: an affirmative premise licenses
    hypernyms and dropped adjuncts; a negated one licenses hyponyms and added adjuncts."""
    if h.group != p.group:
        return 1
    if p.kind == "some":
        if not set(h.adjuncts) <= set(p.adjuncts) or h.mod not in (None, p.mod):
            return 1
        if not _covers(h.obj, p.obj):
            return 1
        if h.kind == "some":
            return 0 if _covers(h.subj, p.subj) else 1
        return 2 if h.kind == "none" or h.subj == p.subj else 1
    if not _covers(p.obj, h.obj) or (p.kind == "not" and (h.kind == "none" or h.subj != p.subj)):
        return 1
    return 2 if h.kind == "some" else 0


def _nli_pair(rng: random.Random) -> tuple[_Claim, _Claim]:
    """A random premise and a hypothesis that shares its event with varied subject, object
    (same, hypernym or sibling), modifier, adjuncts, polarity and (rarely) verb."""
    e = _event(rng, mod=0.3, place=0.4, time=0.3)
    kind = rng.choices(["some", "not", "none"], [0.6, 0.25, 0.15])[0]
    affirmative = kind == "some"
    p = _Claim(kind, "person" if affirmative and rng.random() < 0.25 else e.subj, e.group,
               _THINGS[e.obj] if rng.random() < 0.3 else e.obj, e.mod if affirmative else None,
               tuple(x for x in (e.place, e.time) if x) if affirmative else ())
    h_kind = rng.choices(["some", "not", "none"], [0.5, 0.3, 0.2])[0]
    h_subj = rng.choices([e.subj, "person", _other(rng, list(_PEOPLE), e.subj)], [0.6, 0.25, 0.15])[0]
    siblings = [t for t, c in _THINGS.items() if c == _THINGS[e.obj] and t != e.obj]
    adjuncts = tuple(a for a in p.adjuncts if rng.random() < 0.5)
    if rng.random() < 0.2:
        adjuncts += (rng.choice(_REASONS + _TIMES),)
    h = _Claim(h_kind, e.subj if h_kind == "not" and h_subj == "person" else h_subj,
               e.group if rng.random() < 0.9 else _other(rng, _FREE_VERBS, e.group),
               rng.choices([e.obj, _THINGS[e.obj], rng.choice(siblings)], [0.45, 0.35, 0.2])[0],
               rng.choices([None, p.mod, rng.choice(_MODIFIERS)], [0.5, 0.3, 0.2])[0], adjuncts)
    return p, h


def _nli_example(rng: random.Random, want: Callable[[int], bool]) -> tuple[str, str, int]:
    """Premise, hypothesis and MNLI label of the first sampled pair whose label satisfies ``want``."""
    while True:
        p, h = _nli_pair(rng)
        label = _nli_label(p, h)
        if want(label):
            return _sentence(p.render(rng)), _sentence(h.render(rng)), label


def _demo_mnli(rng: random.Random) -> tuple[str, str, int]:
    target = rng.randrange(3)
    return _nli_example(rng, lambda label: label == target)


def _demo_qnli(rng: random.Random) -> tuple[str, str, int]:
    e = _event(rng, place=0.6, time=0.6)
    kind = rng.choice(["who", "what", "where", "when"])
    question = {"who": f"who {e.verb_form(0)} {e.np_obj('the')}?",
                "what": f"what did the {e.subj} {e.verb_form(1)}?",
                "where": f"where did the {e.subj} {e.verb_form(1)} {e.np_obj('the')}?",
                "when": f"when did the {e.subj} {e.verb_form(1)} {e.np_obj('the')}?"}[kind]
    s = _Event(**vars(e))
    if rng.random() < 0.5:  # 0: the same event, stating the asked slot
        label = 0
        if kind == "where":
            s.place = s.place or rng.choice(_PLACES)
        if kind == "when":
            s.time = s.time or rng.choice(_TIMES)
    elif kind in ("where", "when") and rng.random() < 0.5:  # 1: the same event without the asked slot
        label = 1
        if kind == "where":
            s.place, s.time = None, s.time or rng.choice(_TIMES)
        else:
            s.place, s.time = s.place or rng.choice(_PLACES), None
    else:  # 1: another event
        label = 1
        s = _change(rng, s, "obj" if kind == "who" else "subj")
    return _sentence(question, ""), _sentence(_paraphrase(rng, s)), label


def _demo_rte(rng: random.Random) -> tuple[str, str, int]:
    entailed = rng.random() < 0.5
    premise, hypothesis, _ = _nli_example(rng, lambda label: (label == 0) == entailed)
    context = _sentence(_event(rng).active())
    premise = f"{premise} {context}" if rng.random() < 0.5 else f"{context} {premise}"
    return premise, hypothesis, 0 if entailed else 1


def _demo_wnli(rng: random.Random) -> tuple[str, str, int]:
    main, clauses = rng.choice(_SCHEMAS_WNLI)
    a, b = rng.sample(list(_PEOPLE), 2)
    clause, referent = rng.choice(clauses)
    sentence = main.format(a=a, b=b, thing=rng.choice(list(_THINGS))) + f" because she {clause}"
    named = rng.randrange(2)
    hypothesis = f"the {(a, b)[named]} {clause}"
    return _sentence(sentence), _sentence(hypothesis), int(named == referent)


_DEMO: dict[str, Callable[[random.Random], tuple]] = {
    "cola": _demo_cola, "sst2": _demo_sst2, "mrpc": _demo_mrpc, "stsb": _demo_stsb, "qqp": _demo_qqp,
    "mnli": _demo_mnli, "qnli": _demo_qnli, "rte": _demo_rte, "wnli": _demo_wnli,
}


def make_glue_demo(n_per_task: int = 1000, seed: int = 1234, val_fraction: float = 0.2,
                   tasks: Sequence[str] = GLUE_TASKS) -> dict[str, GlueTask]:
    """The offline GLUE demo: ``n_per_task`` distinct examples per task (split train/validation),
    with GLUE's label spaces, in real English from a seeded template grammar.

    All tasks share one lexicon (people and their hypernym *person*; things with hypernyms
    *vehicle, instrument, fruit, tool, flower*; synonym verb groups; places and times; sentiment
    adjectives in synonym pairs), so the labels depend on the text through shared structure:

    =====  ==========================================================================
    task   how the label is made
    =====  ==========================================================================
    cola   1 (70%): a grammatical sentence (active, passive or negated);
           0: scrambled word order, "did not" + past tense, "were" agreement error,
           or a determiner without its noun
    sst2   review of a film: adjective polarity XOR negation ("not", "never",
           "hardly", "far from"; 30%); "starts X but ends Y" takes Y's polarity
    mrpc   1 (68%): paraphrase (verb synonym, passive voice, fronted time);
           0: the same sentence with subject, verb, object or place changed
    stsb   k of the 4 slots (subject, verb, object, place) changed, k in 0..4;
           score = (4 - k)/4 + noise (sd 0.06), clipped to [0, 1]
    qqp    1 (37%): two questions of the same intent family (how / where / why)
           about the same verb group and object; 0: other family or other verb/object
    mnli   natural logic on "S V O" / "the S did not V O" / "nobody V O" pairs
           (same, hypernym or sibling subject/object, synonym verbs, modifiers,
           adjuncts): an affirmative premise entails hypernyms and dropped
           adjuncts (0), is contradicted by their negation (2); a negated one
           entails hyponyms (0), is contradicted by their affirmation (2);
           anything else is neutral (1)
    qnli   0: the sentence answers the who/what/where/when question (holds the
           asked slot of the same event); 1: other event or asked slot absent
    rte    as MNLI with one more sentence in the premise; 0: entailment,
           1: neutral or contradiction
    wnli   Winograd-style "... because she <clause>"; the clause decides who "she"
           is; hypothesis "the <person> <clause>": 1 iff it names the referent
    =====  ==========================================================================

    Mean-pooled all-MiniLM-L6-v2 embeddings with [u; v; |u-v|; u*v] (Eq. (22)) and a logistic
    regression learn every task but WNLI well above the majority class (700 examples per task);
    WNLI stays near chance, as on the real GLUE.

    Each frame also holds ``oracle``: the label a model that reads the generator's meaning would
    give (the label itself, which is a deterministic function of it, except STS-B's noiseless score
    ``(4 - k)/4``): the demo's attainable ceiling.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    out = {}
    for name in _check_tasks(tasks):
        rng = random.Random(f"glue-demo/{seed}/{name}")
        seen: dict[tuple, tuple] = {}
        for _ in range(50 * n_per_task + 1):
            if len(seen) == n_per_task:
                break
            text_a, text_b, label, *oracle = _DEMO[name](rng)
            seen.setdefault((text_a, text_b), (text_a, text_b, label, oracle[0] if oracle else label))
        if len(seen) < n_per_task:
            raise RuntimeError(f"demo {name}: only {len(seen)} distinct examples; lower n_per_task")
        rows = list(seen.values())
        rng.shuffle(rows)
        n_val = max(1, round(val_fraction * len(rows)))
        out[name] = GlueTask(name, _demo_frame(rows[n_val:], name), _demo_frame(rows[:n_val], name),
                             f"demo:seed={seed}")
    return out


def _demo_frame(rows: list[tuple], name: str) -> pd.DataFrame:
    """The frame of demo rows ``(text_a, text_b, label, oracle)``; ``oracle`` (the noiseless label,
    not part of GLUE's format and dropped when written to TSV) is what the demo's ceiling uses."""
    pair = _SCHEMAS[name].hub_b is not None
    frame = _frame([r[0] for r in rows], [r[1] for r in rows] if pair else None, [r[2] for r in rows])
    frame["oracle"] = [r[3] for r in rows]
    return frame
