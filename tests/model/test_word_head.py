"""The auxiliary name-word objective: vocabulary, targets, pooling over queries and the loss."""

import math

import torch

from binbridge.training.word_head import (NameWordHead, NameWordVocabulary, TrainingObjective, name_word_loss,
                                          name_words)


def test_name_words_strip_decorations_and_repeats():
    assert name_words("__GI_getHTTPHeader.isra.0") == ["get", "http", "header"]
    assert name_words("list_list_free") == ["list", "free"]
    assert name_words("__") == []


def test_vocabulary_keeps_frequent_words_only():
    vocabulary = NameWordVocabulary.from_names(["read_file", "read_line", "write_file", "close"], min_count=2)
    assert vocabulary.words == ["read", "file"]


def test_targets_are_uniform_over_known_words():
    vocabulary = NameWordVocabulary(words=["read", "file", "line"])
    targets = vocabulary.targets(["read_file", "unknown", "read_config_line"])
    assert targets.tolist() == [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.5, 0.0, 0.5]]


def test_head_takes_the_maximum_over_queries():
    head = NameWordHead(hidden_size=2, vocabulary_size=2)
    with torch.no_grad():
        head.norm.weight.fill_(1.0)
        head.norm.bias.zero_()
        head.scorer.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        head.scorer.bias.zero_()
    prompt = torch.tensor([[[3.0, -3.0], [-3.0, 3.0]]])  # [1, Q=2, H=2]; LayerNorm maps rows to (+-1, -+1)
    scores = head(prompt)
    assert torch.allclose(scores, torch.tensor([[1.0, 1.0]]), atol=1e-3)


def test_word_loss_hand_computed_case():
    scores = torch.tensor([[0.0, math.log(3.0)], [5.0, -5.0]])
    targets = torch.tensor([[0.5, 0.5], [0.0, 0.0]])
    # Row 0: softmax = (1/4, 3/4); loss = -(0.5 log 1/4 + 0.5 log 3/4). Row 1 has no word and is skipped.
    expected = -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    assert math.isclose(float(name_word_loss(scores, targets)), expected, rel_tol=1e-5)
    assert float(name_word_loss(scores, torch.zeros(2, 2))) == 0.0


def test_objective_adds_the_weighted_word_loss():
    class StubModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(2))

        def soft_prompt(self, features, feature_mask):
            return features * self.weight  # [B, Q, H]

        def language_loss(self, prompt, input_ids, attention_mask, span_kinds):
            from binbridge.model.loss import LossOutput

            zero = prompt.sum() * 0
            return LossOutput(loss=zero + 1.0, analysis_loss=zero, name_loss=zero, analysis_tokens=0, name_tokens=0)

    head = NameWordHead(hidden_size=2, vocabulary_size=3)
    objective = TrainingObjective(StubModel(), head, word_weight=2.0)
    features = torch.randn(4, 5, 2)
    targets = torch.zeros(4, 3)
    targets[:, 1] = 1.0
    out = objective(features, None, None, None, None, targets)
    expected = 1.0 + 2.0 * float(name_word_loss(head(features), targets))
    assert math.isclose(float(out.loss), expected, rel_tol=1e-5)
    out.loss.backward()
    assert head.scorer.weight.grad is not None and objective.model.weight.grad is not None


def test_word_loss_without_words_keeps_gradient():
    """Data-parallel ranks all-reduce the head's gradient, so every rank must produce one."""
    head = NameWordHead(hidden_size=4, vocabulary_size=3)
    loss = name_word_loss(head(torch.randn(2, 5, 4)), torch.zeros(2, 3))
    loss.backward()
    assert float(loss) == 0.0
    assert head.scorer.weight.grad is not None
