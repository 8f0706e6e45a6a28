import pytest
import torch

from binbridge.errors import ConfigError
from binbridge.model.config import QFormerConfig
from binbridge.model.qformer import QFormer


def make(**overrides):
    values = dict(num_query_tokens=64, hidden_size=32, num_hidden_layers=6, num_attention_heads=4,
                  intermediate_size=64, cross_attention_freq=2, dropout=0.0, encoder_hidden_size=24)
    values.update(overrides)
    return QFormer(QFormerConfig(**values))


def test_output_shape():
    qformer = make()
    out = qformer(torch.randn(3, 50, 24), torch.ones(3, 50, dtype=torch.long))
    assert out.shape == (3, 64, 32)


def test_cross_attention_every_second_layer():
    qformer = make()
    flags = [layer.has_cross_attention for layer in qformer.layers]
    assert flags == [True, False, True, False, True, False]
    assert [hasattr(layer, "cross_attention") for layer in qformer.layers] == flags


def test_cross_attention_frequency_three():
    assert QFormerConfig(num_hidden_layers=6, cross_attention_freq=3).cross_attention_layers() == [0, 3]


def test_padding_is_masked():
    qformer = make().eval()
    features = torch.randn(1, 10, 24)
    mask = torch.ones(1, 10, dtype=torch.long)
    mask[0, 6:] = 0
    short = qformer(features[:, :6], mask[:, :6])
    noisy = features.clone()
    noisy[0, 6:] = 1000.0
    assert torch.allclose(qformer(noisy, mask), short, atol=1e-5)


def test_all_padding_row_is_finite():
    out = make().eval()(torch.randn(2, 5, 24), torch.tensor([[1, 1, 0, 0, 0], [0, 0, 0, 0, 0]]))
    assert torch.isfinite(out).all()


def test_gradients_reach_queries():
    qformer = make()
    qformer(torch.randn(2, 7, 24), torch.ones(2, 7, dtype=torch.long)).sum().backward()
    assert qformer.query_tokens.grad is not None


@pytest.mark.parametrize("field, value", [("hidden_size", 30), ("cross_attention_freq", 7),
                                          ("num_query_tokens", 0), ("dropout", 1.5)])
def test_invalid_config_names_field(field, value):
    with pytest.raises(ConfigError) as error:
        make(**{field: value})
    assert field in str(error.value)
    assert repr(value) in str(error.value)


def test_feature_statistics_standardise_the_encoder_features():
    import torch

    from binbridge.model.config import QFormerConfig
    from binbridge.model.qformer import QFormer

    config = QFormerConfig(num_query_tokens=4, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=32, encoder_hidden_size=8, dropout=0.0)
    qformer = QFormer(config).eval()
    features = torch.randn(2, 5, 8)
    mask = torch.ones(2, 5, dtype=torch.long)
    shift, scale = torch.randn(8), torch.rand(8) + 0.5
    qformer.set_feature_statistics(shift, scale)
    reference = QFormer(config).eval()
    reference.load_state_dict({k: v for k, v in qformer.state_dict().items()
                               if not k.startswith("feature_")}, strict=False)
    expected = reference((features - shift) / scale, mask)
    assert torch.allclose(qformer(features, mask), expected, atol=1e-5)
