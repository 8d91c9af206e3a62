"""Warnings in executed notebooks: the companion's own deliberate messages, or noise from the environment.

A reader of an executed notebook should see the warnings the companion issues on purpose, because
they are about the science (the CheXpert backbone starts from random weights, unlike the paper; a
device snapshot is a stand-in; a cache entry was invalid and recomputed), and no other: a
package's deprecation notice, tqdm's "IProgress not found" or a library's complaint about its
configuration says something about our environment, not about the paper, and has to be fixed
where it arises (a pin, a setting), not left for the reader.

A deliberate message is a Python warning issued from the ``qmtl_utils`` package whose category is
``UserWarning`` or one of the package's own ``...Warning`` classes. Every other line of a stream
output that names a ``...Warning`` (or says ``WARNING``) is reported.
"""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "qmtl_utils"
# "path/to/file.py:123: SomeWarning: message", as warnings.showwarning formats it
HEADER = re.compile(r"^(?P<source>\S+\.py):\d+: (?P<category>\w*Warning): ")
MENTION = re.compile(r"\b\w*Warning\b|\bWARNING\b")


def own_categories(package: Path = PACKAGE) -> set[str]:
    """``UserWarning`` and every warning class the package defines (``class NameWarning(...)``)."""
    defined = {
        m for path in package.rglob("*.py") for m in re.findall(r"^class (\w+Warning)\(", path.read_text(encoding="utf-8"), re.M)
    }
    return {"UserWarning", *defined}


def is_deliberate(source: str, category: str, categories: set[str]) -> bool:
    """Whether a warning header names the companion's own message: issued from ``qmtl_utils``
    (not from an installed copy under site-packages) with one of its categories."""
    parts = Path(source).parts
    return "qmtl_utils" in parts and "site-packages" not in parts and category in categories


def stream_text(output: dict) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else text


def environment_warnings(notebook: dict, categories: set[str] | None = None) -> list[str]:
    """``"cell N: line"`` for every warning line in the notebook's stream outputs (stdout and
    stderr) that is not one of the companion's deliberate messages. The line after a deliberate
    warning's header (the indented source line Python echoes) belongs to it."""
    categories = own_categories() if categories is None else categories
    found = []
    for index, cell in enumerate(notebook.get("cells", [])):
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream":
                continue
            lines = stream_text(output).splitlines()
            skip_echo = False
            for line in lines:
                header = HEADER.match(line)
                if header:
                    skip_echo = is_deliberate(header["source"], header["category"], categories)
                    if not skip_echo:
                        found.append(f"cell {index}: {line}")
                    continue
                if skip_echo and line.startswith((" ", "\t")):
                    skip_echo = False
                    continue
                skip_echo = False
                if MENTION.search(line):
                    found.append(f"cell {index}: {line}")
    return found
