"""What every data loader shares: where data lives, the two errors a user can act on, and how a
text file is read.

**Line numbers.** Every loader message names a place in a file as ``line N of FILE``: the 1-based
line of the file as an editor shows it, the header (where there is one) being line 1; a record
spanning several lines (a quoted cell with a line break) is named by its first line.

**Encoding.** Data files are read as UTF-8 (a leading byte-order mark is dropped), line by line:
a file saved in another encoding (cp1252, what Windows spreadsheet software writes) is a
:class:`DataFormatError` naming the line and byte, never a guess at the encoding.
"""

from __future__ import annotations

import csv
import gzip
import os
import shlex
from pathlib import Path
from typing import Iterable, Iterator

from qmtl_utils.runtime.paths import repo_root


class MissingDataError(FileNotFoundError):
    """Data that is not there (or cannot be downloaded here). The message says what to get,
    where from, and where to put it."""


class DataFormatError(ValueError):
    """Data that is there but malformed. The message names the file (as ``line N of FILE`` where a
    line is known, see the module docstring) and what is wrong."""

    def __init__(self, path: Path | str, problem: str, line: int | None = None):
        where = f"{path}" if line is None else f"line {line} of {path}"
        super().__init__(f"{where}: {problem}")
        self.path, self.line, self.problem = Path(path), line, problem


def _not_utf8(path: Path | str, number: int, raw: bytes, offset: int) -> DataFormatError:
    """The error for byte ``raw[offset]`` of line ``number`` (its bytes ``raw``), which is not UTF-8."""
    column = len(raw[:offset].decode("utf-8", errors="replace")) + 1
    name = shlex.quote(str(path))
    fixed = shlex.quote(f"{path}.utf8")
    return DataFormatError(
        path, f"byte 0x{raw[offset]:02X} (column {column}) is not UTF-8: the file was saved in another "
              "encoding, most likely cp1252 (what Windows spreadsheet software writes). Re-save it as UTF-8 "
              f"(a spreadsheet's \"CSV UTF-8\" format, or `iconv -f cp1252 -t utf-8 {name} > {fixed}` "
              f"and `mv {fixed} {name}`) and load it again", line=number)


def _open(path: Path | str):
    """The file in binary; a ``*.gz`` file decompressed (as pandas does)."""
    return (gzip.open if str(path).endswith(".gz") else open)(path, "rb")


def text_lines(path: Path | str) -> Iterator[str]:
    """The lines of a UTF-8 text file, one at a time (for large files), line ends kept (``\r\n``
    too, so :mod:`csv` can read them as from a file opened with ``newline=""``) and a leading
    byte-order mark dropped; a ``*.gz`` file is decompressed first.

    A byte that is not UTF-8 raises :class:`DataFormatError` naming the file, the line and column
    of the first such byte, and saying how to re-save the file as UTF-8.
    """
    with _open(path) as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise _not_utf8(path, number, raw, err.start) from None
            yield text[1:] if number == 1 and text.startswith("\ufeff") else text


def read_text(path: Path | str) -> str:
    """A whole UTF-8 text file, decoded at once, with the checks and errors of :func:`text_lines`."""
    with _open(path) as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        start = data.rfind(b"\n", 0, err.start) + 1
        end = data.find(b"\n", err.start)
        raise _not_utf8(path, data.count(b"\n", 0, err.start) + 1, data[start: None if end < 0 else end],
                        err.start - start) from None
    return text[1:] if text.startswith("\ufeff") else text


def csv_records(path: Path | str, lines: Iterable[str] | None = None,
                **reader_options) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of each record of a CSV/TSV file read by :func:`text_lines` (so a file that
    is not UTF-8 is a clear error), or of its ``lines`` already read: ``line`` is the record's first
    line in the file, 1-based. ``reader_options`` go to :func:`csv.reader` (e.g. ``delimiter="\t"``)."""
    reader = csv.reader(text_lines(path) if lines is None else lines, **reader_options)
    line = 1
    for row in reader:
        yield line, row
        line = reader.line_num + 1


def is_empty_row(row: list[str]) -> bool:
    """A CSV/TSV record without content: a blank line, or cells that are all empty or whitespace
    (what a spreadsheet exports for an empty row, e.g. ``,,,,,``)."""
    return not any(cell.strip() for cell in row)


def data_dir() -> Path:
    """Root of user-provided data: ``$QMTL_DATA_DIR`` or ``data/`` in the repository."""
    return Path(os.environ.get("QMTL_DATA_DIR", repo_root() / "data"))


def hub_offline() -> bool:
    """True when Hugging Face hub downloads are switched off (``HF_HUB_OFFLINE=1``/``HF_DATASETS_OFFLINE=1``)."""
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes")
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
