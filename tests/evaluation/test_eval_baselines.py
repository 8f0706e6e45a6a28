"""Most-frequent-words and nearest-neighbour baselines on tiny hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from binbridge.errors import InputError
from binbridge.evaluation import most_frequent_words_baseline, nearest_neighbour_baseline

TRAIN_NAMES = ["get_value", "get_name", "set_value", "get_size"]


def test_most_frequent_words_picks_best_prefix() -> None:
    # Document frequency: get 3, value 2, name 1, set 1, size 1 (8 true words, 4 functions).
    # k=1 {get}:             TP 3, P 3/4,  R 3/8 -> F1 0.5
    # k=2 {get,value}:       TP 5, P 5/8,  R 5/8 -> F1 0.625
    # k=3 {get,value,name}:  TP 6, P 6/12, R 6/8 -> F1 0.6
    baseline = most_frequent_words_baseline(TRAIN_NAMES)

    assert baseline.words == ("get", "value")
    assert baseline.name == "get_value"
    assert baseline.train_f1 == pytest.approx(0.625)


def test_most_frequent_words_max_words_one() -> None:
    baseline = most_frequent_words_baseline(TRAIN_NAMES, max_words=1)

    assert baseline.words == ("get",)
    assert baseline.train_f1 == pytest.approx(0.5)


def test_most_frequent_words_ties_alphabetical() -> None:
    # "alpha" and "beta" both occur once, so the alphabetically first ranks higher.
    baseline = most_frequent_words_baseline(["beta", "alpha"], max_words=1)

    assert baseline.words == ("alpha",)


def test_most_frequent_words_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="max_words=0"):
        most_frequent_words_baseline(TRAIN_NAMES, max_words=0)
    with pytest.raises(InputError, match="contain no words"):
        most_frequent_words_baseline(["123", "_"])


def test_nearest_neighbour_cosine() -> None:
    train = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    test = np.array([[2.0, 0.1], [1.0, 1.2], [-1.0, 0.0], [0.0, 0.0]])

    result = nearest_neighbour_baseline(train, ["alpha", "beta", "gamma"], test)

    # [2, 0.1] is closest in angle to [1, 0], and [1, 1.2] to [1, 1] (cosine 0.996 vs 0.768 for [0, 1]).
    # [-1, 0] has cosines -1, 0 and -0.707, so [0, 1] wins. The zero vector ties at 0 and takes index 0.
    assert result.predicted_names == ["alpha", "gamma", "beta", "alpha"]
    assert result.neighbour_indices.tolist() == [0, 2, 1, 0]
    assert result.similarities[1] == pytest.approx(2.2 / (np.sqrt(2) * np.sqrt(2.44)))
    assert result.similarities[2] == pytest.approx(0.0)
    assert result.similarities[3] == pytest.approx(0.0)


def test_nearest_neighbour_scale_invariant() -> None:
    train = np.array([[1.0, 0.0], [0.0, 1.0]])
    test = np.array([[100.0, 1.0], [0.001, 0.002]])

    result = nearest_neighbour_baseline(train, ["x", "y"], test)

    assert result.predicted_names == ["x", "y"]


def test_nearest_neighbour_rejects_bad_shapes() -> None:
    train = np.ones((3, 2))

    with pytest.raises(InputError, match="3 rows but train_names has 2"):
        nearest_neighbour_baseline(train, ["a", "b"], np.ones((1, 2)))
    with pytest.raises(InputError, match="2 columns but test_features has 3"):
        nearest_neighbour_baseline(train, ["a", "b", "c"], np.ones((1, 3)))
    with pytest.raises(InputError, match="expected a 2-D array"):
        nearest_neighbour_baseline(train, ["a", "b", "c"], np.ones(2))
    with pytest.raises(InputError, match="NaN or infinite"):
        nearest_neighbour_baseline(train, ["a", "b", "c"], np.array([[np.nan, 1.0]]))
    with pytest.raises(InputError, match="no rows"):
        nearest_neighbour_baseline(np.ones((0, 2)), [], np.ones((1, 2)))


def test_most_frequent_words_tie_prefers_fewer() -> None:
    # Document frequency: get 2, value 2, name 1, set 1 (6 true words, 3 functions).
    # k=2 {get,value}:      TP 4, P 4/6, R 4/6 -> F1 2/3
    # k=3 {get,value,name}: TP 5, P 5/9, R 5/6 -> F1 2/3, a tie, so k=2 wins.
    baseline = most_frequent_words_baseline(["get_value", "get_name", "set_value"])

    assert baseline.words == ("get", "value")
    assert baseline.train_f1 == pytest.approx(2 / 3)
