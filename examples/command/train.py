"""A training script that knows nothing of Hyperion but its two output lines (any language can print
them): `hyperion.report {json}` as it goes, `hyperion.result {json}` at the end.

    python train.py --lr 0.01 --layers 2 --optimizer adam
"""

import argparse
import json
import math
import os

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--layers", type=int, required=True)
parser.add_argument("--optimizer", choices=["adam", "sgd"], required=True)
args = parser.parse_args()

# a stand-in for training: the loss falls with the epochs, fastest near lr=0.01 with adam and 3 layers
floor = abs(math.log10(args.lr) + 2) * 0.3 + abs(args.layers - 3) * 0.1 + (0.0 if args.optimizer == "adam" else 0.15)
val_loss = 2.0
for epoch in range(10):
    val_loss = floor + 2.0 / (epoch + 1)
    print("hyperion.report", json.dumps({"step": epoch, "val_loss": val_loss}), flush=True)

# each trial runs in its own directory (the working directory): what it writes stays with it
with open("model.json", "w") as f:
    json.dump({"trial": os.environ.get("HYPERION_TRIAL_ID"), "val_loss": val_loss}, f)
print("hyperion.result", json.dumps({"val_loss": val_loss}))
