"""Prepare the encoder and decoder folders a training run starts from.

For the tiny preset this trains a BPE tokenizer on the training rows, creates a
random RoFormer and pretrains it with masked-token modelling, and creates a
random Llama decoder. Folders or hub ids given with --encoder_path and
--decoder_path (required by the paper preset) are used as they are.
"""

from __future__ import annotations

import logging
from pathlib import Path

from binbridge.data.schema import FunctionRecord
from binbridge.model.presets import Preset
from binbridge.model.scratch import create_scratch_decoder, create_scratch_encoder
from binbridge.training.arguments import TrainingArguments
from binbridge.training.encoder_pretrain import PretrainSettings, pretrain_encoder
from binbridge.training.tokenizer import train_bpe_tokenizer

logger = logging.getLogger(__name__)


def _tokenizer_texts(records: list[FunctionRecord]):
    for record in records:
        yield record.assembly
        yield record.function_name
        if record.cot:
            yield record.cot


def prepare_components(args: TrainingArguments, preset: Preset, records: list[FunctionRecord],
                       work_dir: Path, *, create: bool = True) -> None:
    """Point ``preset.config`` at ready encoder and decoder folders, creating scratch ones as needed.

    With ``create=False`` (data-parallel ranks other than 0) only the paths are set, because rank 0
    writes the folders.
    """
    config = preset.config
    encoder_dir = work_dir / "encoder_pretrained"
    decoder_dir = work_dir / "decoder_scratch"
    if preset.encoder_spec is not None:
        config.encoder.model_path = str(encoder_dir.resolve())
    if preset.decoder_spec is not None:
        config.decoder.model_path = str(decoder_dir.resolve())
    if not create or (preset.encoder_spec is None and preset.decoder_spec is None):
        return

    work_dir.mkdir(parents=True, exist_ok=True)
    vocab_size = args.vocab_size or preset.vocab_size
    logger.info("training a %d-token BPE tokenizer on %d functions", vocab_size, len(records))
    tokenizer = train_bpe_tokenizer(_tokenizer_texts(records), vocab_size)

    if preset.encoder_spec is not None:
        spec = preset.encoder_spec
        spec.max_position_embeddings = max(spec.max_position_embeddings, config.encoder.window_size)
        mlm = create_scratch_encoder(spec, tokenizer, work_dir / "encoder_scratch", seed=args.seed)
        steps = preset.encoder_pretrain_steps if args.encoder_pretrain_steps is None else args.encoder_pretrain_steps
        settings = PretrainSettings(steps=steps, sequence_length=config.encoder.window_size, seed=args.seed)
        pretrain_encoder(mlm, tokenizer, [r.assembly for r in records], encoder_dir, settings,
                         show_progress=args.show_progress)

    if preset.decoder_spec is not None:
        create_scratch_decoder(preset.decoder_spec, tokenizer, decoder_dir, seed=args.seed)
