"""``python -m qmtl_utils.data.fetch`` against a local HTTP server on 127.0.0.1, offline and fast.

The server (a random port, in a thread) serves real-format fixtures made here: MUStARD's
``sarcasm_data.json`` (id → utterance, speaker, context, context_speakers, show, sarcasm) and
``split_indices.p`` (a protocol-2 pickle of (train, test) numpy index arrays), the SE-MUStARD sheet
as CSV (context rows, target row, blank row between groups; served without Content-Length, as
Google's export is), GLUE's original-distribution zips for RTE and MNLI, and MSR's MRPC file with
GLUE's dev ids. A test registry points at it: no test touches a real URL. The server can also cut a
body short after announcing its Content-Length, or serve an HTML error page instead of the file.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import pickle
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from qmtl_utils.data import fetch as fe
from qmtl_utils.data import glue
from qmtl_utils.data import mustard as mu
from qmtl_utils.data.glue_demo import make_glue_demo

REPO = Path(__file__).resolve().parents[1]

UTTERANCES = {  # id -> (speaker, utterance, context, sarcasm, show), in file order
    "1_60": (
        "SHELDON",
        "It's just a privilege to watch your mind at work.",
        ["I never would have identified the fingerprints of string theory.", "My apologies. What's your plan?"],
        True,
        "BBT",
    ),
    "1_70": ("PENNY", "I don't think I'll be able to stop thinking about it.", ["You'll think about it?"], True, "BBT"),
    "1_80": (
        "SHELDON",
        "Since it's not bee season, you can have my epinephrine.",
        ["Here we go. Pad thai, no peanuts."],
        False,
        "BBT",
    ),
    "2_17": ("MONICA", "Oh, I'll be fine.", ["Are you okay?"], False, "FRIENDS"),
    "2_25": ("CHANDLER", "Great. Just great.", ["Is that the new couch?"], True, "FRIENDS"),
    "2_30": ("ROSS", "Sure, see you there.", ["Are you coming tonight?"], False, "FRIENDS"),
}
LABELS = {
    "1_60": (-1, 1, 5, 7),
    "1_70": (-1, 0, "4,1", 4),
    "1_80": (0, 0, 4, 9),
    "2_17": (1, 1, 6, 6),
    "2_25": (-1, 1, 2, 1),
    "2_30": (0, -1, 8, 3),
}  # sentiment implicit/explicit, emotion implicit/explicit
FOLDS = ([3, 0], [5], [1], [4], [2])
HTML = b"<!DOCTYPE html><html><head><title>Error 404 (Not Found)</title></head><body>Not found</body></html>\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sarcasm_json() -> bytes:
    entries = {
        key: {
            "utterance": utt,
            "speaker": speaker,
            "context": context,
            "context_speakers": ["LEONARD"] * len(context),
            "show": show,
            "sarcasm": sarcasm,
        }
        for key, (speaker, utt, context, sarcasm, show) in UTTERANCES.items()
    }
    return (json.dumps(entries, indent=4) + "\n").encode("utf-8")


def split_pickle() -> bytes:
    n = len(UTTERANCES)
    splits = [(np.setdiff1d(np.arange(n), test).astype(np.int64), np.array(test, dtype=np.int64)) for test in FOLDS]
    return pickle.dumps(splits, protocol=2)


def annotation_csv() -> bytes:
    lines = [",".join(mu.ANNOTATION_COLUMNS)]
    for key, (speaker, utt, context, sarcasm, show) in UTTERANCES.items():
        for turn in context:
            lines.append(f'{key},LEONARD,"{turn}",{show},,,,,')
        si, se, ei, ee = LABELS[key]
        lines.append(f'{key},{speaker},"{utt}",{show},{str(sarcasm).upper()},{si},{se},"{ei}",{ee}')
        lines.append(",,,,,,,,")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def glue_zip(task: str, root: Path) -> bytes:
    """GLUE's zip for ``task``: the task folder's train/dev TSVs (from the demo, in the original
    layout) plus a test.tsv, as the distribution has."""
    folder = glue._SCHEMAS[task].folder
    glue.write_glue_dir(make_glue_demo(n_per_task=30, tasks=(task,)), root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("train.tsv", *glue._SCHEMAS[task].dev_files):
            zf.write(root / folder / name, f"{folder}/{name}")
        zf.writestr(f"{folder}/test.tsv", "index\tsentence1\tsentence2\n0\tA test premise.\tA hypothesis.\n")
    return buffer.getvalue()


MRPC_ROWS = [
    ("1", "702876", "702977", "Amrozi accused his brother.", "Referring to him, Amrozi accused his brother."),
    ("0", "2108705", "2108831", "Yucaipa owned Dominick's.", "Yucaipa bought Dominick's in 1995."),
    ("1", "1330381", "1330521", "They had published an advertisement.", "They published an ad."),
    ("0", "3344667", "3344648", "Around 0335 GMT, Tab shares were up.", "Tab shares jumped 20 cents."),
    ("1", "1236820", "1236712", "The stock rose $2.11.", "PG&E shares rose $2.11."),
    ("1", "738533", "737951", "The DVD-CCA then appealed.", "The DVD CCA appealed that decision."),
]
MRPC_DEV = [("2108705", "2108831"), ("738533", "737951")]


def msr_train() -> bytes:
    lines = ["\t".join(fe.MRPC_HEADER)] + ["\t".join(row) for row in MRPC_ROWS]
    return b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8")


# --------------------------------------------------------------------------- the server


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        state = self.server.state
        name = self.path.lstrip("/")
        state.hits[name] += 1
        body, mode = state.files.get(name), state.modes.get(name, "ok")
        if body is None:
            self.send_error(404)
            return
        if mode == "html":
            body = HTML
        self.send_response(200)
        if mode != "no-length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncate":  # announce the whole length, send half, close
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server:
    def __init__(self, files: dict[str, bytes]):
        self.files, self.modes, self.hits = dict(files), {}, Counter()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.state = self
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("glue-src")
    return {
        "sarcasm_data.json": sarcasm_json(),
        "split_indices.p": split_pickle(),
        "export.csv": annotation_csv(),
        "RTE.zip": glue_zip("rte", root),
        "MNLI.zip": glue_zip("mnli", root),
        "mrpc_dev_ids.tsv": "".join(f"{a}\t{b}\n" for a, b in MRPC_DEV).encode(),
        "msr_paraphrase_train.txt": msr_train(),
    }


@pytest.fixture
def server(files, monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is never tried for real
    srv = Server(files)
    srv.modes["export.csv"] = "no-length"
    yield srv
    srv.close()


def registry(srv: Server, files: dict[str, bytes], *, record_json: bool = True, base: str | None = None) -> fe.Registry:
    """The test registry: sarcasm_data.json with a recorded sha256, the other two MUStARD files
    without (structure + lock); GLUE RTE and MNLI zips and MRPC's two files with theirs."""
    base = base or srv.base
    n = len(UTTERANCES)

    def zipped(task: str, name: str) -> fe.GlueDist:
        return fe.GlueDist(
            task,
            (
                fe.Source(
                    f"GLUE {name}",
                    f"{base}/{name}",
                    f"{fe.DOWNLOADS}/{name}",
                    sha(files[name]),
                    len(files[name]),
                    fe.check_zip(fe._glue_members(task)),
                ),
            ),
        )

    return fe.Registry(
        mustard=(
            fe.Source(
                "MUStARD sarcasm_data.json",
                f"{base}/sarcasm_data.json",
                "mustard/sarcasm_data.json",
                sha256=sha(files["sarcasm_data.json"]) if record_json else None,
                check=fe.check_sarcasm_json(n),
                page="https://example.org/mustard",
            ),
            fe.Source(
                "MUStARD split_indices.p",
                f"{base}/split_indices.p",
                "mustard/split_indices.p",
                check=fe.check_split_indices(n),
                page="https://example.org/mustard",
            ),
            fe.Source(
                "SE-MUStARD annotation sheet",
                f"{base}/export.csv",
                f"mustard/{fe.ANNOTATION_FILE}",
                check=fe.check_annotation_csv,
                page="https://example.org/sheet",
                pinned=False,
            ),
        ),
        glue={
            "rte": zipped("rte", "RTE.zip"),
            "mnli": zipped("mnli", "MNLI.zip"),
            "mrpc": fe.GlueDist(
                "mrpc",
                (
                    fe.Source(
                        "GLUE mrpc_dev_ids.tsv",
                        f"{base}/mrpc_dev_ids.tsv",
                        f"{fe.DOWNLOADS}/mrpc_dev_ids.tsv",
                        sha(files["mrpc_dev_ids.tsv"]),
                        check=fe.check_mrpc_dev_ids,
                    ),
                    fe.Source(
                        "MSR msr_paraphrase_train.txt",
                        f"{base}/msr_paraphrase_train.txt",
                        f"{fe.DOWNLOADS}/msr_paraphrase_train.txt",
                        sha(files["msr_paraphrase_train.txt"]),
                        check=fe.check_mrpc_train,
                    ),
                ),
                build="mrpc",
            ),
        },
    )


def run(dest: Path, reg: fe.Registry, lines: list[str] | None = None, **kwargs) -> list[fe.Fetched]:
    kwargs.setdefault("glue_tasks", ("rte", "mnli", "mrpc"))
    kwargs.setdefault("glue_source", "dist")
    kwargs.setdefault("timeout", 2.0)
    return fe.fetch(dest, registry=reg, say=(lines.append if lines is not None else lambda line: None), **kwargs)


def leftovers(root: Path) -> list[Path]:
    """Files that must never stay behind: partial downloads, staging folders."""
    return [p for p in root.rglob("*") if p.name.endswith(".part") or p.name.startswith(".staging")]


# --------------------------------------------------------------------------- good runs


def test_a_good_fetch_places_checked_files_that_the_loaders_read(server, files, tmp_path):
    dest, lines = tmp_path / "data", []
    done = run(dest, registry(server, files), lines)

    folder = dest / "mustard"
    for name in ("sarcasm_data.json", "split_indices.p"):
        assert (folder / name).read_bytes() == files[name]
    assert (folder / fe.ANNOTATION_FILE).read_bytes() == files["export.csv"]
    assert leftovers(dest) == [] and not (dest / fe.DOWNLOADS).exists()  # the zips went once extracted

    lock = json.loads((dest / fe.LOCK_FILE).read_text())["files"]
    assert lock["mustard/sarcasm_data.json"]["sha256"] == sha(files["sarcasm_data.json"])
    assert lock["mustard/sarcasm_data.json"]["recorded"] is True
    assert lock["mustard/split_indices.p"] == {
        **lock["mustard/split_indices.p"],
        "recorded": False,
        "sha256": sha(files["split_indices.p"]),
        "size": len(files["split_indices.p"]),
        "url": server.url("split_indices.p"),
    }
    assert lock[f"mustard/{fe.ANNOTATION_FILE}"]["sha256"] == sha(files["export.csv"])
    for path in (dest / "glue_data" / "MNLI").iterdir():
        assert lock[f"glue_data/MNLI/{path.name}"]["sha256"] == fe.sha256_of(path)[1]

    data = mu.load_mustard(folder, require_features=False, expected=len(UTTERANCES))
    assert data.ids == tuple(UTTERANCES) and data.labels["sarcasm"].tolist() == [1, 1, 0, 0, 1, 0]
    assert data.labels["emotion_implicit"].tolist() == [4, 3, 3, 5, 1, 7]
    assert mu.read_split_indices(folder / "split_indices.p", len(UTTERANCES))[0].tolist() == [3, 0]

    loaded = glue.load_glue_dir(dest / "glue_data", ["rte", "mnli", "mrpc"])
    demo = make_glue_demo(n_per_task=30, tasks=("rte", "mnli"))
    for task in ("rte", "mnli"):
        assert loaded[task].train["text_a"].tolist() == demo[task].train["text_a"].tolist()
        assert loaded[task].validation["label"].tolist() == demo[task].validation["label"].tolist()
    assert sorted(p.name for p in (dest / "glue_data" / "MNLI").iterdir()) == [
        "dev_matched.tsv",
        "dev_mismatched.tsv",
        "train.tsv",
    ]
    mrpc = loaded["mrpc"]  # MSR's train file split by GLUE's dev ids, as download_glue_data.py did
    assert mrpc.validation["text_a"].tolist() == ["Yucaipa owned Dominick's.", "The DVD-CCA then appealed."]
    assert len(mrpc.train) == 4 and mrpc.train["label"].tolist() == [1, 1, 0, 1]

    assert all(re.search(r" → \S+  [\d,]+ bytes  sha256 [0-9a-f]{64}  \S", line) for line in lines if "bytes" in line)
    # 3 MUStARD files; RTE's zip and 2 TSVs, MNLI's zip and 3, MRPC's 2 downloads and 2 TSVs
    assert sum(" ok" in line for line in lines) == len(done) == 3 + 3 + 4 + 4
    assert any(line.startswith(server.url("sarcasm_data.json") + " ") and line.endswith("  ok") for line in lines)
    assert any("not pinnable" in line for line in lines)
    assert any("check: load_mustard reads 6 utterances" in line for line in lines)
    assert any("datasetTrue_original.zip" in line and "drive.google.com" in line for line in lines)
    assert any("CheXpert" in line and "licence" in line for line in lines)


def test_a_second_run_downloads_nothing_and_verify_passes(server, files, tmp_path):
    dest = tmp_path / "data"
    reg = registry(server, files)
    run(dest, reg)
    server.hits.clear()
    stamp = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}

    lines = []
    done = run(dest, reg, lines)
    assert sum(server.hits.values()) == 0
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()} == stamp
    assert len(done) == 3 + 3 + 2 + 2 and all(d.status.startswith("already present, checksum ok") for d in done)
    assert fe.verify(dest, registry=reg, glue_tasks=("rte", "mnli", "mrpc"), say=lambda line: None)
    assert sum(server.hits.values()) == 0


def test_files_laid_out_by_hand_are_checked_and_locked(server, files, tmp_path):
    dest = tmp_path / "data"
    (dest / "mustard").mkdir(parents=True)
    (dest / "mustard" / "split_indices.p").write_bytes(files["split_indices.p"])
    glue.write_glue_dir(make_glue_demo(n_per_task=30, tasks=("rte",)), dest / "glue_data")
    lines = []
    run(dest, registry(server, files), lines, glue_tasks=("rte",))
    assert server.hits["split_indices.p"] == 0 and server.hits["RTE.zip"] == 0
    assert sum("already present, structure ok, sha256 locked" in line for line in lines) == 3
    lock = json.loads((dest / fe.LOCK_FILE).read_text())["files"]
    assert lock["mustard/split_indices.p"]["sha256"] == sha(files["split_indices.p"])
    assert lock["glue_data/RTE/train.tsv"]["url"] == "found in place (GLUE rte)"


def test_a_distribution_zip_put_by_hand_is_checked_unpacked_and_removed(server, files, tmp_path, monkeypatch):
    monkeypatch.setattr(glue, "hub_reachable", lambda *a, **k: pytest.fail("the local zip comes first"))
    dest = tmp_path / "data"
    (dest / fe.DOWNLOADS).mkdir(parents=True)
    (dest / fe.DOWNLOADS / "RTE.zip").write_bytes(files["RTE.zip"])
    lines = []
    run(dest, registry(server, files), lines, only=["glue"], glue_tasks=("rte",), glue_source="auto")
    assert sum(server.hits.values()) == 0 and not (dest / fe.DOWNLOADS).exists()
    assert any("RTE.zip" in line and "already present, checksum ok" in line for line in lines)
    assert len(glue.load_glue_dir(dest / "glue_data", ["rte"])["rte"].validation) == 6


# --------------------------------------------------------------------------- failures leave nothing behind


def assert_nothing_saved(dest: Path, name: str) -> None:
    assert not (dest / "mustard" / name).exists()
    assert leftovers(dest) == []


def test_a_truncated_download_is_an_error_and_leaves_nothing(server, files, tmp_path):
    dest = tmp_path / "data"
    server.modes["split_indices.p"] = "truncate"
    with pytest.raises(fe.FetchError) as err:
        run(dest, registry(server, files), only=["mustard"])
    message = str(err.value)
    assert "truncated" in message and server.url("split_indices.p") in message
    assert f"{len(files['split_indices.p']) // 2:,} of the {len(files['split_indices.p']):,} bytes" in message
    assert str(dest / "mustard" / "split_indices.p") in message  # where to put it by hand
    assert_nothing_saved(dest, "split_indices.p")
    assert (dest / "mustard" / "sarcasm_data.json").exists()  # what came before stays, checked


def test_a_truncated_zip_of_the_distribution_leaves_nothing(server, files, tmp_path):
    dest = tmp_path / "data"
    server.modes["RTE.zip"] = "truncate"
    with pytest.raises(fe.FetchError, match="truncated"):
        run(dest, registry(server, files), only=["glue"], glue_tasks=("rte",))
    assert not (dest / "glue_data" / "RTE").exists() and leftovers(dest) == []
    assert not list((dest / fe.DOWNLOADS).glob("*")) if (dest / fe.DOWNLOADS).exists() else True


def test_a_corrupted_file_fails_its_recorded_checksum(server, files, tmp_path):
    dest = tmp_path / "data"
    server.modes["sarcasm_data.json"] = "corrupt"
    with pytest.raises(fe.FetchError) as err:
        run(dest, registry(server, files), only=["mustard"])
    message = str(err.value)
    corrupted = bytes([files["sarcasm_data.json"][0] ^ 0xFF]) + files["sarcasm_data.json"][1:]
    assert "checksum mismatch" in message and server.url("sarcasm_data.json") in message
    assert sha(files["sarcasm_data.json"]) in message and sha(corrupted) in message
    assert_nothing_saved(dest, "sarcasm_data.json")
    assert not (dest / fe.LOCK_FILE).exists()


@pytest.mark.parametrize(
    "name, dest_name",
    [("sarcasm_data.json", "sarcasm_data.json"), ("split_indices.p", "split_indices.p"), ("export.csv", fe.ANNOTATION_FILE)],
)
def test_an_html_page_instead_of_the_file_fails_its_validator(server, files, tmp_path, name, dest_name):
    dest = tmp_path / "data"
    server.modes[name] = "html"
    with pytest.raises(fe.FetchError) as err:
        run(dest, registry(server, files, record_json=False), only=["mustard"])
    message = str(err.value)
    assert server.url(name) in message and "HTML page" in message and "Nothing was saved" in message
    assert_nothing_saved(dest, dest_name)
    assert fe.ANNOTATION_FILE not in (dest / fe.LOCK_FILE).read_text() if (dest / fe.LOCK_FILE).exists() else True


def test_a_wrong_count_fails_the_structural_check(server, files, tmp_path):
    reg = registry(server, files, record_json=False)
    source = reg.mustard[0]
    reg = fe.Registry((fe.Source(source.name, source.url, source.dest, check=fe.check_sarcasm_json(690)),), {})
    with pytest.raises(fe.FetchError, match="6 utterances, expected 690"):
        run(tmp_path / "data", reg, only=["mustard"])
    assert_nothing_saved(tmp_path / "data", "sarcasm_data.json")


def test_an_unreachable_url_fails_fast_naming_url_and_where_to_put_the_file(server, files, tmp_path):
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    dest = tmp_path / "data"
    start = time.monotonic()
    with pytest.raises(fe.FetchError) as err:
        run(dest, registry(server, files, base=closed), only=["mustard"])
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert f"{closed}/sarcasm_data.json" in message and "offline" in message
    assert f"put it at {dest / 'mustard' / 'sarcasm_data.json'}" in message
    assert "https://example.org/mustard" in message  # the page to get it from
    assert not (dest / "mustard" / "sarcasm_data.json").exists() and leftovers(dest) == []


def test_a_part_file_left_by_a_killed_run_is_not_taken_as_complete(server, files, tmp_path):
    dest = tmp_path / "data"
    part = dest / "mustard" / "split_indices.p.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(files["split_indices.p"])  # even a complete-looking one
    with pytest.raises(fe.FetchError, match=r"3 problem.*split_indices\.p is missing"):
        fe.verify(dest, registry=registry(server, files), only=["mustard"], say=lambda line: None)
    lines = []
    run(dest, registry(server, files), lines, only=["mustard"])
    assert server.hits["split_indices.p"] == 1
    assert any("incomplete download left by an earlier run" in line for line in lines)
    assert (dest / "mustard" / "split_indices.p").read_bytes() == files["split_indices.p"]
    assert leftovers(dest) == []


def test_an_interrupted_download_leaves_nothing(server, files, tmp_path, monkeypatch):
    def interrupt(self, done, total):
        raise KeyboardInterrupt

    monkeypatch.setattr(fe._Fetcher, "_progress", interrupt)
    dest = tmp_path / "data"
    with pytest.raises(KeyboardInterrupt):
        run(dest, registry(server, files), only=["mustard"])
    assert not (dest / "mustard" / "sarcasm_data.json").exists() and leftovers(dest) == []


def test_a_changed_file_is_caught_by_its_lock_and_force_relocks_it(server, files, tmp_path):
    dest = tmp_path / "data"
    reg = registry(server, files)
    run(dest, reg, only=["mustard"])
    target = dest / "mustard" / "split_indices.p"
    target.write_bytes(pickle.dumps([(np.arange(1), np.arange(6))] * 5, protocol=2))  # edited by hand
    with pytest.raises(fe.FetchError) as err:
        run(dest, reg, only=["mustard"])
    assert "locked in" in str(err.value) and sha(files["split_indices.p"]) in str(err.value)
    with pytest.raises(fe.FetchError, match="1 problem"):
        fe.verify(dest, registry=reg, only=["mustard"], say=lambda line: None)

    new = pickle.dumps(pickle.loads(files["split_indices.p"]), protocol=4)  # the source changed (still valid)
    server.files["split_indices.p"] = new
    target.unlink()
    with pytest.raises(fe.FetchError, match="the source changed"):
        run(dest, reg, only=["mustard"])
    assert not target.exists() and leftovers(dest) == []
    lines = []
    run(dest, reg, lines, only=["mustard"], force=True)
    assert target.read_bytes() == new and any("lock updated" in line for line in lines)
    assert json.loads((dest / fe.LOCK_FILE).read_text())["files"]["mustard/split_indices.p"]["sha256"] == sha(new)


def test_a_present_file_with_the_wrong_recorded_checksum_stops(server, files, tmp_path):
    dest = tmp_path / "data"
    (dest / "mustard").mkdir(parents=True)
    (dest / "mustard" / "sarcasm_data.json").write_text("{}")
    with pytest.raises(fe.FetchError, match="already there but it is not the file"):
        run(dest, registry(server, files), only=["mustard"])
    assert (dest / "mustard" / "sarcasm_data.json").read_text() == "{}"  # a user's file is never deleted


# --------------------------------------------------------------------------- GLUE's hub route


def test_hf_hub_offline_makes_the_hub_route_fail_fast_and_says_what_to_do(server, files, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(glue, "hub_reachable", lambda *a, **k: pytest.fail("no connection may be tried"))
    start = time.monotonic()
    with pytest.raises(fe.FetchError) as err:
        run(tmp_path / "data", registry(server, files), only=["glue"], glue_tasks=("rte",), glue_source="hub")
    assert time.monotonic() - start < 2
    message = str(err.value)
    assert "HF_HUB_OFFLINE=1" in message and "unset HF_HUB_OFFLINE" in message and "--glue-source dist" in message
    assert str(tmp_path / "data" / "glue_data" / "RTE" / "train.tsv") in message

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(fe.FetchError) as err:  # auto: the distribution is tried too, and fails fast as well
        run(tmp_path / "data", registry(server, files, base=closed), only=["glue"], glue_tasks=("rte",), glue_source="auto")
    assert "HF_HUB_OFFLINE=1" in str(err.value) and f"{closed}/RTE.zip" in str(err.value)
    assert time.monotonic() - start < 6


def test_auto_falls_back_to_the_distribution_when_the_hub_is_off(server, files, tmp_path):
    lines = []
    run(tmp_path / "data", registry(server, files), lines, only=["glue"], glue_tasks=("rte",), glue_source="auto")
    assert any("falling back to the original distribution" in line for line in lines)
    assert glue.load_glue_dir(tmp_path / "data" / "glue_data", ["rte"])["rte"].train.shape[0] > 0


def test_the_hub_route_writes_the_original_layout(server, files, tmp_path, monkeypatch):
    """With the hub answering (stubbed here), the tasks from load_glue_hub are written by
    write_glue_dir; MNLI's dev files split at validation_matched's true size, not in halves."""
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    pytest.importorskip("datasets")
    demo = make_glue_demo(n_per_task=30, tasks=("mnli", "sst2"))
    demo["sst2"].train.loc[0, "text_a"] = "a line\nbreak\tand a tab"
    monkeypatch.setattr(glue, "hub_reachable", lambda timeout=3.0: True)
    monkeypatch.setattr(glue, "load_glue_hub", lambda tasks, cache_dir=None: {t: demo[t] for t in tasks})
    monkeypatch.setattr(fe, "_mnli_matched_rows", lambda: 2)
    dest, lines = tmp_path / "data", []
    run(dest, registry(server, files), lines, only=["glue"], glue_tasks=("mnli", "sst2"), glue_source="hub")
    assert sum(server.hits.values()) == 0
    loaded = glue.load_glue_dir(dest / "glue_data", ["mnli", "sst2"])
    assert loaded["mnli"].validation["label"].tolist() == demo["mnli"].validation["label"].tolist()
    matched = (dest / "glue_data" / "MNLI" / "dev_matched.tsv").read_text().splitlines()
    assert len(matched) == 1 + 2
    assert loaded["sst2"].train["text_a"][0] == "a line break and a tab"
    assert any("1 text(s) held a tab or line break" in line for line in lines)
    lock = json.loads((dest / fe.LOCK_FILE).read_text())["files"]
    assert lock["glue_data/MNLI/dev_mismatched.tsv"]["url"] == "hub:nyu-mll/glue/mnli"
    assert leftovers(dest) == []


# --------------------------------------------------------------------------- the command line, the registry


def test_the_cli_exits_0_then_2_with_one_paragraph_and_no_traceback(server, files, tmp_path, capsys):
    dest = str(tmp_path / "data")
    reg = registry(server, files)
    assert fe.main(["--only", "mustard", "--dest", dest, "--timeout", "2"], registry=reg) == 0
    out = capsys.readouterr().out
    assert "already present" not in out and out.count(" ok") >= 3

    assert fe.main(["--only", "mustard", "--dest", dest], registry=reg) == 0
    assert capsys.readouterr().out.count("already present, checksum ok") == 3

    server.modes["split_indices.p"] = "truncate"
    other = str(tmp_path / "other")
    assert fe.main(["--only", "mustard", "--dest", other, "--timeout", "2"], registry=reg) == 2
    err = capsys.readouterr().err
    assert err.startswith("fetch: error: download of") and "Traceback" not in err and "\n\n" not in err.strip()

    assert fe.main(["--only", "glue", "--glue-tasks", "rte,nope", "--dest", other], registry=reg) == 2
    assert "unknown GLUE task(s) nope" in capsys.readouterr().err


def test_python_dash_m_verify_on_an_empty_folder(tmp_path):
    """The real module entry point and registry, touching no network: --verify only reads."""
    result = subprocess.run(
        [sys.executable, "-m", "qmtl_utils.data.fetch", "--verify", "--only", "mustard", "--dest", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "3 problem(s)" in result.stderr
    assert str(tmp_path / "mustard" / "sarcasm_data.json") in result.stderr


def test_the_default_registry():
    reg = fe.REGISTRY
    assert set(reg.glue) == set(glue.GLUE_TASKS)
    by_name = {Path(s.dest).name: s for s in reg.mustard}
    for name in ("sarcasm_data.json", "split_indices.p"):
        assert by_name[name].url == (f"https://raw.githubusercontent.com/soujanyaporia/MUStARD/{fe.MUSTARD_COMMIT}/data/{name}")
        assert by_name[name].pinned and by_name[name].check is not None
    sheet = by_name[fe.ANNOTATION_FILE]
    assert not sheet.pinned and sheet.url.endswith("/export?format=csv") and "not pinnable" in sheet.note
    sources = [*reg.mustard, *(s for d in reg.glue.values() for s in d.sources)]
    for source in sources:  # a sha256 is recorded (64 hex digits) or not at all; never a placeholder
        assert source.sha256 is None or (len(source.sha256) == 64 and int(source.sha256, 16) >= 0)
        assert source.check is not None and source.url.startswith("https://")
    assert reg.glue["mnli"].sources[0].url == "https://dl.fbaipublicfiles.com/glue/data/MNLI.zip"
    assert reg.glue["mrpc"].build == "mrpc" and len(reg.glue["mrpc"].sources) == 2
    assert "fetch-lock.json" in fe.__doc__ and "to be filled in by a maintainer" in fe.__doc__


def test_the_split_validator_refuses_a_pickle_that_would_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "split_indices.p"
    path.write_bytes(pickle.dumps([Evil()], protocol=2))
    with pytest.raises(ValueError, match="not only to numpy arrays"):
        fe.check_split_indices(6)(path)
