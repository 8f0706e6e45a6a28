"""Training-corpus builder: Debian static libraries, compiled sources and debug packages into split datasets.

``build_corpus(BuildConfig(manifest, output_dir))`` reads a manifest (see
corpus/README.md) and writes train.csv, eval.csv and test.csv in the dataset
format, with split_summary.json, manifest.lock.json and build.log.
"""

from binbridge.corpus.builder import CorpusBuildResult, build_corpus
from binbridge.corpus.config import BuildConfig
from binbridge.corpus.manifest import SOURCE_KINDS, Manifest, load_manifest

__all__ = ["SOURCE_KINDS", "BuildConfig", "CorpusBuildResult", "Manifest", "build_corpus", "load_manifest"]
