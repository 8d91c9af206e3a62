"""The cached benchmark datasets: built once per profile, read back by later notebooks."""

import pytest

from qmtl_utils.data import chexpert, datasets
from qmtl_utils.data.common import DataFormatError, MissingDataError
from qmtl_utils.runtime.cache import Cache, MissingCacheEntry
from qmtl_utils.runtime.profiles import get_profile

SMOKE = get_profile("smoke")["data"]
PAPER = get_profile("paper")["data"]


@pytest.fixture()
def cache(tmp_path):
    return Cache(tmp_path / "smoke")


def test_demo_datasets_round_trip(cache):
    glue = datasets.read_glue(datasets.glue_dataset(cache, SMOKE["glue"], compute=True))
    assert list(glue) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli"]
    assert glue["sst2"].train.text_b.isna().all() and glue["mnli"].train.text_b.notna().all()
    assert glue["stsb"].train.label.between(0, 1).all()

    frame, root, folds = datasets.read_chexpert(datasets.chexpert_dataset(cache, SMOKE["chexpert"], compute=True))
    assert (frame.Sex.value_counts() == 100).all() and sorted(sum((list(f) for f in folds), [])) == list(range(200))
    assert (root / "train.csv").is_file()
    assert list(frame.index) == list(range(2, 202))  # lines of the cached subset.csv
    first = chexpert.image_path(root, frame["Path"].iloc[0])
    first.write_bytes(b"")  # an image that breaks after the data prep: training names it and its line
    with pytest.raises(DataFormatError, match=r"^line 2 of \S+subset.csv: image \S+ \(Path '[^']+'\) cannot be read"):
        chexpert.ChexpertDataset(frame.iloc[[0, 1]], root, image_size=8)[0]

    features, labels, folds = datasets.read_mustard(datasets.mustard_dataset(cache, SMOKE["mustard"], compute=True))
    assert features.shape == (690, SMOKE["mustard"]["feature_dim"]) and len(labels) == 690 and len(folds) == 5


def test_later_notebooks_only_look_up(cache):
    with pytest.raises(MissingCacheEntry, match="00_data_prep"):
        datasets.mustard_dataset(cache, SMOKE["mustard"])


@pytest.mark.parametrize("name, variable", [("chexpert", "QMTL_CHEXPERT_DIR"), ("mustard", "QMTL_MUSTARD_DIR")])
def test_paper_profile_without_data_says_what_to_do(cache, monkeypatch, tmp_path, name, variable):
    monkeypatch.setenv(variable, str(tmp_path / "nothing-here"))
    with pytest.raises(MissingDataError, match="nothing-here"):
        getattr(datasets, f"{name}_dataset")(cache, PAPER[name], compute=True)
