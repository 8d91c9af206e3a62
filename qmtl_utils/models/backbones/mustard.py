"""Extended MUStARD backbone (Appendix B.3): a shallow dense projection of the authors'
pre-extracted multimodal features to the heads' input width d = M = Q·L = 13·3 = 39, and, for the
lite profile, text features of the real utterances from a frozen sentence encoder.

**Text features (lite).** The paper uses the authors' pre-extracted features; their text part
(``UT``, ``CT``) are MUStARD's BERT-base sentence vectors of the utterance and of its context
sentences (the context averaged over its sentences). The lite profile computes the same two
vectors from the public text with the frozen all-MiniLM-L6-v2 (:func:`sentence_embeddings`: its
own sentence embedding, the mean of the token states over real tokens, L2-normalised): one for the
utterance and the mean of one per context turn, concatenated to 384 + 384 features
(:func:`cached_text_features`, stage ``mustard_text``). :func:`mustard_features` puts them in front
of whatever features the dataset carries (the authors' audio and visual, when present).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from qmtl_utils.data import datasets
from qmtl_utils.models.backbones.glue import _encoded_batches, load_text_encoder
from qmtl_utils.runtime.cache import Cache, Entry
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.spec import HEAD_VARIANTS


class MustardProjection(nn.Module):
    """Features ``(batch, in_features)`` → ``(batch, d)``.

    * ``hidden=None``: one ``Linear(in_features, d)``, the "shallow dense network" that projects
      the features to M=39 in front of the QMTL head and of the HQNN head (which then applies its
      own Linear(39→3), :class:`~qmtl_utils.models.heads.HQNNHead`). The paper does not give its depth;
      one layer is our reading.
    * ``hidden=h``: ``Linear(in_features, h) → ReLU → Linear(h, d)``, the classical head's "two
      linear layers with M=39 output dimensions and ReLU activation on the first layer"; the paper
      uses ``h = 39`` (:meth:`for_head`).

    No activation follows the last layer: the QMTL head takes the values as RX angles.

    Taught in: 01_backbones, "Extended MUStARD: a shallow projection of the multimodal features to d = 39 (Appendix B.3)"
    """

    def __init__(self, in_features: int, d: int = 39, hidden: int | None = None):
        super().__init__()
        self.in_features, self.d, self.hidden = in_features, d, hidden
        if hidden is None:
            self.net = nn.Linear(in_features, d)
        else:
            self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, d))

    @classmethod
    def for_head(cls, variant: str, in_features: int, d: int = 39) -> "MustardProjection":
        """The paper's projection for a head variant (``classical``, ``hqnn4``, ``hqnnQ``, ``qmtl``)."""
        if variant not in HEAD_VARIANTS:
            raise ValueError(f"unknown head variant {variant!r}; use one of {HEAD_VARIANTS}")
        return cls(in_features, d, hidden=d if variant == "classical" else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MustardProjection expects (batch, {self.in_features}) features, got {tuple(x.shape)}")
        return self.net(x)


# --------------------------------------------------------------------------- text features (lite)


def sentence_embeddings(texts: list[str], tokenizer, model, max_length: int = 128, batch_size: int = 64) -> np.ndarray:
    """``(n, H)`` float32 sentence embeddings of ``texts`` from a frozen encoder: the mean of its last
    hidden states over each text's real tokens, L2-normalised (how all-MiniLM-L6-v2 is meant to be
    used as a sentence encoder), at most ``max_length`` tokens per text."""
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for rows, hidden, lengths in _encoded_batches(texts, tokenizer, model, max_length, batch_size):
        mask = np.arange(hidden.shape[1])[None, :] < lengths[:, None]
        mean = (hidden.astype(np.float32) * mask[..., None]).sum(1) / np.maximum(lengths, 1)[:, None]
        out[rows] = mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return out


def utterance_and_context(
    utterances: list[str], contexts: list[list[str]], tokenizer, model, max_length: int = 128
) -> np.ndarray:
    """``(n, 2H)``: each utterance's sentence embedding, then the mean of its context turns' (zeros
    for an utterance without context)."""
    turns = [turn for context in contexts for turn in context]
    encoded = sentence_embeddings(list(utterances) + turns, tokenizer, model, max_length)
    utterance, turn_vectors = encoded[: len(utterances)], encoded[len(utterances) :]
    context = np.zeros_like(utterance)
    start = 0
    for i, turns_i in enumerate(contexts):
        if turns_i:
            context[i] = turn_vectors[start : start + len(turns_i)].mean(0)
        start += len(turns_i)
    return np.concatenate([utterance, context], axis=1)


def cached_text_features(
    cache: Cache, data_entry: Entry, encoder_name: str, max_length: int = 128, encoder: tuple | None = None
) -> Entry:
    """The utterance + context text features of a lite MUStARD dataset entry, computed once (stage
    ``mustard_text``: ``text.npy`` ``(n, 2H)`` float32, rows in the dataset's order), keyed by the
    dataset, the encoder and ``max_length``. ``encoder`` = ``(tokenizer, model, info)`` from
    :func:`~qmtl_utils.models.backbones.glue.load_text_encoder` skips loading it again."""

    def compute(folder: Path) -> dict:
        tokenizer, model, info = encoder or load_text_encoder(encoder_name)
        _, utterances, contexts = datasets.read_mustard_texts(data_entry)
        start = time.perf_counter()
        np.save(folder / "text.npy", utterance_and_context(utterances, contexts, tokenizer, model, max_length))
        return {
            "encoder": info["encoder"],
            "hidden_size": info["hidden_size"],
            "n": len(utterances),
            "context_turns": sum(len(c) for c in contexts),
            "extract_wall_s": round(time.perf_counter() - start, 3),
        }

    return cache.get_or_compute(
        "mustard_text",
        {"encoder": encoder_name, "max_length": max_length},
        compute,
        upstream=[data_entry.key],
        code_version=code_fingerprint(__name__),
    )


def mustard_features(cache: Cache, data_settings: dict, *, encoder: tuple | None = None) -> tuple:
    """Everything a MUStARD run reads: ``(data entry, features (n, D) float32, labels frame, folds,
    description)``. ``features`` are the dataset's own (the demo's; the authors' ``.npz`` modalities),
    preceded, under a profile with ``text_encoder``, by the cached text features
    (:func:`cached_text_features`); ``description`` names what the columns are, for the figures.

    Taught in: 01_backbones, "Extended MUStARD: a shallow projection of the multimodal features to d = 39 (Appendix B.3)"
    """
    entry = datasets.mustard_dataset(cache, data_settings)
    features, labels, folds = datasets.read_mustard(entry)
    meta = entry.manifest["meta"]
    if meta.get("texts"):
        text = cached_text_features(
            cache, entry, data_settings["text_encoder"], data_settings.get("max_length", 128), encoder=encoder
        )
        features = np.concatenate([np.load(text.file("text.npy")), features], axis=1)
    return entry, features.astype(np.float32), labels, folds, describe_features(meta)


_MODALITY_NAMES = {"UA": "audio", "UV": "visual", "UT": "utterance text", "CT": "context text", "CV": "context visual"}


def describe_features(meta: dict) -> str:
    """What a MUStARD dataset entry's features are, from its ``meta`` (for notebooks and figures):
    e.g. "text (utterance + context, MiniLM) only" or "... + audio + visual (authors' features)"."""
    if meta.get("source") == "demo":
        return "demo features (seeded latents + noise)"
    parts = ["text (utterance + context, MiniLM)"] if meta.get("texts") else []
    modalities = [_MODALITY_NAMES.get(m, m) for m in meta.get("modalities", [])]
    if modalities:
        parts.append(" + ".join(modalities) + " (authors' features)")
    return " + ".join(parts) + (" only" if parts == ["text (utterance + context, MiniLM)"] else "")
