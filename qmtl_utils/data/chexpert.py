"""CheXpert-v1.0-small (Appendix A.2, C.2): the real data as users have it, and its offline demo.

Real data: a folder ``CheXpert-v1.0-small/{train.csv,valid.csv,train/,valid/}``, by default
``<data_dir()>/CheXpert-v1.0-small`` (override with ``$QMTL_CHEXPERT_DIR``). Each CSV row is one
image: ``Path, Sex, Age, Frontal/Lateral, AP/PA`` and 14 observations with values 1.0 (positive),
0.0 (negative), -1.0 (uncertain) or blank. We use the five competition tasks (:data:`TASK_COLUMNS`,
the order of ``BENCHMARKS["chexpert"]``) and map labels to the class indices of Appendix A.2:
uncertain 0, negative 1, positive 2, blank -100 (ignored by the loss, Eq. (24)).

The DataFrames returned here keep the CSV's row order, and their index is each row's **line in
the CSV file** (1-based, as an editor shows it: the header is line 1), through :func:`select_subset`
too; ``frame.attrs["source"]`` is the file. Every error names ``line N of FILE`` that way. The CSV
is read as UTF-8 (:func:`~qmtl_utils.data.common.read_text`; ``train.csv.gz`` stands in for a
missing ``train.csv``); rows whose cells are all empty (a spreadsheet's trailing ``,,,,,``) are
dropped, a row with other fields but no ``Path`` is an error. A file cut off mid-row (no final line
break, the last row short of fields) is an error that says the file looks truncated; a
``train.csv``/``valid.csv`` in a ``CheXpert-v1.0-small`` (or ``CheXpert-v1.0``) folder with fewer
rows than the real 223,414/234 gives a warning naming the count (the demo's folder, marked by its
``latents.csv``, excepted). A ``Path`` starts with the dataset's folder name, which is replaced by
the folder in use, whatever it is called: the full-size ``CheXpert-v1.0/...`` paths find the images
of a ``-small`` folder and the other way round.

Pipeline: :func:`load_chexpert` → :func:`select_subset` (10,000 male + 10,000 female images) →
:func:`fold_indices` (five non-overlapping folds, §5.1) → :class:`ChexpertDataset` (images through
:func:`image_transform`). :func:`make_chexpert_demo` writes a small synthetic folder in the same
format, so the demo runs exactly this code.
"""

from __future__ import annotations

import importlib.util
import io
import os
import warnings
from functools import lru_cache
from pathlib import Path, PurePosixPath
from statistics import NormalDist

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms

from qmtl_utils.data.common import DataFormatError, MissingDataError, csv_records, data_dir, is_empty_row, read_text, with_gz
from qmtl_utils.runtime.cache import write_csv

FOLDER_NAME = "CheXpert-v1.0-small"
FULL_FOLDER_NAME = "CheXpert-v1.0"  # the full-resolution release: the same rows, other images
REAL_ROWS = {"train.csv": 223_414, "valid.csv": 234}  # data rows of the real CSVs (both releases)
_SPLIT_FOLDERS = ("train", "valid", "test")
META_COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA")
OBSERVATIONS = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
# The five competition tasks, in the order of BENCHMARKS["chexpert"].task_names.
TASK_COLUMNS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
REQUIRED_COLUMNS = ("Path", "Sex", "Frontal/Lateral", *TASK_COLUMNS)
# Appendix A.2: {uncertain: 0, negative: 1, positive: 2}; blank -> IGNORE_INDEX.
LABEL_TO_CLASS = {-1.0: 0, 0.0: 1, 1.0: 2}
CLASS_NAMES = ("uncertain", "negative", "positive")
IGNORE_INDEX = -100
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FLIP_P = 0.3  # Appendix A.2

_GET_IT = (
    "Get CheXpert-v1.0-small (research-use agreement) from Stanford AIMI "
    "(https://stanfordmlgroup.github.io/competitions/chexpert/) or Kaggle (search 'CheXpert-v1.0-small', "
    "e.g. kaggle.com/datasets/ashery/chexpert), unzip it so that {root}/train.csv, {root}/valid.csv, "
    "{root}/train/ and {root}/valid/ exist, or point $QMTL_CHEXPERT_DIR at your copy. "
    "Without the data, run the demo profile."
)


# --------------------------------------------------------------------------- real data


def chexpert_dir(root: Path | str | None = None) -> Path:
    """The CheXpert folder: ``root``, else ``$QMTL_CHEXPERT_DIR``, else ``<data_dir()>/CheXpert-v1.0-small``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("QMTL_CHEXPERT_DIR", data_dir() / FOLDER_NAME))


def load_chexpert(split: str = "train", root: Path | str | None = None, check_images: bool = False) -> pd.DataFrame:
    """The rows of ``<root>/<split>.csv`` (validated by :func:`read_chexpert_csv`).

    ``check_images=True`` also checks that every image exists and is a readable, non-empty image
    (:func:`check_image_files`).
    Raises MissingDataError, saying where to get the data, if the folder or CSV is missing.

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """
    if split not in ("train", "valid"):
        raise ValueError(f"unknown CheXpert split {split!r}; use 'train' or 'valid'")
    root = chexpert_dir(root)
    csv = with_gz(root / f"{split}.csv")
    if not csv.is_file():
        missing = f"CheXpert folder {root}" if not root.is_dir() else f"{csv}"
        raise MissingDataError(f"{missing} does not exist. " + _GET_IT.format(root=root))
    frame = read_chexpert_csv(csv)
    if check_images:
        check_image_files(frame, root)
    return frame


def read_chexpert_csv(path: Path | str) -> pd.DataFrame:
    """A CheXpert CSV as a DataFrame, checked: UTF-8, the required columns are there, every row has a
    ``Path`` and every task label is 1.0, 0.0, -1.0 or blank (else DataFormatError naming the file,
    line and value). Rows of empty cells are dropped.

    The index is each row's line in the file (header = line 1); ``frame.attrs["source"]`` records
    the file for later error messages.
    """
    lines = read_text(path).splitlines(keepends=True)  # UTF-8, checked
    records = _records(path, lines)
    if not records or records[0][3]:
        raise DataFormatError(path, "the file is empty; expected a CheXpert CSV with a header row", line=1)
    _check_delimiter(path, lines[0])
    width, kept = records[0][2], []
    for start, end, fields, empty in records[1:]:
        if empty:  # a blank line or a spreadsheet's row of empty cells: dropped
            continue
        if fields > width:
            raise DataFormatError(
                path,
                f"{fields} fields but the header has {width}; remove the extra commas (or quote cells that hold a comma)",
                line=start,
            )
        kept.append((start, end))
    last = next((r for r in reversed(records[1:]) if not r[3]), None)
    if last is not None and last[2] < width and not lines[-1].endswith(("\n", "\r")):
        raise DataFormatError(
            path,
            f"the last row has {last[2]} of the header's {width} fields and the file does not "
            "end with a line break: the file looks truncated (a download or copy cut off "
            "mid-row). Download (or unzip) it again",
            line=last[0],
        )
    if not kept:
        raise DataFormatError(
            path,
            "the file holds its header but no data rows: it was cut short or saved without "
            "its rows; download (or unzip) it again",
            line=1,
        )
    text = "".join(lines[: records[0][1]] + [line for start, end in kept for line in lines[start - 1 : end]])
    frame = pd.read_csv(io.StringIO(text), dtype={"Path": str, "Sex": str, "Frontal/Lateral": str})
    if len(frame) != len(kept):
        raise DataFormatError(
            path, f"pandas reads {len(frame)} rows but the file holds {len(kept)} records; re-export it as a plain CSV"
        )
    frame.index = pd.Index([start for start, _ in kept], name="line")
    if "Path" in frame.columns:
        no_path = frame["Path"].isna().to_numpy() | (frame["Path"].str.strip() == "").to_numpy()
        if no_path.any():
            raise DataFormatError(
                path,
                "the row has no Path (the image file) but other fields; fill in its Path or delete the line",
                line=int(frame.index[np.argmax(no_path)]),
            )
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataFormatError(
            path,
            f"missing column {missing[0]!r} (required: {', '.join(REQUIRED_COLUMNS)}); is this a CheXpert train.csv/valid.csv?",
            line=1,
        )
    frame.attrs["source"] = str(path)
    encode_labels(frame)
    _check_row_count(Path(path), len(frame))
    return frame


def _check_delimiter(path: Path | str, header: str) -> None:
    """A header without commas but with tabs or semicolons: the file is no comma-separated CSV."""
    if "," in header:
        return
    for delimiter, name, source in (
        ("\t", "tabs", 'a spreadsheet\'s "Unicode text" or "Text (tab delimited)"'),
        (";", "semicolons", 'a European spreadsheet\'s "CSV"'),
    ):
        if delimiter in header:
            raise DataFormatError(
                path,
                f"the header is separated by {name}, not commas ({source} export?); save the "
                'file as "CSV UTF-8 (comma delimited)", or use the CSV from the CheXpert '
                "archive",
                line=1,
            )


def _check_row_count(path: Path, n: int) -> None:
    """Warn when a real ``train.csv``/``valid.csv`` (by its name and folder's; not the demo's, which
    has a ``latents.csv`` beside it) holds fewer rows than the release: cut at a line boundary?"""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    expected = REAL_ROWS.get(name)
    if (
        expected is None
        or n >= expected
        or path.parent.name not in (FOLDER_NAME, FULL_FOLDER_NAME)
        or (path.parent / LATENTS_FILE).exists()
    ):
        return
    warnings.warn(
        f"{path} holds {n:,} data rows, but {path.parent.name}'s {name} has {expected:,}: the file may "
        "have been cut short at a line break (an interrupted download or unzip). Unless you trimmed it on "
        "purpose, download (or unzip) it again",
        stacklevel=3,
    )


def _records(path: Path | str, lines: list[str]) -> list[tuple[int, int, int, bool]]:
    """(first line, last line, number of fields, all cells empty) of each CSV record. Without a quote
    character every line is one record (the real files: fast); otherwise :mod:`csv` parses them."""
    if not any('"' in line for line in lines):
        return [(i, i, line.count(",") + 1, not line.strip(", \t\r\n")) for i, line in enumerate(lines, start=1)]
    records = list(csv_records(path, lines))
    ends = [start - 1 for start, _ in records[1:]] + [len(lines)]
    return [(start, end, len(row), is_empty_row(row)) for (start, row), end in zip(records, ends)]


def encode_labels(frame: pd.DataFrame) -> np.ndarray:
    """Class indices ``(n, 5)`` int64 of the five tasks (uncertain 0, negative 1, positive 2, blank -100).

    An unknown value raises DataFormatError naming the CSV, the line and the value.

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """
    out = np.full((len(frame), len(TASK_COLUMNS)), IGNORE_INDEX, dtype=np.int64)
    for t, column in enumerate(TASK_COLUMNS):
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = raw.notna().to_numpy() & ~values.isin(list(LABEL_TO_CLASS)).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            source, line, which = _where(frame, i)
            raise DataFormatError(
                source,
                f"{which}column {column!r} has label value {str(raw.iloc[i])!r}; allowed are 1.0 (positive), "
                "0.0 (negative), -1.0 (uncertain) or blank: correct that cell",
                line=line,
            )
        for value, cls in LABEL_TO_CLASS.items():
            out[(values == value).to_numpy(), t] = cls
    return out


def _where(frame: pd.DataFrame, position: int) -> tuple[str, int | None, str]:
    """(file, line, "") of the row at ``position`` of a frame read by :func:`read_chexpert_csv`, whose
    index is the line; for any other frame ("<DataFrame>", None, "row <index>: ")."""
    if "source" in frame.attrs:
        return frame.attrs["source"], int(frame.index[position]), ""
    return "<DataFrame>", None, f"row {frame.index[position]!r}: "


def _dataset_folder(parts: tuple[str, ...]) -> bool:
    """Whether the first of a ``Path``'s parts names the dataset's folder (``CheXpert-v1.0-small``,
    ``CheXpert-v1.0``, or any name before ``train/``, ``valid/`` or ``test/``)."""
    return bool(parts) and (
        parts[0] in (FOLDER_NAME, FULL_FOLDER_NAME)
        or (len(parts) > 2 and parts[1] in _SPLIT_FOLDERS and parts[0] not in _SPLIT_FOLDERS)
    )


def image_path(root: Path | str, path_value: str) -> Path:
    """File of a ``Path`` value: CSV paths start with the dataset's folder name
    (``CheXpert-v1.0-small/train/...``, or ``CheXpert-v1.0/train/...`` in the full-size release),
    which is replaced by ``root``, so that the folder may have any name and either release's CSV
    finds the images of the folder in use."""
    parts = PurePosixPath(path_value).parts
    return Path(root, *parts[1:]) if _dataset_folder(parts) else Path(root, *parts)


def _bad_image(frame: pd.DataFrame, position: int, path: Path, problem: str, advice: str) -> DataFormatError:
    source, line, which = _where(frame, position)
    return DataFormatError(source, f"{which}image {path} (Path {frame['Path'].iloc[position]!r}) {problem}; {advice}", line=line)


def _missing_image(frame: pd.DataFrame, position: int, path: Path, root: Path | str | None = None) -> DataFormatError:
    advice = "the image folders train/ and valid/ must sit next to the CSV files"
    parts = PurePosixPath(frame["Path"].iloc[position]).parts
    if root is not None and parts and {parts[0], Path(root).name} == {FOLDER_NAME, FULL_FOLDER_NAME}:
        advice += (
            f"; the CSV's Path names the release {parts[0]!r} but the images are looked for in "
            f"{Path(root).name!r} ({root}): a CSV of the other release? Its images have the same names below "
            "train/ and valid/; check that they are there, or use the CSV that came with these images"
        )
    return _bad_image(frame, position, path, "does not exist", advice)


_RECOPY = "copy it again from the CheXpert-v1.0-small archive (unzip it again), or delete the line"


def _unreadable_image(frame: pd.DataFrame, position: int, path: Path, err: Exception) -> DataFormatError:
    return _bad_image(frame, position, path, f"cannot be read as an image ({type(err).__name__}: {err})", _RECOPY)


def check_image_files(frame: pd.DataFrame, root: Path | str) -> None:
    """Raise DataFormatError, naming the CSV line and the file, for the first row whose image is
    missing, empty (0 bytes) or not a readable image (PIL identifies and verifies its header and,
    for PNG, its chunks; a file cut short inside the pixel data shows only when it is decoded, which
    :class:`ChexpertDataset` reports the same way)."""
    for position, value in enumerate(frame["Path"]):
        path = image_path(root, value)
        if not path.is_file():
            raise _missing_image(frame, position, path, root)
        if path.stat().st_size == 0:
            raise _bad_image(frame, position, path, "is empty (0 bytes)", _RECOPY)
        try:
            with Image.open(path) as image:
                image.verify()
        except (OSError, SyntaxError, ValueError) as err:
            raise _unreadable_image(frame, position, path, err) from None


def select_subset(
    frame: pd.DataFrame, n_male: int = 10_000, n_female: int = 10_000, seed: int = 0, frontal_only: bool = False
) -> pd.DataFrame:
    """The paper's 20,000-image subset (Appendix A.2): ``n_male`` rows with Sex "Male" and
    ``n_female`` with Sex "Female", drawn without replacement; deterministic for a seed and CSV.

    The paper neither gives its draw nor says whether lateral views were excluded; we keep all
    views (it counts "images") unless ``frontal_only=True``. Rows come back in CSV order.
    """
    pool = frame[frame["Frontal/Lateral"] == "Frontal"] if frontal_only else frame
    rng = np.random.default_rng(seed)
    chosen = []
    for sex, n in (("Male", n_male), ("Female", n_female)):
        candidates = pool.index[pool["Sex"] == sex].to_numpy()
        if len(candidates) < n:
            views = "frontal rows" if frontal_only else "rows"
            raise ValueError(
                f"select_subset: need {n} {views} with Sex {sex!r} but "
                f"{frame.attrs.get('source', 'the DataFrame')} has {len(candidates)}; "
                f"lower n_{sex.lower()}"
            )
        chosen.append(rng.choice(candidates, size=n, replace=False))
    return frame.loc[np.sort(np.concatenate(chosen))]


def fold_indices(n: int, n_folds: int = 5, seed: int = 0) -> list[np.ndarray]:
    """``n_folds`` disjoint, sorted position arrays covering ``range(n)`` (a seeded permutation split
    into near-equal parts): the five non-overlapping folds of §5.1."""
    if not 1 < n_folds <= n:
        raise ValueError(f"need 1 < n_folds <= n, got n_folds={n_folds}, n={n}")
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, n_folds)]


def image_transform(image_size: int = 320, train: bool = False) -> transforms.Compose:
    """Appendix A.2: grayscale → resize to ``image_size``² (320 in the paper) → [training only:
    horizontal flip, p=0.3] → 3 channels → ImageNet normalisation. Gives ``(3, S, S)`` float tensors."""
    steps = [transforms.Grayscale(1), transforms.Resize((image_size, image_size))]
    if train:
        steps.append(transforms.RandomHorizontalFlip(p=FLIP_P))
    steps += [transforms.Grayscale(3), transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return transforms.Compose(steps)


class ChexpertDataset(Dataset):
    """``(image (3, S, S), labels LongTensor(5))`` per row of a CheXpert DataFrame.

    Images are read lazily from ``image_path(root, Path)``; a missing or undecodable one raises
    DataFormatError naming the CSV line and the file. With ``in_memory=True`` each image is decoded and resized once
    and kept as ``uint8`` (S² bytes per image: 18 MB for the demo's 8,000 at 48 px); later reads
    apply the flip, the channel copy and the normalisation to that array, which gives the same
    tensors as the file path (same flip draws from torch's generator) at several times the speed.

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """

    def __init__(
        self, frame: pd.DataFrame, root: Path | str, image_size: int = 320, train: bool = False, in_memory: bool = False
    ):
        self.frame, self.root = frame, Path(root)
        self.labels = torch.from_numpy(encode_labels(frame))
        # the file path's transform, or (in memory) the one resize applied when an image is first decoded
        self.transform = None if in_memory else image_transform(image_size, train)
        self._resize = transforms.Resize((image_size, image_size)) if in_memory else None
        self.image_size, self.train = image_size, train
        self._decoded: dict[int, torch.Tensor] | None = {} if in_memory else None
        self._mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.frame)

    def _open(self, position: int) -> Image.Image:
        """The decoded image of row ``position``; a missing or unreadable file is a DataFormatError
        naming the image and its CSV line."""
        path = image_path(self.root, self.frame["Path"].iloc[position])
        try:
            with Image.open(path) as image:
                image.load()
                return image
        except FileNotFoundError:
            raise _missing_image(self.frame, position, path, self.root) from None
        except (OSError, SyntaxError, ValueError) as err:
            raise _unreadable_image(self.frame, position, path, err) from None

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._decoded is None:
            return self.transform(self._open(position)), self.labels[position]
        pixels = self._decoded.get(position)
        if pixels is None:
            resized = self._resize(self._open(position).convert("L"))
            pixels = self._decoded[position] = torch.from_numpy(np.array(resized, dtype=np.uint8))
        if self.train and torch.rand(1) < FLIP_P:  # RandomHorizontalFlip's draw
            pixels = pixels.flip(-1)
        tensor = (pixels.to(torch.float32) / 255.0).expand(3, -1, -1)
        return (tensor - self._mean) / self._std, self.labels[position]


# --------------------------------------------------------------------------- label statistics


def real_train_csv() -> Path:
    """The real CheXpert-v1.0-small ``train.csv`` (labels only, 223,414 rows) shipped in torchxrayvision.

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """
    spec = importlib.util.find_spec("torchxrayvision")
    if spec is None or spec.origin is None:
        raise MissingDataError(
            "the real CheXpert label table ships with the PyPI package torchxrayvision; "
            "install it (pip install torchxrayvision==1.5.7, see requirements.txt)"
        )
    path = Path(spec.origin).parent / "data" / "chexpert_train.csv.gz"
    if not path.is_file():
        raise MissingDataError(
            f"{path} is missing from the installed torchxrayvision; reinstall it "
            "(pip install --force-reinstall torchxrayvision==1.5.7)"
        )
    return path


@lru_cache(maxsize=1)
def _count_labels() -> pd.DataFrame:
    frame = pd.read_csv(real_train_csv(), usecols=list(TASK_COLUMNS))
    counts = {
        name: [(frame[c] == v).sum() for c in TASK_COLUMNS]
        for name, v in (("positive", 1.0), ("negative", 0.0), ("uncertain", -1.0))
    }
    counts["blank"] = [frame[c].isna().sum() for c in TASK_COLUMNS]
    return pd.DataFrame(counts, index=pd.Index(TASK_COLUMNS, name="task")).astype(np.int64)


def real_label_frequencies() -> pd.DataFrame:
    """Counts per task (rows) of positive / negative / uncertain / blank (columns) in the real
    CheXpert-v1.0-small ``train.csv`` (223,414 rows) that ships in torchxrayvision.

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """
    return _count_labels().copy()


# --------------------------------------------------------------------------- demo

LATENTS_FILE = "latents.csv"  # the demo's generator factors per image (not in the real format)
# Demo latent factors: what the synthetic image shows, and the five task scores built from them.
_FACTORS = ("heart", "fluid", "opacity", "collapse")
# Score of each task = MIXING @ factors (rows of unit norm, so every score is N(0, 1)); the shared
# factors give the tasks the correlated structure a multi-task head can exploit.
_MIXING = np.array(
    [
        [0.0, 0.6, 0.0, 0.8],  # Atelectasis: volume loss, with fluid
        [1.0, 0.0, 0.0, 0.0],  # Cardiomegaly: heart shadow
        [0.0, 0.0, 0.8, 0.6],  # Consolidation: focal opacity, with volume loss
        [0.6, 0.8, 0.0, 0.0],  # Edema: congestion = heart + fluid (and a perihilar haze)
        [0.0, 1.0, 0.0, 0.0],  # Pleural Effusion: basal fluid
    ]
)
_LABEL_NOISE = 0.5  # std of the reader noise added to each score before thresholding


def _demo_labels(scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """CheXpert values (1.0 / 0.0 / -1.0 / NaN) from noisy scores, with the real frequencies.

    Per task, the labelled fractions of negative / uncertain / positive are the real ones and the
    classes are consecutive score ranges: negative below, uncertain on the borderline, positive
    above. Blanks are drawn independently with the real blank rate.
    """
    freq = real_label_frequencies()
    noisy = scores + _LABEL_NOISE * rng.standard_normal(scores.shape)
    std = float(np.hypot(1.0, _LABEL_NOISE))
    labels = np.empty(scores.shape)
    for t, column in enumerate(TASK_COLUMNS):
        row = freq.loc[column]
        labelled = row["negative"] + row["uncertain"] + row["positive"]
        cuts = [
            NormalDist(0, std).inv_cdf(q) for q in (row["negative"] / labelled, (row["negative"] + row["uncertain"]) / labelled)
        ]
        labels[:, t] = np.select([noisy[:, t] < cuts[0], noisy[:, t] < cuts[1]], [0.0, -1.0], 1.0)
        labels[rng.random(len(scores)) < row["blank"] / row.sum(), t] = np.nan
    return labels


def _ellipse(u: np.ndarray, v: np.ndarray, cu, cv, ru, rv) -> np.ndarray:
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def _squash(x: np.ndarray) -> np.ndarray:
    """A factor mapped to a drawing strength in (0, 1)."""
    return 1.0 / (1.0 + np.exp(-2.0 * x))


def _demo_images(factors: np.ndarray, edema: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 ``(n, size, size)`` frontal "radiographs" drawn from the latent factors (bright = dense):
    thorax with ribs and two dark lung fields; a heart shadow whose width grows with ``heart``; a
    fluid layer at both lung bases whose height grows with ``fluid``; a focal opacity in the right
    upper lung whose density grows with ``opacity``; a horizontal band in the left lower lung with
    ``collapse``; a perihilar haze with the edema score; plus contrast jitter and pixel noise."""
    n = len(factors)
    v, u = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    heart, fluid, opacity, collapse = (factors[:, [i]][:, :, None].astype(np.float32) for i in range(4))
    lungs = (_ellipse(u, v, 0.3, 0.45, 0.17, 0.32) | _ellipse(u, v, 0.7, 0.45, 0.17, 0.32)).astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)).astype(np.float32)
    img = np.where(_ellipse(u, v, 0.5, 0.5, 0.46, 0.49), 0.5, 0.08).astype(np.float32)
    img = img + 0.05 * np.sin(2 * np.pi * 7 * v + phase) * (img > 0.1)
    img = img * (1 - lungs) + 0.18 * lungs
    base = 0.77 - np.clip(0.08 + 0.05 * fluid, 0.0, 0.25)
    img += 0.35 * lungs / (1.0 + np.exp(-(v - base) * size / 2))
    img += 0.15 * _squash(edema[:, None, None]) * lungs * np.exp(-((u - 0.5) ** 2) / 0.04)
    jitter = rng.normal(0.0, 0.03, (n, 2, 1, 1)).astype(np.float32)
    centre_u, centre_v = 0.3 + jitter[:, 0], 0.35 + jitter[:, 1]
    img += 0.35 * _squash(opacity) * np.exp(-((u - centre_u) ** 2 + (v - centre_v) ** 2) / 0.01)
    band = (np.abs(v - 0.62) < 0.025) & (np.abs(u - 0.7) < 0.1)
    img += 0.3 * _squash(collapse) * band
    heart_width = np.clip(0.13 + 0.035 * heart, 0.06, 0.24)
    img = np.where(((u - 0.56) / heart_width) ** 2 + ((v - 0.66) / 0.13) ** 2 <= 1.0, 0.72, img)
    img = img * rng.uniform(0.9, 1.1, (n, 1, 1)) + rng.normal(0.0, 0.02, (n, 1, 1))
    img += rng.normal(0.0, 0.03, img.shape)
    return (np.clip(img, 0.0, 1.0) * 255).round().astype(np.uint8)


def make_chexpert_demo(out_dir: Path | str, n_samples: int = 2000, image_size: int = 64, seed: int = 0) -> Path:
    """Write a synthetic ``CheXpert-v1.0-small`` folder under ``out_dir`` and return its path.

    It holds ``train.csv`` in the real format (all 19 columns; the five tasks as 1.0/0.0/-1.0/blank,
    the other nine observations blank) and one grayscale PNG per row at ``Path``. The generator:
    four latent factors per image (heart, fluid, opacity, collapse) ~ N(0, 1) draw the image
    (:func:`_demo_images`); each task's score is a fixed mix of them (``_MIXING``); reader noise is
    added and the score is cut into negative / uncertain / positive so that the labelled class
    fractions and the blank rate per task equal the real ``train.csv`` counts
    (:func:`real_label_frequencies`). Sex, Age and AP/PA follow the real marginals roughly; every
    view is frontal. Deterministic for a seed; load it with ``load_chexpert(root=...)``.

    Beside ``train.csv`` it writes ``latents.csv`` (``Path`` and the four factors), which is not
    part of the real format: what the attainable ceiling of the demo is computed from
    (:mod:`qmtl_utils.studies.references`).

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """
    rng = np.random.default_rng(seed)
    factors = rng.standard_normal((n_samples, len(_FACTORS)))
    scores = factors @ _MIXING.T
    frame = pd.DataFrame(
        {
            "Path": [f"{FOLDER_NAME}/train/patient{i + 1:05d}/study1/view1_frontal.png" for i in range(n_samples)],
            "Sex": np.where(rng.random(n_samples) < 0.594, "Male", "Female"),  # real: 59.4 % male
            "Age": np.clip(rng.normal(60.0, 18.0, n_samples), 18, 90).round().astype(int),
            "Frontal/Lateral": "Frontal",
            "AP/PA": np.where(rng.random(n_samples) < 0.85, "AP", "PA"),
            **{c: np.nan for c in OBSERVATIONS},
        }
    )
    frame[list(TASK_COLUMNS)] = _demo_labels(scores, rng)
    images = _demo_images(factors, scores[:, TASK_COLUMNS.index("Edema")], image_size, rng)
    root = Path(out_dir) / FOLDER_NAME
    for value, pixels in zip(frame["Path"], images):
        path = image_path(root, value)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, compress_level=1)
    write_csv(frame, root / "train.csv")
    write_csv(pd.DataFrame({"Path": frame["Path"], **dict(zip(_FACTORS, factors.T))}), root / LATENTS_FILE)
    return root
