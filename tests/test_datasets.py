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


def _glue_files(root, files):
    """Write GLUE TSVs in the original distribution's layout (rows of cells, tab-separated)."""
    for name, rows in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return root


QQP_HEADER = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
NA_LIKE_GLUE = {  # texts pandas would read as missing, an empty question2 (real QQP has some), a number-like text
    "CoLA/train.tsv": [["gj04", "1", "", "NA"], ["gj04", "0", "*", "null"], ["cj99", "1", "", "007"]],
    "CoLA/dev.tsv": [["gj04", "1", "", "None"], ["gj04", "1", "", "nan"]],
    "QQP/train.tsv": [QQP_HEADER, ["1", "2", "3", "NA", "", "0"], ["4", "5", "6", "How do I cook rice?", "null", "1"]],
    "QQP/dev.tsv": [QQP_HEADER, ["7", "8", "9", "N/A", "NaN", "0"], ["10", "11", "12", "", "#N/A", "0"]],
}


def test_glue_texts_survive_the_cache_round_trip_exactly(cache, tmp_path, monkeypatch):
    """`NA`, `null`, `None`, `nan` and an empty question2 came back as NaN/None from the cache."""
    from qmtl_utils.data import glue

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is skipped at once; the folder is read
    root = _glue_files(tmp_path / "glue_data", NA_LIKE_GLUE)
    settings = {"source": "real", "dir": str(root), "tasks": ["cola", "qqp"], "seed": 0}
    cached = datasets.read_glue(datasets.glue_dataset(cache, settings, compute=True))
    loaded = glue.load_glue_dir(root, ["cola", "qqp"])
    assert cached["cola"].train["text_a"].tolist() == ["NA", "null", "007"]
    assert cached["qqp"].train["text_b"].tolist() == ["", "null"]
    assert cached["qqp"].validation["text_a"].tolist() == ["N/A", ""]
    for name in ("cola", "qqp"):
        for split in ("train", "validation"):
            got, expected = cached[name].split(split), loaded[name].split(split)
            assert got["text_a"].tolist() == expected["text_a"].tolist()
            assert got["text_b"].tolist() == expected["text_b"].tolist()
            assert got["label"].tolist() == expected["label"].tolist()
    assert cached["cola"].validation["text_b"].tolist() == [None, None]  # single sentences: no text_b


def test_a_loader_error_leaves_nothing_in_the_cache(cache, tmp_path, monkeypatch):
    """A DataFormatError while 00_data_prep builds an entry: no entry, no .tmp folder, and later
    notebooks find nothing (they are told to rerun the data prep)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    files = {**NA_LIKE_GLUE, "QQP/dev.tsv": [QQP_HEADER, ["7", "8", "9", "A?", "B?", "maybe"]]}
    root = _glue_files(tmp_path / "glue_data", files)
    settings = {"source": "real", "dir": str(root), "tasks": ["cola", "qqp"], "seed": 0}
    with pytest.raises(DataFormatError, match=r"^line 2 of \S+QQP/dev.tsv: unknown label 'maybe'"):
        datasets.glue_dataset(cache, settings, compute=True)
    assert [p for p in cache.root.rglob("*") if not p.is_dir()] == []
    assert list(cache.root.rglob(".tmp-*")) == [] and list(cache.root.glob("*/*")) == []
    with pytest.raises(MissingCacheEntry):
        datasets.glue_dataset(cache, settings)
