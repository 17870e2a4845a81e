#!/usr/bin/python3
"""The Fashion-MNIST network of this example, defined in PyTorch and exported to ONNX with fresh
(seeded) random weights: training from scratch happens in the generated C.

    model.py OUT.onnx [--batch 64]

BatchNormalization is kept as its own op (TrainingMode.TRAINING stops the exporter from folding
it into the convolutions) so that cnncc --train can train it with batch statistics.
The same class is what bench/train.sh trains in PyTorch."""
import argparse
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F


class FashionNet(nn.Module):
    """conv3x3(1->16)-BN-ReLU-pool, conv3x3(16->32)-BN-ReLU-pool, fc 1568->128-ReLU, fc 128->10"""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def export(path, batch, seed=0):
    torch.manual_seed(seed)
    model = FashionNet().train()
    warnings.filterwarnings("ignore")
    torch.onnx.export(model, torch.zeros(batch, 1, 28, 28), path, input_names=["image"],
                      output_names=["logits"], opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    export(a.out, a.batch, a.seed)
