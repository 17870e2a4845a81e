#!/usr/bin/env python3
"""Export the benchmark models for bench/run.sh.

usage: /usr/bin/python3 bench/export_models.py OUTDIR [NAME ...]

For each torchvision model NAME (default: all of MODELS) this writes
    OUTDIR/NAME/model.onnx   opset 13, batch 1, 3x224x224, fixed shapes, constant folding
    OUTDIR/NAME/state.pt     the state_dict, so that bench/torch_bench.py runs the same weights
    OUTDIR/NAME/input.npy    float32 1x3x224x224, seeded standard normal
A model whose files already exist is skipped (delete OUTDIR/NAME to re-export).
Weights are random (seeded torchvision init, eval mode); nothing is downloaded.
"""
import os
import sys
import warnings

import numpy as np
import torch
import torchvision

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0"]
OPSET = 13


def build(name):
    """The torchvision model NAME with seeded random weights, in eval mode."""
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None)
    return model.eval()


def export(name, outdir):
    d = os.path.join(outdir, name)
    files = [os.path.join(d, f) for f in ("model.onnx", "state.pt", "input.npy")]
    if all(os.path.exists(f) for f in files):
        print(f"  {name}: already exported")
        return
    os.makedirs(d, exist_ok=True)
    model = build(name)
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 3, 224, 224))
                         .astype(np.float32))
    with torch.inference_mode():
        torch.onnx.export(model, x, files[0] + ".tmp", opset_version=OPSET,
                          do_constant_folding=True, input_names=["input"],
                          output_names=["output"])
    os.replace(files[0] + ".tmp", files[0])
    torch.save(model.state_dict(), files[1])
    np.save(files[2], x.numpy())
    print(f"  {name}: exported ({os.path.getsize(files[0]) / 1e6:.1f} MB)")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    for name in sys.argv[2:] or MODELS:
        export(name, sys.argv[1])


if __name__ == "__main__":
    main()
