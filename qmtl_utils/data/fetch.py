"""``python -m qmtl_utils.data.fetch``: download the public benchmark data into ``data/``.

**What is fetched, from where** (``--dest`` defaults to :func:`~qmtl_utils.data.common.data_dir`;
without ``--dest`` the MUStARD and GLUE folders follow ``QMTL_MUSTARD_DIR`` / ``QMTL_GLUE_DIR``):

* Extended MUStARD, into ``<dest>/mustard/``:

  - ``sarcasm_data.json`` and ``split_indices.p`` from MUStARD's public repository
    (``soujanyaporia/MUStARD``, folder ``data/``) at the pinned commit :data:`MUSTARD_COMMIT`;
  - the SE-MUStARD annotation sheet (implicit/explicit sentiment and emotion) as
    ``se_mustard_annotations.csv``: the CSV export of the authors' public Google Sheet
    (:data:`ANNOTATION_SHEET`, linked from their README). A live sheet cannot be pinned to a
    version: its first download's sha256 is locked (below), and a later change is reported.

* GLUE, into ``<dest>/glue_data/<TASK>/{train,dev}.tsv`` (MNLI: ``dev_matched.tsv`` and
  ``dev_mismatched.tsv``), the original distribution's layout that
  :func:`~qmtl_utils.data.glue.load_glue_dir` reads offline. First through the Hugging Face hub
  (``datasets``, ``nyu-mll/glue``, via :func:`~qmtl_utils.data.glue.load_glue_hub`), written by
  :func:`~qmtl_utils.data.glue.write_glue_dir`; if the hub is unreachable (or switched off with
  ``HF_HUB_OFFLINE=1``), from the original distribution: the zips that GLUE's
  ``download_glue_data.py`` fetched from ``dl.fbaipublicfiles.com/glue/data/``, and for MRPC, which
  GLUE never zipped, MSR's ``msr_paraphrase_train.txt`` (SentEval's copy) split into train and dev
  by GLUE's ``mrpc_dev_ids.tsv``, as that script did. ``--glue-source hub|dist`` forces one route.

**Not fetched:** CheXpert (its licence must be accepted: Stanford AIMI, or Kaggle's
CheXpert-v1.0-small; put it at ``<dest>/CheXpert-v1.0-small/``); the authors' MUStARD features
(``datasetTrue_original.zip``, holding ``sarcasmDataset_speaker_dependent_True.npz``, on Google
Drive: :data:`FEATURES_ZIP`), optional for the ``lite`` profile, whose address is printed. Models
(``bert-base-uncased``, DenseNet weights) are not data: their libraries cache them.

**Checksums.** Every file goes to ``<file>.part`` in its own folder; a body shorter than its
``Content-Length`` is *truncated*; then the sha256 (and size) are checked; only then is it moved
into place with :func:`os.replace`. On any failure (or Ctrl-C) the ``.part`` is removed, so no
file under a final name is ever unchecked, and a ``.part`` left by a killed run is never used.
The :data:`REGISTRY` records a sha256 where one is published: the GLUE distribution's files carry
the sha256 and sizes that Hugging Face ``datasets`` recorded for the same URLs. The recorded sha256
values of the MUStARD files are to be filled in by a maintainer with network access (this module
was written on a machine that could not download them, and no value was guessed); until then,
such a file (``sha256=None``) is checked structurally by its validator (``sarcasm_data.json``: a
JSON object of 690 entries with ``utterance`` and ``sarcasm``; ``split_indices.p``: five (train,
test) index pairs whose tests partition ``range(690)``; the sheet: its header columns) and its
first download's sha256 is locked in ``<dest>/fetch-lock.json`` (trust on first use). A later
run, or ``--verify``, compares every file against the recorded or locked sha256. Files written
from the hub are locked the same way. A mismatch stops the run with the URL, both sha256 values
and what to do.

Offline, a short connection attempt (``--timeout``, default 5 s) fails at once with an error that
names the URL, the exact path to put the file at by hand, and the page to get it from; a second
run checks a file put there by hand and keeps it. Plain downloads use only :mod:`urllib`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import io
import json
import os
import pickle
import re
import shutil
import socket
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import urlparse

from qmtl_utils.data import glue, mustard
from qmtl_utils.data.common import DataFormatError, MissingDataError, data_dir, hub_offline

BENCHMARKS: tuple[str, ...] = ("mustard", "glue")
GLUE_SOURCES = ("auto", "hub", "dist")
DEFAULT_TIMEOUT = 5.0
LOCK_FILE = "fetch-lock.json"
USER_AGENT = "qmtl-utils-fetch/1 (+python urllib)"

# --------------------------------------------------------------------------- where things come from

MUSTARD_REPO = "soujanyaporia/MUStARD"
# The pinned commit. Chosen from the stored copies of the repository's history (find_files on
# soujanyaporia/MUStARD): data/split_indices.p exists there in exactly one version, stored at this
# commit, the one that added it; sarcasm_data.json predates it (the first README already documents
# data/sarcasm_data.json, and split_indices.p is what data_loader.py writes from that JSON), so
# this commit's tree holds both files, and the JSON in it is the one the fold indices were computed
# on. A maintainer with network access should confirm both raw URLs answer 200 and record their
# sha256 in REGISTRY.
MUSTARD_COMMIT = "2e068c8f17156c7953eb9ca6b24bf5963177596a"
MUSTARD_PAGE = f"https://github.com/{MUSTARD_REPO}/tree/{MUSTARD_COMMIT}/data"
_MUSTARD_RAW = f"https://raw.githubusercontent.com/{MUSTARD_REPO}/{MUSTARD_COMMIT}/data/"
AUTHORS_PAGE = "https://github.com/GussailRaat/ACL2020-SE-MUStARD-for-Multimodal-Sarcasm-Detection"
ANNOTATION_SHEET = "https://docs.google.com/spreadsheets/d/1-qFklf5ZQPirUuQLF6GiyxJYB9YmENLrKrs-P-_r3HI"
ANNOTATION_FILE = "se_mustard_annotations.csv"
FEATURES_ZIP = "https://drive.google.com/file/d/1KsP__c28hQyBSanKDYNL-XwBfe18KJPX/view?usp=sharing"
CHEXPERT_PAGES = (
    "https://stanfordmlgroup.github.io/competitions/chexpert/",  # as qmtl_utils.data.chexpert says
    "https://www.kaggle.com/datasets/ashery/chexpert",
)

GLUE_PAGE = "https://gluebenchmark.com/tasks"
_GLUE_DIST = "https://dl.fbaipublicfiles.com/glue/data/"
# (file, size in bytes, sha256) of the original distribution, as Hugging Face `datasets` recorded
# them for these URLs ("download_checksums" of huggingface/datasets datasets/glue/dataset_infos.json,
# commit 040102f100964a33fd334e2695f1c493fa6b92db); the zip names are those of GLUE's
# download_glue_data.py and of datasets' glue.py.
_GLUE_ZIPS = {
    "cola": ("CoLA.zip", 376971, "f212fcd832b8f7b435fb991f101abf89f96b933ab400603bf198960dfc32cbff"),
    "sst2": ("SST-2.zip", 7439277, "d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa"),
    "qqp": ("QQP-clean.zip", 41696084, "40e7c862c04eb26ee04b67fd900e76c45c6ba8e6d8fab4f8f1f8072a1a3fbae0"),
    "stsb": ("STS-B.zip", 802872, "e60a6393de5a8b5b9bac5020a1554b54e3691f9d600b775bd131e613ac179c85"),
    "mnli": ("MNLI.zip", 312783507, "e7c1d896d26ed6caf700110645df426cc2d8ebf02a5ab743d5a5c68ac1c83633"),
    "qnli": ("QNLIv2.zip", 10627589, "e634e78627a29adaecd4f955359b22bf5e70f2cbd93b493f2d624138a0c0e5f5"),
    "rte": ("RTE.zip", 697150, "6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee"),
    "wnli": ("WNLI.zip", 28999, "ae0e8e4d16f4d46d4a0a566ec7ecceccfd3fbfaa4a7a4b4e02848c0f2561ac46"),
}
_MRPC_DEV_IDS = (
    "https://dl.fbaipublicfiles.com/glue/data/mrpc_dev_ids.tsv",
    6222,
    "971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7",
)
_MRPC_TRAIN = (
    "https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_train.txt",
    1047044,
    "60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89",
)
MRPC_PAGE = "https://www.microsoft.com/en-us/download/details.aspx?id=52398"
MRPC_HEADER = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")
DOWNLOADS = "glue_data/downloads"  # the distribution's zips wait here until extracted, then go


class FetchError(RuntimeError):
    """An expected failure (offline, truncated, checksum mismatch, malformed file): the message is
    one paragraph naming the URL, the file and what to do; the CLI prints it and exits 2."""


@dataclass(frozen=True)
class Source:
    """One file to download: ``dest`` is relative to ``--dest`` (``mustard/...`` or ``glue_data/...``).

    ``sha256``/``size`` are the recorded values (None: not recorded; the file is then checked by
    ``check`` and its sha256 locked on first download). ``check(path)`` raises ValueError saying
    what is wrong. ``page`` is where a person gets the file by hand; ``pinned`` is False for a
    source that can change under the same URL (a live spreadsheet).
    """

    name: str
    url: str
    dest: str
    sha256: str | None = None
    size: int | None = None
    check: Callable[[Path], None] | None = None
    page: str = ""
    pinned: bool = True
    note: str = ""


@dataclass(frozen=True)
class GlueDist:
    """The original distribution of one GLUE task: its downloads and how they become the TSVs
    (``build``: ``"zip"``, the task folder's files extracted from the one zip; ``"mrpc"``, MSR's
    train file split by GLUE's dev ids)."""

    task: str
    sources: tuple[Source, ...]
    build: str = "zip"


@dataclass(frozen=True)
class Registry:
    """What :func:`fetch` downloads: the MUStARD files and, per GLUE task, its original distribution
    (the fallback when the hub is unreachable). Pass your own to :func:`fetch` to fetch elsewhere."""

    mustard: tuple[Source, ...]
    glue: dict[str, GlueDist] = field(default_factory=dict)


@dataclass(frozen=True)
class Fetched:
    """One file that is in place and checked: ``status`` as printed."""

    source: str
    path: Path
    size: int
    sha256: str
    status: str


# --------------------------------------------------------------------------- validators


def _looks_like(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        return ": it looks like an HTML page (an error or sign-in page served instead of the file)"
    if not data:
        return ": it is empty"
    return ""


def check_sarcasm_json(n: int = mustard.N_UTTERANCES) -> Callable[[Path], None]:
    """Validator of MUStARD's ``sarcasm_data.json``: a JSON object of ``n`` entries, each with
    ``utterance`` and a ``sarcasm`` label."""

    def check(path: Path) -> None:
        data = path.read_bytes()
        try:
            entries = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"not a UTF-8 JSON file ({err}){_looks_like(data)}") from None
        if not isinstance(entries, dict):
            raise ValueError(f"expected a JSON object of utterances, got a {type(entries).__name__}")
        for key, entry in entries.items():
            if not isinstance(entry, dict) or not {"utterance", "sarcasm"} <= entry.keys():
                raise ValueError(f"entry {key!r} lacks 'utterance' or 'sarcasm'")
            try:
                mustard.sarcasm_label(entry["sarcasm"])
            except ValueError as err:
                raise ValueError(f"entry {key!r}: {err}") from None
        if len(entries) != n:
            raise ValueError(f"{len(entries)} utterances, expected {n}")

    return check


class _IndexUnpickler(pickle.Unpickler):
    """Unpickles numpy index arrays and nothing else: a downloaded pickle is not trusted to run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, not only to numpy arrays")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core under numpy 2
            return super().find_class(module, name)


def check_split_indices(n: int = mustard.N_UTTERANCES, folds: int = mustard.N_FOLDS) -> Callable[[Path], None]:
    """Validator of MUStARD's ``split_indices.p``: a pickled list of ``folds`` (train, test) index
    arrays whose test parts partition ``range(n)``. Unpickles numpy arrays only."""
    import numpy as np

    def check(path: Path) -> None:
        data = path.read_bytes()
        try:
            splits = _IndexUnpickler(io.BytesIO(data), encoding="latin1").load()
            pairs = [(np.asarray(train), np.asarray(test)) for train, test in splits]
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise ValueError(f"not a pickled list of (train, test) index arrays ({err}){_looks_like(data)}") from None
        if len(pairs) != folds:
            raise ValueError(f"{len(pairs)} folds, expected {folds}")
        tests = np.sort(np.concatenate([test.astype(np.int64).ravel() for _, test in pairs]))
        if not np.array_equal(tests, np.arange(n)):
            raise ValueError(f"the test folds do not partition the {n} utterances ({len(tests)} indices)")

    return check


ANNOTATION_REQUIRED = ("KEY", "SARCASM", *mustard.LABEL_COLUMNS.values())


def check_annotation_csv(path: Path) -> None:
    """Validator of the SE-MUStARD sheet as CSV: UTF-8, and its header holds ``KEY``, ``SARCASM`` and
    the four sentiment/emotion columns."""
    data = path.read_bytes()
    first = data.split(b"\n", 1)[0]
    try:
        header = [c.strip().upper() for c in next(csv.reader([first.decode("utf-8-sig").rstrip("\r")]), [])]
    except UnicodeDecodeError:
        raise ValueError(f"the first line is not UTF-8 text{_looks_like(data)}") from None
    missing = [c for c in ANNOTATION_REQUIRED if c not in header]
    if missing:
        raise ValueError(f"the first line is not the annotation sheet's header (missing {', '.join(missing)}){_looks_like(data)}")


def check_zip(members: Iterable[str]) -> Callable[[Path], None]:
    """Validator of a zip that must hold ``members``."""
    members = tuple(members)

    def check(path: Path) -> None:
        if not zipfile.is_zipfile(path):
            raise ValueError(f"not a zip archive{_looks_like(path.read_bytes()[:512])}")
        with zipfile.ZipFile(path) as archive:
            missing = [m for m in members if m not in set(archive.namelist())]
        if missing:
            raise ValueError(f"the zip lacks {', '.join(missing)}")

    return check


def check_mrpc_train(path: Path) -> None:
    """Validator of MSR's ``msr_paraphrase_train.txt``: its tab-separated header."""
    data = path.read_bytes()
    first = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
    if tuple(first.split("\t")) != MRPC_HEADER:
        raise ValueError(f"the first line is not {' / '.join(MRPC_HEADER)}{_looks_like(data)}")


def check_mrpc_dev_ids(path: Path) -> None:
    """Validator of GLUE's ``mrpc_dev_ids.tsv``: lines of two tab-separated numeric ids."""
    data = path.read_bytes()
    lines = [line for line in data.decode("utf-8-sig", errors="replace").splitlines() if line.strip()]
    bad = next((i for i, line in enumerate(lines, 1) if not re.fullmatch(r"\s*\d+\t\d+\s*", line)), None)
    if not lines or bad is not None:
        raise ValueError(f"line {bad or 1} is not two tab-separated ids{_looks_like(data)}")


def _glue_members(task: str) -> tuple[str, ...]:
    schema = glue._SCHEMAS[task]
    return tuple(f"{schema.folder}/{name}" for name in ("train.tsv", *schema.dev_files))


def default_registry() -> Registry:
    """The public sources (see the module docstring): MUStARD at :data:`MUSTARD_COMMIT`, the live
    annotation sheet, and GLUE's original distribution with the sha256 values on record."""
    mustard_files = (
        Source(
            "MUStARD sarcasm_data.json",
            _MUSTARD_RAW + mustard.JSON_FILE,
            f"mustard/{mustard.JSON_FILE}",
            sha256=None,
            check=check_sarcasm_json(),
            page=MUSTARD_PAGE,
            note="sha256 not yet recorded: checked structurally, locked on first download",
        ),
        Source(
            "MUStARD split_indices.p",
            _MUSTARD_RAW + mustard.SPLIT_FILE,
            f"mustard/{mustard.SPLIT_FILE}",
            sha256=None,
            check=check_split_indices(),
            page=MUSTARD_PAGE,
            note="sha256 not yet recorded: checked structurally, locked on first download",
        ),
        Source(
            "SE-MUStARD annotation sheet",
            ANNOTATION_SHEET + "/export?format=csv",
            f"mustard/{ANNOTATION_FILE}",
            sha256=None,
            check=check_annotation_csv,
            page=ANNOTATION_SHEET + "/edit",
            pinned=False,
            note="a live Google Sheet, not pinnable: its first download's sha256 is locked",
        ),
    )
    dist = {}
    for task, (name, size, sha) in _GLUE_ZIPS.items():
        dist[task] = GlueDist(
            task,
            (
                Source(
                    f"GLUE {name}",
                    _GLUE_DIST + name,
                    f"{DOWNLOADS}/{name}",
                    sha,
                    size,
                    check_zip(_glue_members(task)),
                    page=GLUE_PAGE,
                ),
            ),
        )
    dist["mrpc"] = GlueDist(
        "mrpc",
        (
            Source(
                "GLUE mrpc_dev_ids.tsv",
                _MRPC_DEV_IDS[0],
                f"{DOWNLOADS}/mrpc_dev_ids.tsv",
                sha256=_MRPC_DEV_IDS[2],
                size=_MRPC_DEV_IDS[1],
                check=check_mrpc_dev_ids,
                page=GLUE_PAGE,
            ),
            Source(
                "MSR msr_paraphrase_train.txt",
                _MRPC_TRAIN[0],
                f"{DOWNLOADS}/msr_paraphrase_train.txt",
                sha256=_MRPC_TRAIN[2],
                size=_MRPC_TRAIN[1],
                check=check_mrpc_train,
                page=MRPC_PAGE,
            ),
        ),
        build="mrpc",
    )
    return Registry(mustard_files, {t: dist[t] for t in glue.GLUE_TASKS})


REGISTRY = default_registry()

# --------------------------------------------------------------------------- files, hashes, the lock


def sha256_of(path: Path) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


@dataclass(frozen=True)
class _Layout:
    """Where ``mustard/...`` and ``glue_data/...`` go, and where the lock lives."""

    root: Path
    mustard: Path
    glue: Path

    @classmethod
    def make(cls, dest: str | Path | None) -> _Layout:
        if dest is not None:
            root = Path(dest)
            return cls(root, root / "mustard", root / "glue_data")
        return cls(data_dir(), mustard.mustard_dir(), glue.glue_dir())

    def path(self, rel: str) -> Path:
        head, _, rest = rel.partition("/")
        if head == "mustard":
            return self.mustard / rest
        if head == "glue_data":
            return self.glue / rest
        return self.root / rel

    def key(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path.resolve())


class _Lock:
    """``fetch-lock.json``: path → {url, sha256, size, recorded, at}; written atomically."""

    def __init__(self, path: Path):
        self.path = path
        self.files: dict[str, dict] = {}
        if path.is_file():
            try:
                self.files = dict(json.loads(path.read_text(encoding="utf-8")).get("files", {}))
            except (ValueError, AttributeError) as err:
                raise FetchError(
                    f"{path} is not a valid lock file ({err}); delete it to lock the files again from scratch"
                ) from None

    def get(self, key: str) -> dict | None:
        return self.files.get(key)

    def put(self, key: str, url: str, size: int, sha256: str, recorded: bool) -> None:
        self.files[key] = {
            "url": url,
            "sha256": sha256,
            "size": size,
            "recorded": recorded,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "about": "sha256 of each fetched file (python -m qmtl_utils.data.fetch): the recorded value where "
            "the registry has one, else the first download's (trust on first use). --verify checks them.",
            "files": dict(sorted(self.files.items())),
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


def _probe(url: str, timeout: float) -> str | None:
    """Why ``url``'s host does not accept a connection within ``timeout`` seconds (None: it does, or
    a proxy stands in between). Name resolution is bounded too: the attempt runs in a thread."""
    parts = urlparse(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return None
    outcome: dict[str, BaseException | bool] = {}

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome["ok"] = True
        except OSError as err:
            outcome["error"] = err

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    if "ok" in outcome:
        return None
    if "error" in outcome:
        return f"cannot connect to {host}:{port} ({_reason(outcome['error'])})"
    return f"no answer from {host}:{port} within {timeout:g} s"


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        err = err.reason if isinstance(err.reason, BaseException) else err
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(err, socket.gaierror):
        return f"host name not resolved: {err.strerror or err}"
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text)


def _arrow() -> str:
    return "→" if (getattr(sys.stdout, "encoding", "") or "").lower().replace("-", "").startswith("utf8") else "->"


def _paragraph(text: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=100, break_long_words=False, break_on_hyphens=False)


# --------------------------------------------------------------------------- the fetcher


class _Fetcher:
    def __init__(
        self,
        layout: _Layout,
        registry: Registry,
        *,
        force: bool,
        timeout: float,
        glue_source: str,
        say: Callable[[str], None],
        write: bool = True,
    ):
        self.layout, self.registry, self.force, self.timeout = layout, registry, force, timeout
        self.glue_source, self.say, self.write = glue_source, say, write
        self.lock = _Lock(layout.root / LOCK_FILE)
        self.done: list[Fetched] = []
        self.problems: list[str] = []
        self._probed: dict[str, str | None] = {}

    # ----------------------------------------------------------------- reporting

    def _report(self, source: str, path: Path, size: int, sha: str, status: str) -> None:
        self.say(f"{source} {_arrow()} {path}  {size:,} bytes  sha256 {sha}  {status}")
        self.done.append(Fetched(source, path, size, sha, status))

    def _by_hand(self, source: Source, path: Path) -> str:
        page = source.page or source.url
        link = "" if page == source.url else f" (direct link: {source.url})"
        check = (
            f"keeps it if its sha256 is {source.sha256}"
            if source.sha256
            else f"checks its structure, keeps it and locks its sha256 in {self.lock.path}"
        )
        return (
            f"Download it by hand from {page}{link}, put it at {path}, and run `python -m qmtl_utils.data.fetch` "
            f"again, which {check}."
        )

    # ----------------------------------------------------------------- one file

    def file(self, source: Source, transient: bool = False) -> Path:
        """Make ``source`` present and checked at its destination; returns the path.
        ``transient`` files (the GLUE distribution's downloads) are not locked."""
        path = self.layout.path(source.dest)
        if path.exists() and not self.force:
            self._present(source, path, transient)
        elif not self.write:
            self.problems.append(f"{path} is missing (from {source.url})")
            self.say(f"{source.url} {_arrow()} {path}  missing")
        else:
            self._download(source, path, transient)
        return path

    def _present(self, source: Source, path: Path, transient: bool) -> None:
        size, sha = sha256_of(path)
        key, locked = self.layout.key(path), self.lock.get(self.layout.key(path))
        if source.sha256:
            if sha != source.sha256 or (source.size is not None and size != source.size):
                self._fail(
                    f"{path} is already there but it is not the file {source.url} should give: its sha256 is "
                    f"{sha} ({size:,} bytes), the recorded one is {source.sha256}"
                    + (f" ({source.size:,} bytes)" if source.size is not None else "")
                    + ". It may be an older or edited copy or a failed download saved by hand. Delete it, or "
                    "run again with --force, to download it again."
                )
                return
            status = "already present, checksum ok"
        elif locked:
            if sha != locked["sha256"]:
                self._fail(
                    f"{path} is already there but its sha256 is {sha}, not the {locked['sha256']} locked in "
                    f"{self.lock.path} when it was fetched from {locked.get('url', source.url)} on "
                    f"{locked.get('at', '?')}. If you replaced it on purpose, run again with --force to check "
                    "and lock the new file; otherwise delete it to download it again."
                )
                return
            status = "already present, checksum ok (locked)"
        else:
            problem = self._validate(source, path)
            if problem:
                self._fail(
                    f"{path} is already there but it is not a valid {source.name}: {problem}. Delete it to "
                    f"download it again from {source.url}."
                )
                return
            if self.write and not transient:
                self.lock.put(key, source.url, size, sha, recorded=False)
                status = "already present, structure ok, sha256 locked"
            else:
                status = "already present, structure ok" + ("" if transient else " (not locked yet)")
        if self.write and not transient and (source.sha256 and (not locked or locked["sha256"] != sha)):
            self.lock.put(key, source.url, size, sha, recorded=True)
        self._report(source.url, path, size, sha, status)

    def _fail(self, message: str) -> None:
        if self.write:
            raise FetchError(message)
        self.problems.append(message)

    @staticmethod
    def _validate(source: Source, path: Path) -> str | None:
        if source.check is None:
            return None
        try:
            source.check(path)
        except ValueError as err:
            return str(err)
        except Exception as err:  # a file malformed in a way the validator did not foresee is still malformed
            return f"unreadable ({type(err).__name__}: {err})"
        return None

    def _unreachable(self, source: Source, path: Path, reason: str) -> FetchError:
        host = urlparse(source.url).hostname
        return FetchError(
            f"could not download {source.url}: {reason}. This machine seems to be offline or cannot "
            f"reach {host}. " + self._by_hand(source, path)
        )

    def _download(self, source: Source, path: Path, transient: bool) -> None:
        part = path.with_name(path.name + ".part")
        if part.exists():  # left by a run that was killed: never taken as complete
            part.unlink()
            self.say(f"removed {part}, an incomplete download left by an earlier run")
        host = urlparse(source.url).netloc
        if host not in self._probed:
            self._probed[host] = _probe(source.url, self.timeout)
        if self._probed[host]:
            raise self._unreachable(source, path, self._probed[host])
        made = [d for d in (path.parent, *path.parent.parents) if not d.exists()]  # innermost first
        path.parent.mkdir(parents=True, exist_ok=True)
        finished = False
        try:
            size, sha = self._stream(source, path, part)
            if source.size is not None and size != source.size:
                raise FetchError(
                    f"{source.url} gave {size:,} bytes, but the file on record has {source.size:,} "
                    f"(sha256 {source.sha256}): it is not that file. Nothing was saved. " + self._by_hand(source, path)
                )
            if source.sha256 and sha != source.sha256:
                raise FetchError(
                    f"checksum mismatch for {source.url}: expected sha256 {source.sha256}, got {sha} "
                    f"({size:,} bytes). The download is corrupted, or the file changed at its source; "
                    f"nothing was saved. Run again to retry; if it persists, the source has changed: "
                    + self._by_hand(source, path)
                )
            problem = None if source.sha256 else self._validate(source, part)
            if problem:
                raise FetchError(
                    f"{source.url} did not give a valid {source.name}: {problem}. Nothing was saved. "
                    + self._by_hand(source, path)
                )
            key, locked = self.layout.key(path), self.lock.get(self.layout.key(path))
            relock = ""
            if not source.sha256 and not transient and locked and locked["sha256"] != sha:
                if not self.force:
                    raise FetchError(
                        f"{source.url} now gives a file with sha256 {sha}, not the {locked['sha256']} "
                        f"locked in {self.lock.path} on {locked.get('at', '?')}: the source changed since "
                        "(or the download is corrupted). Nothing was saved. Check the new file, then run "
                        f"again with --force to accept and lock it, or put the old file back at {path}."
                    )
                relock = f"; lock updated (was {locked['sha256']})"
            os.replace(part, path)
            finished = True
        finally:
            if not finished:
                part.unlink(missing_ok=True)
                for folder in made:  # the folders this download made, if still empty
                    try:
                        folder.rmdir()
                    except OSError:
                        break
        if not transient:
            self.lock.put(key, source.url, size, sha, recorded=bool(source.sha256))
        status = ("ok" if source.sha256 else "ok (structure checked; sha256 locked)") + relock
        if transient:
            status += " (unpacked below, then removed)"
        if not source.pinned:
            status += " [not pinnable: a live source]"
        self._report(source.url, path, size, sha, status)

    def _progress(self, done: int, total: int | None) -> None:
        """Called after each chunk; shows progress for large files on a terminal."""
        if total and total > 20_000_000 and sys.stderr.isatty():
            print(f"\r  {done / 1e6:8.1f} / {total / 1e6:.1f} MB", end="" if done < total else "\n", file=sys.stderr, flush=True)

    def _stream(self, source: Source, path: Path, part: Path) -> tuple[int, str]:
        request = urllib.request.Request(source.url, headers={"User-Agent": USER_AGENT})
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            err.close()
            raise FetchError(
                f"could not download {source.url}: the server answered HTTP {err.code} {err.reason}. "
                + self._by_hand(source, path)
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            raise self._unreachable(source, path, _reason(err)) from None
        digest, size = hashlib.sha256(), 0
        with response, open(part, "wb") as out:
            header = response.headers.get("Content-Length", "")
            expected = int(header) if header.strip().isdigit() else None
            try:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    self._progress(size, expected)
            except (http.client.HTTPException, OSError) as err:
                raise FetchError(
                    f"download of {source.url} broke off after {size:,} bytes ({_reason(err)}): the file "
                    "is truncated and nothing was saved. Run again to retry. " + self._by_hand(source, path)
                ) from None
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and size != expected:
            raise FetchError(
                f"download of {source.url} is truncated: {size:,} of the {expected:,} bytes announced "
                "(Content-Length) arrived before the connection closed; nothing was saved. Run again "
                "to retry. " + self._by_hand(source, path)
            )
        return size, digest.hexdigest()

    # ----------------------------------------------------------------- MUStARD

    def mustard(self) -> None:
        for source in self.registry.mustard:
            self.file(source)
        if self.write:
            self._check_mustard()
        self.say(
            f"not fetched: the authors' MUStARD features (optional for the lite profile): "
            f"datasetTrue_original.zip from {FEATURES_ZIP} ({AUTHORS_PAGE}); unzip "
            f"{mustard.FEATURE_FILE} into {self.layout.mustard} to train on them"
        )

    def _check_mustard(self) -> None:
        """Read the folder with the loader, as the lite profile will (a note, not a failure: the
        files themselves were checked)."""
        names = {Path(s.dest).name for s in self.registry.mustard}
        if not {mustard.JSON_FILE, ANNOTATION_FILE} <= names:
            return
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                data = mustard.load_mustard(self.layout.mustard, require_features=False, expected=None)
        except (DataFormatError, MissingDataError) as err:
            self.say(f"note: the MUStARD loader cannot read {self.layout.mustard} yet: {err}")
            return
        extra = f" ({len(caught)} warning(s), e.g. {str(caught[0].message)[:200]})" if caught else ""
        self.say(f"check: load_mustard reads {data.n} utterances with their five labels from {self.layout.mustard}" + extra)

    # ----------------------------------------------------------------- GLUE

    def glue(self, tasks: Sequence[str]) -> None:
        for task in tasks:
            self.glue_task(task)

    def _products(self, task: str) -> list[Path]:
        schema = glue._SCHEMAS[task]
        return [self.layout.glue / schema.folder / name for name in ("train.tsv", *schema.dev_files)]

    def glue_task(self, task: str) -> None:
        products = self._products(task)
        if all(p.exists() for p in products) and not self.force:
            self._glue_present(task, products)
            return
        if not self.write:
            for p in products:
                if not p.exists():
                    self.problems.append(f"{p} is missing (GLUE {task})")
                    self.say(f"GLUE {task} {_arrow()} {p}  missing")
            return
        dist = self.registry.glue.get(task)
        if self.glue_source == "auto" and dist and all(self.layout.path(s.dest).exists() for s in dist.sources):
            self._glue_dist(task, products)  # the distribution's files were put here (by hand): use them
            return
        hub_error = None
        if self.glue_source in ("auto", "hub"):
            try:
                self._glue_hub(task, products)
                return
            except FetchError as err:
                if self.glue_source == "hub":
                    raise
                hub_error = str(err)
                self.say(f"GLUE {task}: the hub route failed, falling back to the original distribution")
        try:
            self._glue_dist(task, products)
        except FetchError as err:
            if hub_error is None:
                raise
            raise FetchError(
                f"{hub_error} The fallback, GLUE's original distribution, failed too: {str(err).removeprefix(f'GLUE {task}: ')}"
            ) from None

    def _glue_present(self, task: str, products: list[Path]) -> None:
        unlocked, hashes = [], {}
        for path in products:
            size, sha = hashes[path] = sha256_of(path)
            locked = self.lock.get(self.layout.key(path))
            if locked is None:
                unlocked.append(path)
            elif sha != locked["sha256"]:
                self._fail(
                    f"{path} is already there but its sha256 is {sha}, not the {locked['sha256']} locked in "
                    f"{self.lock.path} when it was written from {locked.get('url', '?')} on "
                    f"{locked.get('at', '?')}. If you replaced it on purpose, run again with --force to fetch "
                    f"GLUE {task} again; otherwise delete {path.parent} and run again."
                )
                return
        if unlocked:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    glue.load_glue_dir(self.layout.glue, [task])
            except (DataFormatError, MissingDataError) as err:
                self._fail(
                    f"GLUE {task}: the files in {products[0].parent} are there but not readable: {err}. Delete "
                    "the folder to fetch them again."
                )
                return
        for path in products:
            size, sha = hashes[path]
            origin = f"GLUE {task}"
            if path in unlocked:
                if self.write:
                    self.lock.put(self.layout.key(path), f"found in place (GLUE {task})", size, sha, recorded=False)
                status = "already present, structure ok" + (", sha256 locked" if self.write else " (not locked yet)")
            else:
                origin = self.lock.get(self.layout.key(path)).get("url", origin)
                status = "already present, checksum ok (locked)"
            self._report(origin, path, size, sha, status)

    def _install(self, staged: Sequence[tuple[Path, Path]], origin: str, status: str) -> None:
        """Move complete, staged files into place (same file system: atomic) and lock them."""
        for tmp, final in staged:
            size, sha = sha256_of(tmp)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            self.lock.put(self.layout.key(final), origin, size, sha, recorded=False)
            self._report(origin, final, size, sha, status)

    def _staging(self, task: str) -> Path:
        staging = self.layout.glue / f".staging-{task}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        return staging

    def _glue_hub(self, task: str, products: list[Path]) -> None:
        what_to_do = (
            f"Run the fetch on a machine with internet, or use --glue-source dist (GLUE's original distribution), "
            f"or lay the files out by hand: {', '.join(str(p) for p in products)} (from {GLUE_PAGE})."
        )
        if hub_offline():
            raise FetchError(
                f"GLUE {task}: the Hugging Face hub route is switched off: HF_HUB_OFFLINE=1 or "
                "HF_DATASETS_OFFLINE=1 is set. Unset them (`unset HF_HUB_OFFLINE HF_DATASETS_OFFLINE`) "
                "to download nyu-mll/glue. " + what_to_do
            )
        if not glue.hub_reachable(self.timeout):
            endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
            raise FetchError(
                f"GLUE {task}: the Hugging Face hub ({endpoint}) does not answer within {self.timeout:g} s. " + what_to_do
            )
        try:
            import datasets  # noqa: F401  (the hub route needs it; say so plainly if missing)
        except ImportError:
            raise FetchError(
                f"GLUE {task}: the hub route needs the `datasets` package (pip install datasets). " + what_to_do
            ) from None
        try:
            data = glue.load_glue_hub([task])[task]
            matched = _mnli_matched_rows() if task == "mnli" else None
        except Exception as err:  # a download library's failure is an expected one here
            raise FetchError(
                f"GLUE {task}: download of {glue.HUB_DATASET} failed ({type(err).__name__}: "
                f"{' '.join(str(err).split())[:500]}). " + what_to_do
            ) from None
        train, validation = _one_line(data.train), _one_line(data.validation)
        changed = train.attrs["changed"] + validation.attrs["changed"]
        staging = self._staging(task)
        try:
            glue.write_glue_dir({task: glue.GlueTask(task, train, validation, data.source)}, staging)
            schema = glue._SCHEMAS[task]
            if matched is not None:  # write_glue_dir halves the validation frame; MNLI's halves are 9815/9832
                glue._write_tsv(staging / schema.folder / schema.dev_files[0], validation.iloc[:matched], schema)
                glue._write_tsv(staging / schema.folder / schema.dev_files[1], validation.iloc[matched:], schema)
            if changed:
                self.say(
                    f"GLUE {task}: {changed} text(s) held a tab or line break, written as a space (the TSV format has no quoting)"
                )
            self._install(
                [(staging / schema.folder / p.name, p) for p in products],
                f"hub:{glue.HUB_DATASET}/{task}",
                "ok (written from the hub; sha256 locked)",
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _glue_dist(self, task: str, products: list[Path]) -> None:
        dist = self.registry.glue.get(task)
        if dist is None:
            raise FetchError(
                f"GLUE {task}: no download of the original distribution is registered. Lay the files out "
                f"by hand: {', '.join(str(p) for p in products)} (from {GLUE_PAGE})."
            )
        try:
            downloads = [self.file(source, transient=True) for source in dist.sources]
        except FetchError as err:
            raise FetchError(
                f"GLUE {task}: {err} Or unzip the task by hand so that {', '.join(str(p) for p in products)} exist."
            ) from None
        staging = self._staging(task)
        folder = staging / glue._SCHEMAS[task].folder
        try:
            if dist.build == "mrpc":
                _build_mrpc(downloads[0], downloads[1], folder)
            else:
                _extract(downloads[0], _glue_members(task), staging)
            self._install(
                [(folder / p.name, p) for p in products],
                dist.sources[-1].url,
                "ok (from the original distribution; sha256 locked)",
            )
        except (zipfile.BadZipFile, ValueError, OSError) as err:
            raise FetchError(
                f"GLUE {task}: could not unpack {', '.join(str(d) for d in downloads)} ({err}); "
                "they were removed, run again to download them anew."
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            for path in downloads:
                path.unlink(missing_ok=True)
            try:
                self.layout.path(DOWNLOADS).rmdir()
            except OSError:
                pass


def _one_line(frame):
    """A copy of a GLUE frame with tabs and line breaks in its texts turned into spaces (the TSV has
    no quoting); ``attrs["changed"]`` counts the texts changed."""
    out = frame.copy()
    changed = 0
    for column in ("text_a", "text_b"):
        odd = out[column].map(lambda text: isinstance(text, str) and re.search(r"[\t\r\n]", text) is not None)
        changed += int(odd.sum())
        out.loc[odd, column] = out.loc[odd, column].map(lambda text: re.sub(r"\s*[\t\r\n]+\s*", " ", text))
    out.attrs["changed"] = changed
    return out


def _mnli_matched_rows() -> int:
    """Rows of MNLI's validation_matched (cached by ``datasets`` after :func:`glue.load_glue_hub`)."""
    import datasets

    return datasets.load_dataset(glue.HUB_DATASET, "mnli", split="validation_matched").num_rows


def _extract(archive: Path, members: Sequence[str], out: Path) -> None:
    """Extract ``members`` (CRC-checked by :mod:`zipfile` as they are read) below ``out``."""
    with zipfile.ZipFile(archive) as zf:
        for member in members:
            target = out / member
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _build_mrpc(dev_ids: Path, train: Path, folder: Path) -> None:
    """GLUE's MRPC train.tsv/dev.tsv from MSR's training file and GLUE's dev ids, as
    ``download_glue_data.py`` made them (same header and columns)."""
    ids = set()
    for line in dev_ids.read_text(encoding="utf-8-sig").splitlines():
        if line.strip():
            first, second = line.split("\t")[:2]
            ids.add((first.strip(), second.strip()))
    lines = train.read_text(encoding="utf-8-sig").splitlines()
    rows = {"train.tsv": [], "dev.tsv": []}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.rstrip("\r").split("\t")
        if len(cells) < 5:
            raise ValueError(f"line {number} of {train.name} has {len(cells)} fields, not 5")
        rows["dev.tsv" if (cells[1], cells[2]) in ids else "train.tsv"].append("\t".join(cells[:5]))
    if len(rows["dev.tsv"]) != len(ids):
        raise ValueError(f"{len(rows['dev.tsv'])} of the {len(ids)} dev ids are in {train.name}")
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in rows.items():
        (folder / name).write_text("\n".join(["\t".join(MRPC_HEADER), *body]) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- public entry points


def _tasks(glue_tasks: Iterable[str]) -> tuple[str, ...]:
    tasks = tuple(dict.fromkeys(t.strip().lower() for t in glue_tasks if t.strip()))
    unknown = [t for t in tasks if t not in glue.GLUE_TASKS]
    if unknown:
        raise FetchError(f"unknown GLUE task(s) {', '.join(unknown)}; choose from {', '.join(glue.GLUE_TASKS)}")
    return tasks


def _selection(only: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(only))
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        raise FetchError(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return chosen


def fetch(
    dest: str | Path | None = None,
    *,
    only: Iterable[str] = BENCHMARKS,
    glue_tasks: Iterable[str] = glue.GLUE_TASKS,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    glue_source: str = "auto",
    registry: Registry | None = None,
    say: Callable[[str], None] = print,
) -> list[Fetched]:
    """Download what is public into ``dest`` (default: ``data/``, see the module docstring), one
    printed line per file; files already present and matching their sha256 are kept (nothing is
    downloaded twice). ``force`` downloads again (and, for files without a recorded sha256, locks
    the new one). ``glue_source`` is ``auto`` (hub, else the original distribution), ``hub`` or
    ``dist``. Raises :class:`FetchError` at the first failure; nothing unchecked is left behind."""
    if glue_source not in GLUE_SOURCES:
        raise FetchError(f"glue_source must be one of {', '.join(GLUE_SOURCES)}, not {glue_source!r}")
    chosen, tasks = _selection(only), _tasks(glue_tasks)
    fetcher = _Fetcher(_Layout.make(dest), registry or REGISTRY, force=force, timeout=timeout, glue_source=glue_source, say=say)
    if "mustard" in chosen:
        fetcher.mustard()
    if "glue" in chosen:
        fetcher.glue(tasks)
    say(
        "not fetched: CheXpert (licence required): get CheXpert-v1.0-small from "
        f"{' or '.join(CHEXPERT_PAGES)} and put it at {fetcher.layout.root / 'CheXpert-v1.0-small'}"
    )
    if dest is not None and Path(dest).resolve() != data_dir().resolve():
        say(f"the loaders read {data_dir()}: set QMTL_DATA_DIR={dest} to use what was fetched here")
    return fetcher.done


def verify(
    dest: str | Path | None = None,
    *,
    only: Iterable[str] = BENCHMARKS,
    glue_tasks: Iterable[str] = glue.GLUE_TASKS,
    registry: Registry | None = None,
    say: Callable[[str], None] = print,
) -> list[Fetched]:
    """Check what :func:`fetch` would keep, downloading and changing nothing: every file present and
    matching its recorded or locked sha256 (or, if not locked yet, valid). Raises
    :class:`FetchError` listing every missing or mismatching file."""
    chosen, tasks = _selection(only), _tasks(glue_tasks)
    fetcher = _Fetcher(
        _Layout.make(dest), registry or REGISTRY, force=False, timeout=DEFAULT_TIMEOUT, glue_source="auto", say=say, write=False
    )
    if "mustard" in chosen:
        for source in fetcher.registry.mustard:
            fetcher.file(source)
    if "glue" in chosen:
        fetcher.glue(tasks)
    if fetcher.problems:
        raise FetchError(
            f"{len(fetcher.problems)} problem(s): "
            + " ".join(p if p.endswith(".") else p + "." for p in fetcher.problems)
            + " Run `python -m qmtl_utils.data.fetch` to download what is missing."
        )
    return fetcher.done


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qmtl_utils.data.fetch",
        description="Download the public benchmark data (GLUE, Extended MUStARD) into data/, each file checked "
        "against its recorded sha256 or, where none is recorded yet, checked structurally and its "
        "sha256 locked in <dest>/fetch-lock.json.",
        epilog="Exit status: 0 when everything is in place and checked, 2 otherwise (with one paragraph saying "
        "what failed and what to do). CheXpert and the MUStARD feature file are not fetched.",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        choices=BENCHMARKS,
        metavar="{glue,mustard}",
        help="fetch only these benchmarks (default: both)",
    )
    parser.add_argument(
        "--glue-tasks",
        default=",".join(glue.GLUE_TASKS),
        help=f"comma-separated GLUE tasks (default: all nine: {','.join(glue.GLUE_TASKS)})",
    )
    parser.add_argument(
        "--dest",
        help="data folder (default: $QMTL_DATA_DIR or data/; without it, $QMTL_GLUE_DIR and $QMTL_MUSTARD_DIR are honoured)",
    )
    parser.add_argument("--force", action="store_true", help="download again even what is present (and lock the new files)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds to wait for a connection or data (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--glue-source",
        choices=GLUE_SOURCES,
        default="auto",
        help="GLUE from the Hugging Face hub, GLUE's original distribution, or the hub with the "
        "distribution as fallback (default auto)",
    )
    parser.add_argument(
        "--verify", action="store_true", help="download nothing: check the files present against their recorded or locked sha256"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, registry: Registry | None = None) -> int:
    """The command line (see ``--help``); returns the exit status: 0 success, 2 failure."""
    parser = _parser()
    args = parser.parse_args(argv)
    only = args.only or BENCHMARKS
    try:
        tasks = _tasks(args.glue_tasks.split(","))
        if args.verify:
            verify(args.dest, only=only, glue_tasks=tasks, registry=registry)
        else:
            fetch(
                args.dest,
                only=only,
                glue_tasks=tasks,
                force=args.force,
                timeout=args.timeout,
                glue_source=args.glue_source,
                registry=registry,
            )
    except FetchError as err:
        sys.stdout.flush()
        print(_paragraph(f"fetch: error: {err}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        sys.stdout.flush()
        print(
            "fetch: interrupted; the partial download was removed, no unchecked file was left under a final name", file=sys.stderr
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
