"""Project-balanced sampling of training rows."""

from collections import Counter

import pytest

from binbridge.errors import ConfigError
from binbridge.training.arguments import TrainingArguments
from binbridge.training.sampling import ProjectBalancedSampler, project_shares

PROJECTS = ["big"] * 90 + ["small"] * 10


def test_alpha_one_keeps_the_corpus_mix():
    shares = project_shares(PROJECTS, 1.0)
    assert shares["big"] == pytest.approx(0.9)
    assert shares["small"] == pytest.approx(0.1)


def test_alpha_zero_gives_projects_equal_shares():
    shares = project_shares(PROJECTS, 0.0)
    assert shares["big"] == pytest.approx(0.5)
    assert shares["small"] == pytest.approx(0.5)


def test_alpha_half_square_root_shares():
    shares = project_shares(PROJECTS, 0.5)
    assert shares["big"] / shares["small"] == pytest.approx((90 / 10) ** 0.5)


def test_sampler_draws_by_weight():
    sampler = ProjectBalancedSampler(PROJECTS * 50, 0.0, seed=0)  # 5,000 rows, 4,500 of them "big"
    drawn = Counter(PROJECTS[i % 100] for i in sampler)
    assert len(sampler) == 5000
    assert 0.45 < drawn["small"] / 5000 < 0.55


def test_sampler_ranks_and_epochs():
    ranks = [ProjectBalancedSampler(PROJECTS, 0.5, seed=3, rank=r, world=2) for r in range(2)]
    single = ProjectBalancedSampler(PROJECTS, 0.5, seed=3)
    assert len(ranks[0]) + len(ranks[1]) == len(single) == 100
    merged = [None] * 100
    merged[0::2], merged[1::2] = list(ranks[0]), list(ranks[1])
    assert merged == list(single)
    first = list(single)
    single.set_epoch(1)
    assert list(single) != first


@pytest.mark.parametrize("value", [-0.1, 1.5, True, float("nan")])
def test_project_balance_is_validated(tmp_path, value):
    with pytest.raises(ConfigError, match="project_balance"):
        TrainingArguments(train_data="t.csv", eval_data="e.csv", output_dir=str(tmp_path), project_balance=value)
