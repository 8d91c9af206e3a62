"""The benchmark datasets as the data-prep notebook caches them, and as later notebooks read them.

One function per benchmark. With ``compute=True`` (the ``00_data_prep`` notebook) it builds the
dataset for the profile's ``data`` settings — the seeded demo under ``demo``/``smoke``, the user's
real data under ``paper`` — and stores it in the content-keyed cache; with ``compute=False``
(every later notebook) it only looks the entry up. The demo datasets go through the same readers
as real data: each demo is first written in the real file formats, then loaded back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from qmtl_utils.runtime.cache import Cache, Entry, write_csv, write_json
from qmtl_utils.runtime.fingerprint import code_fingerprint


def _entry(cache: Cache, stage: str, settings: dict, write, compute: bool) -> Entry:
    params = {"data": settings, "seed": settings.get("seed", 0)}
    if compute:
        return cache.get_or_compute(stage, params, write, code_version=code_fingerprint(__name__))
    return cache.lookup(stage, params, code_version=code_fingerprint(__name__))


# --------------------------------------------------------------------------- GLUE


def cap_rows(labels, cap: int | None, seed: int, regression: bool = False) -> np.ndarray:
    """Sorted row indices of a seeded, label-stratified subsample of at most ``cap`` rows (all rows,
    in order, when ``cap`` is None or not smaller than their number).

    Each class keeps its share (largest remainders, so the shares add up to ``cap``); a regression
    target is stratified by its quintile. The lite profile's cap on GLUE's training examples and on
    its largest dev splits (:func:`glue_dataset`).

    Taught in: 00_data_prep, "GLUE (Appendix A.1)"
    """
    labels = np.asarray(labels, dtype=float)
    n = len(labels)
    if cap is None or cap >= n:
        return np.arange(n)
    strata = (
        np.searchsorted(np.quantile(labels, [0.2, 0.4, 0.6, 0.8]), labels, side="right") if regression else labels.astype(int)
    )
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    exact = np.array([cap * len(g) / n for g in groups])
    take = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - take), kind="stable")[: cap - take.sum()]:
        take[i] += 1
    return np.sort(np.concatenate([rng.permutation(g)[:k] for g, k in zip(groups, take)]))


def glue_task_names(settings: dict) -> list[str]:
    """The tasks of ``settings["tasks"]``: ``"all"`` (or absent) is the nine, in the paper's order."""
    from qmtl_utils.data import glue

    tasks = settings.get("tasks", "all")
    return list(glue.GLUE_TASKS) if tasks == "all" else [t for t in glue.GLUE_TASKS if t in tasks]


def glue_dataset(cache: Cache, settings: dict, *, compute: bool = False) -> Entry:
    """GLUE: ``<task>_<split>.csv`` (text_a, text_b, label) for the nine tasks (Appendix A.1), or
    the subset ``settings["tasks"]``.

    ``settings``: ``source`` (``demo`` or ``real``: the hub, else ``dir``/``$QMTL_GLUE_DIR``),
    ``tasks``, ``seed``, ``train_cap``/``dev_cap`` (None: every example; else a seeded
    label-stratified subsample of at most that many per task and split, :func:`cap_rows`), and for
    the demo ``n_per_task``; the demo also writes ``oracle.csv`` (task, validation row, the
    generator's noiseless label), which the ceiling is computed from. ``meta["n_full"]`` records each
    split's size before the caps.

    Taught in: 00_data_prep, "GLUE (Appendix A.1)"
    """
    from qmtl_utils.data import glue, glue_demo

    names = glue_task_names(settings)

    def write(folder: Path) -> dict:
        if settings["source"] == "demo":
            demo = glue_demo.make_glue_demo(settings["n_per_task"], settings["seed"])
            demo = {name: demo[name] for name in names}
            tasks = glue.load_glue_dir(glue.write_glue_dir(demo, folder / "glue_data"), names)
        else:
            tasks = glue.load_glue({**settings, "tasks": names})
        full = {name: {split: len(task.split(split)) for split in glue.SPLITS} for name, task in tasks.items()}
        caps = {"train": settings.get("train_cap"), "validation": settings.get("dev_cap")}
        kept = {
            name: {
                split: cap_rows(task.split(split)["label"], caps[split], settings["seed"], regression=name == "stsb")
                for split in glue.SPLITS
            }
            for name, task in tasks.items()
        }
        if settings["source"] == "demo":
            oracle = []
            for name, task in tasks.items():  # the round trip through TSV keeps the row order
                generated = demo[name].validation
                if not np.allclose(generated["label"].to_numpy(float), task.validation["label"].to_numpy(float)):
                    raise AssertionError(f"demo {name}: validation rows changed order when written and read back")
                rows = kept[name]["validation"]
                oracle.append(
                    pd.DataFrame({"task": name, "row": np.arange(len(rows)), "oracle": generated["oracle"].to_numpy(float)[rows]})
                )
            write_csv(pd.concat(oracle, ignore_index=True), folder / "oracle.csv")
        for name, task in tasks.items():
            for split in glue.SPLITS:
                write_csv(task.split(split).iloc[kept[name][split]].reset_index(drop=True), folder / f"{name}_{split}.csv")
        return {
            "source": settings["source"],
            "loaded_from": sorted({t.source.split(":")[0] for t in tasks.values()}),
            "tasks": names,
            "n_full": full,
            "n": {name: {split: len(kept[name][split]) for split in glue.SPLITS} for name in tasks},
        }

    return _entry(cache, "data_glue", settings, write, compute)


def read_glue(entry: Entry) -> dict:
    """``{task: GlueTask}`` of a :func:`glue_dataset` entry. Texts come back exactly as cached: no
    text is taken for a missing value (``NA``, ``null``, ``None``, ``nan`` stay words, an empty text
    stays ``""``); ``text_b`` is None for the single-sentence tasks.

    Taught in: 00_data_prep, "GLUE (Appendix A.1)"
    """
    from qmtl_utils.data import glue

    def frame(name: str, split: str) -> pd.DataFrame:
        data = entry.read_csv(f"{name}_{split}.csv", dtype={"text_a": str, "text_b": str}, keep_default_na=False)
        if not glue.GlueTask(name, data, data, "").is_pair:
            data["text_b"] = None
        return data

    source, present = entry.manifest["meta"]["source"], entry.manifest["meta"]["n"]
    return {
        name: glue.GlueTask(name, frame(name, "train"), frame(name, "validation"), source)
        for name in glue.GLUE_TASKS
        if name in present
    }


# --------------------------------------------------------------------------- CheXpert


def chexpert_dataset(cache: Cache, settings: dict, *, compute: bool = False) -> Entry:
    """CheXpert: the selected subset (``subset.csv`` in the real CSV format), its five folds
    (``folds.json``) and, for the demo, the images themselves (under ``images/``).

    ``settings``: ``source`` (``demo`` or ``real``), ``n_male``, ``n_female``, ``frontal_only``,
    ``n_folds``, ``seed``, and for the demo ``n_samples`` and ``image_size``.

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """
    from qmtl_utils.data import chexpert

    def write(folder: Path) -> dict:
        if settings["source"] == "demo":
            root = chexpert.make_chexpert_demo(folder / "images", settings["n_samples"], settings["image_size"], settings["seed"])
            image_root = str(root.relative_to(folder))
        else:
            root = chexpert.chexpert_dir()
            image_root = str(root.resolve())
        frame = chexpert.load_chexpert("train", root=root)
        subset = chexpert.select_subset(
            frame, settings["n_male"], settings["n_female"], settings["seed"], settings.get("frontal_only", False)
        )
        chexpert.check_image_files(subset, root)
        write_csv(subset, folder / "subset.csv")
        if settings["source"] == "demo":  # the generator's factors of the subset, for the ceiling
            latents = pd.read_csv(root / chexpert.LATENTS_FILE).set_index("Path").loc[subset["Path"]]
            write_csv(latents.reset_index(), folder / "latents.csv")
        folds = chexpert.fold_indices(len(subset), settings["n_folds"], settings["seed"])
        write_json({"folds": [f.tolist() for f in folds]}, folder / "folds.json")
        return {"source": settings["source"], "image_root": image_root, "n": len(subset)}

    return _entry(cache, "data_chexpert", settings, write, compute)


def read_chexpert(entry: Entry) -> tuple[pd.DataFrame, Path, list[np.ndarray]]:
    """(subset DataFrame, image root, folds) of a :func:`chexpert_dataset` entry.

    The frame is read by :func:`~qmtl_utils.data.chexpert.read_chexpert_csv`, so an image that fails
    in training is named with its line in the cached ``subset.csv`` (whose rows hold the Path).

    Taught in: 00_data_prep, "CheXpert (Appendix A.2)"
    """
    from qmtl_utils.data import chexpert

    root = Path(entry.manifest["meta"]["image_root"])
    root = root if root.is_absolute() else entry.path / root
    folds = [np.asarray(f) for f in entry.read_json("folds.json")["folds"]]
    return chexpert.read_chexpert_csv(entry.file("subset.csv")), root, folds


# --------------------------------------------------------------------------- Extended MUStARD


def mustard_dataset(cache: Cache, settings: dict, *, compute: bool = False) -> Entry:
    """Extended MUStARD: ``features.npy`` (n, D), ``labels.csv`` (id + five class columns) and
    ``folds.json``. ``settings``: ``source``, ``modalities``, ``seed``; demo: ``feature_dim``,
    ``n_samples`` (default 690, the real count), and the generator's ``latents.npy``.

    With ``text_encoder`` (the lite profile) the text itself is kept, ``texts.json`` (ids, each
    utterance and its context turns), for :func:`~qmtl_utils.models.backbones.mustard.mustard_features`
    to encode; the folds are the authors' (``split_indices.p`` is then required) and
    ``features.npy`` holds the ``modalities`` of the authors' ``.npz`` when it is present (audio and
    visual), else no columns: ``meta["modalities"]`` says which.

    Taught in: 00_data_prep, "Extended MUStARD (Appendix A.3)"
    """
    from qmtl_utils.data import mustard

    text = bool(settings.get("text_encoder"))

    def write(folder: Path) -> dict:
        if settings["source"] == "demo":
            demo = mustard.make_mustard_demo(
                settings.get("n_samples", mustard.N_UTTERANCES), settings["feature_dim"], settings["seed"]
            )
            root = mustard.write_mustard_files(demo, folder / "files")
        else:
            root = mustard.mustard_dir()
        data = mustard.load_mustard(
            root,
            modalities=tuple(settings["modalities"]),
            seed=settings["seed"],
            expected=None if settings["source"] == "demo" else mustard.N_UTTERANCES,
            require_features=not text,
            require_splits=text,
        )
        if settings["source"] == "demo":  # the generator's latents, row-aligned, for the ceiling
            position = {key: i for i, key in enumerate(demo.ids)}
            np.save(folder / "latents.npy", demo.latents[[position[key] for key in data.ids]].astype(np.float32))
        modalities = list(settings["modalities"]) if data.features is not None else []
        features = data.features if data.features is not None else np.zeros((data.n, 0), np.float32)
        if text:
            ids, utterances, contexts = mustard.read_texts(root)
            if tuple(ids) != tuple(data.ids):
                raise AssertionError("sarcasm_data.json was read in two different orders")
            write_json({"ids": list(ids), "utterance": utterances, "context": contexts}, folder / "texts.json")
        np.save(folder / "features.npy", features)
        labels = pd.DataFrame({"id": data.ids, **{t: data.labels[t] for t in mustard.TASKS}})
        write_csv(labels, folder / "labels.csv")
        write_json({"folds": [f.tolist() for f in data.folds]}, folder / "folds.json")
        return {
            "source": settings["source"],
            "n": data.n,
            "feature_dim": int(features.shape[1]),
            "modalities": modalities,
            "texts": text,
        }

    return _entry(cache, "data_mustard", settings, write, compute)


def read_mustard_texts(entry: Entry) -> tuple[list[str], list[str], list[list[str]]]:
    """(ids, utterances, context turns) kept by a lite :func:`mustard_dataset` entry."""
    texts = entry.read_json("texts.json")
    return texts["ids"], texts["utterance"], texts["context"]


def read_mustard(entry: Entry) -> tuple[np.ndarray, pd.DataFrame, list[np.ndarray]]:
    """(features, labels DataFrame, folds) of a :func:`mustard_dataset` entry: the features stored
    with the data (the authors' or the demo's; none when the lite profile found no ``.npz``), without
    the text features (:func:`~qmtl_utils.models.backbones.mustard.mustard_features` adds those).

    Taught in: 00_data_prep, "Extended MUStARD (Appendix A.3)"
    """
    features = np.load(entry.file("features.npy"))
    folds = [np.asarray(f) for f in json.loads(entry.file("folds.json").read_text())["folds"]]
    return features, entry.read_csv("labels.csv"), folds
