"""The demo as a miniature of each benchmark: scaled-down backbones of the same classes, images
decoded once, the generators' latents kept for the ceiling, and the MUStARD fit probes."""

import numpy as np
import pytest
import torch

from qmtl_utils.data import chexpert as cx
from qmtl_utils.data import datasets
from qmtl_utils.data.mustard import make_mustard_demo
from qmtl_utils.models.backbones.chexpert import ChexpertBackbone
from qmtl_utils.models.backbones.glue import GlueBackbone
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.runtime.profiles import get_profile
from qmtl_utils.spec import BENCHMARKS, BenchmarkSpec, TaskSpec
from qmtl_utils.studies import mustard_fit


def test_demo_sizes_give_every_test_split_300_labels():
    profile = get_profile("demo")
    data = profile["data"]
    assert data["glue"]["n_per_task"] * 0.2 >= 200  # the dev split (val_fraction 0.2)
    assert data["mustard"]["n_samples"] / 5 >= 300
    # CheXpert: the rarest non-blank task in the real train.csv is Cardiomegaly (46,203 of 223,414)
    per_fold = (data["chexpert"]["n_male"] + data["chexpert"]["n_female"]) / 5
    frequencies = cx.real_label_frequencies()
    labelled = frequencies[["negative", "uncertain", "positive"]].sum(axis=1) / frequencies.sum(axis=1)
    assert per_fold * labelled.min() >= 300
    assert profile["training"]["chexpert"]["replicates"] == [0, 1, 2]


def test_small_densenet_is_torchvisions_class_with_its_own_width():
    config = get_profile("demo")["training"]["chexpert"]["densenet"]
    model = ChexpertBackbone(d=30, densenet=config).eval()
    assert type(model.features).__name__ == "Sequential" and model.weights == "random"
    # 16 initial features; each block adds 2 layers x growth 8; the transitions between blocks halve
    assert model.project[0][0].in_features == ((16 + 16) // 2 + 16) // 2 + 16 == 32
    with torch.no_grad():
        out = model(torch.randn(2, 3, 48, 48))
    assert out.shape == (2, 30) and (out >= 0).all()
    densenet121 = ChexpertBackbone(d=30, pretrained=False)
    assert densenet121.project[0][0].in_features == 1024
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in densenet121.parameters()) / 50


def test_glue_backbone_lstm_width_is_a_setting():
    net = GlueBackbone(encoder_hidden=384, d=30, proj_hidden=16, lstm_hidden=8)
    assert net.lstm.hidden_size == 8 and net.single[0].in_features == 16 and net.pair[0].in_features == 64
    assert GlueBackbone(encoder_hidden=384).lstm.hidden_size == 192  # the paper's rule: half the encoder width


def test_in_memory_images_equal_the_file_path(tmp_path):
    profile = get_profile("smoke")
    cache = Cache(tmp_path / "cache")
    entry = datasets.chexpert_dataset(cache, profile["data"]["chexpert"], compute=True)
    frame, root, _ = datasets.read_chexpert(entry)
    rows = frame.iloc[:16]
    for train in (False, True):
        lazy = cx.ChexpertDataset(rows, root, image_size=24, train=train)
        memory = cx.ChexpertDataset(rows, root, image_size=24, train=train, in_memory=True)
        for _ in range(2):  # the second pass reads the decoded copy
            torch.manual_seed(3)
            a = torch.stack([lazy[i][0] for i in range(len(rows))])
            torch.manual_seed(3)
            b = torch.stack([memory[i][0] for i in range(len(rows))])
            assert torch.allclose(a, b, atol=1e-6)


def test_mustard_demo_keeps_its_latents_row_aligned(tmp_path):
    settings = {**get_profile("smoke")["data"]["mustard"], "n_samples": 700}
    entry = datasets.mustard_dataset(Cache(tmp_path / "cache"), settings, compute=True)
    features, labels, _ = datasets.read_mustard(entry)
    latents = np.load(entry.file("latents.npy"))
    demo = make_mustard_demo(700, settings["feature_dim"], settings["seed"])
    order = [demo.ids.index(key) for key in labels.id]
    assert latents.shape == (700, 8) and np.allclose(latents, demo.latents[order])
    assert np.allclose(features, demo.features[order], atol=1e-6)


def test_angle_sensitivity_first_data_layer_is_a_global_phase():
    """RX acts on H|0> = |+>, its eigenstate: no output depends on the first layer's angles."""
    spec = BenchmarkSpec(
        "toy", "toy", (TaskSpec("a", "binary", 1), TaskSpec("b", "multiclass", 3)), n_qubits=3, n_layers=2, task_qubits=(1, 2)
    )
    cone = mustard_fit.angle_sensitivity(spec, n_samples=8, n_heads=2)
    assert len(cone) == 2 * 3 * 2
    assert cone[cone.layer == 1].sensitivity.max() < 1e-10
    assert (cone[cone.layer == 2].groupby("task").sensitivity.max() > 1e-3).all()


@pytest.mark.slow
def test_fit_probe_records_train_and_test_accuracy(tmp_path):
    demo = make_mustard_demo(200, 16, seed=0)
    labels = demo.label_matrix()
    settings = {**get_profile("smoke")["training"]["mustard"], "train": {"lr": 1e-3, "batch_size": 16, "max_epochs": 1}}
    for changes in ({}, {"angle_scale": 0.3, "logit_bias": True}, {"variant": "classical", "task_weight": 1.0}):
        rows = mustard_fit.fit_probe(demo.features, labels, demo.folds, 0, changes, settings)
        assert len(rows) == len(BENCHMARKS["mustard"].tasks)
        assert rows.train_accuracy.between(0, 1).all() and rows.grad_projection.gt(0).all()
        assert rows.angle_std.gt(0).all()
