"""CheXpert data (Appendix A.2): real-format loader and its errors, subset and folds, transforms,
the demo generator against the real label counts, and the DenseNet121 backbone (Appendix B.2)."""

from __future__ import annotations

import gzip
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from qmtl_utils.data import chexpert as cx
from qmtl_utils.data.common import DataFormatError, MissingDataError
from qmtl_utils.models.backbones import chexpert as bb
from qmtl_utils.spec import BENCHMARKS

HEADER = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
    "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
    "Pleural Effusion,Pleural Other,Fracture,Support Devices"
)
# The first rows of the real train.csv, plus two male rows; then the expected class indices of
# (Atelectasis, Cardiomegaly, Consolidation, Edema, Pleural Effusion): 0 unc, 1 neg, 2 pos, -100 blank.
TRAIN_ROWS = [
    ("train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,,,,,,,,0.0,,,,1.0", [-100] * 5),
    ("train/patient00002/study2/view1_frontal.jpg,Female,87,Frontal,AP,,,-1.0,1.0,,-1.0,-1.0,,-1.0,,-1.0,,1.0,", [0] * 5),
    ("train/patient00002/study1/view1_frontal.jpg,Female,83,Frontal,AP,,,,1.0,,,-1.0,,,,,,1.0,", [-100, -100, 0, -100, -100]),
    ("train/patient00002/study1/view2_lateral.jpg,Female,83,Lateral,,,,,1.0,,,-1.0,,,,,,1.0,", [-100, -100, 0, -100, -100]),
    ("train/patient00003/study1/view1_frontal.jpg,Male,41,Frontal,AP,,,,,,1.0,,,,0.0,,,,", [-100, -100, -100, 2, -100]),
    ("train/patient00004/study1/view1_frontal.jpg,Female,20,Frontal,PA,1.0,0.0,,,,,0.0,,,,0.0,,,", [-100, -100, 1, -100, 1]),
    ("train/patient00004/study1/view2_lateral.jpg,Female,20,Lateral,,1.0,0.0,,,,,0.0,,,,0.0,,,", [-100, -100, 1, -100, 1]),
    ("train/patient00005/study1/view1_frontal.jpg,Male,33,Frontal,PA,,,0.0,1.0,,,1.0,,1.0,,1.0,,,1.0", [2, 1, 2, -100, 2]),
    ("train/patient00005/study1/view2_lateral.jpg,Male,33,Lateral,,,,0.0,1.0,,,1.0,,1.0,,1.0,,,1.0", [2, 1, 2, -100, 2]),
]
VALID_ROWS = [
    "valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,0.0,1.0,1.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0",
    "valid/patient64542/study1/view1_frontal.jpg,Male,70,Frontal,PA,0.0,0.0,0.0,1.0,0.0,1.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0",
]
GREY = 128
# The fixture folders are named as the release but hold a few rows: the short-file warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore:.*data rows, but CheXpert-v1.0:UserWarning")
# NOTES.md: 1 / 0 / -1 / blank in the real train.csv.
REAL_COUNTS = {
    "Atelectasis": (33_376, 1_328, 33_739, 154_971),
    "Cardiomegaly": (27_000, 11_116, 8_087, 177_211),
    "Consolidation": (14_783, 28_097, 27_742, 152_792),
    "Edema": (52_246, 20_726, 12_984, 137_458),
    "Pleural Effusion": (86_187, 35_396, 11_628, 90_203),
}


def _write_csv(path: Path, rows: list[str], header: str = HEADER) -> None:
    lines = [header] + [f"{cx.FOLDER_NAME}/{row}" for row in rows]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def real_root(tmp_path: Path) -> Path:
    """A tiny CheXpert-v1.0-small folder in the real format, with non-square grey JPEGs."""
    root = tmp_path / cx.FOLDER_NAME
    root.mkdir()
    _write_csv(root / "train.csv", [row for row, _ in TRAIN_ROWS])
    _write_csv(root / "valid.csv", VALID_ROWS)
    for row in [r for r, _ in TRAIN_ROWS] + VALID_ROWS:
        image = root / row.split(",")[0]
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (24, 20), GREY).save(image, quality=95)
    return root


# --------------------------------------------------------------------------- real format


def test_task_columns_follow_the_benchmark_spec():
    names = tuple(c.lower().replace(" ", "_") for c in cx.TASK_COLUMNS)
    assert names == BENCHMARKS["chexpert"].task_names
    assert tuple(HEADER.split(",")) == cx.META_COLUMNS + cx.OBSERVATIONS


def test_load_maps_labels_and_keeps_csv_rows(real_root):
    frame = cx.load_chexpert("train", root=real_root, check_images=True)
    assert list(frame.index) == list(range(2, len(TRAIN_ROWS) + 2))  # file lines; the header is line 1
    assert cx.encode_labels(frame).tolist() == [labels for _, labels in TRAIN_ROWS]
    assert len(cx.load_chexpert("valid", root=real_root)) == 2


def test_env_var_points_at_the_folder(real_root, monkeypatch):
    monkeypatch.setenv("QMTL_CHEXPERT_DIR", str(real_root))
    assert cx.chexpert_dir() == real_root
    assert len(cx.load_chexpert()) == len(TRAIN_ROWS)


def test_dataset_returns_normalised_images_and_labels(real_root):
    frame = cx.load_chexpert(root=real_root)
    data = cx.ChexpertDataset(frame, real_root, image_size=32)
    image, labels = data[7]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    expected = [(GREY / 255 - m) / s for m, s in zip(cx.IMAGENET_MEAN, cx.IMAGENET_STD)]
    assert torch.allclose(image.mean(dim=(1, 2)), torch.tensor(expected), atol=0.02)
    assert labels.dtype == torch.int64 and labels.tolist() == TRAIN_ROWS[7][1]
    assert len(data) == len(TRAIN_ROWS)


def test_training_transform_flips_with_p_0_3():
    left_bright = Image.fromarray(np.tile(np.r_[np.full(8, 255), np.zeros(8)].astype(np.uint8), (16, 1)))
    transform = cx.image_transform(16, train=True)
    torch.manual_seed(0)
    flipped = [transform(left_bright)[0, 0, 0] < 0 for _ in range(400)]
    assert 0.24 < np.mean(flipped) < 0.36
    assert all(cx.image_transform(16)(left_bright)[0, 0, 0] > 0 for _ in range(20))


def test_missing_folder_says_where_to_get_the_data(tmp_path):
    with pytest.raises(MissingDataError) as err:
        cx.load_chexpert(root=tmp_path / "nowhere")
    message = str(err.value)
    for hint in ("nowhere", "CheXpert-v1.0-small", "Kaggle", "Stanford", "QMTL_CHEXPERT_DIR", "train.csv"):
        assert hint in message


def test_missing_csv_is_named(real_root):
    (real_root / "valid.csv").unlink()
    with pytest.raises(MissingDataError, match="valid.csv"):
        cx.load_chexpert("valid", root=real_root)


def test_missing_column_names_file_and_column(real_root):
    csv = real_root / "train.csv"
    keep = [i for i, name in enumerate(HEADER.split(",")) if name != "Edema"]
    lines = [",".join(line.split(",")[i] for i in keep) for line in csv.read_text().splitlines()]
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match="missing column 'Edema'") as err:
        cx.load_chexpert(root=real_root)
    assert err.value.path == csv


@pytest.mark.parametrize("value", ["2.0", "yes"])
def test_unknown_label_names_file_row_and_value(real_root, value):
    csv = real_root / "train.csv"
    lines = csv.read_text().splitlines()
    fields = lines[3].split(",")  # line 4 of the file
    fields[HEADER.split(",").index("Pleural Effusion")] = value
    lines[3] = ",".join(fields)
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=real_root)
    assert err.value.path == csv and err.value.line == 4 and str(err.value).startswith(f"line 4 of {csv}: ")
    assert "'Pleural Effusion'" in str(err.value) and value in str(err.value)


def test_missing_image_names_row_and_path(real_root):
    frame = cx.load_chexpert(root=real_root)
    missing = real_root / "train/patient00003/study1/view1_frontal.jpg"
    missing.unlink()
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=real_root, check_images=True)
    assert err.value.line == 6 and str(missing) in str(err.value)
    subset = cx.select_subset(frame, n_male=3, n_female=0)
    data = cx.ChexpertDataset(subset, real_root, image_size=8)
    data[1]  # patient00005 is there
    with pytest.raises(DataFormatError) as err:
        data[0]
    assert err.value.line == 6 and err.value.path == real_root / "train.csv" and str(missing) in str(err.value)


def _windows_export(csv: Path, extra: bytes = b"") -> None:
    """Re-save ``csv`` as a Windows spreadsheet program does: CRLF line ends, then ``extra``."""
    csv.write_bytes(csv.read_bytes().replace(b"\n", b"\r\n") + extra)


def test_cp1252_csv_names_file_line_and_how_to_re_save(real_root):
    csv = real_root / "train.csv"
    _windows_export(csv)
    raw = csv.read_bytes().split(b"\r\n")
    raw[2] = raw[2].replace(b"/study2/", b"/\xe9tude2/")  # "étude" in cp1252 on line 3
    csv.write_bytes(b"\r\n".join(raw))
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=real_root)
    message = str(err.value)
    assert message.startswith(f"line 3 of {csv}: byte 0xE9 (column 40) is not UTF-8") and err.value.line == 3
    assert "cp1252" in message and f"iconv -f cp1252 -t utf-8 {csv}" in message and "UTF-8" in message


def test_trailing_empty_rows_are_dropped_and_a_row_without_path_is_named(real_root):
    clean = cx.load_chexpert(root=real_root, check_images=True)
    csv = real_root / "train.csv"
    _windows_export(csv, b"," * 18 + b"\r\n" + b"," * 18 + b"\r\n")
    loaded = cx.load_chexpert(root=real_root, check_images=True)  # was a TypeError on the NaN Path
    pd.testing.assert_frame_equal(loaded, clean)
    assert loaded.attrs == clean.attrs
    lines = csv.read_bytes().split(b"\r\n")
    quoted = lines[:]  # a quoted cell (the csv module's path): the same rows and lines
    quoted[2] = b'"' + quoted[2].replace(b",", b'",', 1)
    csv.write_bytes(b"\r\n".join(quoted))
    pd.testing.assert_frame_equal(cx.load_chexpert(root=real_root, check_images=True), clean)
    lines[5] = b"," + lines[5].split(b",", 1)[1]  # line 6: labels but no Path
    csv.write_bytes(b"\r\n".join(lines))
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=real_root)
    assert str(err.value) == (
        f"line 6 of {csv}: the row has no Path (the image file) but other fields; fill in its Path or delete the line"
    )


@pytest.mark.parametrize(
    "content, problem", [(b"", "is empty (0 bytes)"), (b"<html>Not Found</html>", "cannot be read as an image")]
)
def test_empty_or_undecodable_image_names_line_and_path(real_root, content, problem):
    bad = real_root / "train/patient00003/study1/view1_frontal.jpg"
    bad.write_bytes(content)
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=real_root, check_images=True)
    message = str(err.value)
    assert message.startswith(f"line 6 of {real_root / 'train.csv'}: image {bad} (Path ") and problem in message
    assert "copy it again from the CheXpert-v1.0-small archive" in message
    frame = cx.load_chexpert(root=real_root)  # unchecked: the image read names the line too
    for in_memory in (False, True):
        data = cx.ChexpertDataset(frame, real_root, image_size=8, in_memory=in_memory)
        data[3]
        with pytest.raises(DataFormatError, match="cannot be read as an image") as err:
            data[4]
        assert err.value.line == 6 and str(bad) in str(err.value)


def test_image_cut_short_is_named_when_read(real_root):
    """A JPEG cut short in its pixel data passes the header check; the dataset's read names it."""
    bad = real_root / "train/patient00003/study1/view1_frontal.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(noise).save(bad, quality=95)
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    cx.load_chexpert(root=real_root, check_images=True)
    data = cx.ChexpertDataset(cx.load_chexpert(root=real_root), real_root, image_size=8)
    with pytest.raises(DataFormatError, match=r"cannot be read as an image \(OSError: image file is truncated") as err:
        data[4]
    assert str(err.value).startswith(f"line 6 of {real_root / 'train.csv'}: image {bad}")


# --------------------------------------------------------------------------- subset and folds


def test_subset_is_balanced_reproducible_and_checked(real_root):
    frame = cx.load_chexpert(root=real_root)
    subset = cx.select_subset(frame, n_male=2, n_female=4, seed=3)
    assert subset["Sex"].value_counts().to_dict() == {"Female": 4, "Male": 2}
    assert subset.index.is_monotonic_increasing and subset.index.isin(frame.index).all()
    assert subset.index.equals(cx.select_subset(frame, n_male=2, n_female=4, seed=3).index)
    assert len({tuple(cx.select_subset(frame, 2, 4, seed=s).index) for s in range(10)}) > 1
    frontal = cx.select_subset(frame, n_male=2, n_female=3, frontal_only=True)
    assert (frontal["Frontal/Lateral"] == "Frontal").all()
    with pytest.raises(ValueError, match="need 4 rows with Sex 'Male'.*has 3"):
        cx.select_subset(frame, n_male=4, n_female=1)
    with pytest.raises(ValueError, match="frontal rows"):
        cx.select_subset(frame, n_male=3, n_female=1, frontal_only=True)


def test_folds_are_disjoint_covering_and_reproducible():
    folds = cx.fold_indices(103, n_folds=5, seed=1)
    assert len(folds) == 5 and {len(f) for f in folds} <= {20, 21}
    everything = np.concatenate(folds)
    assert len(everything) == 103 and set(everything) == set(range(103))
    assert all(np.array_equal(a, b) for a, b in zip(folds, cx.fold_indices(103, 5, seed=1)))
    assert not np.array_equal(folds[0], cx.fold_indices(103, 5, seed=2)[0])
    with pytest.raises(ValueError):
        cx.fold_indices(3, n_folds=5)


# --------------------------------------------------------------------------- real counts and the demo


def test_real_label_frequencies_match_notes():
    freq = cx.real_label_frequencies()
    assert list(freq.columns) == ["positive", "negative", "uncertain", "blank"]
    assert {task: tuple(int(x) for x in freq.loc[task]) for task in cx.TASK_COLUMNS} == REAL_COUNTS
    assert set(freq.sum(axis=1)) == {223_414}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = cx.make_chexpert_demo(tmp_path_factory.mktemp("demo"), n_samples=2000, image_size=64, seed=0)
    return root, cx.load_chexpert(root=root, check_images=True)


def test_demo_has_the_real_format(demo):
    root, frame = demo
    assert (root / "train.csv").read_text().splitlines()[0] == HEADER
    assert set(frame["Sex"]) == {"Male", "Female"}
    subset = cx.select_subset(frame, n_male=300, n_female=300)
    image, labels = cx.ChexpertDataset(subset, root, image_size=32, train=True)[0]
    assert image.shape == (3, 32, 32) and labels.shape == (5,)
    assert Image.open(cx.image_path(root, frame["Path"].iloc[0])).size == (64, 64)


def test_demo_is_reproducible(tmp_path):
    roots = [
        cx.make_chexpert_demo(tmp_path / name, n_samples=30, image_size=16, seed=seed)
        for name, seed in (("a", 3), ("b", 3), ("c", 4))
    ]
    files = [{p.relative_to(r): p.read_bytes() for p in r.rglob("*") if p.is_file()} for r in roots]
    assert files[0] == files[1] and files[0] != files[2]


def test_demo_label_frequencies_follow_the_real_ones(demo):
    _, frame = demo
    real = cx.real_label_frequencies()
    real = real.div(real.sum(axis=1), axis=0)
    n = len(frame)
    for column in cx.TASK_COLUMNS:
        values = frame[column]
        got = {
            "positive": (values == 1).mean(),
            "negative": (values == 0).mean(),
            "uncertain": (values == -1).mean(),
            "blank": values.isna().mean(),
        }
        for kind, share in got.items():
            p = real.loc[column, kind]
            assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3, (column, kind, share, p)


@pytest.mark.slow
def test_demo_labels_are_learnable_from_pixels(demo):
    root, frame = demo
    pixels = np.stack(
        [
            np.asarray(Image.open(cx.image_path(root, p)).resize((16, 16), Image.BILINEAR), dtype=np.float32).ravel()
            for p in frame["Path"]
        ]
    )
    labels = cx.encode_labels(frame)
    gains = []
    for t in range(len(cx.TASK_COLUMNS)):
        keep = labels[:, t] != cx.IGNORE_INDEX
        x, y = pixels[keep], labels[keep, t]
        cut = int(0.7 * len(y))
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500)).fit(x[:cut], y[:cut])
        majority = (y[cut:] == np.bincount(y[:cut]).argmax()).mean()
        gains.append(model.score(x[cut:], y[cut:]) - majority)
    assert sum(g > 0.1 for g in gains) >= 3, gains


# --------------------------------------------------------------------------- backbone


@pytest.fixture
def empty_hub(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    return tmp_path


def test_backbone_maps_images_to_d_features_and_is_trainable(empty_hub):
    torch.manual_seed(0)
    model = bb.ChexpertBackbone(d=30, hidden=(64,), pretrained=False)
    assert model.weights == "random"
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 30) and (out >= 0).all()
    assert all(p.requires_grad for p in model.parameters())
    linear = [m for m in model.project.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(1024, 64), (64, 30)]


def test_backbone_falls_back_to_random_weights_offline(empty_hub, monkeypatch):
    with pytest.warns(bb.RandomInitWarning, match="allow_download=False"):
        assert bb.ChexpertBackbone().weights == "random"

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    with pytest.warns(bb.RandomInitWarning, match="no network"):
        assert bb.ChexpertBackbone(allow_download=True).weights == "random"


def test_backbone_uses_cached_imagenet_weights(empty_hub):
    torch.manual_seed(1)
    reference = bb.densenet121(weights=None)
    target = bb.imagenet_weights_file()
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)
    model = bb.ChexpertBackbone()
    assert model.weights == "imagenet"
    assert torch.equal(model.features.conv0.weight, reference.features.conv0.weight)


def test_real_train_csv_passes_the_loader_and_gives_the_paper_subset():
    frame = cx.read_chexpert_csv(cx.real_train_csv())
    assert len(frame) == 223_414
    subset = cx.select_subset(frame, seed=0)
    assert subset["Sex"].value_counts().to_dict() == {"Male": 10_000, "Female": 10_000}
    assert cx.encode_labels(subset).shape == (20_000, 5)
    assert subset.index.equals(cx.select_subset(frame, seed=0).index)


# --------------------------------------------------------------------------- files as users save them


@pytest.mark.parametrize("cut", [40, len(TRAIN_ROWS[-1][0]) - 12], ids=["labels-cut", "path-cut"])
def test_download_cut_off_mid_row_is_an_error(real_root, cut):
    """The file ends without a line break inside its last row (a Path or the labels cut off): it
    used to be accepted, and the subset drawn from the truncated pool."""
    csv = real_root / "train.csv"
    data = csv.read_bytes()
    csv.write_bytes(data[: len(data) - 1 - cut])
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=real_root)
    line = len(TRAIN_ROWS) + 1
    assert str(err.value).startswith(f"line {line} of {csv}: the last row has ")
    assert "the file looks truncated" in str(err.value) and "Download (or unzip) it again" in str(err.value)
    csv.write_bytes(data[:-1])  # only the final line break missing: the row is whole
    assert len(cx.load_chexpert(root=real_root)) == len(TRAIN_ROWS)


def test_fewer_rows_than_the_release_warn_with_the_count(real_root, tmp_path):
    """A cut at a line break leaves a well-formed file: only its size tells."""
    with pytest.warns(UserWarning) as record:
        cx.load_chexpert("train", root=real_root)
        cx.load_chexpert("valid", root=real_root)
    assert [str(w.message) for w in record] == [
        f"{real_root / 'train.csv'} holds 9 data rows, but CheXpert-v1.0-small's train.csv has 223,414: the file may "
        "have been cut short at a line break (an interrupted download or unzip). Unless you trimmed it on purpose, "
        "download (or unzip) it again",
        f"{real_root / 'valid.csv'} holds 2 data rows, but CheXpert-v1.0-small's valid.csv has 234: the file may "
        "have been cut short at a line break (an interrupted download or unzip). Unless you trimmed it on purpose, "
        "download (or unzip) it again",
    ]
    elsewhere = real_root.rename(tmp_path / "my-chexpert")  # another folder name, or the demo: no warning
    demo = cx.make_chexpert_demo(tmp_path / "demo", n_samples=10, image_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cx.load_chexpert(root=elsewhere)
        cx.load_chexpert(root=demo)


def test_header_only_csv_is_an_error(real_root):
    csv = real_root / "train.csv"
    csv.write_text(HEADER + "\n" + "," * 18 + "\n")
    with pytest.raises(DataFormatError, match=r"^line 1 of \S+train.csv: the file holds its header but no data rows"):
        cx.load_chexpert(root=real_root)


@pytest.mark.parametrize(
    "name, save",
    [
        pytest.param("train.csv", lambda text: text.replace("\n", "\r").encode(), id="old-mac-cr"),
        pytest.param("train.csv", lambda text: text.replace("\n", "\r\n").encode("utf-16"), id="utf-16"),
        pytest.param("train.csv.gz", lambda text: gzip.compress(text.encode()), id="gz-instead"),
    ],
)
def test_cr_line_ends_utf16_and_gz_are_read(real_root, name, save):
    clean = cx.load_chexpert(root=real_root, check_images=True)
    csv = real_root / "train.csv"
    text = csv.read_text()
    csv.unlink()
    (real_root / name).write_bytes(save(text))
    loaded = cx.load_chexpert(root=real_root, check_images=True)
    pd.testing.assert_frame_equal(loaded, clean)
    assert loaded.attrs["source"] == str(real_root / name)


def test_tab_or_semicolon_separated_csv_says_so(real_root):
    csv = real_root / "train.csv"
    text = csv.read_text()
    csv.write_bytes(text.replace(",", "\t").replace("\n", "\r\n").encode("utf-16"))  # Excel's "Unicode text"
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=real_root)
    assert str(err.value).startswith(f"line 1 of {csv}: the header is separated by tabs, not commas")
    assert 'save the file as "CSV UTF-8 (comma delimited)"' in str(err.value)
    csv.write_text(text.replace(",", ";"))
    with pytest.raises(DataFormatError, match="separated by semicolons, not commas"):
        cx.load_chexpert(root=real_root)


@pytest.mark.parametrize("csv_folder, image_folder", [("CheXpert-v1.0", cx.FOLDER_NAME), (cx.FOLDER_NAME, "CheXpert-v1.0")])
def test_paths_of_the_other_release_find_the_images_in_use(real_root, tmp_path, csv_folder, image_folder):
    """Full-size `CheXpert-v1.0/...` Paths in the small release's CSV (or the other way round)
    were "does not exist" though the images were there."""
    root = real_root.rename(tmp_path / image_folder)
    for name in ("train.csv", "valid.csv"):
        path = root / name
        path.write_text(path.read_text().replace(f"\n{cx.FOLDER_NAME}/", f"\n{csv_folder}/"))
    frame = cx.load_chexpert(root=root, check_images=True)
    assert frame["Path"].iloc[0].startswith(f"{csv_folder}/train/")
    assert cx.ChexpertDataset(frame, root, image_size=8)[0][0].shape == (3, 8, 8)
    missing = root / "train/patient00003/study1/view1_frontal.jpg"
    missing.unlink()
    with pytest.raises(DataFormatError) as err:
        cx.load_chexpert(root=root, check_images=True)
    message = str(err.value)
    assert message.startswith(f"line 6 of {root / 'train.csv'}: image {missing} (Path '{csv_folder}/train/")
    assert f"the CSV's Path names the release {csv_folder!r} but the images are looked for in {image_folder!r}" in message
