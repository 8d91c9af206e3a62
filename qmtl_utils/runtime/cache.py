"""Content-keyed result cache: every stage result lives under a key derived from its inputs.

An entry is ``<root>/<stage>/<key[:20]>/`` holding payload files and a ``manifest.json``
(written last) that records the inputs, the sha256 and size of every payload file and free-form
``meta``. Entries are written into a temporary folder and renamed into place, so a reader sees
either a complete entry or none; an entry whose files do not match its manifest is moved aside
to ``.corrupt-*`` (never deleted) with a :class:`CacheCorruptionWarning` and recomputed.

Typical use in a notebook::

    cache = Cache.for_profile(profile)
    entry = cache.get_or_compute("heads", params, compute, code_version=code_fingerprint())
    df = entry.read_csv("metrics.csv")
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
import secrets
import shutil
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from qmtl_utils import __version__
from qmtl_utils.runtime import paths, stages

KEY_DIR_CHARS = 20
TMP_MAX_AGE_S = 3600.0
MANIFEST = "manifest.json"
_STAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TMP_RE = re.compile(r"^\.tmp-[0-9a-f]+-(\d+)-[0-9a-f]+$")

WriteFn = Callable[[Path], "dict[str, Any] | None"]


class CacheCorruptionWarning(UserWarning):
    """A cache entry failed its integrity check; it was moved aside and will be recomputed."""


class MissingCacheEntry(LookupError):
    """A result that an earlier notebook should have produced is not in the cache."""


class CacheDiskFull(OSError):
    """The disk holding the cache filled up while an entry was written (nothing was installed)."""


ENTRY_LOG = "QMTL_ENTRY_LOG"  # file run_all names: every entry a notebook computed or found is appended
FULL_HASH_BYTES = 256 << 20  # Cache.check hashes payload files up to this size and checks larger ones by size


def _log_entry(stage: str, key: str) -> None:
    target = os.environ.get(ENTRY_LOG)
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(f"{stage} {key}\n")


def _disk_full(exc: BaseException, where: Path) -> bool:
    """Whether ``exc`` (or what caused it) is a full disk: ENOSPC/EDQUOT, or a writer's opaque error
    (torch.save reports "unexpected pos") while less than 1 MB is free at ``where``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
    try:
        return shutil.disk_usage(where).free < (1 << 20)
    except OSError:
        return False


# --------------------------------------------------------------------------- keys


# sha256 of files this process has already hashed, by (path, size, mtime): an entry read many
# times in one session (GLUE's token features at the paper's size are tens of GB) is hashed once
_HASHED: dict[tuple[str, int, int], str] = {}


def _sha256_file(path: Path) -> str:
    stat = path.stat()
    memo = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if memo in _HASHED:
        return _HASHED[memo]
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    _HASHED[memo] = digest.hexdigest()
    return _HASHED[memo]


def _canonical(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON types; tuples -> lists, numpy -> python, Path -> str.

    Raises TypeError naming ``where`` (e.g. ``params['lr']``) for anything else.
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: dict key {key!r} is not a str")
            out[key] = _canonical(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Path):
        return value.as_posix()
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return _canonical(value.tolist(), where)
    raise TypeError(f"{where}: unsupported type {type(value).__name__} ({value!r}) in a cache key")


def make_key(stage: str, params: dict, upstream: Sequence[str] = (), code_version: str = "") -> str:
    """sha256 hex of the canonical JSON of the stage name, params, upstream keys and code version."""
    doc = {
        "stage": stage,
        "params": _canonical(params, "params"),
        "upstream": _canonical(list(upstream), "upstream"),
        "code_version": code_version,
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- writers


def write_csv(df: Any, path: Path) -> None:
    """Write a DataFrame without its index (creating parent folders)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")


def write_json(obj: Any, path: Path) -> None:
    """Write ``obj`` as indented, key-sorted JSON (numpy values and Paths allowed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=2, sort_keys=True, default=_canonical)
    Path(path).write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- entries


@dataclass
class Entry:
    """A complete, verified cache entry."""

    stage: str
    key: str
    path: Path
    manifest: dict

    def file(self, name: str) -> Path:
        """Path of payload file ``name``; FileNotFoundError if the entry has none."""
        path = self.path / name
        if name not in self.manifest.get("files", {}) or not path.is_file():
            held = ", ".join(sorted(self.manifest.get("files", {}))) or "nothing"
            raise FileNotFoundError(
                f"cache entry {self.stage}/{self.key[:12]} at {self.path} has no file {name!r} (it holds: {held})"
            )
        return path

    def has_file(self, name: str) -> bool:
        """Whether the entry's manifest lists payload file ``name``."""
        return name in self.manifest.get("files", {})

    def read_csv(self, name: str, **kwargs: Any) -> Any:
        """Payload CSV ``name`` as a pandas DataFrame."""
        import pandas as pd

        return pd.read_csv(self.file(name), **kwargs)

    def read_json(self, name: str) -> Any:
        """Payload JSON ``name``, parsed."""
        return json.loads(self.file(name).read_text(encoding="utf-8"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _hash_payload(folder: Path) -> dict[str, dict[str, Any]]:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name == MANIFEST:
            raise ValueError(f"{MANIFEST} is reserved for the cache; name the payload file differently")
        files[name] = {"sha256": _sha256_file(path), "bytes": path.stat().st_size}
    return files


def _problem(folder: Path, key: str, hash_up_to: float = float("inf")) -> tuple[dict | None, str | None]:
    """(manifest, None) if the entry at ``folder`` is complete and intact, else (None, what is wrong);
    payload files larger than ``hash_up_to`` bytes are checked by size only."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{MANIFEST} is missing (interrupted write?)"
    except (OSError, ValueError) as exc:
        return None, f"{MANIFEST} cannot be read: {exc}"
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return None, f"{MANIFEST} does not belong to key {key[:12]}"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return None, f"{MANIFEST} has no file list"
    for name, info in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            return None, f"payload file {name!r} is missing"
        size = path.stat().st_size
        if size != info.get("bytes") or (size <= hash_up_to and _sha256_file(path) != info.get("sha256")):
            return None, f"payload file {name!r} does not match its recorded size/sha256"
    return manifest, None


class Cache:
    """A content-keyed cache rooted at ``root`` (one folder per stage)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_profile(cls, profile: str) -> "Cache":
        """The cache of ``profile`` (``cache/<profile>``, see :func:`qmtl_utils.runtime.paths.cache_dir`)."""
        return cls(paths.cache_dir(profile))

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    def _stage_dir(self, stage: str) -> Path:
        if not _STAGE_RE.match(stage):
            raise ValueError(f"bad stage name {stage!r}: use letters, digits, '_', '-', '.'")
        return self.root / stage

    def _entry_dir(self, stage: str, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{%d,}" % KEY_DIR_CHARS, key):
            raise ValueError(f"bad cache key {key!r}: expected a sha256 hex digest from make_key")
        return self._stage_dir(stage) / key[:KEY_DIR_CHARS]

    def _quarantine(self, folder: Path, key: str, problem: str) -> None:
        stamp = _utc_now().strftime("%Y%m%dT%H%M%S%fZ")
        target = folder.parent / f".corrupt-{key[:KEY_DIR_CHARS]}-{stamp}"
        try:
            os.rename(folder, target)
        except FileNotFoundError:  # another process moved it first
            return
        warnings.warn(
            f"cache entry {folder} is invalid ({problem}); moved it to {target} and will recompute",
            CacheCorruptionWarning,
            stacklevel=3,
        )

    def get(self, stage: str, key: str) -> Entry | None:
        """The verified entry for ``key``, or None (an invalid entry is moved to ``.corrupt-*``)."""
        folder = self._entry_dir(stage, key)
        if not folder.exists():
            return None
        manifest, problem = _problem(folder, key)
        if problem:
            self._quarantine(folder, key, problem)
            return None
        return Entry(stage, key, folder, manifest)

    def put(
        self,
        stage: str,
        key: str,
        write_fn: WriteFn,
        *,
        params: dict,
        upstream: Sequence[str] = (),
        code_version: str = "",
        meta: dict | None = None,
    ) -> Entry:
        """Run ``write_fn(tmpdir)`` and atomically install its files as the entry for ``key``.

        ``write_fn`` may return a dict merged into the manifest's ``meta`` (with ``wall_s``).
        """
        final = self._entry_dir(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".tmp-{key[:KEY_DIR_CHARS]}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            tmp.mkdir()
        except OSError as exc:
            if _disk_full(exc, final.parent):
                raise CacheDiskFull(
                    errno.ENOSPC,
                    f"no space left on the disk holding the cache ({self.root}) to "
                    f"write a {stage!r} entry; free some space and rerun",
                    str(final.parent),
                ) from exc
            raise
        try:
            start = time.perf_counter()
            extra = write_fn(tmp)
            if extra is not None and not isinstance(extra, dict):
                raise TypeError(
                    f"the compute function for {stage!r} returned {type(extra).__name__}, expected a meta dict or None"
                )
            wall_s = round(time.perf_counter() - start, 3)
            manifest = {
                "stage": stage,
                "key": key,
                "params": _canonical(params, "params"),
                "upstream": list(upstream),
                "code_version": code_version,
                "created": _utc_now().isoformat(timespec="seconds"),
                "qmtl_utils": __version__,
                "python": platform.python_version(),
                "files": _hash_payload(tmp),
                "meta": _canonical({"wall_s": wall_s, **(meta or {}), **(extra or {})}, "meta"),
            }
            _write_json_atomic(manifest, tmp / MANIFEST)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, Exception) and not isinstance(exc, CacheDiskFull) and _disk_full(exc, final.parent):
                free = shutil.disk_usage(final.parent).free
                raise CacheDiskFull(
                    errno.ENOSPC,
                    f"the disk holding the cache ({self.root}) is full ({free:,} bytes free) while "
                    f"writing a {stage!r} entry ({type(exc).__name__}: {exc}); nothing was installed and the "
                    "partial files were removed. Free some space (or point QMTL_CACHE_DIR elsewhere) and rerun: "
                    "finished entries are kept",
                    str(final.parent),
                ) from exc
            raise
        return self._install(tmp, final, stage, key, manifest)

    def _install(self, tmp: Path, final: Path, stage: str, key: str, manifest: dict) -> Entry:
        existing = self.get(stage, key)  # moves an invalid final dir aside
        if existing is None:
            try:
                os.rename(tmp, final)
                return Entry(stage, key, final, manifest)
            except OSError:  # a concurrent writer installed it between get() and rename()
                existing = self.get(stage, key)
                if existing is None:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
        shutil.rmtree(tmp, ignore_errors=True)
        return existing

    def clean_tmp(self) -> int:
        """Remove leftover ``.tmp-*`` folders whose writer process is gone.

        A folder whose writer pid cannot be read from its name is removed once older than an
        hour; one whose writer is still alive is kept however old (it may be a long computation).
        """
        removed = 0
        for tmp in self.root.glob("*/.tmp-*"):
            match = _TMP_RE.match(tmp.name)
            if match:
                stale = not _pid_alive(int(match.group(1)))
            else:
                try:
                    stale = time.time() - tmp.stat().st_mtime > TMP_MAX_AGE_S
                except FileNotFoundError:
                    continue
            if stale:
                shutil.rmtree(tmp, ignore_errors=True)
                removed += 1
        return removed

    def get_or_compute(
        self,
        stage: str,
        params: dict,
        compute: WriteFn,
        *,
        upstream: Sequence[str] = (),
        code_version: str = "",
        meta: dict | None = None,
    ) -> Entry:
        """The cached entry for these inputs, computing it with ``compute(tmpdir)`` on a miss."""
        self.clean_tmp()
        key = make_key(stage, params, upstream, code_version)
        entry = self.get(stage, key)
        if entry is not None:
            print(f"[cache] hit  {stage} {key[:12]}", flush=True)
            _log_entry(stage, key)
            return entry
        start = time.perf_counter()
        entry = self.put(stage, key, compute, params=params, upstream=upstream, code_version=code_version, meta=meta)
        print(f"[cache] miss {stage} {key[:12]} -> computed in {time.perf_counter() - start:.1f}s", flush=True)
        _log_entry(stage, key)
        return entry

    def check(self, stage: str, key: str) -> str | None:
        """None if the entry for ``key`` is present and matches its manifest (payload files up to
        :data:`FULL_HASH_BYTES` by sha256, larger ones by size), else what is wrong; a bad entry is
        moved aside to ``.corrupt-*`` like :meth:`get` does. What ``run_all`` runs before it skips a stage."""
        folder = self._entry_dir(stage, key)
        if not folder.exists():
            return "it is missing"
        _, problem = _problem(folder, key, FULL_HASH_BYTES)
        if problem:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CacheCorruptionWarning)
                self._quarantine(folder, key, problem)
        return problem

    def lookup(
        self,
        stage: str,
        params: dict,
        *,
        upstream: Sequence[str] = (),
        code_version: str = "",
        producer: str | None = None,
    ) -> Entry:
        """The cached entry for these inputs; MissingCacheEntry if absent, naming the notebook that
        produces ``stage`` (``producer``, default: from the stage graph, :mod:`qmtl_utils.runtime.stages`)."""
        key = make_key(stage, params, upstream, code_version)
        entry = self.get(stage, key)
        if entry is None:
            producer = producer or " or ".join(stages.producers(stage))
            raise MissingCacheEntry(
                f"no cached {stage!r} result for these settings (key {key[:12]}) under {self.root}. "
                f"It is produced by {producer}: `bash run_all.sh --profile {self.root.name}` re-runs that stage "
                "(it checks the entries each stage recorded and re-executes the stage whose entries are gone), "
                "or run that notebook first."
            )
        return entry


def _write_json_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:  # a full disk, Ctrl-C: leave no half-written temporary file behind
        tmp.unlink(missing_ok=True)
        raise
