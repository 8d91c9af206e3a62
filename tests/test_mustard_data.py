"""Extended MUStARD: real-format parsing, labels, folds, errors, the demo and the B.3 projection.

Fixtures are tiny copies of the real formats: MUStARD's ``sarcasm_data.json``, the SE-MUStARD
annotation sheet as CSV (context rows, target row, blank separators) and the authors' npz
(``feautes*`` keys, per-fold object arrays, padded sequences) with MUStARD's ``split_indices.p``.
"""

import json
import pickle

import numpy as np
import pytest
import torch

from qmtl_utils.data import mustard as mu
from qmtl_utils.data.common import DataFormatError, MissingDataError
from qmtl_utils.models.backbones.mustard import MustardProjection

UTTERANCES = {  # id -> (utterance, sarcasm), in file order
    "1_60": ("It's just a privilege to watch your mind at work.", True),
    "1_70": ("I don't think I'll be able to stop thinking about it.", True),
    "1_80": ("Since it's not bee season, you can have my epinephrine.", False),
    "2_17": ("Oh, I'll be fine.", False),
    "2_25": ("Great. Just great.", True),
    "2_30": ("Sure, see you there.", False),
}

# Groups: KEY on every row / KEY only on the target / KEY only on the first row (context rows
# with labels of their own) / a group without context; separators ",,,,,,,," and an empty line.
ANNOTATION_CSV = """\
KEY,SPEAKER,SENTENCE,SHOW,SARCASM,SENTIMENT_IMPLICIT,SENTIMENT_EXPLICIT,EMOTION_IMPLICIT,EMOTION_EXPLICIT
1_60,LEONARD,I never would have identified the fingerprints of string theory.,BBT,,,,,
1_60,SHELDON,My apologies. What's your plan?,BBT,,,,,
1_60,SHELDON,It's just a privilege to watch your mind at work.,BBT,TRUE,-1,1,5,7
,,,,,,,,
,HOWARD,You'll think about it?,BBT,,,,,
1_70,PENNY,I don't think I'll be able to stop thinking about it.,BBT,TRUE,-1,0,"4,1",4

1_80,LEONARD,"Here we go. Pad thai, no peanuts.",BBT,FALSE,1,1,2,2
,SHELDON,"Since it's not bee season, you can have my epinephrine.",BBT,FALSE,0,0,4,9
,,,,,,,,
2_17,MONICA,"Oh, I'll be fine.",FRIENDS,0,1,1,6,6
,,,,,,,,
2_25,CHANDLER,Is that the new couch?,FRIENDS,,,,,
2_25,CHANDLER,"Great. Just great.",FRIENDS,1,-1,1,2,1

2_30,ROSS,"Sure, see you there.",FRIENDS,False,0,-1,8,3
"""

EXPECTED = {  # classes per TASKS order: sarcasm, sentiment_implicit/explicit, emotion_implicit/explicit
    "1_60": (1, 0, 2, 4, 6),
    "1_70": (1, 0, 1, 3, 3),
    "1_80": (0, 1, 1, 3, 8),
    "2_17": (0, 2, 2, 5, 5),
    "2_25": (1, 0, 2, 1, 0),
    "2_30": (0, 1, 0, 7, 2),
}
FOLDS = ([3, 0], [5], [1], [4], [2])  # MUStARD test indices per fold (unsorted on purpose)


def line_of(text: str, start: str) -> int:
    """1-based line number of the first line of ``text`` starting with ``start``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def write_json(folder, utterances=UTTERANCES):
    entries = {
        key: {
            "utterance": text,
            "speaker": "SHELDON",
            "context": ["Hi."],
            "context_speakers": ["PENNY"],
            "show": "BBT",
            "sarcasm": sarcasm,
        }
        for key, (text, sarcasm) in utterances.items()
    }
    (folder / mu.JSON_FILE).write_text(json.dumps(entries, indent=4), encoding="utf-8")


def object_per_fold(blocks):
    out = np.empty(len(blocks), dtype=object)
    for f, block in enumerate(blocks):
        out[f] = block
    return out


def fixture_features(n=6):
    """Per utterance: UT a zero-padded (3 steps, 2) sequence with 1-3 real steps, UA (3,), UV (2,), CT (2, 2)."""
    rng = np.random.default_rng(7)
    ut = np.zeros((n, 3, 2))
    for i in range(n):
        ut[i, : 1 + i % 3] = rng.uniform(0.5, 1.5, (1 + i % 3, 2))
    return {"UT": ut, "UA": rng.normal(size=(n, 3)), "UV": rng.normal(size=(n, 2)), "CT": rng.normal(size=(n, 2, 2))}


def write_npz(folder, sarcasm, folds=FOLDS, features=None):
    features = fixture_features() if features is None else features
    n = len(sarcasm)
    arrays = {}
    for part in ("train", "test"):
        rows = [np.setdiff1d(np.arange(n), f) if part == "train" else np.asarray(f) for f in folds]
        for m, values in features.items():
            arrays[f"feautes{m}_{part}"] = object_per_fold([values[r] for r in rows])
        arrays[f"feautesLabel_{part}"] = object_per_fold([np.eye(2)[np.asarray(sarcasm)[r]] for r in rows])
    np.savez(folder / mu.FEATURE_FILE, **arrays)
    with open(folder / mu.SPLIT_FILE, "wb") as fh:
        pickle.dump([(np.setdiff1d(np.arange(n), f), np.asarray(f)) for f in folds], fh, protocol=2)


@pytest.fixture
def real_dir(tmp_path):
    folder = tmp_path / "mustard"
    folder.mkdir()
    write_json(folder)
    (folder / "se_mustard.csv").write_text(ANNOTATION_CSV, encoding="utf-8")
    return folder


def load(folder, **kwargs):
    with pytest.warns(UserWarning, match="not 690"):
        return mu.load_mustard(folder, **kwargs)


# --------------------------------------------------------------------------- labels


def test_label_mapping():
    assert [mu.sarcasm_label(v) for v in (True, False, 1, 0, "TRUE", "False", "1", " 0 ")] == [1, 0, 1, 0, 1, 0, 1, 0]
    assert [mu.sentiment_class(v) for v in (-1, 0, 1, "-1", "1.0")] == [0, 1, 2, 0, 2]
    assert [mu.emotion_class(v) for v in range(1, 10)] == list(range(9))
    assert mu.emotion_class("9") == 8


def test_multi_code_emotion_keeps_first_code():
    assert mu.emotion_class("4,1") == 3
    assert mu.emotion_class(" 7, 2 ") == 6 and mu.emotion_class("2;5") == 1
    with pytest.raises(ValueError, match="12"):
        mu.emotion_class("4,12")  # every listed code must be valid, not only the first


@pytest.mark.parametrize(
    "parse, value",
    [
        (mu.sentiment_class, 5),
        (mu.sentiment_class, "x"),
        (mu.sentiment_class, ""),
        (mu.sentiment_class, "0.5"),
        (mu.emotion_class, 12),
        (mu.emotion_class, 0),
        (mu.emotion_class, "x"),
        (mu.emotion_class, ""),
        (mu.sarcasm_label, "maybe"),
        (mu.sarcasm_label, 2),
    ],
)
def test_unknown_label_values_raise(parse, value):
    with pytest.raises(ValueError):
        parse(value)


# --------------------------------------------------------------------------- parsing real formats


def test_annotation_csv_target_rule(real_dir):
    notes = mu.read_annotations(real_dir / "se_mustard.csv")
    assert list(notes) == list(UTTERANCES)
    for key, labels in EXPECTED.items():
        assert tuple(notes[key][t] for t in mu.TASKS) == labels, key
    assert notes["1_70"]["line"] == line_of(ANNOTATION_CSV, "1_70,PENNY")
    assert notes["1_80"]["line"] == line_of(ANNOTATION_CSV, ',SHELDON,"Since')


def test_load_labels_without_features(real_dir):
    data = load(real_dir, require_features=False, seed=3)
    assert data.ids == tuple(UTTERANCES) and data.features is None and data.source == "real"
    np.testing.assert_array_equal(data.label_matrix(), np.array([EXPECTED[k] for k in UTTERANCES]))
    assert data.label_matrix().dtype == np.int64
    assert sorted(np.concatenate(data.folds).tolist()) == list(range(6)) and len(data.folds) == 5


def test_load_with_authors_features(real_dir):
    sarcasm = [int(s) for _, s in UTTERANCES.values()]
    write_npz(real_dir, sarcasm)
    data = load(real_dir)
    feats = fixture_features()
    steps = 1 + np.arange(6) % 3
    ut_mean = feats["UT"].sum(axis=1) / steps[:, None]
    np.testing.assert_allclose(data.features, np.concatenate([ut_mean, feats["UA"], feats["UV"]], axis=1), rtol=1e-6)
    assert data.features.dtype == np.float32
    assert [f.tolist() for f in data.folds] == [list(f) for f in FOLDS]
    train, test = data.split(0)
    assert test.tolist() == [3, 0] and train.tolist() == [1, 2, 4, 5]
    chosen = load(real_dir, modalities=("UA", "CT"))
    np.testing.assert_allclose(chosen.features, np.concatenate([feats["UA"], feats["CT"].mean(axis=1)], axis=1), rtol=1e-6)


def test_npz_folds_that_do_not_match_the_labels_are_refused(real_dir):
    sarcasm = [int(s) for _, s in UTTERANCES.values()]
    write_npz(real_dir, [1 - s for s in sarcasm])
    with pytest.raises(DataFormatError, match="feautesLabel_test disagrees") as err:
        load(real_dir)
    assert err.value.path.name == mu.FEATURE_FILE


def test_npz_problems_name_the_key(real_dir):
    sarcasm = [int(s) for _, s in UTTERANCES.values()]
    write_npz(real_dir, sarcasm, features={k: v for k, v in fixture_features().items() if k != "UV"})
    with pytest.raises(DataFormatError, match="feautesUV_test"):
        load(real_dir)
    with pytest.raises(ValueError, match="modalities"):
        load(real_dir, modalities=("XX",))


def test_split_indices_must_partition(real_dir):
    sarcasm = [int(s) for _, s in UTTERANCES.values()]
    write_npz(real_dir, sarcasm, folds=([3, 0], [5], [1], [4], [1]))
    with pytest.raises(DataFormatError, match="once each") as err:
        load(real_dir)
    assert err.value.path.name == mu.SPLIT_FILE


# --------------------------------------------------------------------------- missing data


def test_missing_folder_and_files_say_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("QMTL_MUSTARD_DIR", str(tmp_path / "nowhere"))
    assert mu.mustard_dir() == tmp_path / "nowhere"
    with pytest.raises(MissingDataError) as err:
        mu.load_mustard()
    message = str(err.value)
    for hint in (
        "GussailRaat/ACL2020-SE-MUStARD-for-Multimodal-Sarcasm-Detection",
        "sarcasm_data.json",
        "QMTL_MUSTARD_DIR",
        str(tmp_path / "nowhere"),
    ):
        assert hint in message
    folder = tmp_path / "mustard"
    folder.mkdir()
    with pytest.raises(MissingDataError, match="sarcasm_data.json not found"):
        mu.load_mustard(folder)
    write_json(folder)
    with pytest.raises(MissingDataError, match="annotation CSV"):
        mu.load_mustard(folder)


def test_features_are_required_unless_told_otherwise(real_dir):
    with pytest.warns(UserWarning), pytest.raises(MissingDataError, match=mu.FEATURE_FILE):
        mu.load_mustard(real_dir)
    write_npz(real_dir, [int(s) for _, s in UTTERANCES.values()])
    (real_dir / mu.SPLIT_FILE).unlink()
    with pytest.warns(UserWarning), pytest.raises(MissingDataError, match=mu.SPLIT_FILE):
        mu.load_mustard(real_dir)


def test_several_csv_files_the_sheet_is_chosen_by_its_header(real_dir):
    """Several CSVs used to be an error asking for annotations=, which the notebooks cannot pass."""
    (real_dir / "other.csv").write_text("a,b\n", encoding="utf-8")
    (real_dir / "notes.csv").write_text("KEY,SARCASM,COMMENT\n1_60,TRUE,fine\n", encoding="utf-8")
    assert load(real_dir, require_features=False).n == 6
    assert load(real_dir, annotations=real_dir / "se_mustard.csv", require_features=False).n == 6
    (real_dir / "se_mustard_copy.csv").write_text(ANNOTATION_CSV.replace(",", ";"), encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        mu.load_mustard(real_dir, require_features=False)
    assert str(err.value) == (
        f"{real_dir}: 2 CSV files have the annotation sheet's columns: se_mustard.csv, "
        "se_mustard_copy.csv. Keep the one to use here and move the others out of this folder "
        "(a subfolder is not searched for the sheet)"
    )
    for name in ("se_mustard.csv", "se_mustard_copy.csv"):
        (real_dir / name).unlink()
    with pytest.raises(DataFormatError) as err:
        mu.load_mustard(real_dir, require_features=False)
    message = str(err.value)
    assert message.startswith(
        f"{real_dir}: none of its 2 CSV files is the annotation sheet (a header row with the columns KEY, SPEAKER, SENTENCE"
    )
    assert "notes.csv lacks SENTIMENT_IMPLICIT, SENTIMENT_EXPLICIT, EMOTION_IMPLICIT, EMOTION_EXPLICIT" in message
    assert "other.csv lacks KEY, SARCASM" in message


# --------------------------------------------------------------------------- malformed data

MALFORMED = [  # (edit of the CSV, words the message must hold, line of the error or None)
    (lambda t: t.replace("EMOTION_EXPLICIT\n", "EMOTION_EXPLICT\n"), ["EMOTION_EXPLICIT"], "KEY,"),
    (lambda t: t.replace("BBT,TRUE,-1,1,5,7", "BBT,TRUE,5,1,5,7"), ["SENTIMENT_IMPLICIT", "'5'"], "1_60,SHELDON,It"),
    (lambda t: t.replace("FRIENDS,0,1,1,6,6", "FRIENDS,0,1,1,6,12"), ["EMOTION_EXPLICIT", "'12'"], "2_17"),
    (lambda t: t.replace('"4,1",4', '"x",4'), ["EMOTION_IMPLICIT", "'x'"], "1_70"),
    (lambda t: t.replace("2_30,ROSS", "9_99,ROSS"), ["'9_99'", "no entry", "sarcasm_data.json"], "9_99"),
    (lambda t: t.replace("2_17,MONICA", "2_25,MONICA"), ["'2_25'", "two groups"], '2_25,CHANDLER,"Great'),
    (lambda t: t.replace("BBT,TRUE,-1,1,5,7", "BBT,FALSE,-1,1,5,7"), ["'1_60'", "SARCASM disagrees"], "1_60,SHELDON,It"),
    (lambda t: t.replace("2_30,ROSS", ",ROSS"), ["no KEY"], ",ROSS"),
]


@pytest.mark.parametrize("edit, words, line_start", MALFORMED)
def test_malformed_annotations_name_file_row_and_value(real_dir, edit, words, line_start):
    text = edit(ANNOTATION_CSV)
    (real_dir / "se_mustard.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        mu.load_mustard(real_dir, require_features=False)
    message = str(err.value)
    assert "se_mustard.csv" in message
    for word in words:
        assert word in message
    assert err.value.line == (None if line_start is None else line_of(text, line_start))


def test_utterance_without_annotation_names_the_key(real_dir):
    write_json(real_dir, {**UTTERANCES, "3_1": ("Unannotated.", False)})
    with pytest.raises(DataFormatError, match="'3_1'.*no annotation"):
        mu.load_mustard(real_dir, require_features=False)


def test_bad_sarcasm_json_names_the_utterance(real_dir):
    write_json(real_dir, {**UTTERANCES, "1_60": ("x", "sometimes")})
    with pytest.raises(DataFormatError, match="'1_60'") as err:
        mu.load_mustard(real_dir, require_features=False)
    assert err.value.path.name == mu.JSON_FILE


def test_cp1252_sheet_names_file_line_and_how_to_re_save(real_dir):
    """The sheet re-saved by Windows spreadsheet software: cp1252 (0x92 curly apostrophe) and CRLF."""
    sheet = real_dir / "se_mustard.csv"
    sheet.write_bytes(ANNOTATION_CSV.replace("It's just", "It\u2019s just").replace("\n", "\r\n").encode("cp1252"))
    with pytest.raises(DataFormatError) as err:
        mu.load_mustard(real_dir, require_features=False)
    line = line_of(ANNOTATION_CSV, "1_60,SHELDON,It")
    assert str(err.value).startswith(f"line {line} of {sheet}: byte 0x92 (column 16) is not UTF-8")
    assert err.value.line == line and f"iconv -f cp1252 -t utf-8 {sheet}" in str(err.value)


def _without_separators(text: str) -> str:
    """The sheet with KEY on every row and no blank rows (CRLF), as a careless export gives it."""
    header, *lines = text.splitlines()
    groups, group = [], []
    for line in lines + [""]:
        if line.strip(","):
            group.append(line.split(",", 1))
        elif group:
            groups.append(group)
            group = []
    rows = [f"{next(k for k, _ in g if k)},{rest}" for g in groups for _, rest in g]
    return "\r\n".join([header, *rows]) + "\r\n"


def test_sheet_without_separator_rows_says_so(real_dir):
    sheet = real_dir / "se_mustard.csv"
    text = _without_separators(ANNOTATION_CSV)
    sheet.write_bytes(text.encode())
    with pytest.raises(DataFormatError) as err:
        mu.load_mustard(real_dir, require_features=False)
    assert str(err.value).startswith(
        f"line 5 of {sheet}: KEY '1_70' follows KEY '1_60' (line 2) in one group of rows: the file has no blank "
        "separator rows at all. The sheet's groups (the context turns, then the target utterance) must be "
        "separated by blank rows"
    )
    assert "insert a blank row after each group's target utterance" in str(err.value)
    sheet.write_text(ANNOTATION_CSV.replace(",,,,,,,,\n,HOWARD", ",HOWARD"), encoding="utf-8")  # one missing
    with pytest.raises(DataFormatError, match="a blank separator row is missing between lines 4 and 6") as err:
        mu.load_mustard(real_dir, require_features=False)
    assert err.value.line == 6


def test_missing_files_message_names_the_root_passed(tmp_path, monkeypatch):
    monkeypatch.setenv("QMTL_MUSTARD_DIR", str(tmp_path / "default-folder"))
    folder = tmp_path / "my-mustard"
    folder.mkdir()
    for load_it in (lambda: mu.load_mustard(folder), lambda: mu.load_mustard(root=str(folder))):
        with pytest.raises(MissingDataError) as err:
            load_it()
        assert f"Put them in {folder} (or pass root=" in str(err.value) and "default-folder" not in str(err.value)


def test_group_whose_last_row_is_not_the_utterance_warns(real_dir):
    """As key 1_5617 of the public sheet: the group's last row is another turn; its labels are read
    (the target rule) with a warning naming the KEY and line."""
    sheet = real_dir / "se_mustard.csv"
    with pytest.warns(UserWarning, match="not 690") as record:  # the fixture as is: no such warning
        mu.load_mustard(real_dir, require_features=False)
    assert len(record) == 1
    text = ANNOTATION_CSV.replace('2_25,CHANDLER,"Great. Just great."', '2_25,MONICA,"Sure you did."')
    sheet.write_bytes(text.replace("\n", "\r\n").encode())
    with pytest.warns(UserWarning) as record:
        data = mu.load_mustard(real_dir, require_features=False)
    np.testing.assert_array_equal(data.label_matrix(), np.array([EXPECTED[k] for k in UTTERANCES]))
    odd = [str(w.message) for w in record if "not the utterance" in str(w.message)]
    line = line_of(text, "2_25,MONICA")
    assert odd == [
        f"{sheet}: the last row of 1 group(s) is not the utterance of {real_dir / mu.JSON_FILE}, yet its "
        f"labels are used as the target's: KEY '2_25' at line {line} ('Sure you did.', but sarcasm_data.json "
        "has 'Great. Just great.'). Check that each group ends with its target utterance"
    ]


# --------------------------------------------------------------------------- folds


@pytest.mark.parametrize("n", [690, 11, 5])
def test_fold_indices_disjoint_covering_balanced(n):
    strata = np.arange(n) % 2
    folds = mu.fold_indices(n, 5, seed=1, strata=strata)
    assert sorted(np.concatenate(folds).tolist()) == list(range(n))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert all(abs(strata[f].sum() - len(f) / 2) <= 1 for f in folds)
    assert all(np.array_equal(a, b) for a, b in zip(folds, mu.fold_indices(n, 5, seed=1, strata=strata)))
    assert not all(np.array_equal(a, b) for a, b in zip(folds, mu.fold_indices(n, 5, seed=2, strata=strata)))


# --------------------------------------------------------------------------- demo


@pytest.fixture(scope="module")
def demo():
    return mu.make_mustard_demo(seed=0)


def test_demo_shape_and_determinism(demo):
    assert demo.n == 690 and demo.features.shape == (690, 128) and demo.source == "demo"
    assert demo.features.dtype == np.float32 and set(demo.labels) == set(mu.TASKS)
    again, other = mu.make_mustard_demo(seed=0), mu.make_mustard_demo(seed=1)
    np.testing.assert_array_equal(demo.features, again.features)
    np.testing.assert_array_equal(demo.label_matrix(), again.label_matrix())
    assert not np.array_equal(demo.label_matrix(), other.label_matrix())
    assert mu.make_mustard_demo(n_samples=50, feature_dim=12, seed=0).features.shape == (50, 12)


def test_demo_folds(demo):
    assert len(demo.folds) == 5 and sorted(np.concatenate(demo.folds).tolist()) == list(range(690))
    assert {len(f) for f in demo.folds} == {138}
    for f in range(5):
        train, test = demo.split(f)
        assert not set(train) & set(test) and len(train) + len(test) == 690


def test_demo_marginals(demo):
    assert demo.labels["sarcasm"].mean() == 0.5
    for task, n_classes in (
        ("sentiment_implicit", 3),
        ("sentiment_explicit", 3),
        ("emotion_implicit", 9),
        ("emotion_explicit", 9),
    ):
        share = np.bincount(demo.labels[task], minlength=n_classes) / 690
        assert len(share) == n_classes and share.min() > 0.01, task
        if n_classes == 9:
            assert share.max() > 4 * share.min(), task  # skewed


def test_demo_labels_are_learnable(demo):
    from sklearn.linear_model import LogisticRegression

    train, test = demo.split(0)
    for task in ("sarcasm", "sentiment_implicit", "sentiment_explicit"):
        y = demo.labels[task]
        model = LogisticRegression(max_iter=1000).fit(demo.features[train], y[train])
        majority = np.bincount(y[test]).max() / len(test)
        assert model.score(demo.features[test], y[test]) > majority + 0.1, task


def test_demo_round_trips_through_the_real_loader(demo, tmp_path):
    mu.write_mustard_files(demo, tmp_path)
    with np.load(tmp_path / mu.FEATURE_FILE, allow_pickle=True) as npz:
        assert {"feautesUT_train", "feautesUA_test", "feautesUV_test", "feautesLabel_test"} <= set(npz.files)
        assert npz["feautesUT_test"].shape[:2] == (5, 138)  # the regular (folds, n, dim) layout
    loaded = mu.load_mustard(tmp_path)
    assert loaded.ids == demo.ids and loaded.source == "real"
    np.testing.assert_array_equal(loaded.label_matrix(), demo.label_matrix())
    np.testing.assert_allclose(loaded.features, demo.features)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.folds, demo.folds))
    text = (tmp_path / mu.DEMO_ANNOTATION_FILE).read_text(encoding="utf-8")
    assert text.startswith(",".join(mu.ANNOTATION_COLUMNS)) and "\n\n" in text  # blank separator rows


# --------------------------------------------------------------------------- projection (Appendix B.3)


def test_projection_shapes_and_variants():
    x = torch.randn(16, 300)
    shallow, classical = MustardProjection(300), MustardProjection.for_head("classical", 300)
    assert shallow(x).shape == classical(x).shape == (16, 39)
    assert sum(p.numel() for p in shallow.parameters()) == 300 * 39 + 39
    assert sum(p.numel() for p in classical.parameters()) == 300 * 39 + 39 + 39 * 39 + 39
    assert isinstance(classical.net[1], torch.nn.ReLU)
    for variant in ("qmtl", "hqnn4", "hqnnQ"):
        assert MustardProjection.for_head(variant, 300).hidden is None
    assert MustardProjection(300, d=30, hidden=64)(x).shape == (16, 30)
    with pytest.raises(ValueError, match="300"):
        shallow(torch.randn(16, 299))
    with pytest.raises(ValueError, match="variant"):
        MustardProjection.for_head("mlp", 300)


# --------------------------------------------------------------------------- files as users save them


def expected_labels():
    return np.array([EXPECTED[k] for k in UTTERANCES])


@pytest.mark.parametrize(
    "save",
    [
        pytest.param(lambda text: text.replace(",", ";").encode(), id="semicolons"),
        pytest.param(lambda text: text.replace("\n", "\r").encode(), id="old-mac-cr"),
        pytest.param(
            lambda text: ("\ufeff" + text.replace(",", "\t")).replace("\n", "\r\n").encode("utf-16-le"), id="excel-unicode-text"
        ),
        pytest.param(lambda text: text.encode("utf-16-le"), id="utf-16-no-bom"),
    ],
)
def test_sheet_as_spreadsheets_save_it_is_read(real_dir, save):
    """A European spreadsheet's `;` CSV said "missing columns KEY, ..." though the header held them;
    CR-only line ends were a raw _csv.Error; UTF-16 was blamed on cp1252."""
    text = ANNOTATION_CSV.replace('"4,1"', '"4;1"')  # a multi-code cell, in whatever the delimiter is
    (real_dir / "se_mustard.csv").write_bytes(save(text))
    np.testing.assert_array_equal(load(real_dir, require_features=False).label_matrix(), expected_labels())
    notes = mu.read_annotations(real_dir / "se_mustard.csv")
    assert notes["1_70"]["line"] == line_of(ANNOTATION_CSV, "1_70,PENNY")  # lines as an editor shows them


def test_label_error_in_a_semicolon_sheet_names_its_line(real_dir):
    text = ANNOTATION_CSV.replace("FRIENDS,0,1,1,6,6", "FRIENDS,0,1,1,6,12").replace(",", ";")
    (real_dir / "se_mustard.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match="EMOTION_EXPLICIT: emotion label '12'") as err:
        mu.load_mustard(real_dir, require_features=False)
    assert err.value.line == line_of(ANNOTATION_CSV, "2_17")


def test_gz_files_stand_in_and_a_packed_npz_says_to_decompress_it(real_dir):
    import gzip

    sarcasm = [int(s) for _, s in UTTERANCES.values()]
    write_npz(real_dir, sarcasm)
    for name in (mu.JSON_FILE, "se_mustard.csv", mu.SPLIT_FILE):
        (real_dir / f"{name}.gz").write_bytes(gzip.compress((real_dir / name).read_bytes()))
        (real_dir / name).unlink()
    data = load(real_dir)
    assert data.ids == tuple(UTTERANCES) and [f.tolist() for f in data.folds] == [list(f) for f in FOLDS]
    np.testing.assert_array_equal(data.label_matrix(), expected_labels())
    assert mu.read_texts(real_dir)[0] == tuple(UTTERANCES)
    npz = real_dir / mu.FEATURE_FILE
    (real_dir / f"{mu.FEATURE_FILE}.gz").write_bytes(gzip.compress(npz.read_bytes()))
    npz.unlink()
    with pytest.warns(UserWarning, match="not 690"), pytest.raises(MissingDataError) as err:
        mu.load_mustard(real_dir)
    assert f"but {real_dir / mu.FEATURE_FILE}.gz is there: decompress it (`gunzip -k" in str(err.value)


def test_feature_files_in_a_symlinked_folder_are_found(real_dir, tmp_path):
    """Path.rglob does not enter symbolic links to folders: the npz and split file were "not found"."""
    sarcasm = [int(s) for _, s in UTTERANCES.values()]
    elsewhere = tmp_path / "big-disk" / "datasetTrue_original"
    elsewhere.mkdir(parents=True)
    write_npz(elsewhere, sarcasm)
    (real_dir / "features").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "loop").symlink_to(real_dir, target_is_directory=True)  # a cycle: no endless walk
    data = load(real_dir)
    assert data.features is not None and [f.tolist() for f in data.folds] == [list(f) for f in FOLDS]


def test_authors_folds_are_used_without_the_features(real_dir, tmp_path):
    """With split_indices.p (anywhere below, links followed) and no npz, the folds are MUStARD's own."""
    seeded = load(real_dir, require_features=False)
    assert [f.tolist() for f in seeded.folds] != [list(f) for f in FOLDS]
    with pytest.warns(UserWarning, match="not 690"), pytest.raises(MissingDataError) as err:
        mu.load_mustard(real_dir, require_features=False, require_splits=True)
    message = str(err.value)
    assert f"{mu.SPLIT_FILE} (MUStARD's five folds, required here) not found in {real_dir} or below it" in message
    assert "https://github.com/soujanyaporia/MUStARD, file data/split_indices.p" in message
    assert "python -m qmtl_utils.data.fetch" in message
    splits = tmp_path / "splits"
    splits.mkdir()
    with open(splits / mu.SPLIT_FILE, "wb") as fh:
        pickle.dump([(np.setdiff1d(np.arange(6), f), np.asarray(f)) for f in FOLDS], fh, protocol=2)
    (real_dir / "mustard-data").symlink_to(splits, target_is_directory=True)
    for require_splits in (False, True):
        data = load(real_dir, require_features=False, require_splits=require_splits)
        assert data.features is None and [f.tolist() for f in data.folds] == [list(f) for f in FOLDS]
        np.testing.assert_array_equal(data.label_matrix(), expected_labels())


def test_split_indices_that_are_no_partition_are_refused_without_features_too(real_dir):
    with open(real_dir / mu.SPLIT_FILE, "wb") as fh:  # utterance 2 in no fold, 1 in two
        pickle.dump([(np.arange(6), np.asarray(f)) for f in ([3, 0], [5], [1], [4], [1])], fh, protocol=2)
    with pytest.warns(UserWarning, match="not 690"), pytest.raises(DataFormatError) as err:
        mu.load_mustard(real_dir, require_features=False)
    assert err.value.path == real_dir / mu.SPLIT_FILE
    assert "do not cover the 6 utterances of sarcasm_data.json once each (6 indices, 5 distinct)" in str(err.value)


def test_read_texts_gives_ids_utterances_and_contexts_in_json_order(real_dir):
    ids, utterances, contexts = mu.read_texts(real_dir)
    assert ids == tuple(UTTERANCES) == load(real_dir, require_features=False).ids
    assert utterances == [text for text, _ in UTTERANCES.values()] and contexts == [["Hi."]] * 6
    demo = mu.make_mustard_demo(n_samples=7, feature_dim=4)
    folder = mu.write_mustard_files(demo, real_dir.parent / "demo")
    ids, utterances, contexts = mu.read_texts(folder)
    assert ids == demo.ids and utterances[2] == "Demo utterance demo_2." and len(contexts[2]) == 3


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda e: e.pop("utterance"), "utterance '2_17' has no 'utterance' field"),
        (lambda e: e.update(utterance=None), "utterance '2_17' has 'utterance' None, not a string"),
        (lambda e: e.update(context="Hi."), "utterance '2_17' has 'context' Hi., not a list of strings"),
        (lambda e: e.update(context=["Hi.", 3]), "utterance '2_17' has 'context' ['Hi.', 3], not a list of strings"),
        (lambda e: e.update(sarcasm="sometimes"), "utterance '2_17': sarcasm label 'sometimes' is not True/False/1/0"),
    ],
)
def test_read_texts_errors_name_the_utterance_and_its_line(real_dir, change, problem):
    path = real_dir / mu.JSON_FILE
    entries = json.loads(path.read_text())
    change(entries["2_17"])
    path.write_text(json.dumps(entries, indent=4), encoding="utf-8")
    with pytest.raises(DataFormatError) as err:
        mu.read_texts(real_dir)
    line = line_of(path.read_text(), '    "2_17"')
    assert str(err.value).startswith(f"line {line} of {path}: {problem}") and err.value.line == line
