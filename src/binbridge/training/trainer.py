"""Training loop: cached encoder features -> Q-Former + projection + LoRA decoder.

Runs as a single process, or as real data-parallel processes under
``torchrun --standalone --nproc_per_node N`` (gloo backend on CPU). Only rank 0
evaluates and saves. ``best_model`` is chosen by name F1 on the eval data,
``last_model`` is the state after the final step.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from binbridge.data.prefixes import ProjectPrefixes
from binbridge.data.schema import FunctionRecord, read_dataset
from binbridge.data.shared_words import SharedWords
from binbridge.errors import BinbridgeError, DatasetError
from binbridge.model.loading import build_model, load_bridge_weights, save_model
from binbridge.model.presets import get_preset
from binbridge.training.arguments import TrainingArguments
from binbridge.training.batches import Batch, CachedFunctionDataset, collate
from binbridge.training.components import prepare_components
from binbridge.training.feature_cache import FeatureCache, build_feature_cache, channel_statistics
from binbridge.training.sampling import ProjectBalancedSampler, project_shares
from binbridge.training.word_head import NameWordHead, NameWordVocabulary, TrainingObjective

logger = logging.getLogger(__name__)


@dataclass
class EvalResult:
    name_f1: float
    samples: int
    distinct_names: int  # distinct predicted names among the samples: low values mean the decoder collapsed
    examples: list[dict]


@dataclass
class TrainingResult:
    output_dir: str
    steps: int
    best_name_f1: float
    best_epoch: int
    final_loss: float
    seconds: float
    samples_per_second: float


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def _barrier(world: int) -> None:
    if world > 1:
        torch.distributed.barrier()


def evaluate_names(model, cache: FeatureCache, names: list[str], *, max_samples: int, batch_size: int,
                   assemblies: list[str] | None = None) -> EvalResult:
    """Generate names for the first ``max_samples`` cached rows and score them (SymLM-style name F1)."""
    from binbridge.evaluation import name_f1

    model.eval()
    count = min(max_samples, len(cache))
    # Evenly spaced rows, so that a capped evaluation still covers every project of a sorted eval file.
    indices = np.linspace(0, len(cache) - 1, count).round().astype(int).tolist()
    predictions: list[str] = []
    for start in range(0, count, batch_size):
        rows = [cache.get(i).float() for i in indices[start:start + batch_size]]
        L = max(r.shape[0] for r in rows)
        features = torch.zeros(len(rows), L, rows[0].shape[1])  # [B, L, D]
        mask = torch.zeros(len(rows), L, dtype=torch.long)  # [B, L]
        for i, row in enumerate(rows):
            features[i, : row.shape[0]] = row
            mask[i, : row.shape[0]] = 1
        batch_assemblies = [assemblies[i] for i in indices[start:start + batch_size]] if assemblies else None
        predictions += [g.name or "" for g in model.generate(features, mask, assemblies=batch_assemblies)]
    truth = [names[i] for i in indices]
    examples = [{"true": t, "predicted": p} for t, p in list(zip(truth, predictions))[:20]]
    return EvalResult(name_f1=name_f1(truth, predictions), samples=count, distinct_names=len(set(predictions)),
                      examples=examples)


def _make_optimizer(model, args: TrainingArguments, total_steps: int):
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim >= 2]
    no_decay = [p for p in trainable if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.learning_rate)
    warmup = max(1, int(total_steps * args.warmup_ratio))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _load_data(args: TrainingArguments):
    train_records = read_dataset(args.train_data)
    eval_records = read_dataset(args.eval_data)
    if not train_records:
        raise DatasetError(args.train_data, "contains no rows", "pass a dataset with at least one function")
    if args.max_train_samples and len(train_records) > args.max_train_samples:
        random.Random(args.seed).shuffle(train_records)
        train_records = train_records[: args.max_train_samples]
    if not eval_records:
        raise DatasetError(args.eval_data, "contains no rows", "pass a dataset with at least one function")
    if args.use_cot and not any(r.cot for r in train_records):
        raise DatasetError(args.train_data, "--use_cot was given but no row has a 'cot' value",
                           "generate analyses with the teacher first, or drop --use_cot")
    return train_records, eval_records


def train(args: TrainingArguments) -> TrainingResult:
    """Run a whole training job and write best_model/ and last_model/ under ``args.output_dir``.

    An output folder that this call created is removed again when training stops on bad input
    (a BinbridgeError), so a failed run leaves nothing behind.
    """
    output_dir = Path(args.output_dir)
    # The outermost folder this run creates, so that cleanup also removes new parent folders.
    created = None
    for folder in [output_dir, *output_dir.absolute().parents]:
        if folder.exists():
            break
        created = folder
    try:
        return _train(args, output_dir)
    except BinbridgeError:
        if created is not None and int(os.environ.get("RANK", "0")) == 0:
            shutil.rmtree(created, ignore_errors=True)
        raise


def _train(args: TrainingArguments, output_dir: Path) -> TrainingResult:
    rank, world = _distributed()
    if world > 1:
        logger.info("data-parallel training: rank %d, world size %d", rank, world)
    set_seed(args.seed + rank)
    train_records, eval_records = _load_data(args)
    output_dir.mkdir(parents=True, exist_ok=True)
    train_records = rewrite_training_names(train_records, keep_project_prefixes=args.keep_project_prefixes,
                                           shared_name_words=args.shared_name_words)

    # Step 1: the encoder and decoder folders training starts from (rank 0 creates them).
    preset = get_preset(args.preset, encoder_path=args.encoder_path, decoder_path=args.decoder_path,
                        load_in_4bit=args.load_in_4bit)
    preset.config.use_cot = args.use_cot
    preset.config.prompt.context_hints = not args.no_context_hints
    _apply_overrides(preset.config, args)
    preset.config.encoder.trust_remote_code = args.trust_remote_code
    preset.config.decoder.trust_remote_code = args.trust_remote_code
    prepare_components(args, preset, train_records, output_dir / "components", create=rank == 0)
    _barrier(world)

    # Step 2: model, and the frozen encoder's features cached on disk.
    if args.guidance_scale is not None:
        preset.config.guidance_scale = args.guidance_scale
    if args.repetition_penalty is not None:
        preset.config.repetition_penalty = args.repetition_penalty
    if args.name_start_guidance is not None:
        preset.config.name_start_guidance = args.name_start_guidance
    model = build_model(preset.config, None, with_encoder=True, trainable=True)
    if args.init_bridge:
        missing = load_bridge_weights(model, args.init_bridge)
        logger.info("started from %s; new (random) weights: %s", args.init_bridge, ", ".join(missing) or "none")
    cache_root = Path(args.cache_dir) if args.cache_dir else output_dir / "cache"
    if rank == 0:
        build_feature_cache(model.encoder, model.encoder_tokenizer, [r.assembly for r in train_records],
                            cache_root / "train", show_progress=args.show_progress)
        build_feature_cache(model.encoder, model.encoder_tokenizer, [r.assembly for r in eval_records],
                            cache_root / "eval", show_progress=args.show_progress)
    _barrier(world)
    train_cache = FeatureCache.open(cache_root / "train")
    eval_cache = FeatureCache.open(cache_root / "eval")
    if not args.init_bridge:
        statistics = channel_statistics(train_cache)
        model.qformer.set_feature_statistics(statistics.mean, statistics.std)

    tokenizer = model.decoder_tokenizer
    words, head = None, None
    if args.word_loss_weight > 0:
        words = NameWordVocabulary.from_names([r.function_name for r in train_records],
                                              max_words=args.name_word_vocabulary)
        head = NameWordHead(model.language_model.config.hidden_size, len(words))
        logger.info("name-word objective: %d words, weight %.2f", len(words), args.word_loss_weight)
    objective = TrainingObjective(model, head, args.word_loss_weight)
    dataset = CachedFunctionDataset(train_records, train_cache, tokenizer, preset.config.prompt, args.use_cot,
                                    words)
    sampler = _make_sampler(train_records, dataset, args, rank, world)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, sampler=sampler,
                                         collate_fn=partial(collate, pad_token_id=tokenizer.pad_token_id))

    steps_per_epoch = math.ceil(len(loader) / args.gradient_accumulation_steps)
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    optimizer, scheduler = _make_optimizer(objective, args, total_steps)
    trainable = objective
    if world > 1:
        trainable = torch.nn.parallel.DistributedDataParallel(objective)

    # Step 3: the loop.
    log_path = output_dir / "training_log.jsonl"
    step, final_loss, last_eval_step = 0, float("nan"), -1
    started = time.time()
    samples_seen = 0
    autocast = args.precision == "bf16"
    save_dtype = torch.bfloat16 if args.save_dtype == "bf16" else torch.float32
    best = _BestModel(model, output_dir / "best_model", save_dtype, log_path)
    eval_names = [r.function_name for r in eval_records]
    eval_assemblies = [r.assembly for r in eval_records]

    def evaluate_now() -> EvalResult:
        return evaluate_names(model, eval_cache, eval_names, max_samples=args.eval_max_samples,
                              batch_size=args.eval_batch_size, assemblies=eval_assemblies)

    for epoch in range(1, args.epochs + 1):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        model.train()
        progress = tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", unit="batch",
                        disable=not args.show_progress or rank != 0)
        for micro_step, batch in enumerate(progress):
            batch: Batch
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                out = trainable(batch.features.float(), batch.feature_mask, batch.input_ids,
                                batch.attention_mask, batch.span_kinds, batch.word_targets)
            (out.loss / args.gradient_accumulation_steps).backward()
            samples_seen += batch.input_ids.shape[0] * world
            last_micro = micro_step + 1 == len(loader)
            if (micro_step + 1) % args.gradient_accumulation_steps == 0 or last_micro:
                torch.nn.utils.clip_grad_norm_([p for p in objective.parameters() if p.requires_grad], 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                final_loss = float(out.loss.detach())
                name_loss = float(out.language.name_loss)
                progress.set_postfix(loss=f"{final_loss:.3f}", name=f"{name_loss:.3f}")
                if rank == 0 and step % 50 == 0:
                    logger.info("step %d/%d: loss %.4f (name %.4f, words %.4f), %.1f samples/s", step, total_steps,
                                final_loss, name_loss, float(out.word_loss),
                                samples_seen / max(time.time() - started, 1e-9))
                    _append_log(log_path, {"step": step, "epoch": epoch, "loss": final_loss,
                                           "name_loss": name_loss,
                                           "analysis_loss": float(out.language.analysis_loss),
                                           "word_loss": float(out.word_loss),
                                           "lr": scheduler.get_last_lr()[0]})
                if rank == 0 and args.eval_steps and step % args.eval_steps == 0:
                    best.consider(epoch, step, evaluate_now())
                    last_eval_step = step
                    model.train()
            if args.max_steps and step >= args.max_steps:
                break

        if rank == 0 and step != last_eval_step:
            best.consider(epoch, step, evaluate_now())
        _barrier(world)
        if args.max_steps and step >= args.max_steps:
            break

    seconds = time.time() - started
    outcome = TrainingResult(output_dir=str(output_dir), steps=step, best_name_f1=best.f1, best_epoch=best.epoch,
                             final_loss=final_loss, seconds=seconds,
                             samples_per_second=samples_seen / max(seconds, 1e-9))
    if rank == 0:
        save_model(model, output_dir / "last_model", dtype=save_dtype)
        (output_dir / "training_summary.json").write_text(json.dumps(asdict(outcome), indent=2) + "\n")
    if world > 1:
        torch.distributed.destroy_process_group()
    return outcome


def _make_sampler(records: list[FunctionRecord], dataset, args: TrainingArguments, rank: int, world: int):
    """Shuffle each epoch, or draw rows by project size with --project_balance below 1."""
    if args.project_balance < 1.0:
        projects = [r.project for r in records]
        shares = project_shares(projects, args.project_balance)
        largest = sorted(shares.items(), key=lambda item: -item[1])[:5]
        logger.info("project balance %.2f: largest epoch shares %s", args.project_balance,
                    ", ".join(f"{project} {share:.1%}" for project, share in largest))
        return ProjectBalancedSampler(projects, args.project_balance, seed=args.seed, rank=rank, world=world)
    if world > 1:
        return torch.utils.data.DistributedSampler(dataset, world, rank, shuffle=True, seed=args.seed)
    return torch.utils.data.RandomSampler(dataset, generator=torch.Generator().manual_seed(args.seed))


def rewrite_training_names(records: list[FunctionRecord], *, keep_project_prefixes: bool,
                           shared_name_words: int) -> list[FunctionRecord]:
    """Return the records with the names the decoder trains on (see --keep_project_prefixes, --shared_name_words)."""
    if not keep_project_prefixes:
        records = _strip_project_prefixes(records)
    if shared_name_words:
        records = _keep_shared_words(records, shared_name_words)
    return records


def _strip_project_prefixes(records: list[FunctionRecord]) -> list[FunctionRecord]:
    prefixes = ProjectPrefixes.find((r.project, r.function_name) for r in records)
    if prefixes.prefixes:
        logger.info("training names lose their project prefix: %s",
                    ", ".join(f"{project} {prefix}" for project, prefix in sorted(prefixes.prefixes.items())))
    return [replace(r, function_name=prefixes.strip(r.project, r.function_name)) for r in records]


def _keep_shared_words(records: list[FunctionRecord], min_projects: int) -> list[FunctionRecord]:
    shared = SharedWords.find(((r.project, r.function_name) for r in records), min_projects=min_projects)
    logger.info("training names keep the %d words that %d or more projects use", len(shared.words), min_projects)
    return [replace(r, function_name=shared.rewrite(r.function_name)) for r in records]


class _BestModel:
    """Keeps ``best_model`` at the checkpoint with the highest eval name F1 so far."""

    def __init__(self, model, folder: Path, dtype: torch.dtype, log_path: Path) -> None:
        self.model, self.folder, self.dtype, self.log_path = model, folder, dtype, log_path
        self.f1, self.epoch = -1.0, 0

    def consider(self, epoch: int, step: int, result: EvalResult) -> None:
        logger.info("epoch %d step %d: eval name F1 %.4f on %d functions, %d distinct names", epoch, step,
                    result.name_f1, result.samples, result.distinct_names)
        _append_log(self.log_path, {"step": step, "epoch": epoch, "eval_name_f1": result.name_f1,
                                    "eval_samples": result.samples, "distinct_names": result.distinct_names,
                                    "examples": result.examples[:8]})
        if result.name_f1 > self.f1:
            self.f1, self.epoch = result.name_f1, epoch
            save_model(self.model, self.folder, dtype=self.dtype)


def _apply_overrides(config, args: TrainingArguments) -> None:
    """Apply window flags to the preset's encoder config, re-validating it."""

    encoder = config.encoder
    window = args.window_size or encoder.window_size
    stride = args.stride or min(encoder.stride, window)
    config.encoder = replace(encoder, window_size=window, stride=stride,
                             max_seq_length=max(encoder.max_seq_length, window),
                             max_input_tokens=args.max_input_tokens or encoder.max_input_tokens)


def _append_log(path: Path, entry: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
