"""GLUE data (Appendix A.1) and backbone (Appendix B.1): real-format loaders on fixtures written in
the original distribution's exact TSV layouts, the hub's offline error, the demo generator, the
BiLSTM backbone and the token-feature cache."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from qmtl_utils.data.common import DataFormatError, MissingDataError
from qmtl_utils.data.glue import GLUE_TASKS, load_glue, load_glue_dir, load_glue_hub, write_glue_dir
from qmtl_utils.data.glue_demo import make_glue_demo
from qmtl_utils.models.backbones.glue import GlueBackbone, cached_token_features, encode_tokens, load_text_encoder
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.spec import BENCHMARKS

MNLI_TRAIN_HEADER = [
    "index",
    "promptID",
    "pairID",
    "genre",
    "sentence1_binary_parse",
    "sentence2_binary_parse",
    "sentence1_parse",
    "sentence2_parse",
    "sentence1",
    "sentence2",
    "label1",
    "gold_label",
]
MNLI_DEV_HEADER = MNLI_TRAIN_HEADER[:-1] + ["label2", "label3", "label4", "label5", "gold_label"]
STSB_HEADER = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"]
QQP_HEADER = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
PAIR_HEADER = ["index", "sentence1", "sentence2", "label"]  # RTE and WNLI


def _mnli_row(i: int, s1: str, s2: str, gold: str, n_labels: int) -> list[str]:
    return [
        str(i),
        f"{31193 + i}",
        f"{31193 + i}n",
        "government",
        f"( {s1} )",
        f"( {s2} )",
        f"(ROOT (S {s1}))",
        f"(ROOT (S {s2}))",
        s1,
        s2,
        *[gold] * n_labels,
        gold,
    ]


def _stsb_row(i: int, s1: str, s2: str, score: str) -> list[str]:
    return [str(i), "main-captions", "MSRvid", "2012test", f"{i:04d}", "none", "none", s1, s2, score]


WITNESS = (
    'Amrozi accused his brother , whom he called " the witness " , of deliberately distorting his evidence .',
    'Referring to him as only " the witness " , Amrozi accused his brother of distorting his evidence .',
)
FILES: dict[str, list[list[str]]] = {
    "CoLA/train.tsv": [  # no header: source, label, original label marker, sentence
        ["gj04", "1", "", "Our friends won't buy this analysis, let alone the next one we propose."],
        ["gj04", "0", "*", "They drank the pub."],
        ["cj99", "1", "", 'He said "no" to the offer.'],
    ],
    "CoLA/dev.tsv": [
        ["gj04", "1", "", "The sailors rode the breeze clear of the rocks."],
        ["gj04", "0", "*", "The more does Bill smoke, the more Susan hates him."],
    ],
    "SST-2/train.tsv": [
        ["sentence", "label"],
        ["hide new secretions from the parental units ", "0"],
        ["that loves its characters and communicates something rather beautiful about human nature ", "1"],
    ],
    "SST-2/dev.tsv": [["sentence", "label"], ["it 's a charming and often affecting journey . ", "1"]],
    "MRPC/train.tsv": [
        ["\ufeffQuality", "#1 ID", "#2 ID", "#1 String", "#2 String"],  # the original file starts with a BOM
        ["1", "702876", "702977", *WITNESS],
        [
            "0",
            "2108705",
            "2108831",
            "Yucaipa owned Dominick 's before selling the chain to Safeway in 1998 .",
            "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway .",
        ],
    ],
    "MRPC/dev.tsv": [
        ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
        [
            "1",
            "1355540",
            "1355592",
            "He said the foodservice pie business doesn 't fit the company 's strategy .",
            '" The foodservice pie business does not fit our long-term growth strategy .',
        ],
    ],
    "STS-B/train.tsv": [
        STSB_HEADER,
        _stsb_row(0, "A plane is taking off.", "An air plane is taking off.", "5.000"),
        _stsb_row(1, "A man is playing a large flute.", "A man is playing a flute.", "3.800"),
    ],
    "STS-B/dev.tsv": [
        STSB_HEADER,
        _stsb_row(0, "A man with a hard hat is dancing.", "A man wearing a hard hat is dancing.", "5.000"),
        _stsb_row(1, "A young child is riding a horse.", "A child is riding a horse.", "0.500"),
    ],
    "QQP/train.tsv": [
        QQP_HEADER,
        [
            "133273",
            "213221",
            "213222",
            "How is the life of a math student? Could you describe it?",
            "Which level of prepration is enough for the exam jlpt5?",
            "0",
        ],
        ["360472", "364011", "490273", 'What is a "seamless" transition?'],  # a short row, as in the real file
        ["402555", "536040", "536041", "How do I control my emotions?", "How do you control your emotions?", "1"],
    ],
    "QQP/dev.tsv": [
        QQP_HEADER,
        ["201359", "303345", "303346", "Why are cats so beautiful?", "Why are dogs so beautiful?", "0"],
    ],
    "MNLI/train.tsv": [
        MNLI_TRAIN_HEADER,
        _mnli_row(
            0,
            "Conceptually cream skimming has two basic dimensions - product and geography.",
            "Product and geography are what make cream skimming work. ",
            "neutral",
            1,
        ),
        _mnli_row(
            1,
            "you know during the season and i guess at at your level uh you lose them",
            "You lose the things to the following level if the people recall.",
            "entailment",
            1,
        ),
    ],
    "MNLI/dev_matched.tsv": [
        MNLI_DEV_HEADER,
        _mnli_row(0, "The new rights are nice enough", "Everyone really likes the newest benefits ", "neutral", 5),
        _mnli_row(
            1,
            "This site includes a list of all award winners.",
            "The articles housed on the website are not able to be searched.",
            "contradiction",
            5,
        ),
    ],
    "MNLI/dev_mismatched.tsv": [
        MNLI_DEV_HEADER,
        _mnli_row(
            0,
            "Your contribution helped make it possible for us to provide a quality education.",
            "Your contributions were of no help with our students' education.",
            "contradiction",
            5,
        ),
        _mnli_row(1, 'The "Mane" event is the first show.', "The first show is the Mane event.", "entailment", 5),
    ],
    "QNLI/train.tsv": [
        ["index", "question", "sentence", "label"],
        [
            "0",
            "When did the third Digimon series begin?",
            "Unlike the two seasons before it, Digimon Tamers takes a darker approach.",
            "not_entailment",
        ],
        [
            "1",
            "Which missile batteries often have individual launchers several kilometres apart?",
            "When MANPADS is operated by specialists, batteries may have several dozen teams.",
            "entailment",
        ],
    ],
    "QNLI/dev.tsv": [
        ["index", "question", "sentence", "label"],
        [
            "0",
            "What came into force after the new constitution was herald?",
            "As of that day, the new constitution heralding the Second Republic came into force.",
            "entailment",
        ],
    ],
    "RTE/train.tsv": [
        PAIR_HEADER,
        [
            "0",
            "No Weapons of Mass Destruction Found in Iraq Yet.",
            "Weapons of Mass Destruction Found in Iraq.",
            "not_entailment",
        ],
        [
            "1",
            "A place of sorrow, after Pope John Paul II died, became a place of celebration.",
            "Pope Benedict XVI is the new leader of the Roman Catholic Church.",
            "entailment",
        ],
    ],
    "RTE/dev.tsv": [
        PAIR_HEADER,
        [
            "0",
            "Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44.",
            "Christopher Reeve had an accident.",
            "not_entailment",
        ],
    ],
    "WNLI/train.tsv": [
        PAIR_HEADER,
        ["0", "I stuck a pin through a carrot. When I pulled the pin out, it had a hole.", "The carrot had a hole.", "1"],
        ["1", "John couldn't see the stage with Billy in front of him because he is so short.", "Billy is so short.", "0"],
    ],
    "WNLI/dev.tsv": [
        PAIR_HEADER,
        ["0", "The drain is clogged with hair. It has to be cleaned.", "The hair has to be cleaned.", "0"],
    ],
}


def _write(root: Path, files: dict[str, list[list[str]]]) -> Path:
    for name, rows in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
    return root


@pytest.fixture
def glue_root(tmp_path: Path) -> Path:
    return _write(tmp_path / "glue_data", FILES)


# --------------------------------------------------------------------------- original distribution


def test_every_task_parses_with_the_hub_schema(glue_root: Path) -> None:
    with pytest.warns(UserWarning, match=r"QQP/train.tsv: skipped 1 row"):
        data = load_glue_dir(glue_root)
    assert tuple(data) == GLUE_TASKS == BENCHMARKS["glue"].task_names
    for name, task in data.items():
        for frame in (task.train, task.validation):
            assert list(frame.columns) == ["text_a", "text_b", "label"]
            assert frame["text_b"].isna().all() == (name in ("cola", "sst2")) == (not task.is_pair)
    cola = data["cola"].train  # header-less: the first row is data
    assert cola["text_a"].tolist()[0].startswith("Our friends") and cola["label"].tolist() == [1, 0, 1]
    assert cola["text_a"].tolist()[2] == 'He said "no" to the offer.'  # quotes kept verbatim
    mrpc = data["mrpc"].train
    assert mrpc["label"].tolist() == [1, 0] and '" the witness "' in mrpc["text_a"][0]
    assert data["qqp"].train["label"].tolist() == [0, 1]  # the short row is skipped
    assert data["qnli"].train["label"].tolist() == [1, 0]  # entailment=0, not_entailment=1 (hub order)
    assert data["rte"].train["label"].tolist() == [1, 0]
    assert data["wnli"].train["label"].tolist() == [1, 0]
    assert data["sst2"].validation["text_a"][0] == "it 's a charming and often affecting journey . "


def test_stsb_scores_are_divided_by_five(glue_root: Path) -> None:
    stsb = load_glue_dir(glue_root, ["stsb"])["stsb"]
    assert stsb.train["label"].tolist() == pytest.approx([1.0, 0.76])
    assert stsb.validation["label"].tolist() == pytest.approx([1.0, 0.1])
    assert stsb.train["text_b"][0] == "An air plane is taking off."


def test_mnli_validation_is_matched_then_mismatched(glue_root: Path) -> None:
    mnli = load_glue_dir(glue_root, ["mnli"])["mnli"]
    assert mnli.train["label"].tolist() == [1, 0]
    assert mnli.validation["label"].tolist() == [1, 2, 2, 0]  # entailment 0, neutral 1, contradiction 2
    assert mnli.validation["text_a"][0] == "The new rights are nice enough"
    assert mnli.validation["text_b"][3] == "The first show is the Mane event."


def test_missing_file_or_task_folder_names_the_path(glue_root: Path) -> None:
    (glue_root / "RTE" / "dev.tsv").unlink()
    with pytest.raises(MissingDataError, match=r"RTE/dev.tsv is missing") as err:
        load_glue_dir(glue_root, ["rte"])
    assert "QMTL_GLUE_DIR" in str(err.value) and "MNLI/dev_mismatched.tsv" in str(err.value)
    with pytest.raises(MissingDataError, match=r"CoLA/train.tsv is missing"):
        load_glue_dir(glue_root.parent / "elsewhere", ["cola"])


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    root = _write(tmp_path, {"SST-2/train.tsv": [["sentence", "labels"], ["fine", "1"]]})
    with pytest.raises(DataFormatError, match=r"SST-2/train.tsv: no column 'label'") as err:
        load_glue_dir(root, ["sst2"])
    assert err.value.path == root / "SST-2" / "train.tsv"


def test_unknown_label_names_file_row_and_value(glue_root: Path) -> None:
    rows = [MNLI_DEV_HEADER, _mnli_row(0, "A b.", "C d.", "neutral", 5), _mnli_row(1, "E f.", "G h.", "maybe", 5)]
    _write(glue_root, {"MNLI/dev_mismatched.tsv": rows})
    with pytest.raises(DataFormatError, match=r"^line 3 of \S+dev_mismatched.tsv: unknown label 'maybe'") as err:
        load_glue_dir(glue_root, ["mnli"])
    assert err.value.line == 3 and "correct or delete that line" in str(err.value)  # line 1 is the header


def test_hub_offline_fails_fast_and_load_glue_uses_the_directory(glue_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("QMTL_GLUE_DIR", str(glue_root.parent / "nowhere"))
    start = time.perf_counter()
    with pytest.raises(MissingDataError, match="HF_HUB_OFFLINE") as err:
        load_glue_hub(["rte"])
    assert time.perf_counter() - start < 2.0
    assert "QMTL_GLUE_DIR" in str(err.value) and "glue_data" in str(err.value)
    with pytest.raises(MissingDataError, match=r"nowhere does not exist"):
        load_glue({})
    monkeypatch.setenv("QMTL_GLUE_DIR", str(glue_root))
    data = load_glue({"tasks": ["rte", "wnli"]})
    assert list(data) == ["rte", "wnli"] and data["rte"].source.startswith("dir:")


# --------------------------------------------------------------------------- demo


def test_demo_is_seeded_with_real_label_spaces_and_words() -> None:
    demo = make_glue_demo(120, seed=3)
    again, other = make_glue_demo(120, seed=3), make_glue_demo(120, seed=4)
    assert tuple(demo) == GLUE_TASKS
    for name, task in demo.items():
        spec = next(t for t in BENCHMARKS["glue"].tasks if t.name == name)
        assert len(task.train) == 96 and len(task.validation) == 24
        assert task.train.equals(again[name].train) and task.validation.equals(again[name].validation)
        assert not task.train.equals(other[name].train)
        labels = np.concatenate([task.train["label"], task.validation["label"]])
        if spec.kind == "regression":
            assert labels.min() >= 0.0 and labels.max() <= 1.0 and labels.std() > 0.2
        else:
            assert set(labels.tolist()) == set(range(max(2, spec.n_outputs)))
        texts = task.train["text_a"].tolist() + (task.train["text_b"].tolist() if task.is_pair else [])
        assert task.train["text_b"].isna().all() == (name in ("cola", "sst2"))
        for text in texts:
            assert isinstance(text, str) and re.fullmatch(r"[A-Za-z][A-Za-z' ,.?]*", text), text
    assert "The" in " ".join(demo["mnli"].train["text_a"]) and "not" in " ".join(demo["sst2"].train["text_a"])


def test_demo_round_trips_through_the_original_format(tmp_path: Path) -> None:
    demo = make_glue_demo(40, seed=1)
    back = load_glue_dir(write_glue_dir(demo, tmp_path))
    assert not (tmp_path / "CoLA" / "train.tsv").read_text().startswith("source")  # header-less, as real CoLA
    assert (tmp_path / "MNLI" / "dev_mismatched.tsv").is_file()
    for name, task in demo.items():
        for split in ("train", "validation"):
            # the demo's noiseless "oracle" column is not part of GLUE's format: it is not written
            pd.testing.assert_frame_equal(back[name].split(split), task.split(split).drop(columns="oracle"), atol=1e-4)
            assert "oracle" not in back[name].split(split)


def _bow_accuracy(task) -> tuple[float, float]:
    """Logistic regression on binary bag-of-words vectors u, v with [u, v, |u - v|, u ⊙ v] (Eq. (22))."""
    vocab = CountVectorizer(ngram_range=(1, 2), binary=True).fit(
        task.train["text_a"].tolist() + (task.train["text_b"].tolist() if task.is_pair else [])
    )

    def features(frame):
        u = vocab.transform(frame["text_a"]).astype(np.float64)
        if not task.is_pair:
            return u
        v = vocab.transform(frame["text_b"]).astype(np.float64)
        return hstack([u, v, csr_matrix(abs(u - v)), u.multiply(v)]).tocsr()

    model = LogisticRegression(max_iter=2000).fit(features(task.train), task.train["label"])
    accuracy = float((model.predict(features(task.validation)) == task.validation["label"]).mean())
    return accuracy, float(task.validation["label"].value_counts(normalize=True).max())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sst2", "mnli"])
def test_demo_labels_depend_on_the_text(name: str) -> None:
    task = make_glue_demo(800, seed=0, tasks=[name])[name]
    accuracy, majority = _bow_accuracy(task)
    assert accuracy > majority + 0.1, (accuracy, majority)


# --------------------------------------------------------------------------- backbone


def test_backbone_shapes_for_single_sentences_and_pairs() -> None:
    torch.manual_seed(0)
    net = GlueBackbone(encoder_hidden=16).eval()
    assert net.lstm.hidden_size == 8 and net.lstm.num_layers == 2 and net.lstm.bidirectional
    assert net.single[0].in_features == 16 and net.pair[0].in_features == 64
    assert net.single[-1].out_features == net.pair[-1].out_features == 30
    x, mask = torch.randn(5, 7, 16).half(), torch.ones(5, 7, dtype=torch.bool)
    assert net(x, mask).shape == (5, 30)
    assert net(x, mask, torch.randn(5, 4, 16), torch.ones(5, 4)).shape == (5, 30)


def test_pair_features_are_eq22_of_the_two_sentences_pooled_separately() -> None:
    """Both sentences share one packed BiLSTM call; that must equal pooling each side on its own."""
    torch.manual_seed(0)
    net = GlueBackbone(encoder_hidden=16, proj_hidden=12, lstm_hidden=5).eval()
    a, b = torch.randn(4, 7, 16), torch.randn(4, 3, 16)
    mask_a = torch.arange(7)[None, :] < torch.tensor([7, 3, 1, 6])[:, None]
    mask_b = torch.arange(3)[None, :] < torch.tensor([3, 2, 3, 1])[:, None]
    with torch.no_grad():
        s1, s2 = net.pool(a, mask_a), net.pool(b, mask_b)
        expected = net.pair(torch.cat([s1, s2, (s1 - s2).abs(), s1 * s2], dim=-1))
        assert torch.allclose(net(a, mask_a, b, mask_b), expected, atol=1e-6)
        swapped = net.pair(torch.cat([s2, s1, (s2 - s1).abs(), s2 * s1], dim=-1))  # shorter side first
        assert torch.allclose(net(b, mask_b, a, mask_a), swapped, atol=1e-6)


def test_padding_changes_nothing() -> None:
    torch.manual_seed(0)
    net = GlueBackbone(encoder_hidden=16).eval()
    lengths = torch.tensor([7, 3, 1, 5])
    mask = torch.arange(7)[None, :] < lengths[:, None]
    x, y = torch.randn(4, 7, 16), torch.randn(4, 6, 16)
    mask_y = torch.arange(6)[None, :] < torch.tensor([2, 6, 4, 1])[:, None]
    noisy = torch.where(mask[..., None], x, 100 * torch.randn_like(x))
    longer = torch.cat([x, torch.randn(4, 3, 16)], dim=1)
    mask_longer = torch.cat([mask, torch.zeros(4, 3, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        ref, ref_pair = net(x, mask), net(x, mask, y, mask_y)
        assert torch.allclose(net(noisy, mask), ref, atol=1e-6)
        assert torch.allclose(net(longer, mask_longer), ref, atol=1e-6)
        assert torch.allclose(net(noisy, mask, y, mask_y), ref_pair, atol=1e-6)
        assert not torch.allclose(net(noisy, torch.ones_like(mask)), ref, atol=1e-3)  # real tokens do matter


# --------------------------------------------------------------------------- encoder (real MiniLM, offline)


@pytest.fixture(scope="module")
def minilm():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        return load_text_encoder("bert-base-uncased", fallback=True)


def test_minilm_fallback_encoder_loads_offline(minilm, monkeypatch) -> None:
    tokenizer, model, info = minilm
    assert info["hidden_size"] == 384 and "MiniLM" in info["encoder"]
    assert "bert-base-uncased" in info["fallback_reason"]
    tokens, mask = encode_tokens(["The teacher bought a car.", "Nobody saw it."], tokenizer, model)
    assert tokens.dtype == torch.float16 and mask.dtype == torch.bool
    assert tokens.shape == (2, mask.shape[1], 384)
    assert mask.sum(1).tolist() == [8, 6] and tokens[1, 6:].abs().sum() == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingDataError, match="fallback=True"):
        load_text_encoder("bert-base-uncased")


def test_token_features_are_cached(minilm, tmp_path: Path, monkeypatch, capsys) -> None:
    cache, data = Cache(tmp_path / "cache"), make_glue_demo(12, seed=0, tasks=["sst2", "mrpc"])
    first = cached_token_features(cache, data, "bert-base-uncased", max_length=32, encoder=minilm)
    assert capsys.readouterr().out.count("[cache] miss glue_tokens") == 4
    feats = first["mrpc"]["train"]
    n = len(data["mrpc"].train)
    assert feats.tokens_a[:].dtype == torch.float16 and feats.tokens_a.shape[0] == n and feats.tokens_a.shape[2] == 384
    assert len(feats.tokens_b) == feats.label.shape[0] and first["sst2"]["validation"].tokens_b is None
    assert "MiniLM" in feats.meta["encoder"] and feats.meta["extract_wall_s"] >= 0
    # stored at each text's true length: exactly the dense encoding, without its padding
    dense, mask = encode_tokens(data["mrpc"].train["text_b"].tolist(), minilm[0], minilm[1], max_length=32)
    assert feats.meta["stored_tokens"] == int(mask.sum()) + int(feats.mask_a[:].sum())
    rows = torch.tensor([3, 0, 5])
    assert torch.equal(feats.mask_b[rows], mask[rows][:, : int(mask[rows].sum(1).max())])
    assert torch.allclose(feats.tokens_b[rows].float(), dense[rows][:, : feats.mask_b[rows].shape[1]].float(), atol=2e-3)
    monkeypatch.setattr("qmtl_utils.models.backbones.glue.write_ragged_tokens", lambda *a, **k: pytest.fail("recomputed"))
    second = cached_token_features(cache, data, "bert-base-uncased", max_length=32, encoder=minilm)
    assert capsys.readouterr().out.count("[cache] hit  glue_tokens") == 4
    assert torch.equal(second["mrpc"]["train"].tokens_b[:], feats.tokens_b[:])
    out = GlueBackbone(384).eval()(feats.tokens_a[:], feats.mask_a[:], feats.tokens_b[:], feats.mask_b[:])
    assert out.shape == (n, 30)


# --------------------------------------------------------------------------- faults of files saved elsewhere


def test_cp1252_tsv_names_file_line_and_how_to_re_save(tmp_path: Path) -> None:
    """A TSV re-saved by Windows spreadsheet software: cp1252 bytes (0x92 curly apostrophe) and CRLF."""
    path = tmp_path / "SST-2" / "train.tsv"
    path.parent.mkdir()
    path.write_bytes(
        b"sentence\tlabel\r\nhide new secretions from the parental units \t0\r\n"
        b"it\x92s a charming and often affecting journey . \t1\r\n"
    )
    with pytest.raises(DataFormatError) as err:
        load_glue_dir(tmp_path, ["sst2"])
    message = str(err.value)
    assert message.startswith(f"line 3 of {path}: byte 0x92 (column 3) is not UTF-8") and err.value.line == 3
    assert "cp1252" in message and f"iconv -f cp1252 -t utf-8 {path}" in message


def test_blank_lines_are_ignored_quietly_and_short_rows_named(glue_root: Path) -> None:
    """A blank line at the end (and a row of empty cells) is no "row with missing fields"; a real
    short row is still skipped, with its line named."""
    clean = load_glue_dir(glue_root, ["rte"])["rte"]
    path = glue_root / "RTE" / "train.tsv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n") + b"\t\t\t\r\n\r\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_glue_dir(glue_root, ["rte"])["rte"]
    pd.testing.assert_frame_equal(loaded.train, clean.train)
    qqp = glue_root / "QQP" / "train.tsv"
    qqp.write_bytes(qqp.read_bytes() + b"\n")
    with pytest.warns(UserWarning) as record:
        assert load_glue_dir(glue_root, ["qqp"])["qqp"].train["label"].tolist() == [0, 1]
    assert [str(w.message) for w in record] == [
        f"{qqp}: skipped 1 row(s) with missing fields (fewer than 6 tab-separated fields) at line(s) 3, "
        "as the hub's GLUE loader does"
    ]


# --------------------------------------------------------------------------- files as users save them

HUB_FILES: dict[str, list[list[str]]] = {  # ds.to_csv(sep="\t") of the hub's splits: its column names, class ids
    "CoLA/train.tsv": [
        ["sentence", "label", "idx"],
        ["Our friends won't buy this analysis, let alone the next one we propose.", "1", "0"],
        ["They drank the pub.", "0", "1"],
    ],
    "CoLA/dev.tsv": [["sentence", "label", "idx"], ["The sailors rode the breeze clear of the rocks.", "1", "0"]],
    "MRPC/train.tsv": [["sentence1", "sentence2", "label", "idx"], [*WITNESS, "1", "0"]],
    "MRPC/dev.tsv": [["sentence1", "sentence2", "label", "idx"], ["A b .", "C d .", "0", "0"]],
    "STS-B/train.tsv": [
        ["sentence1", "sentence2", "label", "idx"],
        ["A plane is taking off.", "An air plane is taking off.", "5.0", "0"],
    ],
    "STS-B/dev.tsv": [["sentence1", "sentence2", "label", "idx"], ["A man.", "A child.", "0.5", "0"]],
    "QQP/train.tsv": [
        ["question1", "question2", "label", "idx"],
        ["How do I control my emotions?", "How do you control your emotions?", "1", "0"],
    ],
    "QQP/dev.tsv": [["question1", "question2", "label", "idx"], ["Why are cats?", "Why are dogs?", "0", "0"]],
    "MNLI/train.tsv": [["premise", "hypothesis", "label", "idx"], ["A b.", "C d.", "2", "0"], ["E f.", "G h.", "1", "1"]],
    "MNLI/dev_matched.tsv": [["premise", "hypothesis", "label", "idx"], ["I j.", "K l.", "0", "0"]],
    "MNLI/dev_mismatched.tsv": [["premise", "hypothesis", "label", "idx"], ["M n.", "O p.", "1", "0"]],
    "QNLI/train.tsv": [["question", "sentence", "label", "idx"], ["When?", "Then.", "1", "0"], ["Who?", "He.", "0", "1"]],
    "QNLI/dev.tsv": [["question", "sentence", "label", "idx"], ["Why?", "Because.", "0", "0"]],
}


def test_hub_exports_are_read_with_the_hubs_columns_and_class_ids(tmp_path: Path) -> None:
    """A CoLA saved from the hub has a header (sentence, label, idx): it used to be read as the
    header-less original, every row skipped and a 0-row split cached."""
    root = _write(tmp_path, HUB_FILES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_glue_dir(root, ["cola", "mrpc", "stsb", "qqp", "mnli", "qnli"])
    cola = data["cola"]
    assert cola.train["text_a"].tolist() == [HUB_FILES["CoLA/train.tsv"][1][0], "They drank the pub."]
    assert cola.train["label"].tolist() == [1, 0] and cola.train["text_b"].isna().all() and len(cola.validation) == 1
    assert data["mrpc"].train["text_a"][0] == WITNESS[0] and data["mrpc"].train["label"].tolist() == [1]
    assert data["stsb"].train["label"].tolist() == [1.0] and data["stsb"].validation["label"].tolist() == [0.1]
    assert data["qqp"].train["text_b"][0] == "How do you control your emotions?"
    assert data["mnli"].train["label"].tolist() == [2, 1] and data["mnli"].validation["label"].tolist() == [0, 1]
    assert data["qnli"].train["label"].tolist() == [1, 0]  # the hub's ids: 0 entailment, 1 not_entailment
    # the hub's test split (label -1) is named for what it is
    _write(root, {"QNLI/dev.tsv": [["question", "sentence", "label", "idx"], ["Why?", "Because.", "-1", "0"]]})
    with pytest.raises(DataFormatError, match=r"^line 2 of \S+QNLI/dev.tsv: label -1 is the hub's mark of an unlabelled"):
        load_glue_dir(root, ["qnli"])
    _write(root, {"MNLI/train.tsv": [["premise", "hypothesis", "label", "idx"], ["A b.", "C d.", "3", "0"]]})
    with pytest.raises(
        DataFormatError,
        match=r"^line 2 of \S+MNLI/train.tsv: unknown label '3' in column 'label' of a "
        r"Hugging Face hub export \(expected a class id 0, 1, 2\)",
    ):
        load_glue_dir(root, ["mnli"])


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "the file is empty (0 bytes)"),
        (b"\n\r\n", "the file holds nothing but blank lines"),
        ("\t".join(MNLI_DEV_HEADER).encode() + b"\n", "holds no data rows, only its header (line 1)"),
        ("\t".join(MNLI_DEV_HEADER).encode() + b"\n\n\t\t\n", "holds no data rows, only its header (line 1)"),
        ("\t".join(MNLI_DEV_HEADER).encode() + b"\n0\tx\n1\ty\n", "has no usable row: all 2 data row(s) have fewer than 16"),
    ],
)
def test_a_split_without_data_rows_is_an_error_naming_the_file(glue_root: Path, content: bytes, problem: str) -> None:
    path = glue_root / "MNLI" / "dev_mismatched.tsv"
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skipped rows' own warning
        with pytest.raises(DataFormatError) as err:
            load_glue_dir(glue_root, ["mnli"])
    assert err.value.path == path and problem in str(err.value) and "get it again" in str(err.value).lower()
    cola = glue_root / "CoLA" / "dev.tsv"  # header-less: an empty file has no rows either
    cola.write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"CoLA/dev.tsv: the file is empty"):
        load_glue_dir(glue_root, ["cola"])


def test_tsv_re_saved_by_pandas_is_unquoted_and_bare_quotes_stay(glue_root: Path) -> None:
    """pandas' to_csv(sep="\t") wraps a text holding a quote in quotes and doubles the inner ones;
    the original files are QUOTE_NONE, where a quote (MRPC's `" the witness "`) is text."""
    extensive = 'Valero said it had made "extensive" changes .'
    _write(
        glue_root,
        {
            "MRPC/dev.tsv": [
                FILES["MRPC/dev.tsv"][0],
                ["1", "1", "2", extensive, '" the witness "'],
                ["0", "3", "4", '" A quote opens .', "None closes ."],
            ]
        },
    )
    original = load_glue_dir(glue_root, ["mrpc", "stsb"])
    assert original["mrpc"].validation["text_a"].tolist() == [extensive, '" A quote opens .']
    assert original["mrpc"].validation["text_b"][0] == '" the witness "'  # starts and ends with a quote: kept
    assert original["mrpc"].train["text_a"][0] == WITNESS[0]
    for task in ("MRPC", "STS-B"):
        for split in ("train", "dev"):
            path = glue_root / task / f"{split}.tsv"
            frame = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)  # 3: csv.QUOTE_NONE
            frame.to_csv(path, sep="\t")  # with pandas' index column, as a notebook user re-saves it
    assert '"Valero said it had made ""extensive"" changes ."' in (glue_root / "MRPC" / "dev.tsv").read_text()
    resaved = load_glue_dir(glue_root, ["mrpc", "stsb"])
    for name in ("mrpc", "stsb"):
        for split in ("train", "validation"):
            pd.testing.assert_frame_equal(resaved[name].split(split), original[name].split(split))


def test_cola_re_saved_by_pandas_with_its_numbered_header(glue_root: Path) -> None:
    clean = load_glue_dir(glue_root, ["cola"])["cola"]
    path = glue_root / "CoLA" / "train.tsv"
    pd.read_csv(path, sep="\t", header=None, quoting=3, dtype=str, keep_default_na=False).to_csv(path, sep="\t")
    assert path.read_text().startswith("\t0\t1\t2\t3\n")
    pd.testing.assert_frame_equal(load_glue_dir(glue_root, ["cola"])["cola"].train, clean.train)


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda text: text.replace("\n", "\r").encode(), id="old-mac-cr"),
        pytest.param(lambda text: text.replace("\n", "\r\n").encode("utf-16"), id="utf-16-bom"),
        pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16-le-no-bom"),
        pytest.param(lambda text: text.encode("utf-16-be"), id="utf-16-be-no-bom"),
    ],
)
def test_cr_line_ends_and_utf16_files_are_read(glue_root: Path, encode) -> None:
    """Old Mac Excel's CR-only line ends and Excel's "Unicode text" (UTF-16) used to be a raw
    _csv.Error and a cp1252 error with the wrong advice."""
    clean = load_glue_dir(glue_root, ["mrpc", "cola"])
    for name in ("MRPC/train.tsv", "CoLA/dev.tsv"):
        path = glue_root / name
        path.write_bytes(encode(path.read_text(encoding="utf-8")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_glue_dir(glue_root, ["mrpc", "cola"])
    for name in ("mrpc", "cola"):
        for split in ("train", "validation"):
            pd.testing.assert_frame_equal(loaded[name].split(split), clean[name].split(split))


def test_damaged_utf16_names_the_line_and_the_utf16_conversion(glue_root: Path) -> None:
    path = glue_root / "SST-2" / "train.tsv"
    path.write_bytes(path.read_text().encode("utf-16") + b"\x00\xd8")  # a lone surrogate at the end (line 4)
    with pytest.raises(DataFormatError) as err:
        load_glue_dir(glue_root, ["sst2"])
    message = str(err.value)
    assert message.startswith(f"line 4 of {path}: the file is UTF-16") and "cp1252" not in message
    assert f"iconv -f utf-16 -t utf-8 {path}" in message


def test_gz_stands_in_for_a_missing_file(glue_root: Path) -> None:
    import gzip

    clean = load_glue_dir(glue_root, ["rte"])["rte"]
    path = glue_root / "RTE" / "train.tsv"
    packed = path.with_name("train.tsv.gz")
    packed.write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    pd.testing.assert_frame_equal(load_glue_dir(glue_root, ["rte"])["rte"].train, clean.train)
    packed.write_bytes(gzip.compress(b"index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n"))
    with pytest.raises(DataFormatError, match=r"^line 2 of \S+RTE/train.tsv.gz: unknown label 'maybe'"):
        load_glue_dir(glue_root, ["rte"])


def test_missing_task_file_names_it_and_how_to_run_the_tasks_there_are(glue_root: Path) -> None:
    (glue_root / "QQP" / "train.tsv").unlink()
    with pytest.raises(MissingDataError) as err:
        load_glue_dir(glue_root, ["rte", "qqp"])
    message = str(err.value)
    assert message.startswith(f"{glue_root / 'QQP' / 'train.tsv'} is missing (GLUE task folder QQP)")
    assert message.endswith("\nTo run only the tasks you have, pass `-p glue_tasks cola,mrpc,...` to run_all.sh.")


def test_workbook_or_unnamed_gzip_saved_as_the_tsv_says_what_it_is(glue_root: Path) -> None:
    import gzip
    import io
    import zipfile

    path = glue_root / "SST-2" / "train.tsv"
    text = path.read_bytes()
    book = io.BytesIO()
    with zipfile.ZipFile(book, "w") as archive:  # what an .xlsx workbook is
        archive.writestr("xl/workbook.xml", "<workbook/>")
    path.write_bytes(book.getvalue())
    with pytest.raises(DataFormatError, match=r"SST-2/train.tsv: is a ZIP archive, not text: an Excel workbook"):
        load_glue_dir(glue_root, ["sst2"])
    path.write_bytes(gzip.compress(text))
    with pytest.raises(DataFormatError) as err:
        load_glue_dir(glue_root, ["sst2"])
    assert str(err.value).startswith(
        f"{path}: is gzip-compressed, but its name does not end in .gz: rename it (`mv {path} {path}.gz`"
    )
