#!/usr/bin/env python3
"""Run a Binbridge model; same flags as ``binbridge infer``.

    python inference.py --model_path outputs/best_model --input test.csv --output results.csv --batch_size 8
    python inference.py --model_path outputs/best_model --interactive
"""

import sys

from binbridge.cli import main

if __name__ == "__main__":
    sys.exit(main(["infer", *sys.argv[1:]]))
