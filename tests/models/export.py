#!/usr/bin/env python3
"""Export the whole-model test set for cnncc.

usage: /usr/bin/python3 tests/models/export.py OUTDIR [--only NAME[,NAME...]] [--list]
                                              [--if-stale] [--threads N]

For each model NAME this writes
    OUTDIR/NAME/model.onnx     torch.onnx.export, opset 13, constant folding, fixed shapes
    OUTDIR/NAME/input.npy      float32, seeded standard-normal input
    OUTDIR/NAME/expected.npy   float32 PyTorch (eval mode) output for input.npy
    OUTDIR/NAME/meta.json      graph input/output names and shapes (read back with onnx.load)

Models (all with random, seeded weights -- nothing is downloaded):
    resnet18       torchvision resnet18,      input 1x3x64x64
    mobilenet_v2   torchvision mobilenet_v2,  input 1x3x64x64
    squeezenet1_1  torchvision squeezenet1_1, input 1x3x64x64
    efficientnet_b0 torchvision efficientnet_b0, input 1x3x64x64 (SiLU, squeeze-excitation,
                   5x5 depthwise)
    unet           small 2-level U-Net (ConvTranspose, Concat, bilinear+nearest Resize), 1x3x32x32
    zoo            assorted ops (GroupNorm, Hardswish, SiLU, GELU, shuffle, ...), 1x3x32x32
BatchNorm running stats and affine params are re-initialised with random non-trivial
values, so that BN folding in the compiler is really exercised.

The graph input/output names are deliberately varied: resnet18/mobilenet_v2 keep the
exporter's default (numeric) names, the zoo uses names that need sanitising
("zoo/probs:0" -> file zoo_probs_0.npy).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OPSET = 13


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def randomize_bn(model, seed):
    """Give every BatchNorm / GroupNorm non-trivial statistics and affine params."""
    g = torch.Generator().manual_seed(seed)

    def u(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.running_mean.copy_(u(n, -0.5, 0.5))
                m.running_var.copy_(u(n, 0.5, 2.0))
                if m.affine:
                    m.weight.copy_(u(n, 0.5, 1.5))
                    m.bias.copy_(u(n, -0.3, 0.3))
            elif isinstance(m, nn.GroupNorm) and m.affine:
                n = m.num_channels
                m.weight.copy_(u(n, 0.5, 1.5))
                m.bias.copy_(u(n, -0.3, 0.3))
    return model


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """2-level U-Net: Conv-BN-ReLU x2 per level, MaxPool down, ConvTranspose and
    bilinear Upsample up, Concat skips, plus a nearest-upsampled deep-supervision head."""

    def __init__(self, cin=3, ncls=2, w=8):
        super().__init__()
        self.enc1 = nn.Sequential(conv_bn_relu(cin, w), conv_bn_relu(w, w))
        self.enc2 = nn.Sequential(conv_bn_relu(w, 2 * w), conv_bn_relu(2 * w, 2 * w))
        self.pool = nn.MaxPool2d(2)
        self.mid = nn.Sequential(conv_bn_relu(2 * w, 4 * w), conv_bn_relu(4 * w, 4 * w))
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = nn.Sequential(conv_bn_relu(4 * w, 2 * w), conv_bn_relu(2 * w, 2 * w))
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.red1 = nn.Conv2d(2 * w, w, 1)
        self.dec1 = nn.Sequential(conv_bn_relu(2 * w, w), conv_bn_relu(w, w))
        self.head1 = nn.Conv2d(w, ncls, 1)
        self.head2 = nn.Conv2d(2 * w, ncls, 1)
        self.up_nearest = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        e1 = self.enc1(x)                     # w   @ 32
        e2 = self.enc2(self.pool(e1))         # 2w  @ 16
        m = self.mid(self.pool(e2))           # 4w  @ 8
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))           # 2w @ 16
        d1 = self.dec1(torch.cat([self.red1(self.up1(d2)), e1], 1))  # w @ 32
        return self.head1(d1) + self.up_nearest(self.head2(d2))


class Zoo(nn.Module):
    """A grab-bag of ops that torch exports in various shapes at opset 13."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.gn = nn.GroupNorm(4, 16)               # InstanceNormalization+Reshape+Mul+Add
        self.hs = nn.Hardswish()                    # HardSigmoid+Mul
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)   # depthwise
        self.bn = nn.BatchNorm2d(16)
        self.silu = nn.SiLU()                       # Sigmoid+Mul
        self.dil = nn.Conv2d(16, 16, 3, padding=2, dilation=2)  # dilated
        self.gelu = nn.GELU()                       # Div/Erf/Add/Mul chain
        self.pw = nn.Conv2d(16, 24, 1, groups=4)    # grouped 1x1
        self.lrelu = nn.LeakyReLU(0.1)
        self.down = nn.Conv2d(24, 24, 3, stride=2, padding=1)
        self.elu = nn.ELU(0.7)
        self.pool = nn.AdaptiveAvgPool2d(4)         # -> AveragePool (16 -> 4)
        self.gap = nn.AdaptiveAvgPool2d(1)          # -> GlobalAveragePool
        self.fc = nn.Linear(24 * 4 * 4 + 24, 10)    # Flatten + Gemm
        with torch.no_grad():                       # logits of a few units, so that the
            self.fc.weight.mul_(20.0)               # softmax output is not ~uniform

    @staticmethod
    def shuffle(x, groups):
        n, c, h, w = x.shape
        x = x.reshape(n, groups, c // groups, h, w).transpose(1, 2)
        return x.reshape(n, c, h, w)

    def forward(self, x):
        x = self.hs(self.gn(self.stem(x)))
        x = self.silu(self.bn(self.dw(x)))
        x = self.gelu(self.dil(x)) + x
        x = self.lrelu(self.shuffle(self.pw(x), 4))
        x = self.elu(self.down(x))                  # 24 @ 16x16
        a = torch.flatten(self.pool(x), 1)
        b = torch.flatten(self.gap(x), 1)
        return torch.softmax(self.fc(torch.cat([a, b], 1)), dim=1)


def _tv(name):
    import torchvision.models as tvm
    return getattr(tvm, name)(weights=None)


# name -> (builder, input shape, input_names or None, output_names or None)
MODELS = {
    "resnet18":      (lambda: _tv("resnet18"),      (1, 3, 64, 64), None, None),
    "mobilenet_v2":  (lambda: _tv("mobilenet_v2"),  (1, 3, 64, 64), None, None),
    "squeezenet1_1": (lambda: _tv("squeezenet1_1"), (1, 3, 64, 64), ["input"], ["logits"]),
    "efficientnet_b0": (lambda: _tv("efficientnet_b0"), (1, 3, 64, 64), None, None),
    # grouped (not depthwise) convolutions: 16-channel groups, 1 to 25 groups per layer
    "regnet_x_400mf": (lambda: _tv("regnet_x_400mf"), (1, 3, 64, 64), None, None),
    "unet":          (lambda: UNet(),               (1, 3, 32, 32), ["image"], ["mask"]),
    "zoo":           (lambda: Zoo(),                (1, 3, 32, 32), ["zoo/in:0"], ["zoo/probs:0"]),
}


def script_stamp():
    """Identifies what an export depends on: this script and the torch versions."""
    import hashlib
    import torchvision
    with open(os.path.abspath(__file__), "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()[:16]
    return "%s torch-%s torchvision-%s" % (h, torch.__version__, torchvision.__version__)


def is_fresh(name, outdir):
    d = os.path.join(outdir, name)
    try:
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return (meta.get("stamp") == script_stamp() and
            all(os.path.exists(os.path.join(d, f))
                for f in ("model.onnx", "input.npy", "expected.npy")))


def export_one(name, outdir, seed=0):
    build, shape, in_names, out_names = MODELS[name]
    torch.manual_seed(seed)
    model = randomize_bn(build(), seed + 1).eval()
    x = np.random.RandomState(seed + 2).randn(*shape).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy().astype(np.float32)

    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.onnx")
    kw = {}
    if in_names:
        kw["input_names"] = in_names
    if out_names:
        kw["output_names"] = out_names
    with torch.no_grad():
        torch.onnx.export(model, torch.from_numpy(x), path, opset_version=OPSET,
                          do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE,
                          **kw)
    np.save(os.path.join(d, "input.npy"), x)
    np.save(os.path.join(d, "expected.npy"), y)

    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    inits = {i.name for i in m.graph.initializer}

    def dims(vi):
        return [dd.dim_value if dd.HasField("dim_value") else dd.dim_param
                for dd in vi.type.tensor_type.shape.dim]

    meta = {
        "name": name,
        "opset": OPSET,
        "inputs": [{"name": i.name, "shape": dims(i)} for i in m.graph.input
                   if i.name not in inits],
        "outputs": [{"name": o.name, "shape": dims(o)} for o in m.graph.output],
        "ops": sorted({n.op_type for n in m.graph.node}),
        "expected_shape": list(y.shape),
        "max_abs_expected": float(np.abs(y).max()),
        "stamp": script_stamp(),
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def main():
    ap = argparse.ArgumentParser(description="export cnncc whole-model tests")
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--list", action="store_true", help="print model names and exit")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--if-stale", action="store_true",
                    help="skip models already exported by this very script version")
    args = ap.parse_args()
    if args.list:
        print("\n".join(MODELS))
        return 0
    if not args.outdir:
        ap.error("OUTDIR required")
    torch.set_num_threads(args.threads)
    names = args.only.split(",") if args.only else list(MODELS)
    for n in names:
        if n not in MODELS:
            ap.error("unknown model %r (have: %s)" % (n, ", ".join(MODELS)))
    for n in names:
        if args.if_stale and is_fresh(n, args.outdir):
            print("%-14s up to date" % n)
            continue
        meta = export_one(n, args.outdir)
        print("%-14s in=%s out=%s %s ops=%s" % (
            n, [i["name"] for i in meta["inputs"]], [o["name"] for o in meta["outputs"]],
            meta["expected_shape"], ",".join(meta["ops"])))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
