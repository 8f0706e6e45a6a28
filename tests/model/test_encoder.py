import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from binbridge.model.config import EncoderConfig
from binbridge.model.encoder import SlidingWindowEncoder, count_windows, window_starts


class PositionEchoEncoder(nn.Module):
    """Fake encoder: the feature of a token is its id plus its position inside the window."""

    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(hidden_size=1)
        self.calls = []

    def forward(self, input_ids, attention_mask):
        self.calls.append(tuple(input_ids.shape))
        N, W = input_ids.shape
        features = input_ids.float() + torch.arange(W).float().unsqueeze(0)  # [N, W]
        return SimpleNamespace(last_hidden_state=features.unsqueeze(-1))  # [N, W, 1]


def run(ids, window, stride, mask=None):
    config = EncoderConfig(model_path="x", window_size=window, stride=stride, max_seq_length=window)
    encoder = SlidingWindowEncoder(PositionEchoEncoder(), config)
    ids = torch.tensor(ids)
    mask = torch.ones_like(ids) if mask is None else torch.tensor(mask)
    return encoder, encoder(ids, mask).hidden_states[..., 0]


@pytest.mark.parametrize("length, window, stride, expected", [
    (3, 4, 2, 1),    # L < W: one window
    (4, 4, 2, 1),    # L = W: one window
    (10, 4, 3, 3),   # ceil(6/3) + 1
    (11, 4, 3, 4),   # ceil(7/3) + 1, L not aligned to S
    (2048, 2048, 256, 1),
    (2049, 2048, 256, 2),
    (5000, 2048, 256, math.ceil((5000 - 2048) / 256) + 1),
])
def test_window_count_formula(length, window, stride, expected):
    assert count_windows(length, window, stride) == expected


def test_window_starts_unaligned():
    assert window_starts(11, 4, 3) == [0, 3, 6, 9]


def test_short_sequence_single_window():
    encoder, out = run([[10, 20, 30]], window=4, stride=2)
    assert out.tolist() == [[10.0, 21.0, 32.0]]
    assert encoder.encoder.calls == [(1, 3)]


def test_equal_length_single_window():
    _, out = run([[0, 0, 0, 0]], window=4, stride=2)
    assert out.tolist() == [[0.0, 1.0, 2.0, 3.0]]


def test_overlap_average_unaligned():
    # L=11, W=4, S=3: windows start at 0, 3, 6, 9; ids are zero so features are window positions.
    encoder, out = run([[0] * 11], window=4, stride=3)
    # position: windows covering it (position inside each) -> mean
    # 0: k0(0) -> 0      1: k0(1) -> 1       2: k0(2) -> 2
    # 3: k0(3), k1(0) -> 1.5                 4: k1(1) -> 1     5: k1(2) -> 2
    # 6: k1(3), k2(0) -> 1.5                 7: k2(1) -> 1     8: k2(2) -> 2
    # 9: k2(3), k3(0) -> 1.5                10: k3(1) -> 1 (k3's last two slots are padding)
    assert out.tolist() == [[0, 1, 2, 1.5, 1, 2, 1.5, 1, 2, 1.5, 1]]
    assert encoder.encoder.calls == [(4, 4)], "all windows must run as one batch"


def test_overlap_average_with_token_ids():
    _, out = run([[5, 5, 5, 5, 5, 5, 5, 5, 5, 5]], window=4, stride=3)
    assert out[0, 3].item() == pytest.approx(6.5)
    assert out[0, 9].item() == pytest.approx(8.0)


def test_padding_does_not_change_features():
    _, alone = run([[1, 2, 3, 4, 5, 6, 7]], window=4, stride=2)
    _, batched = run([[1, 2, 3, 4, 5, 6, 7, 0, 0, 0, 0],
                      [9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]],
                     window=4, stride=2,
                     mask=[[1] * 7 + [0] * 4, [1] * 11])
    assert batched[0, :7].tolist() == alone[0].tolist()


def test_real_roformer_shapes(tiny_components):
    from transformers import AutoModel

    config = EncoderConfig(model_path="x", window_size=16, stride=8, max_seq_length=128)
    encoder = SlidingWindowEncoder(AutoModel.from_pretrained(tiny_components / "encoder"), config)
    ids = torch.randint(5, 300, (2, 40))
    mask = torch.ones_like(ids)
    mask[1, 25:] = 0
    out = encoder(ids, mask)
    assert out.hidden_states.shape == (2, 40, 32)
    assert not any(p.requires_grad for p in encoder.encoder.parameters()), "freeze_encoder defaults to true"


def test_unfrozen_encoder_gets_gradients(tiny_components):
    from transformers import AutoModel

    config = EncoderConfig(model_path="x", window_size=16, stride=8, max_seq_length=128, freeze_encoder=False)
    encoder = SlidingWindowEncoder(AutoModel.from_pretrained(tiny_components / "encoder"), config)
    ids = torch.randint(5, 300, (1, 30))
    encoder(ids, torch.ones_like(ids)).hidden_states.sum().backward()
    assert any(p.grad is not None for p in encoder.encoder.parameters())
