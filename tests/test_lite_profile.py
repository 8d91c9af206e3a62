"""The lite profile (issue 21): its settings against the paper's protocols, the GLUE caps and task
subset, Extended MUStARD from its real files with text features (checked against
sentence-transformers' own encoding of the same model), and the stages run_all skips when the
optional CheXpert data is absent."""

from __future__ import annotations

import numpy as np
import pytest
from lite_fixtures import write_lite_data

from qmtl_utils.data import datasets, mustard
from qmtl_utils.runtime import paths, pipeline, profiles
from qmtl_utils.runtime.cache import Cache


@pytest.fixture
def lite_env(tmp_path, monkeypatch):
    env = write_lite_data(tmp_path / "data", n_glue=40, n_mustard=60)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_lite_runs_the_papers_protocols_on_real_data():
    lite, paper = profiles.get_profile("lite"), profiles.get_profile("paper")
    assert lite["scale"] == "lite" and not lite["is_demo"]
    assert {b: s["source"] for b, s in lite["data"].items()} == {"glue": "real", "chexpert": "real", "mustard": "real"}
    assert lite["data"]["glue"]["encoder"] == profiles.MINILM and lite["data"]["glue"]["tasks"] == "all"
    assert lite["training"]["mustard"] == paper["training"]["mustard"]  # C.3 unchanged: 50 epochs, batch 16, 5 folds
    assert lite["training"]["mustard"]["train"] == {"lr": 1e-3, "batch_size": 16, "max_epochs": 50}
    assert len(lite["training"]["glue"]["replicates"]) >= 3
    assert lite["optional_benchmarks"] == ["chexpert"] and paper["optional_benchmarks"] == []
    for key in ("weight_decay", "grad_clip", "batch_cap", "batch_size"):  # C.1 as the paper, but the lr (see profile)
        assert lite["training"]["glue"]["train"][key] == paper["training"]["glue"]["train"][key]


def test_glue_tasks_parameter():
    assert profiles.get_profile("lite", glue_tasks="wnli, CoLA")["data"]["glue"]["tasks"] == ["cola", "wnli"]
    assert profiles.get_profile("lite", glue_tasks="all")["data"]["glue"]["tasks"] == "all"
    with pytest.raises(ValueError, match="unknown task.*'sts'"):
        profiles.get_profile("lite", glue_tasks="cola,sts")


def test_chexpert_is_optional_under_lite_only(tmp_path, monkeypatch):
    monkeypatch.setenv("QMTL_CHEXPERT_DIR", str(tmp_path / "CheXpert-v1.0-small"))
    missing = profiles.missing_benchmarks(profiles.get_profile("lite"))
    assert list(missing) == ["chexpert"] and "train.csv is missing" in missing["chexpert"]
    assert profiles.missing_benchmarks(profiles.get_profile("paper")) == {}
    (tmp_path / "CheXpert-v1.0-small").mkdir()
    (tmp_path / "CheXpert-v1.0-small" / "train.csv").write_text("Path\n")
    assert profiles.missing_benchmarks(profiles.get_profile("lite")) == {}


@pytest.mark.parametrize("regression", [False, True])
def test_cap_rows_keeps_each_labels_share(regression):
    rng = np.random.default_rng(3)
    labels = rng.uniform(0, 1, 5000) if regression else rng.choice(3, 5000, p=[0.6, 0.3, 0.1])
    rows = datasets.cap_rows(labels, 1000, seed=0, regression=regression)
    assert len(rows) == 1000 and len(set(rows)) == 1000 and np.all(np.diff(rows) > 0)
    assert np.array_equal(rows, datasets.cap_rows(labels, 1000, seed=0, regression=regression))
    assert not np.array_equal(rows, datasets.cap_rows(labels, 1000, seed=1, regression=regression))
    if regression:
        edges = np.quantile(labels, [0.2, 0.4, 0.6, 0.8])
        counts = np.bincount(np.searchsorted(edges, labels[rows], side="right"), minlength=5)
        assert np.all(np.abs(counts - 200) <= 1)
    else:
        share = np.bincount(labels[rows], minlength=3) / 1000
        assert np.allclose(share, np.bincount(labels, minlength=3) / 5000, atol=1e-3)
    assert np.array_equal(datasets.cap_rows(labels, None, 0), np.arange(5000))
    assert np.array_equal(datasets.cap_rows(labels[:10], 50, 0), np.arange(10))


def test_glue_caps_and_subset_through_the_real_loader(lite_env):
    settings = {**profiles.get_profile("lite", glue_tasks="cola,mnli,stsb")["data"]["glue"], "train_cap": 20, "dev_cap": 5}
    entry = datasets.glue_dataset(Cache(lite_env / "cache"), settings, compute=True)
    meta = entry.manifest["meta"]
    assert meta["tasks"] == ["cola", "stsb", "mnli"] and meta["loaded_from"] == ["dir"]  # the paper's order
    assert meta["n_full"]["mnli"] == {"train": 32, "validation": 8}
    assert meta["n"] == {t: {"train": 20, "validation": 5} for t in ("cola", "stsb", "mnli")}
    tasks = datasets.read_glue(entry)
    assert list(tasks) == ["cola", "stsb", "mnli"] and len(tasks["mnli"].train) == 20
    assert sorted(tasks["mnli"].train.label.unique()) == [0, 1, 2]


def test_a_missing_glue_task_names_the_file_and_the_subset_parameter(lite_env, tmp_path):
    import shutil

    from qmtl_utils.data.common import MissingDataError

    shutil.rmtree(paths.glue_dir() / "SST-2")
    with pytest.raises(MissingDataError, match=r"(?s)SST-2/train\.tsv is missing.*-p glue_tasks"):
        datasets.glue_dataset(Cache(tmp_path / "cache"), profiles.get_profile("lite")["data"]["glue"], compute=True)


def test_mustard_lite_keeps_text_and_the_authors_folds(lite_env):
    cache = Cache(lite_env / "cache")
    settings = profiles.get_profile("lite")["data"]["mustard"]
    entry = datasets.mustard_dataset(cache, settings, compute=True)
    meta = entry.manifest["meta"]
    assert meta["texts"] and meta["modalities"] == [] and meta["feature_dim"] == 0
    ids, utterances, contexts = datasets.read_mustard_texts(entry)
    written = mustard.read_texts(paths.mustard_dir())
    assert tuple(ids) == written[0] and utterances == written[1] and contexts == written[2]
    _, labels, folds = datasets.read_mustard(entry)
    authors = mustard.read_split_indices(paths.mustard_dir() / mustard.SPLIT_FILE, len(ids))
    assert all(np.array_equal(a, b) for a, b in zip(folds, authors))
    assert list(labels.id) == list(ids)


def test_mustard_lite_adds_audio_and_visual_where_the_npz_is(tmp_path, monkeypatch):
    env = write_lite_data(tmp_path / "data", n_mustard=60, features=True)
    monkeypatch.setenv("QMTL_MUSTARD_DIR", env["QMTL_MUSTARD_DIR"])
    entry = datasets.mustard_dataset(Cache(tmp_path / "cache"), profiles.get_profile("lite")["data"]["mustard"], compute=True)
    assert entry.manifest["meta"]["modalities"] == ["UA", "UV"] and entry.manifest["meta"]["feature_dim"] > 0
    from qmtl_utils.models.backbones.mustard import describe_features

    assert describe_features(entry.manifest["meta"]) == (
        "text (utterance + context, MiniLM) + audio + visual (authors' features)"
    )


def test_sentence_embeddings_match_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    from qmtl_utils.models.backbones.glue import _fallback_path, load_text_encoder
    from qmtl_utils.models.backbones.mustard import sentence_embeddings, utterance_and_context

    texts = [
        "It's just a privilege to watch your mind at work.",
        "Oh, good Lord.",
        "Notify the editors of the Oxford English Dictionary: the word plenty now means two.",
    ]
    tokenizer, model, info = load_text_encoder(profiles.MINILM)
    assert info["hidden_size"] == 384 and info["fallback_reason"] is None
    ours = sentence_embeddings(texts, tokenizer, model)
    reference = SentenceTransformer(str(_fallback_path()), device="cpu").encode(texts, normalize_embeddings=True)
    assert np.abs(ours - reference).max() < 2e-3  # float16 token states in ours, float32 in theirs
    both = utterance_and_context(texts[:2], [[texts[2], texts[1]], []], tokenizer, model)
    assert both.shape == (2, 768) and np.allclose(both[1, 384:], 0)
    assert np.allclose(both[0, 384:], ours[[2, 1]].mean(0), atol=1e-6)


def test_run_all_skips_what_needs_absent_chexpert(lite_env, tmp_path, monkeypatch):
    stages = {s.stem: s for s in pipeline.load_stages(paths.notebooks_dir(), "lite")}
    for stem in ("04_ablations", "05_noise", "06_hardware"):
        assert "CheXpert not found" in stages[stem].skip_reason
    assert "synthetic" in stages["04a_task_scaling_and_shots"].skip_reason
    assert [r.params["benchmark"] for r in stages["03_training"].runs] == ["glue", "mustard"]
    assert stages["03_training"].skipped_runs[0][0] == "[benchmark=chexpert]"
    assert not stages["07_figures"].skip_reason and not stages["03b_paper_claims"].skip_reason
    folder = tmp_path / "CheXpert-v1.0-small"
    folder.mkdir()
    (folder / "train.csv").write_text("Path\n")
    monkeypatch.setenv("QMTL_CHEXPERT_DIR", str(folder))
    present = {s.stem: s for s in pipeline.load_stages(paths.notebooks_dir(), "lite")}
    assert not present["05_noise"].skip_reason and len(present["03_training"].runs) == 3
    assert present["07_figures"].stamp != stages["07_figures"].stamp  # the data appearing re-runs what uses it


def test_figures_of_each_profile_go_to_their_own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("QMTL_FIGURES_DIR", str(tmp_path))
    assert paths.figures_dir("lite") == tmp_path / "lite" and paths.figures_dir("demo") == tmp_path / "demo"
    from qmtl_utils.report.plotting import figure_paths

    assert figure_paths("fig05_glue", "lite")["png"] == tmp_path / "lite" / "fig05_glue.png"


def test_lite_chexpert_is_densenet121_at_reduced_resolution(tmp_path, monkeypatch):
    import torch

    from qmtl_utils.models.backbones.chexpert import ChexpertBackbone, RandomInitWarning

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached ImageNet weights: random, and said
    settings = profiles.get_profile("lite")["training"]["chexpert"]
    assert settings["pretrained"] and not settings["allow_download"] and settings.get("densenet") is None
    with pytest.warns(RandomInitWarning):
        backbone = ChexpertBackbone(
            d=30, pretrained=settings["pretrained"], allow_download=settings["allow_download"], densenet=settings.get("densenet")
        )
    assert backbone.weights == "random"
    size = settings["image_size"]
    with torch.no_grad():
        assert backbone.eval()(torch.zeros(2, 3, size, size)).shape == (2, 30)
    assert sum(p.numel() for p in backbone.parameters()) > 7_000_000  # DenseNet121's ~7M, not the demo's small one
