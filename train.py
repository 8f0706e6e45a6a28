#!/usr/bin/env python3
"""Train a Binbridge model; same flags as ``binbridge train``.

    python train.py --train_data train.csv --eval_data eval.csv --output_dir outputs \
        --epochs 10 --batch_size 4 --learning_rate 2e-4 --use_cot
"""

import sys

from binbridge.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
