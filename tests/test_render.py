"""Executed notebooks as HTML (qmtl_utils.runtime.render): one page per executed copy with its
figures embedded, an index linking every page in order, and nothing rendered again unless its
executed copy (or the renderer) changed."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import nbformat
import pytest

from qmtl_utils.runtime import render


def png(width: int = 3, height: int = 2) -> str:
    """A real PNG (grey pixels), base64, as a notebook stores an image output."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return base64.b64encode(data).decode()


def executed_copy(path: Path, title: str, text: str = "hello") -> Path:
    """A notebook as papermill leaves it: a heading, a code cell with printed text and a figure."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot()", execution_count=1)
    cell.outputs = [
        nbformat.v4.new_output("stream", text=text),
        nbformat.v4.new_output("display_data", data={"image/png": png(), "text/plain": "<Figure>"}),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\nSome words."), cell]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def links(index: Path) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', index.read_text(encoding="utf-8"))


@pytest.fixture
def pages(tmp_path):
    runs = tmp_path / "runs" / "smoke"
    return [
        render.Page(executed_copy(runs / "00_prep.ipynb", "00 · Data"), "00_prep", "", "up to date"),
        render.Page(executed_copy(runs / "03_train-glue.ipynb", "03 · Training"), "03_train", "benchmark=glue", "stale"),
    ]


def test_pages_and_an_index_that_links_every_page_in_order(tmp_path, pages):
    folder = tmp_path / "runs" / "smoke" / "html"
    done = render.render(pages, folder, "smoke", notes=["05_noise: CheXpert not found"])
    assert done.written == ["00_prep.html", "03_train-glue.html"] and done.index_written
    assert links(done.index) == ["00_prep.html", "03_train-glue.html"]
    index = done.index.read_text(encoding="utf-8")
    assert "00 · Data" in index and "03 · Training" in index and "benchmark=glue" in index and "stale" in index
    assert "05_noise: CheXpert not found" in index
    page = (folder / "03_train-glue.html").read_text(encoding="utf-8")
    assert "<title>03 · Training (smoke)</title>" in page
    assert f'src="data:image/png;base64,{png()}"' in page  # the figure, embedded
    assert "hello" in page and 'href="index.html"' in page  # the output, and the way back


def test_a_second_render_with_nothing_changed_writes_nothing(tmp_path, pages):
    folder = tmp_path / "html"
    render.render(pages, folder, "smoke")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = render.render(pages, folder, "smoke")
    assert again.written == [] and again.removed == [] and not again.index_written
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_nothing_changed_imports_neither_nbconvert_nor_nbformat(tmp_path, pages):
    folder = tmp_path / "html"
    render.render(pages, folder, "smoke")
    listed = [(str(p.notebook), p.stage, p.label, p.status) for p in pages]
    code = (
        "import sys; from pathlib import Path; from qmtl_utils.runtime import render; "
        f"pages = [render.Page(Path(p), s, l, t) for p, s, l, t in {listed!r}]; "
        f"done = render.render(pages, Path({str(folder)!r}), 'smoke'); "
        "assert not done.written and not done.index_written; "
        "heavy = {'nbconvert', 'nbformat'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_only_a_changed_copy_is_rendered_again_and_a_gone_one_is_removed(tmp_path, pages):
    folder = tmp_path / "html"
    render.render(pages, folder, "smoke")
    executed_copy(pages[1].notebook, "03 · Training", text="new output")
    again = render.render(pages, folder, "smoke")
    assert again.written == ["03_train-glue.html"] and not again.index_written  # same titles, same index
    assert "new output" in (folder / "03_train-glue.html").read_text(encoding="utf-8")

    pages[1].notebook.unlink()  # an execution no longer there: its page and its index row go
    gone = render.render(pages, folder, "smoke")
    assert gone.removed == ["03_train-glue.html"] and gone.index_written
    assert links(gone.index) == ["00_prep.html"] and not (folder / "03_train-glue.html").exists()


def test_a_new_renderer_renders_everything_again(tmp_path, pages, monkeypatch):
    folder = tmp_path / "html"
    render.render(pages, folder, "smoke")
    monkeypatch.setattr(render, "LAYOUT_VERSION", render.LAYOUT_VERSION + 1)
    assert render.render(pages, folder, "smoke").written == ["00_prep.html", "03_train-glue.html"]


def test_a_deleted_page_is_rendered_again(tmp_path, pages):
    folder = tmp_path / "html"
    render.render(pages, folder, "smoke")
    (folder / "00_prep.html").unlink()
    assert render.render(pages, folder, "smoke").written == ["00_prep.html"]


def test_an_unreadable_copy_is_named(tmp_path, pages):
    pages[0].notebook.write_text("{ not json")
    with pytest.raises(render.RenderError, match="00_prep.ipynb"):
        render.render(pages, tmp_path / "html", "smoke")
    record = json.loads((tmp_path / "html" / render.RECORD).read_text())
    assert record["pages"] == {}  # nothing claimed as rendered


def test_title_is_the_first_heading():
    assert (
        render.notebook_title(
            {
                "cells": [
                    {"cell_type": "code", "source": "# a comment"},
                    {"cell_type": "markdown", "source": ["Intro\n", "## 02 · Heads\n"]},
                ]
            }
        )
        == "02 · Heads"
    )
    assert render.notebook_title({"cells": []}) == ""
