"""Extended MUStARD (Chauhan et al., ACL 2020; paper §5.1, Appendix A.3, B.3, C.3): the real data
as its authors distribute it, and the seeded offline demo of the ``demo``/``smoke`` profiles.

**Real data** lives in ``<data_dir()>/mustard`` (override: ``$QMTL_MUSTARD_DIR`` or ``root=``):

* ``sarcasm_data.json`` — MUStARD's utterances: id → {utterance, speaker, context,
  context_speakers, sarcasm, show}. Its key order is the row order of everything returned
  (:func:`read_texts` gives the utterances' text and context turns in that order).
* the SE-MUStARD annotation sheet exported as CSV (``annotations=``, else the one ``*.csv`` in the
  folder, or among several the one whose header holds the annotation columns), columns
  ``KEY,SPEAKER,SENTENCE,SHOW,SARCASM,SENTIMENT_IMPLICIT,SENTIMENT_EXPLICIT,EMOTION_IMPLICIT,
  EMOTION_EXPLICIT``, separated by commas, semicolons (a European spreadsheet's CSV) or tabs (found
  from the header row). Rows come in groups separated by blank
  rows (empty lines or rows of empty cells): the context turns, then the target utterance.
  **Target rule:** the *last* row of a group is the target utterance; its labels are the ones read
  (context rows may carry labels of their own and are ignored). The group's key is that row's
  KEY, or, where the sheet fills KEY only once per group, the group's first non-empty KEY. The
  target's SARCASM must agree with ``sarcasm_data.json``, which catches a mis-read group; a group
  holding two KEYs (a sheet exported without its blank rows) is an error, and a target whose
  SENTENCE is not the utterance of ``sarcasm_data.json`` (e.g. ``1_5617`` in the public sheet)
  is read by the rule with a warning naming the KEY and line.
* for training: the authors' speaker-dependent features ``sarcasmDataset_speaker_dependent_True.npz``
  (from ``datasetTrue_original.zip``) and MUStARD's ``split_indices.p``, anywhere below the folder
  (symbolic links to folders are followed).
  The npz holds no utterance ids: its fold ``f`` test rows are the utterances at MUStARD's fold-``f``
  test indices (positions in ``sarcasm_data.json``), which is what ``split_indices.p`` records; the
  loader checks this against the sarcasm labels (``feautesLabel_test``). Only the ``*_test`` arrays
  are read: the five test parts are the 690 utterances once each (the ``*_train`` arrays repeat them).
  Each ``feautes<M>_test`` may be a regular array ``(folds, n_fold, ...)`` or an object array of
  ``folds`` per-fold arrays; a per-fold array is ``(n_fold, dim)`` or a padded sequence
  ``(n_fold, steps, dim)``, reduced to the mean of its non-zero (non-padding) steps. The chosen
  modalities are concatenated in the order given (default utterance text, audio, visual: the
  "utterance-level embeddings for all three modalities" of Appendix A.3). Both files are pickles
  (the npz's object arrays too): load only the authors' own files.

**Labels** (:data:`TASKS` order): sarcasm True/False or 1/0 → 1/0; sentiment −1/0/1 → classes
0/1/2 (negative, neutral, positive); emotion codes 1–9 → classes 0–8, a multi-code cell such as
"4,1" keeping its first code (:func:`emotion_class`). **Files** are read as UTF-8 (or UTF-16, see
:mod:`qmtl_utils.data.common`); ``FILE.gz`` stands in for a missing ``FILE`` (not for the npz, which
must be decompressed); every error and warning names ``line N of FILE``, N the file line (1-based,
as an editor shows it; the header is line 1). **Folds:** five non-overlapping test folds: MUStARD's
own from ``split_indices.p`` whenever it is there (with the npz, which is laid out by them, it must
be), otherwise :func:`fold_indices` stratified by sarcasm (``require_splits=True`` refuses that).
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import pickle
import re
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from qmtl_utils.data.common import (
    DataFormatError,
    MissingDataError,
    csv_records,
    data_dir,
    is_empty_row,
    read_text,
    sniff_delimiter,
    text_lines,
    with_gz,
)
from qmtl_utils.spec import BENCHMARKS

TASKS: tuple[str, ...] = BENCHMARKS["mustard"].task_names
N_UTTERANCES = 690
N_FOLDS = 5
SENTIMENT_CLASSES = ("negative", "neutral", "positive")
N_EMOTIONS = 9
JSON_FILE = "sarcasm_data.json"
FEATURE_FILE = "sarcasmDataset_speaker_dependent_True.npz"
SPLIT_FILE = "split_indices.p"
LABEL_COLUMNS = {
    "sentiment_implicit": "SENTIMENT_IMPLICIT",
    "sentiment_explicit": "SENTIMENT_EXPLICIT",
    "emotion_implicit": "EMOTION_IMPLICIT",
    "emotion_explicit": "EMOTION_EXPLICIT",
}
ANNOTATION_COLUMNS = ("KEY", "SPEAKER", "SENTENCE", "SHOW", "SARCASM", *LABEL_COLUMNS.values())
MODALITIES = {
    "UT": "utterance text",
    "CT": "context text",
    "UA": "utterance audio",
    "UV": "utterance visual",
    "CV": "context visual",
}
DEFAULT_MODALITIES = ("UT", "UA", "UV")
DEMO_ANNOTATION_FILE = "se_mustard_annotations.csv"

_AUTHORS_REPO = "https://github.com/GussailRaat/ACL2020-SE-MUStARD-for-Multimodal-Sarcasm-Detection"
_MUSTARD_REPO = "https://github.com/soujanyaporia/MUStARD"
_SPLITS_FROM = f"MUStARD's GitHub repository {_MUSTARD_REPO}, file data/{SPLIT_FILE}, or `python -m qmtl_utils.data.fetch`"


@dataclass
class MustardData:
    """Extended MUStARD, real or demo: one row per utterance.

    ``labels[task]`` is an int64 class vector per task of :data:`TASKS`; ``folds`` are the five
    disjoint test-index arrays covering all rows; ``features`` is ``(n, D)`` float32, or None for
    real data loaded without the feature files; ``source`` is ``"real"`` or ``"demo"``.
    """

    ids: tuple[str, ...]
    labels: dict[str, np.ndarray]
    folds: tuple[np.ndarray, ...]
    features: np.ndarray | None = None
    source: str = "real"
    latents: np.ndarray | None = None  # demo only: the generator's latents (n, 8), for the ceiling

    @property
    def n(self) -> int:
        return len(self.ids)

    def label_matrix(self) -> np.ndarray:
        """All labels as ``(n, 5)`` int64, columns in :data:`TASKS` order."""
        return np.stack([self.labels[t] for t in TASKS], axis=1)

    def split(self, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """(train, test) row indices of one fold: the test fold and all other rows."""
        test = self.folds[fold]
        return np.setdiff1d(np.arange(self.n), test), test


# --------------------------------------------------------------------------- labels


def _integer(value) -> int:
    """An integral label from an int or a string such as ``"-1"`` or ``"2.0"``; ValueError otherwise."""
    number = float(str(value).strip())
    if not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


def sarcasm_label(value) -> int:
    """1 for True/"TRUE"/1, 0 for False/"FALSE"/0; ValueError for anything else."""
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0"):
        return 1
    if text in ("false", "0", "0.0"):
        return 0
    raise ValueError(f"sarcasm label {value!r} is not True/False/1/0")


def sentiment_class(value) -> int:
    """Sentiment −1/0/1 → class 0/1/2 (:data:`SENTIMENT_CLASSES`); ValueError for other values."""
    try:
        code = _integer(value)
    except ValueError:
        code = None
    if code not in (-1, 0, 1):
        raise ValueError(f"sentiment label {value!r} is not -1, 0 or 1")
    return code + 1


def emotion_class(value) -> int:
    """Emotion code 1–9 → class 0–8.

    Multi-code cells (a few utterances, e.g. ``"4,1"``; commas, semicolons or spaces) keep their
    **first** code, read as the annotators' primary emotion: the paper trains 9-way single-label
    heads with cross-entropy (Appendix C.3). Every code must be 1–9; ValueError otherwise.

    Taught in: 00_data_prep, "Extended MUStARD (Appendix A.3)"
    """
    codes = [c for c in re.split(r"[,;\s]+", str(value).strip()) if c]
    if not codes:
        raise ValueError("emotion label is empty")
    classes = []
    for code in codes:
        try:
            number = _integer(code)
        except ValueError:
            number = None
        if number not in range(1, N_EMOTIONS + 1):
            raise ValueError(f"emotion label {value!r} is not a code 1-{N_EMOTIONS} (or a list of them)")
        classes.append(number - 1)
    return classes[0]


_PARSERS = {
    "sentiment_implicit": sentiment_class,
    "sentiment_explicit": sentiment_class,
    "emotion_implicit": emotion_class,
    "emotion_explicit": emotion_class,
}


# --------------------------------------------------------------------------- folds


def fold_indices(n: int, n_folds: int = N_FOLDS, seed: int = 0, strata=None) -> tuple[np.ndarray, ...]:
    """``n_folds`` disjoint, sorted test-index arrays covering ``range(n)``, near-equal in size.

    A seeded shuffle dealt round-robin; with ``strata`` (one label per row) each stratum is dealt
    in turn, so every fold gets its share of each class (like MUStARD's StratifiedKFold).
    """
    rng = np.random.default_rng(seed)
    groups = np.zeros(n, dtype=int) if strata is None else np.asarray(strata)
    order = np.concatenate([rng.permutation(np.flatnonzero(groups == g)) for g in np.unique(groups)])
    fold_of = np.empty(n, dtype=int)
    fold_of[order] = np.arange(n) % n_folds
    return tuple(np.flatnonzero(fold_of == f) for f in range(n_folds))


def _check_partition(folds, n: int, path: Path, what: str) -> None:
    joined = np.sort(np.concatenate(folds)) if len(folds) else np.array([], dtype=int)
    if len(joined) != n or not np.array_equal(joined, np.arange(n)):
        raise DataFormatError(
            path,
            f"the {what} do not cover the {n} utterances of {JSON_FILE} once each "
            f"({len(joined)} indices, {len(np.unique(joined))} distinct); use the file that "
            f"belongs to this data ({_SPLITS_FROM})",
        )


# --------------------------------------------------------------------------- real files


def mustard_dir() -> Path:
    """Folder of the real data: ``$QMTL_MUSTARD_DIR`` or ``<data_dir()>/mustard``."""
    return Path(os.environ.get("QMTL_MUSTARD_DIR", data_dir() / "mustard"))


def _missing(what: str, where: Path, folder: Path) -> MissingDataError:
    """``what`` is not at ``where``; ``folder`` is the data folder in use (the ``root`` given, else
    :func:`mustard_dir`), where the message tells the user to put the files."""
    return MissingDataError(
        f"Extended MUStARD: {what} not found at {where}. Get sarcasm_data.json from MUStARD "
        f"({_MUSTARD_REPO}, data/; the same file is in the authors' repository), the sentiment/emotion "
        f"annotation sheet (export it as CSV), and for training datasetTrue_original.zip (holding "
        f"{FEATURE_FILE}) from {_AUTHORS_REPO}, plus {SPLIT_FILE} from MUStARD's data/. Put them in "
        f"{folder} (or pass root=, or point QMTL_MUSTARD_DIR at their folder)."
    )


def _json_line(text: str, key: str) -> int | None:
    """The line of ``text`` (a JSON document) where the member ``key`` starts, if it can be found."""
    found = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    return None if found is None else text.count("\n", 0, found.start()) + 1


def _read_json(path: Path) -> tuple[dict, str]:
    """(entries, text) of ``sarcasm_data.json`` (or its ``.gz``): an object of utterance objects."""
    path = with_gz(path)
    if not path.is_file():
        raise _missing(JSON_FILE, path, path.parent)
    text = read_text(path)
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(
            path, f"not valid JSON ({err.msg}, column {err.colno}); use MUStARD's own {JSON_FILE}", line=err.lineno
        ) from None
    if not isinstance(entries, dict) or not entries:
        found = "an empty object" if isinstance(entries, dict) else f"a JSON {type(entries).__name__}"
        raise DataFormatError(
            path,
            f"expected an object mapping utterance ids to entries, found {found}; use "
            f"MUStARD's own {JSON_FILE} ({_MUSTARD_REPO}, data/)",
        )
    for key, entry in entries.items():
        if not isinstance(entry, dict):
            raise DataFormatError(path, f"utterance {key!r} is not an object of fields", line=_json_line(text, key))
    return entries, text


def _checked_utterances(path: Path) -> tuple[dict, str]:
    """(entries, text) of :func:`_read_json`, every entry with a valid ``sarcasm``."""
    entries, text = _read_json(path)
    for key, entry in entries.items():
        if "sarcasm" not in entry:
            raise DataFormatError(path, f"utterance {key!r} has no 'sarcasm' field", line=_json_line(text, key))
        try:
            sarcasm_label(entry["sarcasm"])
        except ValueError as err:
            raise DataFormatError(path, f"utterance {key!r}: {err}", line=_json_line(text, key)) from None
    return entries, text


def read_utterances(path: Path | str) -> dict[str, dict]:
    """``sarcasm_data.json`` (or its ``.gz``) as id → entry, in file order; each entry needs a valid
    ``sarcasm`` (else a DataFormatError naming the utterance and its line)."""
    return _checked_utterances(with_gz(Path(path)))[0]


def read_texts(root: Path | str | None = None) -> tuple[tuple[str, ...], list[str], list[list[str]]]:
    """(ids, utterances, contexts) from ``<root>/sarcasm_data.json`` (default :func:`mustard_dir`):
    the utterance ids in file order (the row order of :func:`load_mustard`), each utterance's text
    and its list of context turns. With the checks of :func:`read_utterances`; a missing or
    non-string ``utterance``, or a ``context`` that is not a list of strings, is a DataFormatError
    naming the utterance id and its line."""
    folder = Path(root) if root is not None else mustard_dir()
    path = with_gz(folder / JSON_FILE)
    entries, text = _checked_utterances(path)
    utterances, contexts = [], []
    for key, entry in entries.items():
        utterance, context = entry.get("utterance"), entry.get("context")
        if not isinstance(utterance, str):
            found = "no 'utterance' field" if "utterance" not in entry else f"'utterance' {utterance!r}, not a string"
            raise DataFormatError(
                path, f"utterance {key!r} has {found}; use MUStARD's own {JSON_FILE}", line=_json_line(text, key)
            )
        if not isinstance(context, list) or not all(isinstance(turn, str) for turn in context):
            found = "no 'context' field" if "context" not in entry else f"'context' {str(context)[:60]}"
            raise DataFormatError(
                path,
                f"utterance {key!r} has {found}, not a list of strings (the turns before the "
                f"utterance); use MUStARD's own {JSON_FILE}",
                line=_json_line(text, key),
            )
        utterances.append(utterance)
        contexts.append(list(context))
    return tuple(entries), utterances, contexts


def _delimiter(header: str) -> str:
    """The annotation sheet's delimiter (comma, semicolon or tab) found from its header row."""
    return sniff_delimiter(header, ANNOTATION_COLUMNS)


def _groups(path: Path):
    """The groups of an annotation CSV: lists of (line, row dict) between blank rows (empty lines or
    rows of empty cells); ``line`` is the row's first line in the file (the header is line 1)."""
    lines = text_lines(path)
    first = next(lines, "")
    records = csv_records(path, itertools.chain([first], lines), delimiter=_delimiter(first))
    header = [name.strip().upper() for name in next(records, (1, []))[1]]
    missing = [c for c in ("KEY", "SARCASM", *LABEL_COLUMNS.values()) if c not in header]
    if missing:
        raise DataFormatError(
            path,
            f"missing column(s) {', '.join(missing)}; expected the annotation sheet's columns {', '.join(ANNOTATION_COLUMNS)}",
            line=1,
        )
    groups, group = [], []
    for line, row in records:
        if is_empty_row(row):
            if group:
                groups.append(group)
            group = []
            continue
        group.append((line, {c: (row[i].strip() if i < len(row) else "") for i, c in enumerate(header)}))
    if group:
        groups.append(group)
    for group in groups:
        _check_one_key(group, path, separated=len(groups) > 1)
    return groups


def _check_one_key(group, path: Path, separated: bool) -> None:
    """A group holds one utterance: rows of a second KEY mean a blank separator row is missing."""
    first_line, first = next(((line, row["KEY"]) for line, row in group if row["KEY"]), (None, ""))
    other = next(((line, row["KEY"]) for line, row in group if row["KEY"] not in ("", first)), None)
    if other is None:
        return
    line, key = other
    previous = max(n for n, row in group if n < line and row["KEY"] == first)
    where = (
        "the file has no blank separator rows at all"
        if not separated
        else f"a blank separator row is missing between lines {previous} and {line}"
    )
    raise DataFormatError(
        path,
        f"KEY {key!r} follows KEY {first!r} (line {first_line}) in one group of rows: {where}. The sheet's "
        "groups (the context turns, then the target utterance) must be separated by blank rows (an empty "
        "line or a row of empty cells); export the annotation sheet again with its blank rows, or insert "
        "a blank row after each group's target utterance",
        line=line,
    )


def _group_key(group, path: Path) -> str:
    target = group[-1][1]
    key = target["KEY"] or next((row["KEY"] for _, row in group if row["KEY"]), "")
    if not key:
        raise DataFormatError(
            path, "a group of rows has no KEY; fill in the KEY of its target utterance (the group's last row)", line=group[0][0]
        )
    return key


def _target_labels(target: dict, path: Path, line: int) -> dict[str, int]:
    labels = {}
    for task, column in (("sarcasm", "SARCASM"), *LABEL_COLUMNS.items()):
        parse = sarcasm_label if task == "sarcasm" else _PARSERS[task]
        try:
            labels[task] = parse(target[column])
        except ValueError as err:
            raise DataFormatError(
                path,
                f"KEY {target['KEY']!r}, column {column}: {err}; correct that cell of the "
                "group's target utterance (its last row)",
                line=line,
            ) from None
    return labels


def read_annotations(path: Path | str) -> dict[str, dict]:
    """The annotation CSV as key → {sarcasm, four task classes, ``line``: the target's line in the
    file (the header is line 1), ``sentence``: its SENTENCE}.

    See the module docstring for the target rule. Raises :class:`DataFormatError` naming the file,
    line and value for a file that is not UTF-8, a missing column, an unknown label, a repeated KEY
    or a group of two KEYs (a missing blank separator row).
    """
    path = with_gz(Path(path))
    if not path.is_file():
        raise _missing("the annotation CSV", path, path.parent)
    notes = {}
    for group in _groups(path):
        key, (line, target) = _group_key(group, path), group[-1]
        if key in notes:
            raise DataFormatError(
                path,
                f"KEY {key!r} appears in two groups (first at line {notes[key]['line']}); give each utterance one group",
                line=line,
            )
        notes[key] = {**_target_labels(target, path, line), "line": line, "sentence": target.get("SENTENCE", "")}
    return notes


def _words(text: str) -> str:
    """A sentence reduced to its lower-case letters and digits, to compare across spellings."""
    return "".join(c for c in str(text).lower() if c.isalnum())


def _check_targets(utterances: dict, notes: dict, csv_path: Path, json_path: Path) -> None:
    """Warn (once, naming each KEY and line) where a group's last row is not the utterance of
    ``sarcasm_data.json``: its labels are still read as the target's (the target rule)."""
    odd = [
        (key, note)
        for key, note in notes.items()
        if note["sentence"]
        and utterances[key].get("utterance") is not None
        and _words(note["sentence"]) != _words(utterances[key]["utterance"])
    ]
    if not odd:
        return
    shown = "; ".join(
        f"KEY {key!r} at line {note['line']} ({note['sentence'][:60]!r}, but {json_path.name} has "
        f"{str(utterances[key]['utterance'])[:60]!r})"
        for key, note in odd[:5]
    )
    more = f"; and {len(odd) - 5} more" if len(odd) > 5 else ""
    warnings.warn(
        f"{csv_path}: the last row of {len(odd)} group(s) is not the utterance of {json_path}, yet its "
        f"labels are used as the target's: {shown}{more}. Check that each group ends with its target "
        "utterance",
        stacklevel=4,
    )


def _merge(utterances: dict, notes: dict, json_path: Path, csv_path: Path) -> dict[str, np.ndarray]:
    """Labels in ``sarcasm_data.json`` order; every id annotated once and sarcasm agreeing."""
    for key, note in notes.items():
        if key not in utterances:
            raise DataFormatError(
                csv_path,
                f"KEY {key!r} has no entry in {json_path}; correct the KEY or use "
                "the sarcasm_data.json that belongs to this sheet",
                line=note["line"],
            )
    unannotated = [key for key in utterances if key not in notes]
    if unannotated:
        raise DataFormatError(
            csv_path,
            f"utterance {unannotated[0]!r} of {json_path} has no annotation "
            f"group ({len(unannotated)} missing in all); use the complete annotation sheet",
        )
    for key, note in notes.items():
        if note["sarcasm"] != sarcasm_label(utterances[key]["sarcasm"]):
            raise DataFormatError(
                csv_path,
                f"KEY {key!r}: SARCASM disagrees with {json_path}; is the last row of each group its target utterance?",
                line=note["line"],
            )
    _check_targets(utterances, notes, csv_path, json_path)
    return {task: np.array([notes[key][task] for key in utterances], dtype=np.int64) for task in TASKS}


def read_split_indices(path: Path | str, n: int) -> tuple[np.ndarray, ...]:
    """Test indices of each fold from MUStARD's ``split_indices.p`` (a pickled list of
    (train, test) index arrays into ``sarcasm_data.json`` order); they must partition ``range(n)``."""
    path = Path(path)
    try:
        with (gzip.open if path.name.endswith(".gz") else open)(path, "rb") as fh:
            splits = pickle.load(fh, encoding="latin1")
        folds = tuple(np.asarray(test, dtype=np.int64) for _, test in splits)
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, OSError):
        raise DataFormatError(
            path, f"expected a pickled list of (train, test) index arrays; get MUStARD's own {SPLIT_FILE} again ({_SPLITS_FROM})"
        ) from None
    _check_partition(folds, n, path, "test folds")
    return folds


def _utterance_vectors(block: np.ndarray, path: Path, key: str) -> np.ndarray:
    """``(n, dim)`` as is; a zero-padded ``(n, steps, dim)`` sequence → mean over its non-zero steps."""
    if block.ndim == 2:
        return block
    if block.ndim != 3:
        raise DataFormatError(path, f"{key}: per-fold arrays must be (n, dim) or (n, steps, dim), got {block.shape}")
    steps = (np.abs(block).sum(axis=2) > 0).sum(axis=1)
    return block.sum(axis=1) / np.maximum(steps, 1)[:, None]


def _fold_parts(npz, key: str, path: Path, n_folds: int) -> list[np.ndarray]:
    if key not in npz.files:
        raise DataFormatError(path, f"no array {key!r} (it holds {', '.join(sorted(npz.files))})")
    parts = list(npz[key])
    if len(parts) != n_folds:
        raise DataFormatError(path, f"{key} has {len(parts)} folds, {SPLIT_FILE} has {n_folds}")
    return [np.asarray(part, dtype=np.float64) for part in parts]


def read_feature_npz(path: Path | str, folds, modalities=DEFAULT_MODALITIES) -> tuple[np.ndarray, np.ndarray]:
    """(features ``(n, D)``, sarcasm ``(n,)``) from the authors' npz, rows placed at ``folds``' indices.

    ``features`` concatenates ``feautes<M>_test`` of each modality ``M`` (:data:`MODALITIES`);
    sarcasm comes from ``feautesLabel_test`` (one-hot or 0/1).
    """
    path, n = Path(path), sum(len(f) for f in folds)
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown or not modalities:
        raise ValueError(f"modalities must be a non-empty subset of {tuple(MODALITIES)}, got {modalities!r}")
    with np.load(path, allow_pickle=True) as npz:
        columns = {key: _fold_parts(npz, key, path, len(folds)) for key in (f"feautes{m}_test" for m in modalities)}
        label_parts = _fold_parts(npz, "feautesLabel_test", path, len(folds))
    features, sarcasm = None, np.zeros(n, dtype=np.int64)
    for f, rows in enumerate(folds):
        blocks = {key: _utterance_vectors(parts[f], path, key) for key, parts in columns.items()}
        labels = label_parts[f].reshape(len(label_parts[f]), -1)
        for key, block in (*blocks.items(), ("feautesLabel_test", labels)):
            if len(block) != len(rows):
                raise DataFormatError(path, f"{key} fold {f} has {len(block)} rows, {SPLIT_FILE} has {len(rows)}")
        block = np.concatenate(list(blocks.values()), axis=1)
        if features is None:
            features = np.zeros((n, block.shape[1]))
        features[rows] = block
        sarcasm[rows] = labels.argmax(axis=1) if labels.shape[1] > 1 else labels[:, 0]
    return features, sarcasm


def _files_below(folder: Path) -> Iterator[Path]:
    """Every file below ``folder``, following symbolic links to folders (each folder visited once,
    so a link back up the tree is no endless loop)."""
    seen, stack = set(), [folder]
    while stack:
        current = stack.pop()
        try:
            info = current.stat()
            children = sorted(current.iterdir())
        except OSError:  # unreadable, or a dangling link
            continue
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        for child in children:
            if child.is_dir():
                stack.append(child)
            elif child.is_file():
                yield child


def _find(files: list[Path], *names: str) -> Path | None:
    """The first (by path) of ``files`` called ``names[0]``, else ``names[1]``, ..., else None."""
    return next((min(found) for name in names if (found := [p for p in files if p.name == name])), None)


def _annotation_header(path: Path) -> list[str]:
    """The column names (upper case) of a CSV's header row, its delimiter sniffed (none where the
    file cannot be read as text)."""
    try:
        first = next(text_lines(path), "")
    except DataFormatError:
        return []
    return [c.strip().upper() for c in next(csv.reader([first.rstrip("\r\n")], delimiter=_delimiter(first)), [])]


def _annotation_csv(folder: Path) -> Path:
    """The annotation sheet in ``folder``: its one ``*.csv`` (or ``*.csv.gz``), or among several the
    one whose header holds the annotation columns; none or several such is an error listing them."""
    found = sorted(folder.glob("*.csv"))
    found += sorted(p for p in folder.glob("*.csv.gz") if p.with_suffix("") not in found)
    if not found:
        raise _missing("the annotation CSV (*.csv)", folder, folder)
    if len(found) == 1:
        return found[0]
    needed = ("KEY", "SARCASM", *LABEL_COLUMNS.values())
    lacking = {p: [c for c in needed if c not in _annotation_header(p)] for p in found}
    sheets = [p for p in found if not lacking[p]]
    if len(sheets) == 1:
        return sheets[0]
    if not sheets:
        listed = "; ".join(f"{p.name} lacks {', '.join(lacking[p])}" for p in found)
        raise DataFormatError(
            folder,
            f"none of its {len(found)} CSV files is the annotation sheet (a header row "
            f"with the columns {', '.join(ANNOTATION_COLUMNS)}): {listed}. Export the "
            "annotation sheet as CSV with its header row into this folder",
        )
    raise DataFormatError(
        folder,
        f"{len(sheets)} CSV files have the annotation sheet's columns: "
        f"{', '.join(p.name for p in sheets)}. Keep the one to use here and move the others "
        "out of this folder (a subfolder is not searched for the sheet)",
    )


def _missing_splits(folder: Path, why: str) -> MissingDataError:
    return MissingDataError(
        f"Extended MUStARD: {SPLIT_FILE} ({why}) not found in {folder} or below it. Get it from "
        f"{_SPLITS_FROM}, and put it in {folder} (or pass root=, or point QMTL_MUSTARD_DIR at "
        "the folder that holds it)."
    )


def load_mustard(
    root: Path | str | None = None,
    *,
    annotations: Path | str | None = None,
    modalities=DEFAULT_MODALITIES,
    require_features: bool = True,
    require_splits: bool = False,
    seed: int = 0,
    expected: int | None = N_UTTERANCES,
) -> MustardData:
    """The real Extended MUStARD from ``root`` (default :func:`mustard_dir`); see the module docstring.

    Without the feature files, ``require_features=False`` returns the labels alone (``features``
    None) with MUStARD's folds from ``split_indices.p`` where it is found below the folder, else
    folds from :func:`fold_indices` with ``seed``, stratified by sarcasm; ``require_splits=True``
    makes a missing ``split_indices.p`` a MissingDataError instead. Warns when the data do not hold
    the ``expected`` 690 utterances (``None``: any count, e.g. a larger demo).

    Taught in: 00_data_prep, "Extended MUStARD (Appendix A.3)"
    """
    folder = Path(root) if root is not None else mustard_dir()
    if not folder.is_dir():
        raise _missing("the data folder", folder, folder)
    json_path = with_gz(folder / JSON_FILE)
    utterances = read_utterances(json_path)
    csv_path = Path(annotations) if annotations is not None else _annotation_csv(folder)
    labels = _merge(utterances, read_annotations(csv_path), json_path, with_gz(csv_path))
    ids, n = tuple(utterances), len(utterances)
    if expected is not None and n != expected:
        warnings.warn(f"Extended MUStARD at {folder} holds {n} utterances, not {expected}", stacklevel=2)
    below = list(_files_below(folder))
    npz_path = _find(below, FEATURE_FILE)
    split_path = _find(below, SPLIT_FILE, SPLIT_FILE + ".gz")
    if npz_path is None:
        packed = _find(below, FEATURE_FILE + ".gz")
        if packed is not None and require_features:
            raise MissingDataError(
                f"Extended MUStARD: {FEATURE_FILE} not found below {folder}, but {packed} is "
                f"there: decompress it (`gunzip -k {shlex.quote(str(packed))}`) and load again."
            )
        if require_features:
            raise _missing(FEATURE_FILE, folder, folder)
        if split_path is None and require_splits:
            raise _missing_splits(folder, "MUStARD's five folds, required here")
        folds = read_split_indices(split_path, n) if split_path is not None else fold_indices(n, N_FOLDS, seed, labels["sarcasm"])
        return MustardData(ids, labels, folds)
    if split_path is None:
        raise _missing_splits(folder, f"needed to align the rows of {npz_path.name}")
    folds = read_split_indices(split_path, n)
    features, sarcasm = read_feature_npz(npz_path, folds, modalities)
    wrong = np.flatnonzero(sarcasm != labels["sarcasm"])
    if len(wrong):
        raise DataFormatError(
            npz_path,
            f"feautesLabel_test disagrees with {JSON_FILE} for {len(wrong)} of {n} "
            f"utterances (first {ids[wrong[0]]!r}); {split_path.name} does not "
            "describe this npz's folds",
        )
    return MustardData(ids, labels, folds, features.astype(np.float32))


# --------------------------------------------------------------------------- demo

_N_LATENT = 8
_EMOTION_PRIOR = np.array([0.04, 0.06, 0.10, 0.32, 0.16, 0.12, 0.03, 0.09, 0.08])
_TILT = 1.0  # strength of the sentiment/arousal pull on the emotion logits


def _emotions(rng, sentiment: np.ndarray, arousal: np.ndarray, tie_s, tie_a) -> np.ndarray:
    """Skewed 9-class emotions: log prior + sentiment/arousal tilt, sampled (Gumbel-max)."""
    logits = np.log(_EMOTION_PRIOR) + _TILT * (np.outer(sentiment, tie_s) + np.outer(arousal, tie_a))
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)


def make_mustard_demo(n_samples: int = N_UTTERANCES, feature_dim: int = 128, seed: int = 0) -> MustardData:
    """Seeded stand-in for Extended MUStARD: ``n_samples`` utterances, ``feature_dim`` features in
    place of the concatenated multimodal features, all five tasks labelled, five folds.

    Generator: eight standard-normal latents per utterance, of which implicit sentiment ``s_i``,
    explicit sentiment ``s_e`` and arousal ``a`` drive the labels (the rest are nuisance).
    Sentiments are ``s_e``, ``s_i`` cut at fixed thresholds (explicit ≈ 40/29/31 %, implicit ≈
    50/27/23 % negative/neutral/positive). Sarcasm is the sentiment mismatch: ``s_e − s_i`` plus
    noise above its median, so exactly balanced as in MUStARD. Each emotion (implicit from ``s_i``,
    explicit from ``s_e``) is drawn (Gumbel-max) from a skewed prior (3 % to 32 %) whose logits are
    tilted by the sentiment and ``a`` along fixed random per-class directions, so emotions follow
    sentiment but stay hard (most frequent class about 20-35 %, rarest 2-3 %). Features = latents
    · random mixing matrix + Gaussian noise (std 1.5). Folds: :func:`fold_indices` stratified by
    sarcasm. Write it in the real file formats with :func:`write_mustard_files`.

    Taught in: 00_data_prep, "Extended MUStARD (Appendix A.3)"
    """
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_samples, _N_LATENT))
    s_imp, s_exp, arousal = latent[:, 0], latent[:, 1], latent[:, 2]
    mismatch = s_exp - s_imp + 0.5 * rng.standard_normal(n_samples)
    tie_s, tie_a = rng.standard_normal(N_EMOTIONS), rng.standard_normal(N_EMOTIONS)
    labels = {
        "sarcasm": (mismatch > np.median(mismatch)).astype(np.int64),
        "sentiment_implicit": np.digitize(s_imp, [0.0, 0.75]).astype(np.int64),
        "sentiment_explicit": np.digitize(s_exp, [-0.25, 0.5]).astype(np.int64),
        "emotion_implicit": _emotions(rng, s_imp, arousal, tie_s, tie_a).astype(np.int64),
        "emotion_explicit": _emotions(rng, s_exp, arousal, tie_s, tie_a).astype(np.int64),
    }
    mixing = rng.standard_normal((_N_LATENT, feature_dim)) / np.sqrt(_N_LATENT)
    features = latent @ mixing + 1.5 * rng.standard_normal((n_samples, feature_dim))
    ids = tuple(f"demo_{i}" for i in range(n_samples))
    folds = fold_indices(n_samples, N_FOLDS, seed, labels["sarcasm"])
    return MustardData(ids, labels, folds, features.astype(np.float32), source="demo", latents=latent)


def _per_fold(blocks: list[np.ndarray]) -> np.ndarray:
    """Stack equal-sized fold blocks as ``(folds, n, ...)``; otherwise an object array of blocks."""
    if len({b.shape for b in blocks}) == 1:
        return np.stack(blocks)
    out = np.empty(len(blocks), dtype=object)
    for f, block in enumerate(blocks):
        out[f] = block
    return out


def _write_json(data: MustardData, path: Path) -> None:
    entries = {
        key: {
            "utterance": f"Demo utterance {key}.",
            "speaker": "A",
            "context": [f"Demo context turn {t} of {key}." for t in range(1 + i % 3)],
            "context_speakers": ["B"] * (1 + i % 3),
            "show": "DEMO",
            "sarcasm": bool(data.labels["sarcasm"][i]),
        }
        for i, key in enumerate(data.ids)
    }
    path.write_text(json.dumps(entries, indent=4) + "\n", encoding="utf-8")


def _write_annotations(data: MustardData, path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(ANNOTATION_COLUMNS)
        for i, key in enumerate(data.ids):
            for t in range(1 + i % 3):
                writer.writerow([key, "B", f"Demo context turn {t} of {key}.", "DEMO", "", "", "", "", ""])
            writer.writerow(
                [
                    key,
                    "A",
                    f"Demo utterance {key}.",
                    "DEMO",
                    str(bool(data.labels["sarcasm"][i])).upper(),
                    data.labels["sentiment_implicit"][i] - 1,
                    data.labels["sentiment_explicit"][i] - 1,
                    data.labels["emotion_implicit"][i] + 1,
                    data.labels["emotion_explicit"][i] + 1,
                ]
            )
            writer.writerow([])


def _write_features(data: MustardData, folder: Path) -> None:
    columns = np.array_split(np.arange(data.features.shape[1]), len(DEFAULT_MODALITIES))
    one_hot = np.eye(2, dtype=np.float32)[data.labels["sarcasm"]]
    arrays = {}
    for part in ("train", "test"):
        rows = [data.split(f)[0 if part == "train" else 1] for f in range(len(data.folds))]
        for m, cols in zip(DEFAULT_MODALITIES, columns):
            arrays[f"feautes{m}_{part}"] = _per_fold([data.features[r][:, cols] for r in rows])
        arrays[f"feautesLabel_{part}"] = _per_fold([one_hot[r] for r in rows])
    np.savez(folder / FEATURE_FILE, **arrays)
    with open(folder / SPLIT_FILE, "wb") as fh:
        pickle.dump([data.split(f) for f in range(len(data.folds))], fh, protocol=2)


def write_mustard_files(data: MustardData, folder: Path | str) -> Path:
    """Write ``data`` (e.g. the demo) in the real formats so :func:`load_mustard` reads it back:
    ``sarcasm_data.json``, the annotation CSV (context rows, target row, blank row per utterance),
    and, with features, the npz (features split into UT/UA/UV column blocks) and ``split_indices.p``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(data, folder / JSON_FILE)
    _write_annotations(data, folder / DEMO_ANNOTATION_FILE)
    if data.features is not None:
        _write_features(data, folder)
    return folder
