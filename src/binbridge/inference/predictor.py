"""Batched name prediction from normalised assembly text."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from binbridge.errors import ModelLoadError
from binbridge.data.signatures import SIGNATURE_FILE, SOURCE_SIGNATURE, SignatureIndex, load_signatures
from binbridge.inference.string_names import string_prediction
from binbridge.inference.word_names import (
    WordNamer,
    exported_prefix,
    is_cpp_library,
    keeps_names,
    library_prefix,
    string_prefix,
)
from binbridge.model.binbridge import BinbridgeModel, GeneratedName
from binbridge.model.config import CONFIG_FILE_NAME
from binbridge.model.loading import load_model
from binbridge.model.word_model import WORD_MODEL_CONFIG, has_word_model
from binbridge.training.feature_cache import tokenize_assembly

logger = logging.getLogger(__name__)

# predict() keeps the soft prompts of this many decoder batches in memory at once.
PROMPT_CHUNK_BATCHES = 8

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "default_model"

# Namers of the functions that no signature, string or symbol names: the name-word model
# ("words"), the decoder ("decoder"), or "auto", the word model when the folder has one.
NAMERS = ("auto", "words", "decoder")
# Library prefix modes besides a literal word: "auto" guesses it from the file name or SONAME.
PREFIX_AUTO, PREFIX_NONE = "auto", "none"
LIBRARY_KINDS = ("shared_object", "archive", "relocatable")


def default_model_path() -> Path:
    """Return the folder of the model shipped inside the package."""
    if not (DEFAULT_MODEL_DIR / "binbridge_config.json").is_file():
        raise ModelLoadError(DEFAULT_MODEL_DIR, "the embedded default model is missing from this install",
                             "reinstall Binbridge, or pass --model_path to a trained model folder")
    return DEFAULT_MODEL_DIR


def _cast_for_inference(model: BinbridgeModel) -> None:
    """Store bf16-configured parts in bf16, so autocast does not convert their weights on every call.

    Training ran these parts under bf16 autocast, which rounds the weights of every linear layer
    to bf16 anyway; LayerNorm and softmax still run in float32 under autocast at inference.
    """
    if model.config.encoder.compute_dtype == "bfloat16" and model.encoder is not None:
        model.encoder.encoder.to(torch.bfloat16)
    decoder_config = model.config.decoder
    if decoder_config.compute_dtype == "bfloat16" and not decoder_config.load_in_4bit:
        model.qformer.to(torch.bfloat16)
        model.decoder.to(torch.bfloat16)


def _check_decoder_folder(path: Path) -> None:
    """Raise a ``ModelLoadError`` that describes what a folder without a decoder config contains."""
    if not path.is_dir() or (path / CONFIG_FILE_NAME).is_file():
        return
    if has_word_model(path):
        raise ModelLoadError(path, f"{CONFIG_FILE_NAME} not found: the folder has only a name-word model, and "
                             "--namer decoder or --show_analysis needs the decoder",
                             "drop those options, or pass a folder written by 'binbridge train'")
    raise ModelLoadError(path, f"neither {CONFIG_FILE_NAME} nor {WORD_MODEL_CONFIG} found",
                         "pass a folder written by 'binbridge train' or 'binbridge train-words'")


class NamePredictor:
    """Runs encoder -> Q-Former -> decoder over batches of functions.

    A function whose normalised code is in one of ``signatures`` (searched in order) gets the
    known name (source ``signature``, see ``data.signatures``). With ``string_names`` (the default), a function
    that passes its own ``__func__`` name to an assertion or error call gets that name (source
    ``string``). The model names the rest: with ``word_namer``, the name-word model
    (source ``words``, see ``inference.word_names``); without, the decoder (source ``model``).

    ``prefix`` is the library prefix that the word model's ``<prefix>`` entry stands for: a
    word, ``"none"``, or ``"auto"`` (the default) to guess it from each binary's file name.

    ``model`` may be None when ``model_loader`` is given: the model then loads the first time
    the decoder or the encoder is needed. With a name-word model that may be never.
    """

    def __init__(self, model: BinbridgeModel | None, *, batch_size: int = 32, max_batch_tokens: int = 32768,
                 num_threads: int | None = None, decode_batch_size: int | None = None,
                 string_names: bool = True, signatures: Sequence[SignatureIndex] = (),
                 word_namer: WordNamer | None = None, prefix: str = PREFIX_AUTO,
                 model_loader: Callable[[], BinbridgeModel] | None = None) -> None:
        if model is None and model_loader is None:
            raise ValueError("NamePredictor needs a model or a model_loader")
        self._model: BinbridgeModel | None = None
        self._model_loader = model_loader
        self._decoding_options: dict[str, float] = {}
        if model is not None:
            self._use_model(model)
        self.batch_size = batch_size
        self.decode_batch_size = decode_batch_size or 4 * batch_size
        self.max_batch_tokens = max_batch_tokens
        self.string_names = string_names
        self.signatures = list(signatures)
        self.word_namer = word_namer
        self.prefix = prefix
        if num_threads:
            torch.set_num_threads(num_threads)

    @classmethod
    def from_path(cls, model_path: str | os.PathLike[str] | None = None, *, model_signatures: bool = True,
                  signature_files: Sequence[str | os.PathLike[str]] = (), namer: str = "auto",
                  **kwargs) -> "NamePredictor":
        """Load a model folder (the embedded model when ``model_path`` is None).

        ``namer`` is one of ``NAMERS``; ``"words"`` needs a folder with a name-word model. The signatures are those of ``signature_files``, merged, and then, with
        ``model_signatures``, the model folder's own ``signatures.json`` when it has one. The
        user's files come first, so they decide where both name a function.
        """
        path = Path(model_path) if model_path else default_model_path()
        logger.info("loading model from %s", path)
        signatures = [load_signatures(signature_files)] if signature_files else []
        if model_signatures and (path / SIGNATURE_FILE).is_file():
            signatures.append(SignatureIndex.load(path / SIGNATURE_FILE))
        for index in signatures:
            logger.info("%d known-function signatures (%s)", len(index), index.description or "user files")
        word_namer = None if namer == "decoder" else WordNamer.from_folder(path)
        if namer == "words" and word_namer is None:
            raise ModelLoadError(path, "has no name-word model (word_model.json)",
                                 "train one with 'binbridge train-words -o FOLDER', or pass --namer decoder")
        if word_namer is None:
            _check_decoder_folder(path)
            return cls(load_model(path), signatures=signatures, **kwargs)
        # The word model names every function that needs a model. So the decoder (about 3 s to
        # load on 2 cores) loads only when another caller uses it, and a folder may lack it.
        return cls(None, model_loader=lambda: load_model(path), signatures=signatures, word_namer=word_namer,
                   **kwargs)

    @property
    def model(self) -> BinbridgeModel:
        """The encoder, Q-Former and decoder, loaded on first use when the predictor was given a loader."""
        if self._model is None:
            self._use_model(self._model_loader())
        return self._model

    def _use_model(self, model: BinbridgeModel) -> None:
        if model.encoder is None:
            raise ValueError("NamePredictor needs a model loaded with its encoder")
        self._model = model.eval()
        _cast_for_inference(model)
        for option, value in self._decoding_options.items():
            setattr(model.config, option, value)

    def set_decoding_option(self, option: str, value: float) -> None:
        """Set one decoding option of the model config (``guidance_scale``, ...), now or once the model loads."""
        self._decoding_options[option] = value
        if self._model is not None:
            setattr(self._model.config, option, value)

    def prefix_for(self, binary: str | os.PathLike[str] | None, soname: str = "",
                   kind: str | None = None, symbol_names: Sequence[str] = (),
                   strings: Iterable[str] = ()) -> str | None:
        """Return the library prefix for functions of ``binary`` (see ``prefix``), or None.

        With ``kind`` (``BinaryInfo.kind``), an automatic prefix is read only for libraries and
        object files: an executable named ``libtool`` is not a library. The automatic prefix is,
        in order: the namespace of the binary's named functions (``symbol_names``, which a
        stripped shared library keeps for its exports; ``exported_prefix``); when the binary
        keeps too few names to tell, the namespace of the identifiers in its read-only
        ``strings`` (``string_prefix``); else the SONAME's or the file name's library name.
        A C++ library, whose names are mostly mangled, gets none.
        """
        if self.prefix == PREFIX_NONE:
            return None
        if self.prefix != PREFIX_AUTO:
            return self.prefix
        # A file with a SONAME is a library even when it also runs (libc.so.6, libcap.so.2 have an interpreter).
        if kind is not None and kind not in LIBRARY_KINDS and not soname:
            return None
        if is_cpp_library(symbol_names):
            return None  # its namespaces sit inside mangled names, and a stem such as "stdc" is no prefix
        found = exported_prefix(symbol_names)
        if found is None and not keeps_names(symbol_names):
            generic = self.word_namer.generic_words() if self.word_namer is not None else ()
            found = string_prefix(strings, generic_words=generic)
        return found or library_prefix(soname) or library_prefix(binary)

    def known_name(self, assembly: str) -> GeneratedName | None:
        """Return the prediction that needs no model: a signature match, then a string name, or None."""
        for index in self.signatures:
            match = index.lookup(assembly)
            if match is not None:
                return GeneratedName(match.name, "", match.confidence, "", source=SOURCE_SIGNATURE)
        return string_prediction(assembly) if self.string_names else None

    @property
    def uses_cot(self) -> bool:
        return self.model.config.use_cot

    @torch.no_grad()
    def predict(self, assemblies: Sequence[str], *, show_progress: bool = False,
                prefixes: Sequence[str | None] | None = None) -> list[GeneratedName]:
        """Return one prediction per assembly text, in input order.

        ``prefixes`` gives each function's library prefix for the name-word model
        (``prefix_for``); None means no prefix for any.

        The functions go through in chunks of ``PROMPT_CHUNK_BATCHES`` decoder batches, so memory
        contains one chunk's soft prompts (64 KB per function for the tiny preset), whatever the input size.
        Functions with a signature match or a string name skip the model.
        """
        found = [self.known_name(text) for text in assemblies]
        to_decode = [index for index, prediction in enumerate(found) if prediction is None]
        if self.word_namer is not None:
            named = self.word_namer.name([assemblies[i] for i in to_decode],
                                         [prefixes[i] if prefixes else None for i in to_decode])
            for index, prediction in zip(to_decode, named):
                found[index] = prediction
            return found
        prior = self.model.name_start_prior() if to_decode else None
        chunk = PROMPT_CHUNK_BATCHES * self.decode_batch_size
        for start in range(0, len(to_decode), chunk):
            rows = to_decode[start:start + chunk]
            decoded = self._predict_chunk([assemblies[i] for i in rows], prior, show_progress)
            for index, prediction in zip(rows, decoded):
                found[index] = prediction
        return found

    def _predict_chunk(self, assemblies: Sequence[str], prior, show_progress: bool) -> list[GeneratedName]:
        """Name one chunk in two passes.

        The encoder and Q-Former turn length-sorted batches into soft prompts. The decoder then
        names rows sorted by instruction length, ``decode_batch_size`` at a time. A decoder step
        costs about the same for 32 rows as for 128, so larger decoder batches take fewer steps.
        The hints make instructions differ in length, and sorting keeps their padding small.
        """
        model = self.model
        instructions = model.instruction_ids(list(assemblies))
        prompts: list[torch.Tensor | None] = [None] * len(assemblies)
        for batch, encoded in self._encoded_batches(assemblies, "reading functions", show_progress):
            prompt = model.inference_prompt(encoded.hidden_states, encoded.attention_mask)  # [B, Q, H]
            for row, index in enumerate(batch):
                prompts[index] = prompt[row]
        order = sorted(range(len(assemblies)), key=lambda i: len(instructions[i]))
        groups = [order[start:start + self.decode_batch_size]
                  for start in range(0, len(order), self.decode_batch_size)]
        results: list[GeneratedName | None] = [None] * len(assemblies)
        for group in tqdm(groups, desc="naming functions", unit="batch", disable=not show_progress):
            prompt = torch.stack([prompts[i] for i in group])  # G x [Q, H] -> [G, Q, H]
            generated = model.generate_from_prompts(prompt, [instructions[i] for i in group], prior=prior)
            for index, row in zip(group, generated):
                results[index] = row
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:
            raise RuntimeError(f"{len(missing)} of {len(results)} functions got no prediction (first: row {missing[0]})")
        return results

    @torch.no_grad()
    def pooled_features(self, assemblies: Sequence[str], *, show_progress: bool = False) -> torch.Tensor:
        """Return the mean encoder feature of each function, [N, D]; used by the retrieval baseline."""
        pooled = torch.zeros(len(assemblies), self.model.encoder.hidden_size)
        for batch, encoded in self._encoded_batches(assemblies, "encoding functions", show_progress):
            mask = encoded.attention_mask.unsqueeze(-1).float()  # [B, L, 1]
            means = (encoded.hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # [B, D]
            pooled[batch] = means
        return pooled

    def _encoded_batches(self, assemblies: Sequence[str], description: str, show_progress: bool):
        """Yield (row indices, encoder output) for length-sorted batches of ``assemblies``."""
        if not assemblies:
            return
        tokenizer = self.model.encoder_tokenizer
        token_ids = tokenize_assembly(tokenizer, list(assemblies), self.model.config.encoder.max_input_tokens)
        order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
        pad_id = self.model.encoder.pad_token_id
        batches = list(self._batches(order, token_ids))
        for batch in tqdm(batches, desc=description, unit="batch", disable=not show_progress):
            L = max(len(token_ids[i]) for i in batch)
            ids = torch.full((len(batch), L), pad_id, dtype=torch.long)  # [B, L]
            mask = torch.zeros(len(batch), L, dtype=torch.long)  # [B, L]
            for row, index in enumerate(batch):
                ids[row, : len(token_ids[index])] = torch.tensor(token_ids[index])
                mask[row, : len(token_ids[index])] = 1
            yield batch, self.model.encode(ids, mask)

    def _batches(self, order: list[int], token_ids: list[list[int]]):
        batch: list[int] = []
        for index in order:
            longest = len(token_ids[index])
            if batch and (len(batch) >= self.batch_size or longest * (len(batch) + 1) > self.max_batch_tokens):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch
