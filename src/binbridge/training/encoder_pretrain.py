"""Masked-token pretraining of the tiny preset's assembly encoder.

Masked-token modelling needs nothing but assembly, which every corpus row has.
A CLAP-style contrastive objective would need a paired text view of each
function (source code or a description), which only some rows carry.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from binbridge.errors import DatasetError

logger = logging.getLogger(__name__)


@dataclass
class PretrainSettings:
    steps: int = 1500
    batch_size: int = 32
    sequence_length: int = 256
    learning_rate: float = 5e-4
    mask_probability: float = 0.15
    seed: int = 0


@dataclass
class PretrainResult:
    steps: int
    final_loss: float


def mask_tokens(ids: torch.Tensor, special: torch.Tensor, mask_id: int, vocab_size: int,
                probability: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: of the chosen positions, 80% become <mask>, 10% a random token, 10% stay."""
    labels = ids.clone()
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & ~special
    labels[~chosen] = -100
    masked = ids.clone()
    replace = chosen & (torch.rand(ids.shape, generator=generator) < 0.8)
    masked[replace] = mask_id
    randomize = chosen & ~replace & (torch.rand(ids.shape, generator=generator) < 0.5)
    masked[randomize] = torch.randint(vocab_size, ids.shape, generator=generator)[randomize]
    return masked, labels


def _masked_lm_loss(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the masked positions only.

    Running the vocabulary head on the ~15% masked positions instead of all of
    them made a step about 2x faster on CPU (RoFormer h=128, vocabulary 8000).
    """
    head = getattr(model, "cls", None)
    if head is None:
        return model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, W, D]
    chosen = labels != -100  # [B, W]
    logits = head(hidden[chosen])  # [M, D] -> [M, V]
    return torch.nn.functional.cross_entropy(logits.float(), labels[chosen])


def pretrain_encoder(model, tokenizer, texts: list[str], out_dir: Path, settings: PretrainSettings,
                     *, show_progress: bool = True) -> PretrainResult:
    """Train a ``*ForMaskedLM`` model on random windows of ``texts``; save its base encoder to ``out_dir``."""
    rng = random.Random(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    sequences = [ids for ids in tokenizer(texts, add_special_tokens=False)["input_ids"] if ids]
    if not sequences:
        raise DatasetError(None, "no non-empty assembly text to pretrain the encoder on",
                           "check the assembly column of the training data")

    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.learning_rate,
                                                   total_steps=max(settings.steps, 1), pct_start=0.1)
    pad_id = tokenizer.pad_token_id
    special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    model.train()
    loss_value = float("nan")
    progress = tqdm(range(settings.steps), desc="pretraining encoder", unit="step", disable=not show_progress)
    for _ in progress:
        ids = torch.full((settings.batch_size, settings.sequence_length), pad_id, dtype=torch.long)  # [B, W]
        for row in range(settings.batch_size):
            sequence = sequences[rng.randrange(len(sequences))]
            start = rng.randrange(max(1, len(sequence) - settings.sequence_length + 1))
            window = sequence[start:start + settings.sequence_length]
            ids[row, : len(window)] = torch.tensor(window)
        attention_mask = (ids != pad_id).long()
        special = torch.isin(ids, special_ids)
        masked, labels = mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer),
                                     settings.mask_probability, generator)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = _masked_lm_loss(model, masked, attention_mask, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = float(loss.detach())
        progress.set_postfix(loss=f"{loss_value:.3f}")

    base = model.base_model if hasattr(model, "base_model") else model
    base.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    logger.info("pretrained encoder for %d steps, final MLM loss %.3f", settings.steps, loss_value)
    return PretrainResult(steps=settings.steps, final_loss=loss_value)
