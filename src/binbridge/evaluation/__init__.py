"""Function-name metrics in two labelled variants (SymLM-style and XFL-style), baselines and reports."""

from binbridge.evaluation.baselines import (
    MostFrequentWordsBaseline,
    NearestNeighbourPredictions,
    most_frequent_words_baseline,
    nearest_neighbour_baseline,
)
from binbridge.evaluation.clusters import WordClusters, load_word_clusters
from binbridge.evaluation.config import EvaluationConfig
from binbridge.evaluation.lemmatize import lemmatize_word
from binbridge.evaluation.metrics import PredictionRow, count_matches, evaluate, has_prediction, name_f1
from binbridge.evaluation.names import strip_decorations, symlm_words, xfl_words
from binbridge.evaluation.predictions import load_predictions, load_train_names
from binbridge.evaluation.report import ReportFiles, write_report
from binbridge.evaluation.results import (
    BaselinePredictions,
    BaselineScores,
    EvaluationReport,
    GroupScores,
    VariantScores,
    WordCounts,
)
from binbridge.evaluation.run import run_eval

__all__ = [
    "BaselinePredictions",
    "BaselineScores",
    "EvaluationConfig",
    "EvaluationReport",
    "GroupScores",
    "MostFrequentWordsBaseline",
    "NearestNeighbourPredictions",
    "PredictionRow",
    "ReportFiles",
    "VariantScores",
    "WordClusters",
    "WordCounts",
    "count_matches",
    "evaluate",
    "has_prediction",
    "lemmatize_word",
    "load_predictions",
    "load_train_names",
    "load_word_clusters",
    "most_frequent_words_baseline",
    "name_f1",
    "nearest_neighbour_baseline",
    "run_eval",
    "strip_decorations",
    "symlm_words",
    "write_report",
    "xfl_words",
]
