"""The executed notebooks of a profile as HTML pages with an index, for reading without running.

After a successful ``run_all.sh``, every executed copy in ``runs/<profile>/`` is rendered with
nbconvert (JupyterLab's look, figures embedded) to ``runs/<profile>/html/<name>.html``, and
``runs/<profile>/html/index.html`` lists them in stage order with each notebook's title, its
execution's parameters and its stage's status. A page is rendered again only when its executed copy
changed (the sha256 of its bytes, recorded in ``html/rendered.json``) or the renderer did; the index
is written only when its text changed. With nothing changed nothing is written, and neither
nbconvert nor nbformat is imported.

Not imported by any notebook: editing this module leaves every stage's stamp and cache key as it is.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from qmtl_utils.runtime import paths

INDEX = "index.html"
RECORD = "rendered.json"
# part of every page's stamp: bump it when the page layout below changes
LAYOUT_VERSION = 1
NAV_CLASS = "qmtl-nav"


class RenderError(Exception):
    """A notebook could not be rendered (the message names it)."""


@dataclass(frozen=True)
class Page:
    """One executed copy to render.

    Args:
        notebook: the executed copy (``runs/<profile>/<name>.ipynb``).
        stage: its stage notebook's stem (``03_training``).
        label: the execution's parameters beyond the profile (``"benchmark=glue"``), or ``""``.
        status: the stage's status when rendered (``up to date``, ``stale``, ...).
    """

    notebook: Path
    stage: str
    label: str = ""
    status: str = ""

    @property
    def html_name(self) -> str:
        return f"{self.notebook.stem}.html"


@dataclass
class Rendered:
    """What :func:`render` did: the pages it (re)wrote, the pages it removed, whether it wrote the index."""

    folder: Path
    written: list[str]
    removed: list[str]
    index_written: bool

    @property
    def index(self) -> Path:
        return self.folder / INDEX


def html_dir(profile: str) -> Path:
    """Where the pages of ``profile`` go: ``runs/<profile>/html`` (moves with ``QMTL_RUNS_DIR``)."""
    return paths.runs_dir(profile) / "html"


def _renderer() -> str:
    """The renderer's version: the pinned nbconvert's and this module's layout (no import needed)."""
    try:
        nbconvert = metadata.version("nbconvert")
    except metadata.PackageNotFoundError:
        nbconvert = "absent"
    return f"nbconvert {nbconvert}, layout {LAYOUT_VERSION}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_record(folder: Path) -> dict:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def notebook_title(nb: dict) -> str:
    """The first Markdown heading of a notebook (``# 02 · The heads`` -> ``02 · The heads``), else ``""``."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        for line in (source if isinstance(source, str) else "".join(source)).splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return ""


def _render_page(page: Page, title: str, profile: str) -> str:
    """One executed copy as a standalone HTML page (JupyterLab's template, images embedded), with a
    line linking back to the index."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(page.notebook, as_version=4)
    name = page.notebook.stem + (f" [{page.label}]" if page.label else "")
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(
        nb, resources={"metadata": {"name": f"{title or name} ({profile})"}}
    )
    start = body.find("<body")
    end = body.find(">", start) + 1
    if start < 0 or end <= 0:
        raise RenderError(f"{page.notebook.name}: nbconvert's page has no <body>")
    nav = (
        f'\n<p class="{NAV_CLASS}" style="margin: 1em 2em; font-family: sans-serif;">'
        f'<a href="{INDEX}">All notebooks of the {html.escape(profile)} profile</a> · '
        f"{html.escape(name)}</p>\n"
    )
    return body[:end] + nav + body[end:]


def index_page(profile: str, rows: list[dict], notes: list[str]) -> str:
    """The index: one row per page (stage, execution, title, status, link), then the notes (what
    this profile left out, and why)."""
    esc = html.escape
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        f'<head><meta charset="utf-8"/><title>QMTL companion: the executed notebooks ({esc(profile)})</title>',
        "<style>body { font-family: sans-serif; margin: 2em; max-width: 70em; } "
        "table { border-collapse: collapse; } td, th { border-bottom: 1px solid #ccc; padding: 0.3em 0.8em; "
        "text-align: left; }</style></head>",
        "<body>",
        f"<h1>QMTL companion: the executed notebooks, profile <code>{esc(profile)}</code></h1>",
        "<p>Written by <code>run_all.sh</code> from the executed copies in "
        f"<code>runs/{esc(profile)}/</code>; each page is the notebook with its outputs, as run.</p>",
        "<table>",
        "<tr><th>stage</th><th>execution</th><th>notebook</th><th>status</th></tr>",
    ]
    for row in rows:
        lines.append(
            f"<tr><td>{esc(row['stage'])}</td><td>{esc(row['label']) or '&nbsp;'}</td>"
            f'<td><a href="{esc(row["html"])}">{esc(row["title"] or row["html"])}</a></td>'
            f"<td>{esc(row['status'])}</td></tr>"
        )
    lines.append("</table>")
    if not rows:
        lines.append("<p>No executed notebook yet: run <code>bash run_all.sh</code>.</p>")
    if notes:
        lines.append("<h2>Not run under this profile</h2>")
        lines.append("<ul>" + "".join(f"<li>{esc(note)}</li>" for note in notes) + "</ul>")
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines)


def render(pages: list[Page], folder: Path, profile: str, notes: list[str] | None = None) -> Rendered:
    """Render ``pages`` (those whose executed copy exists) into ``folder`` and write its index.

    A page is rendered only when its executed copy's sha256 or the renderer differs from what
    ``folder/rendered.json`` recorded, or its HTML file is gone; pages of executed copies no longer
    listed are removed; the index is written only when its text changes. Raises
    :class:`RenderError` naming the notebook nbconvert failed on (pages already written are kept).
    """
    pages = [p for p in pages if p.notebook.is_file()]
    record = _read_record(folder)
    renderer = _renderer()
    previous = record.get("pages", {}) if isinstance(record.get("pages"), dict) else {}
    known = previous if record.get("renderer") == renderer else {}
    kept: dict[str, dict] = {}
    written: list[str] = []
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for page in pages:
            digest = _sha256(page.notebook)
            entry = known.get(page.html_name)
            if entry and entry.get("sha256") == digest and (folder / page.html_name).is_file():
                kept[page.html_name] = entry
                continue
            try:
                nb = json.loads(page.notebook.read_text(encoding="utf-8"))
                title = notebook_title(nb)
                _write_text(folder / page.html_name, _render_page(page, title, profile))
            except RenderError:
                raise
            except Exception as exc:  # noqa: BLE001 -- nbconvert's and json's errors alike, named
                raise RenderError(f"cannot render {_show(page.notebook)} to HTML: {type(exc).__name__}: {exc}") from exc
            kept[page.html_name] = {"sha256": digest, "title": title, "notebook": page.notebook.name}
            written.append(page.html_name)
    finally:  # what is on disk is recorded, also when a later page fails
        removed = sorted(set(previous) - set(kept) - {p.html_name for p in pages})
        for name in removed:
            (folder / name).unlink(missing_ok=True)
        new_record = {"renderer": renderer, "pages": kept}
        if new_record != record:
            _write_text(folder / RECORD, json.dumps(new_record, indent=1, sort_keys=True) + "\n")
    rows = [
        {"stage": p.stage, "label": p.label, "title": kept[p.html_name]["title"], "status": p.status, "html": p.html_name}
        for p in pages
    ]
    text = index_page(profile, rows, list(notes or []))
    index = folder / INDEX
    index_written = not index.is_file() or index.read_text(encoding="utf-8") != text
    if index_written:
        _write_text(index, text)
    return Rendered(folder, written, removed, index_written)


def _show(path: Path) -> str:
    """``path`` relative to the repository root where possible."""
    try:
        return Path(path).resolve().relative_to(paths.repo_root()).as_posix()
    except ValueError:
        return str(path)
