"""Build, save and load Binbridge models.

A saved model is a folder:

    binbridge_config.json     BinbridgeConfig
    bridge.safetensors        Q-Former and projection weights
    encoder/                  Hugging Face encoder + tokenizer, when the encoder is embedded
    decoder/                  Hugging Face decoder + tokenizer, when the decoder is embedded
    decoder_adapter/          peft LoRA adapter, when the decoder base lives elsewhere

Weights are read with safetensors only; pickle checkpoints are never loaded.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from binbridge.errors import ModelLoadError
from binbridge.model.binbridge import BinbridgeModel
from binbridge.model.config import BinbridgeConfig, DecoderConfig, EncoderConfig
from binbridge.model.encoder import SlidingWindowEncoder
from binbridge.model.qformer import FEATURE_STATISTICS, QFormer
from binbridge.outputs import current_umask

logger = logging.getLogger(__name__)

BRIDGE_WEIGHTS = "bridge.safetensors"
ADAPTER_FOLDER = "decoder_adapter"
EMBEDDED_ENCODER = "encoder"
EMBEDDED_DECODER = "decoder"


def resolve_model_path(model_path: str, base_dir: str | os.PathLike[str] | None) -> str:
    """Return a local folder for relative paths inside ``base_dir``, else the path or hub id unchanged."""
    if base_dir is not None and not os.path.isabs(model_path):
        candidate = Path(base_dir) / model_path
        if candidate.exists():
            return str(candidate)
    return model_path


def downloads_allowed() -> bool:
    """Hub downloads happen only when the user sets BINBRIDGE_ALLOW_DOWNLOAD=1 (the CLI's --allow_download)."""
    return os.environ.get("BINBRIDGE_ALLOW_DOWNLOAD", "") == "1"


def _from_pretrained(loader, model_path: str, what: str, **kwargs):
    if os.path.exists(model_path) and not os.path.isdir(model_path):
        raise ModelLoadError(model_path, f"{what} path is a file, not a folder",
                             "pass a Hugging Face model folder or a hub id")
    looks_local = os.path.isabs(model_path) or model_path.startswith(("./", "../", "~")) or model_path.count("/") > 1
    if looks_local and not os.path.exists(model_path):
        # A hub id is NAME or OWNER/NAME, so this can only be a missing local folder.
        raise ModelLoadError(model_path, f"{what} folder not found", "check the path, or pass a hub id such as OWNER/NAME")
    try:
        return loader.from_pretrained(model_path, local_files_only=not downloads_allowed(), **kwargs)
    except (OSError, ValueError, EnvironmentError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(model_path, f"cannot load {what}: {first_line}",
                             "pass a local folder with config.json and safetensors weights, a hub id that is "
                             "already in the Hugging Face cache, or --allow_download to fetch it") from error


def load_encoder(config: EncoderConfig, base_dir=None) -> tuple[SlidingWindowEncoder, object]:
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model_path(config.model_path, base_dir)
    tokenizer = _from_pretrained(AutoTokenizer, path, "encoder tokenizer",
                                 trust_remote_code=config.trust_remote_code)
    model = _from_pretrained(AutoModel, path, "encoder", use_safetensors=True,
                             trust_remote_code=config.trust_remote_code, dtype=torch.float32)
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and config.window_size > positions:
        raise ModelLoadError(path, f"window_size={config.window_size} exceeds the encoder's "
                             f"max_position_embeddings={positions}", f"use --window_size {positions} or less")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return SlidingWindowEncoder(model, config, pad_token_id=pad_id), tokenizer


def _lora_config(config: DecoderConfig):
    from peft import LoraConfig

    return LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=list(config.lora_target_modules), task_type="CAUSAL_LM", bias="none")


def load_decoder(config: DecoderConfig, base_dir=None, *, trainable: bool):
    """Load the decoder and its tokenizer; attach LoRA adapters when ``trainable``.

    For inference a saved adapter (``decoder_adapter/`` in ``base_dir``) is applied on top.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model_path(config.model_path, base_dir)
    tokenizer = _from_pretrained(AutoTokenizer, path, "decoder tokenizer", trust_remote_code=config.trust_remote_code)
    kwargs = {"use_safetensors": True, "trust_remote_code": config.trust_remote_code, "dtype": torch.float32}
    if config.load_in_4bit:
        kwargs.update(_four_bit_kwargs())
    model = _from_pretrained(AutoModelForCausalLM, path, "decoder", **kwargs)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token

    adapter_dir = Path(base_dir) / ADAPTER_FOLDER if base_dir is not None else None
    if trainable:
        from peft import get_peft_model, prepare_model_for_kbit_training

        if config.load_in_4bit:
            model = prepare_model_for_kbit_training(model)
        model = get_peft_model(model, _lora_config(config))
        if config.train_base_weights:
            for name, parameter in model.named_parameters():
                if "lora_" not in name:
                    parameter.requires_grad_(True)
    elif adapter_dir is not None and adapter_dir.is_dir():
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir))
        model = model.merge_and_unload() if not config.load_in_4bit else model
    return model, tokenizer


def _four_bit_kwargs() -> dict:
    if not torch.cuda.is_available():
        raise ModelLoadError(None, "load_in_4bit needs a CUDA GPU and bitsandbytes",
                             "drop --load_in_4bit on CPU; bf16 is faster there")
    from transformers import BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True)
    return {"quantization_config": quantization, "device_map": {"": 0}}


def build_model(config: BinbridgeConfig, base_dir=None, *, with_encoder: bool = True,
                trainable: bool = False) -> BinbridgeModel:
    """Assemble a model from its config; component paths resolve against ``base_dir``."""
    encoder, encoder_tokenizer = (None, None)
    if with_encoder:
        encoder, encoder_tokenizer = load_encoder(config.encoder, base_dir)
        config.qformer.encoder_hidden_size = encoder.hidden_size
    decoder, decoder_tokenizer = load_decoder(config.decoder, base_dir, trainable=trainable)
    model = BinbridgeModel(config, QFormer(config.qformer), decoder, decoder_tokenizer,
                           encoder=encoder, encoder_tokenizer=encoder_tokenizer)
    return model


def load_model(model_dir: str | os.PathLike[str], *, with_encoder: bool = True) -> BinbridgeModel:
    """Load a folder written by ``save_model`` for inference."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise ModelLoadError(model_dir, "model folder not found", "pass --model_path to a folder from 'binbridge train'")
    if not model_dir.is_dir():
        raise ModelLoadError(model_dir, "is a file, not a model folder",
                             "pass the folder that contains binbridge_config.json")
    config = BinbridgeConfig.load(model_dir)
    model = build_model(config, model_dir, with_encoder=with_encoder, trainable=False)
    weights_path = model_dir / BRIDGE_WEIGHTS
    if not weights_path.is_file():
        raise ModelLoadError(weights_path, "weights file not found", "re-save the model with 'binbridge train'")
    try:
        state = load_file(str(weights_path))
    except Exception as error:  # safetensors raises its own error types for corrupt headers
        raise ModelLoadError(weights_path, f"cannot read safetensors weights: {error}", "re-save the model") from error
    bridge = {"qformer": model.qformer, "projection": model.projection, "prompt_norm": model.prompt_norm}
    for prefix, module in bridge.items():
        part = {key[len(prefix) + 1:]: value.float() if value.is_floating_point() else value
                for key, value in state.items() if key.startswith(prefix + ".")}
        missing, unexpected = module.load_state_dict(part, strict=False)
        # Models saved before the Q-Former standardised its input lack these buffers: identity.
        missing = [key for key in missing if key not in FEATURE_STATISTICS]
        if missing or unexpected:
            raise ModelLoadError(weights_path, f"{prefix} weights do not match the config "
                                 f"(missing {len(missing)}, unexpected {len(unexpected)})", "re-save the model")
    if "null_prompt" in state:
        model.null_prompt.data.copy_(state["null_prompt"].float())
    model.eval()
    return model


def load_bridge_weights(model: BinbridgeModel, model_dir: str | os.PathLike[str]) -> list[str]:
    """Copy matching Q-Former, projection and prompt weights from a saved model; return the keys not found."""
    path = Path(model_dir) / BRIDGE_WEIGHTS
    if not path.is_file():
        raise ModelLoadError(path, "weights file not found", "pass a folder written by 'binbridge train'")
    state = load_file(str(path))
    own = {f"qformer.{k}": v for k, v in model.qformer.state_dict().items()}
    own.update({f"projection.{k}": v for k, v in model.projection.state_dict().items()})
    own.update({f"prompt_norm.{k}": v for k, v in model.prompt_norm.state_dict().items()})
    own["null_prompt"] = model.null_prompt.data
    missing = []
    for key, tensor in own.items():
        if key in state and state[key].shape == tensor.shape:
            tensor.copy_(state[key].to(tensor.dtype))
        else:
            missing.append(key)
    return missing


def save_model(model: BinbridgeModel, out_dir: str | os.PathLike[str], *,
               dtype: torch.dtype = torch.float32) -> Path:
    """Write the model folder atomically: into a temp folder, then rename over ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    umask = current_umask()
    os.chmod(staging, 0o777 & ~umask)
    try:
        _write_model(model, staging, dtype)
        for file in staging.rglob("*"):
            if file.is_file():
                os.chmod(file, 0o666 & ~umask)  # safetensors writes 0600 files
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _write_model(model: BinbridgeModel, folder: Path, dtype: torch.dtype) -> None:
    config = copy.deepcopy(model.config)
    bridge = {f"qformer.{k}": v for k, v in model.qformer.state_dict().items()}
    bridge.update({f"projection.{k}": v for k, v in model.projection.state_dict().items()})
    bridge.update({f"prompt_norm.{k}": v for k, v in model.prompt_norm.state_dict().items()})
    bridge["null_prompt"] = model.null_prompt
    # Integer buffers (BatchNorm's step counter) keep their dtype.
    save_file({k: (v.detach().to(dtype) if v.is_floating_point() else v.detach()).contiguous()
               for k, v in bridge.items()}, str(folder / BRIDGE_WEIGHTS))

    if config.embed_encoder and model.encoder is not None:
        encoder = copy.deepcopy(model.encoder.encoder).to(dtype)
        encoder.save_pretrained(folder / EMBEDDED_ENCODER)
        model.encoder_tokenizer.save_pretrained(folder / EMBEDDED_ENCODER)
        config.encoder.model_path = EMBEDDED_ENCODER

    if config.decoder.train_base_weights:
        # Base weights changed in training, so the decoder must travel with the model.
        _merged_copy(model.decoder).to(dtype).save_pretrained(folder / EMBEDDED_DECODER)
        model.decoder_tokenizer.save_pretrained(folder / EMBEDDED_DECODER)
        config.decoder.model_path = EMBEDDED_DECODER
    elif hasattr(model.decoder, "peft_config"):
        model.decoder.save_pretrained(folder / ADAPTER_FOLDER)
    config.save(folder)


def _merged_copy(decoder):
    """Return a plain causal LM with LoRA merged, leaving the training model untouched."""
    if not hasattr(decoder, "merge_and_unload"):
        return copy.deepcopy(decoder)
    return copy.deepcopy(decoder).merge_and_unload()
