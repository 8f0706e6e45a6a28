import math

import pytest
import torch

from binbridge.model.config import LossConfig
from binbridge.model.loss import SPAN_ANALYSIS, SPAN_IGNORE, SPAN_NAME, mixed_loss


def uniform_ce(vocab):
    return math.log(vocab)


def test_hand_computed_example():
    # Vocabulary of 2. Position t predicts token t+1.
    # Sequence: [0, 1, 0, 1] with kinds [ignore, analysis, name, name].
    # logits rows (for positions 0..2) chosen so that softmax gives known probabilities:
    #   pos0 -> target 1 (analysis): logits [0, ln 3] -> p(1) = 3/4, CE = ln(4/3)
    #   pos1 -> target 0 (name):     logits [0, 0]    -> p(0) = 1/2, CE = ln 2
    #   pos2 -> target 1 (name):     logits [ln 3, 0] -> p(1) = 1/4, CE = ln 4
    logits = torch.tensor([[[0.0, math.log(3)], [0.0, 0.0], [math.log(3), 0.0], [0.0, 0.0]]])
    ids = torch.tensor([[0, 1, 0, 1]])
    kinds = torch.tensor([[SPAN_IGNORE, SPAN_ANALYSIS, SPAN_NAME, SPAN_NAME]])
    out = mixed_loss(logits, ids, kinds, LossConfig(analysis_weight=0.3, name_weight=0.7))
    analysis = math.log(4 / 3)
    name = (math.log(2) + math.log(4)) / 2
    assert out.analysis_loss.item() == pytest.approx(analysis, rel=1e-5)
    assert out.name_loss.item() == pytest.approx(name, rel=1e-5)
    assert out.loss.item() == pytest.approx(0.3 * analysis + 0.7 * name, rel=1e-5)
    assert out.analysis_tokens == 1
    assert out.name_tokens == 2


def test_span_means_pool_over_batch():
    # Uniform logits: every token's CE is ln V, so both means equal ln V whatever the counts.
    V = 5
    logits = torch.zeros(2, 4, V)
    ids = torch.tensor([[1, 2, 3, 4], [1, 2, 3, 4]])
    kinds = torch.tensor([[0, 1, 1, 2], [0, 2, 0, 0]])
    out = mixed_loss(logits, ids, kinds, LossConfig())
    assert out.loss.item() == pytest.approx((0.3 + 0.7) * uniform_ce(V), rel=1e-5)
    assert out.analysis_tokens == 2
    assert out.name_tokens == 2


def test_no_analysis_span_contributes_zero():
    logits = torch.zeros(1, 3, 4)
    out = mixed_loss(logits, torch.tensor([[0, 1, 2]]), torch.tensor([[0, 2, 2]]), LossConfig())
    assert out.analysis_loss.item() == 0.0
    assert out.loss.item() == pytest.approx(0.7 * math.log(4), rel=1e-5)


def test_ignored_tokens_carry_no_gradient():
    logits = torch.zeros(1, 3, 4, requires_grad=True)
    mixed_loss(logits, torch.tensor([[0, 1, 2]]), torch.tensor([[0, 0, 2]]), LossConfig()).loss.backward()
    # Only position 1 (predicting the name token at 2) has a gradient.
    assert logits.grad[0, 0].abs().sum() == 0
    assert logits.grad[0, 1].abs().sum() > 0
