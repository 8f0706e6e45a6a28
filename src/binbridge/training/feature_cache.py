"""On-disk cache of frozen-encoder features, memory-mapped for training.

Layout of a cache folder:

    features.bin   [total_tokens, D] bfloat16, stored as raw 16-bit words
    index.npz      offsets [N] and lengths [N], in tokens
    meta.json      hidden size, row count and the key the cache was built for

The key covers the encoder weights, the window settings and the assembly
texts, so a stale cache is rebuilt instead of silently reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from binbridge.model.encoder import SlidingWindowEncoder

logger = logging.getLogger(__name__)


@dataclass
class FeatureCache:
    folder: Path
    offsets: np.ndarray  # [N]
    lengths: np.ndarray  # [N]
    hidden_size: int
    data: np.memmap  # [total_tokens, D] int16 words holding bfloat16 values

    def __len__(self) -> int:
        return len(self.lengths)

    def get(self, index: int) -> torch.Tensor:
        """Return the [L, D] bfloat16 features of row ``index``."""
        start = int(self.offsets[index])
        rows = np.asarray(self.data[start:start + int(self.lengths[index])])
        return torch.from_numpy(rows.copy()).view(torch.bfloat16)

    @classmethod
    def open(cls, folder: Path) -> "FeatureCache":
        meta = json.loads((folder / "meta.json").read_text())
        index = np.load(folder / "index.npz")
        total = int(index["lengths"].sum())
        data = np.memmap(folder / "features.bin", dtype=np.int16, mode="r", shape=(max(total, 1), meta["hidden_size"]))
        return cls(folder, index["offsets"], index["lengths"], meta["hidden_size"], data)


@dataclass
class ChannelStatistics:
    """Per-channel mean and standard deviation of cached features, over tokens."""

    mean: torch.Tensor  # [D]
    std: torch.Tensor  # [D]


def channel_statistics(cache: FeatureCache, *, max_rows: int = 4000) -> ChannelStatistics:
    """Return the per-channel statistics over all tokens of up to ``max_rows`` evenly spaced rows."""
    count = min(max_rows, len(cache))
    indices = np.linspace(0, len(cache) - 1, count).round().astype(int)
    total, total_sq, tokens = None, None, 0
    for index in indices:
        rows = cache.get(int(index)).double()  # [L, D]
        total = rows.sum(0) if total is None else total + rows.sum(0)
        total_sq = (rows * rows).sum(0) if total_sq is None else total_sq + (rows * rows).sum(0)
        tokens += rows.shape[0]
    mean = total / tokens
    variance = (total_sq / tokens - mean * mean).clamp_min(0)
    return ChannelStatistics(mean=mean.float(), std=variance.sqrt().float())


def tokenize_assembly(tokenizer, texts: list[str], max_tokens: int) -> list[list[int]]:
    """Tokenise assembly texts, truncated to ``max_tokens``; an empty text still gets one token."""
    encoded = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_tokens)["input_ids"]
    fallback = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    return [ids if ids else [fallback] for ids in encoded]


def cache_key(encoder: SlidingWindowEncoder, texts: list[str]) -> str:
    digest = hashlib.sha256()
    config = encoder.config
    digest.update(f"{config.window_size}/{config.stride}/{config.max_input_tokens}/{config.compute_dtype}".encode())
    for name, tensor in sorted(encoder.encoder.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().numpy().tobytes()[:4096])
        digest.update(str(float(tensor.float().sum())).encode())
    for text in texts:
        digest.update(hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()


def build_feature_cache(encoder: SlidingWindowEncoder, tokenizer, texts: list[str], folder: Path, *,
                        batch_tokens: int = 16384, show_progress: bool = True) -> FeatureCache:
    """Encode ``texts`` once and store their per-token features; reuse the cache when the key matches."""
    key = cache_key(encoder, texts)
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == key:
            logger.info("reusing feature cache %s (%d functions)", folder, meta["rows"])
            return FeatureCache.open(folder)
        logger.info("feature cache %s is stale; rebuilding", folder)

    token_ids = tokenize_assembly(tokenizer, texts, encoder.config.max_input_tokens)
    lengths = np.array([len(ids) for ids in token_ids], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    D = encoder.hidden_size

    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    data = np.memmap(staging / "features.bin", dtype=np.int16, mode="w+", shape=(max(int(lengths.sum()), 1), D))

    # Length-sorted batches waste little on padding.
    order = np.argsort(lengths)
    batches = _token_budget_batches(order, lengths, batch_tokens)
    encoder.eval()
    pad_id = encoder.pad_token_id
    with torch.no_grad():
        for batch in tqdm(batches, desc="encoding functions", unit="batch", disable=not show_progress):
            L = int(lengths[batch].max())
            ids = torch.full((len(batch), L), pad_id, dtype=torch.long)  # [B, L]
            mask = torch.zeros(len(batch), L, dtype=torch.long)  # [B, L]
            for row, index in enumerate(batch):
                ids[row, : lengths[index]] = torch.tensor(token_ids[index])
                mask[row, : lengths[index]] = 1
            hidden = encoder(ids, mask).hidden_states.to(torch.bfloat16)  # [B, L, D]
            words = hidden.view(torch.int16).numpy()
            for row, index in enumerate(batch):
                start = offsets[index]
                data[start:start + lengths[index]] = words[row, : lengths[index]]
    data.flush()
    del data

    np.savez(staging / "index.npz", offsets=offsets, lengths=lengths)
    meta = {"key": key, "rows": len(texts), "hidden_size": D, "total_tokens": int(lengths.sum())}
    (staging / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    logger.info("feature cache %s: %d functions, %d tokens", folder, len(texts), int(lengths.sum()))
    return FeatureCache.open(folder)


def _token_budget_batches(order: np.ndarray, lengths: np.ndarray, batch_tokens: int) -> list[list[int]]:
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order.tolist():
        longest = max(int(lengths[index]), max((int(lengths[i]) for i in current[-1:]), default=0))
        if current and longest * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
