"""What every data loader shares: where data lives, the two errors a user can act on, and how a
text file is read.

**Line numbers.** Every loader message names a place in a file as ``line N of FILE``: the 1-based
line of the file as an editor shows it, the header (where there is one) being line 1; a record
spanning several lines (a quoted cell with a line break) is named by its first line.

**Encoding.** Data files are read as UTF-8 (a leading byte-order mark is dropped), line by line:
a file saved in another 8-bit encoding (cp1252, what Windows spreadsheet software writes) is a
:class:`DataFormatError` naming the line and byte, never a guess at the encoding. UTF-16 (what
Excel's "Unicode text" writes: a byte-order mark ``FF FE``/``FE FF``, or a NUL byte beside every
ASCII character) is recognised and decoded. A ZIP archive (an Excel workbook saved under a ``.csv``
name) and a gzip file without its ``.gz`` name are errors that say so.

**Line ends.** ``\\n``, ``\\r\\n`` and the old Mac ``\\r`` are all line ends (a file with ``\\r``
line ends is read as its editor shows it); a record that :mod:`csv` cannot split is an error naming
the line. **Compressed files:** a ``*.gz`` file is decompressed as it is read, and
:func:`with_gz` lets a loader take ``FILE.gz`` where only that is there.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
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


def _resave(path: Path | str, source: str) -> str:
    """The shell commands that convert ``path`` from encoding ``source`` to UTF-8 in place."""
    name, fixed = shlex.quote(str(path)), shlex.quote(f"{path}.utf8")
    return f"`iconv -f {source} -t utf-8 {name} > {fixed}` and `mv {fixed} {name}`"


def _not_utf8(path: Path | str, number: int, raw: bytes, offset: int) -> DataFormatError:
    """The error for byte ``raw[offset]`` of line ``number`` (its bytes ``raw``), which is not UTF-8."""
    column = len(raw[:offset].decode("utf-8", errors="replace")) + 1
    return DataFormatError(
        path,
        f"byte 0x{raw[offset]:02X} (column {column}) is not UTF-8: the file was saved in another "
        "encoding, most likely cp1252 (what Windows spreadsheet software writes). Re-save it as UTF-8 "
        f'(a spreadsheet\'s "CSV UTF-8" format, or {_resave(path, "cp1252")}) and load it again',
        line=number,
    )


def _open(path: Path | str):
    """The file in binary; a ``*.gz`` file decompressed (as pandas does)."""
    return (gzip.open if str(path).endswith(".gz") else open)(path, "rb")


def with_gz(path: Path | str) -> Path:
    """``path`` if it is a file; else ``path.gz`` if only that is there (the readers here decompress
    it as they read); else ``path`` (for the caller's "missing" error)."""
    path = Path(path)
    packed = path.with_name(path.name + ".gz")
    return packed if not path.is_file() and packed.is_file() else path


def _utf16(head: bytes) -> str | None:
    """The UTF-16 codec of a file starting with ``head``: a byte-order mark, or NUL bytes in every
    other position where ASCII text is (Excel's "Unicode text" without a mark); None otherwise."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even, odd = head[0 : 2 * pairs : 2].count(0), head[1 : 2 * pairs : 2].count(0)
    if odd >= 0.3 * pairs and even <= odd // 20:
        return "utf-16-le"
    if even >= 0.3 * pairs and odd <= even // 20:
        return "utf-16-be"
    return None


def _encoding(path: Path | str) -> str | None:
    """None for a file read as UTF-8, else its UTF-16 codec; a ZIP archive or an unnamed gzip file
    is a :class:`DataFormatError` that says what the file is."""
    with _open(path) as fh:
        head = fh.read(4096)
    if head.startswith(b"PK\x03\x04"):
        raise DataFormatError(
            path,
            "is a ZIP archive, not text: an Excel workbook (.xlsx) saved under this name, "
            'or an archive not unpacked. Save the sheet as "CSV UTF-8" (or unzip the '
            "archive) and load it again",
        )
    if head.startswith(b"\x1f\x8b"):
        name = shlex.quote(str(path))
        raise DataFormatError(
            path,
            f"is gzip-compressed, but its name does not end in .gz: rename it "
            f"(`mv {name} {shlex.quote(f'{path}.gz')}`, read as it is) or decompress it "
            f"(`gunzip -c < {name} > {shlex.quote(f'{path}.txt')}` and "
            f"`mv {shlex.quote(f'{path}.txt')} {name}`)",
        )
    return _utf16(head)


def _read_utf16(path: Path | str, codec: str) -> str:
    """A UTF-16 file decoded (its byte-order mark dropped); bytes that are not UTF-16 are a
    DataFormatError naming the line and saying how to convert the file to UTF-8."""
    with _open(path) as fh:
        data = fh.read()
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        start = err.start - err.start % 2
        before = data[:start].decode(codec, errors="replace")
        line = before.count("\n") + before.count("\r") - before.count("\r\n") + 1
        raise DataFormatError(
            path,
            f'the file is UTF-16 (Excel\'s "Unicode text"), but byte {err.start} is not valid '
            f"UTF-16 ({err.reason}): the file is damaged or cut short. Re-save it as UTF-8 "
            f'("CSV UTF-8", or {_resave(path, "utf-16")}) and load it again',
            line=line,
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _split_cr(raw: bytes) -> list[bytes]:
    """A line read up to ``\\n``, split further at each ``\\r`` that ends a line of its own (old Mac
    line ends; a whole file of them is one such "line"); a ``\\r\\n`` end stays one line end."""
    end = 2 if raw.endswith(b"\r\n") else 1 if raw.endswith((b"\n", b"\r")) else 0
    return raw.splitlines(keepends=True) if b"\r" in raw[: len(raw) - end] else [raw]


def text_lines(path: Path | str) -> Iterator[str]:
    """The lines of a UTF-8 text file, one at a time (for large files), line ends kept (``\r\n``
    too, so :mod:`csv` can read them as from a file opened with ``newline=""``) and a leading
    byte-order mark dropped; a ``*.gz`` file is decompressed first. Old Mac ``\\r`` line ends are
    line ends too; a UTF-16 file is decoded (see the module docstring).

    A byte that is not UTF-8 raises :class:`DataFormatError` naming the file, the line and column
    of the first such byte, and saying how to re-save the file as UTF-8.
    """
    codec = _encoding(path)
    if codec is not None:
        yield from io.StringIO(_read_utf16(path, codec), newline="")
        return
    number = 0
    with _open(path) as fh:
        for chunk in fh:
            for raw in _split_cr(chunk) if b"\r" in chunk else (chunk,):
                number += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise _not_utf8(path, number, raw, err.start) from None
                yield text[1:] if number == 1 and text.startswith("\ufeff") else text


def read_text(path: Path | str) -> str:
    """A whole UTF-8 text file, decoded at once, with the checks and errors of :func:`text_lines`."""
    codec = _encoding(path)
    if codec is not None:
        return _read_utf16(path, codec)
    with _open(path) as fh:
        data = fh.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start]
        start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
        ends = [i for i in (data.find(b"\n", err.start), data.find(b"\r", err.start)) if i >= 0]
        line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        raise _not_utf8(path, line, data[start : min(ends, default=None)], err.start - start) from None
    return text[1:] if text.startswith("\ufeff") else text


def csv_records(path: Path | str, lines: Iterable[str] | None = None, **reader_options) -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` of each record of a CSV/TSV file read by :func:`text_lines` (so a file that
    is not UTF-8 is a clear error), or of its ``lines`` already read: ``line`` is the record's first
    line in the file, 1-based. ``reader_options`` go to :func:`csv.reader` (e.g. ``delimiter="\t"``).
    A record :mod:`csv` cannot split is a :class:`DataFormatError` naming the line."""
    reader = csv.reader(text_lines(path) if lines is None else lines, **reader_options)
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            name, fixed = shlex.quote(str(path)), shlex.quote(f"{path}.fixed")
            if "new-line character" in str(err):
                raise DataFormatError(
                    path,
                    f"cannot be split into fields ({err}): a line break in the middle of a line (old Mac `\\r` "
                    f"line ends mixed with others?). Convert them (`tr '\\r' '\\n' < {name} > {fixed}` and "
                    f'`mv {fixed} {name}`, or re-save the file as "CSV UTF-8") and load it again',
                    line=max(line, reader.line_num),
                ) from None
            raise DataFormatError(
                path,
                f'the record starting here cannot be split into fields ({err}): a quote (") opened on this line '
                "and never closed takes in the lines after it? Close or remove that quote (or re-save the file "
                'as "CSV UTF-8") and load it again',
                line=line,
            ) from None
        yield line, row
        line = reader.line_num + 1


def sniff_delimiter(header: str, expected: Iterable[str], candidates: str = ",;\t") -> str:
    """The delimiter among ``candidates`` (comma, semicolon as a European spreadsheet writes, tab)
    that splits the ``header`` line into the most of the ``expected`` column names (compared
    without case or surrounding blanks; ties: the most fields, then the order of ``candidates``)."""
    wanted = {name.strip().upper() for name in expected}

    def score(delimiter: str) -> tuple[int, int]:
        cells = next(csv.reader([header.rstrip("\r\n")], delimiter=delimiter), [])
        return len(wanted & {cell.strip().upper() for cell in cells}), len(cells)

    return max(candidates, key=lambda d: (score(d), -candidates.index(d)))


def is_empty_row(row: list[str]) -> bool:
    """A CSV/TSV record without content: a blank line, or cells that are all empty or whitespace
    (what a spreadsheet exports for an empty row, e.g. ``,,,,,``)."""
    return not any(cell.strip() for cell in row)


def data_dir() -> Path:
    """Root of user-provided data: ``$QMTL_DATA_DIR`` or ``data/`` in the repository."""
    return Path(os.environ.get("QMTL_DATA_DIR", repo_root() / "data"))


def hub_offline() -> bool:
    """True when Hugging Face hub downloads are switched off (``HF_HUB_OFFLINE=1``/``HF_DATASETS_OFFLINE=1``)."""
    return any(os.environ.get(name, "").lower() in ("1", "true", "yes") for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
