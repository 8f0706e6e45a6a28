"""Model folders: build from component folders, save, load back; hub ids from a local cache."""

import json
import shutil

import pytest
import torch

from binbridge.errors import ConfigError, ModelLoadError
from binbridge.model.config import BinbridgeConfig, DecoderConfig, EncoderConfig, QFormerConfig
from binbridge.model.loading import ADAPTER_FOLDER, build_model, load_model, save_model
from binbridge.model.presets import get_preset


def small_config(encoder_path, decoder_path, *, train_base_weights=False, embed_encoder=False):
    return BinbridgeConfig(
        preset="test",
        encoder=EncoderConfig(model_path=str(encoder_path), window_size=16, stride=8, max_seq_length=128),
        qformer=QFormerConfig(num_query_tokens=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, dropout=0.0),
        decoder=DecoderConfig(model_path=str(decoder_path), lora_r=4, lora_alpha=8,
                              train_base_weights=train_base_weights),
        embed_encoder=embed_encoder,
    )


def features_for(model, text="push rbp\nmov rbp, rsp\ncall <malloc>\nret"):
    encoded = model.encoder_tokenizer([text], return_tensors="pt")
    return model.encode(encoded["input_ids"], encoded["attention_mask"])


def test_projection_width_follows_decoder(tiny_components):
    model = build_model(small_config(tiny_components / "encoder", tiny_components / "decoder"), trainable=True)
    assert model.projection.out_features == 48, "decoder hidden size comes from its config"
    assert model.projection.in_features == 32
    assert model.config.qformer.encoder_hidden_size == 32


def test_adapter_roundtrip_keeps_external_base(tiny_components, tmp_path):
    config = small_config(tiny_components / "encoder", tiny_components / "decoder")
    model = build_model(config, trainable=True)
    trainable = {n for n, p in model.decoder.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable), "a pretrained base stays frozen"
    with torch.no_grad():
        for name, parameter in model.decoder.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    model.eval()
    out = features_for(model)
    expected = model.generate(out.hidden_states, out.attention_mask, max_new_tokens=6)

    save_model(model, tmp_path / "saved")
    assert (tmp_path / "saved" / ADAPTER_FOLDER / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "saved" / "decoder").exists(), "the base decoder is referenced, not copied"
    saved_config = json.loads((tmp_path / "saved" / "binbridge_config.json").read_text())
    assert saved_config["decoder"]["model_path"] == str(tiny_components / "decoder")

    loaded = load_model(tmp_path / "saved")
    out = features_for(loaded)
    again = loaded.generate(out.hidden_states, out.attention_mask, max_new_tokens=6)
    assert [g.raw_text for g in again] == [g.raw_text for g in expected]


def test_embedded_roundtrip_is_self_contained(tiny_components, tmp_path):
    components = tmp_path / "components"
    shutil.copytree(tiny_components, components)
    config = small_config(components / "encoder", components / "decoder", train_base_weights=True,
                          embed_encoder=True)
    model = build_model(config, trainable=True).eval()
    out = features_for(model)
    expected = model.generate(out.hidden_states, out.attention_mask, max_new_tokens=6)
    save_model(model, tmp_path / "saved")
    shutil.rmtree(components)  # the saved folder must not depend on the training folders

    loaded = load_model(tmp_path / "saved")
    assert loaded.config.encoder.model_path == "encoder"
    assert loaded.config.decoder.model_path == "decoder"
    out = features_for(loaded)
    assert [g.raw_text for g in loaded.generate(out.hidden_states, out.attention_mask, max_new_tokens=6)] == \
        [g.raw_text for g in expected]


def _fake_hub_cache(root, repo_id, source):
    """Lay out a Hugging Face cache entry (models--org--name/snapshots/REV) holding ``source``'s files."""
    folder = root / "hub" / ("models--" + repo_id.replace("/", "--"))
    revision = "0" * 40
    shutil.copytree(source, folder / "snapshots" / revision)
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(revision)


HUB_SCRIPT = """
import sys
from binbridge.errors import ModelLoadError
from binbridge.model.config import BinbridgeConfig, DecoderConfig, EncoderConfig, QFormerConfig
from binbridge.model.loading import build_model
config = BinbridgeConfig(
    encoder=EncoderConfig(model_path=sys.argv[1], window_size=16, stride=8, max_seq_length=128),
    qformer=QFormerConfig(num_query_tokens=4, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                          intermediate_size=32),
    decoder=DecoderConfig(model_path=sys.argv[2], lora_r=2, lora_alpha=4))
try:
    model = build_model(config, trainable=True)
except ModelLoadError as error:
    print("ERROR", error)
    sys.exit(3)
print("HIDDEN", model.encoder.hidden_size)
"""


def _run_hub_script(tmp_path, encoder_id, decoder_id):
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    env.pop("BINBRIDGE_ALLOW_DOWNLOAD", None)
    return subprocess.run([sys.executable, "-c", HUB_SCRIPT, encoder_id, decoder_id], env=env,
                          capture_output=True, text=True, timeout=300)


def test_hub_ids_load_from_local_cache(tiny_components, tmp_path):
    _fake_hub_cache(tmp_path / "hf", "binbridge-test/clap-asm-tiny", tiny_components / "encoder")
    _fake_hub_cache(tmp_path / "hf", "binbridge-test/llama-tiny", tiny_components / "decoder")
    result = _run_hub_script(tmp_path, "binbridge-test/clap-asm-tiny", "binbridge-test/llama-tiny")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HIDDEN 32" in result.stdout


def test_uncached_hub_id_fails_without_network(tmp_path):
    result = _run_hub_script(tmp_path, "nobody/no-such-encoder", "nobody/no-such-decoder")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "nobody/no-such-encoder" in result.stdout
    assert "--allow_download" in result.stdout
    assert "Retrying" not in result.stderr, "no request may leave the machine by default"


def test_pickle_weights_are_not_loaded(tiny_components, tmp_path):
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_components / "encoder", folder)
    for file in folder.glob("*.safetensors"):
        torch.save(load_file(str(file)), folder / "pytorch_model.bin")
        file.unlink()
    config = small_config(folder, tiny_components / "decoder")
    with pytest.raises(ModelLoadError) as error:
        build_model(config)
    assert str(folder) in str(error.value)


def test_window_larger_than_encoder_is_rejected(tiny_components):
    config = small_config(tiny_components / "encoder", tiny_components / "decoder")
    config.encoder = EncoderConfig(model_path=str(tiny_components / "encoder"), window_size=512, stride=64,
                                   max_seq_length=512)
    with pytest.raises(ModelLoadError) as error:
        build_model(config)
    assert "max_position_embeddings=128" in str(error.value)


def test_paper_preset_requires_paths():
    with pytest.raises(ConfigError) as error:
        get_preset("paper", decoder_path="x")
    assert "encoder_path" in str(error.value)


def test_config_json_roundtrip(tmp_path):
    config = get_preset("paper", encoder_path="a", decoder_path="b").config
    config.save(tmp_path)
    loaded = BinbridgeConfig.load(tmp_path)
    assert loaded == config


def test_config_rejects_bad_field(tmp_path):
    data = get_preset("tiny").config.to_dict()
    data["encoder"]["stride"] = 5000
    (tmp_path / "binbridge_config.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError) as error:
        BinbridgeConfig.load(tmp_path)
    assert "stride=5000" in str(error.value)
    assert str(tmp_path / "binbridge_config.json") in str(error.value)


def test_invalid_saved_field_names_the_config_file(tmp_path):
    data = BinbridgeConfig().to_dict()
    data["prompt"]["context_hints"] = "yes"
    (tmp_path / "binbridge_config.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError) as error:
        BinbridgeConfig.load(tmp_path)
    assert str(tmp_path / "binbridge_config.json") in str(error.value)
    assert "context_hints" in str(error.value)


@pytest.mark.parametrize("value", [True, "6", 0.5, float("nan"), float("inf")])
def test_saved_decoding_factor_invalid(tmp_path, value):
    data = BinbridgeConfig().to_dict()
    data["name_start_guidance"] = value
    (tmp_path / "binbridge_config.json").write_text(json.dumps(data))  # NaN and Infinity as JSON literals
    with pytest.raises(ModelLoadError) as error:
        BinbridgeConfig.load(tmp_path)
    assert "name_start_guidance" in str(error.value)
    assert str(tmp_path / "binbridge_config.json") in str(error.value)
