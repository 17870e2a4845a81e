#!/usr/bin/python3
"""End-to-end train steps of `cnncc --train` against PyTorch.

For each case: a small PyTorch CNN (Conv, BatchNorm in training mode, ReLU, MaxPool, Linear) is
exported to ONNX (TrainingMode.TRAINING keeps BatchNormalization un-fused); cnncc --train compiles
it with the case's options; tests/train/step_harness.c runs STEPS train steps on random batches;
the same steps run in PyTorch (torch.optim, torch.nn.functional losses, clip_grad_norm_,
schedulers). Compared: the loss of every step, every trained parameter and BN running statistic
after the last step (read back from the NAME_train_write file), the logits of the last step, and
evaluation-mode logits after training. Tolerance: max|d| <= TOL * max|ref| per tensor.

usage: train_step_test.py --cnncc BIN --cc CC --work DIR [--case NAME ...]
(CC may carry arguments, e.g. tests/arm/qemu_cc.sh's cross compiler + qemu launcher.)"""
import argparse
import copy
import math
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-5
STEPS = int(os.environ.get("TRAIN_TEST_STEPS", "4"))
warnings.filterwarnings("ignore")
torch.set_num_threads(1)


class Net(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        # (No bias before a BatchNormalization: its exact gradient is 0, and Adam would turn the
        # rounding noise of either implementation into full-size steps.)
        self.c1 = nn.Conv2d(2, 6, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(6)
        self.c2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(8 * 2 * 2, 16, bias=False)
        self.b2 = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.relu(self.c2(x))
        return self.fc2(F.relu(self.b2(self.fc1(x.flatten(1)))))


# Dropout in the train step: x * mask, the mask from runtime/cnnrt_dropout.h's counter-based
# generator, reproduced here so that PyTorch multiplies by the very same mask.
DROPOUT_SEED = 20261126  # codegen/emit_train.c
M64 = (1 << 64) - 1


def mix64(z):
    z = np.asarray(z, np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
    return z ^ (z >> np.uint64(31))


def dropout_mask(shape, ratio, stream, step, seed=DROPOUT_SEED):
    key = int(mix64(int(mix64(seed ^ 0x243f6a8885a308d3)) ^ ((stream * 0x9e3779b97f4a7c15) & M64)
                    ^ int(mix64((step + 0x13198a2e03707344) & M64))))
    i = np.arange(int(np.prod(shape)), dtype=np.uint64)
    with np.errstate(over="ignore"):
        bits = mix64(np.uint64(key) + i * np.uint64(0x9e3779b97f4a7c15))
    threshold = int(float(np.float32(ratio)) * 16777216.0 + 0.5)
    keep = (bits >> np.uint64(40)) >= np.uint64(threshold)
    return np.where(keep, np.float32(1.0) / (np.float32(1.0) - np.float32(ratio)),
                    np.float32(0.0)).astype(np.float32).reshape(shape)


class DropNet(Net):
    """Net with Dropout(0.3) before the last layer; mask_step set: the cnnrt mask of that step."""

    def __init__(self, classes=5):
        super().__init__(classes)
        self.mask_step = None
        self.seed = DROPOUT_SEED  # --seed

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.relu(self.c2(x))
        h = F.relu(self.b2(self.fc1(x.flatten(1))))
        if self.mask_step is None:
            h = F.dropout(h, 0.3, self.training)
        elif self.training:
            h = h * torch.tensor(dropout_mask(tuple(h.shape), 0.3, 0, self.mask_step, self.seed))
        return self.fc2(h)


class DeepDropNet(DropNet):
    """DropNet with two more convolutions (BN, a residual) at full resolution: enough saved
    activations for --checkpoint to shrink the arena."""

    def __init__(self, classes=5):
        super().__init__(classes)
        self.c3 = nn.Conv2d(6, 6, 3, padding=1, bias=False)
        self.b3 = nn.BatchNorm2d(6)
        self.c4 = nn.Conv2d(6, 6, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        x = F.relu(self.c4(F.relu(self.b3(self.c3(x))))) + x
        x = F.relu(self.c2(F.max_pool2d(x, 2)))
        h = F.relu(self.b2(self.fc1(x.flatten(1))))
        if self.mask_step is None:
            h = F.dropout(h, 0.3, self.training)
        elif self.training:
            h = h * torch.tensor(dropout_mask(tuple(h.shape), 0.3, 0, self.mask_step, self.seed))
        return self.fc2(h)


CASES = {
    # name: (cnncc options, optimizer factory, loss, extras)
    "sgd_momentum": (["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9",
                      "--weight-decay", "1e-3"],
                     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3), {}),
    "sgd_nesterov": (["--optimizer", "sgd", "--lr", "0.05", "--momentum", "0.8", "--nesterov",
                      "--weight-decay", "5e-4"],
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True,
                                               weight_decay=5e-4), {}),
    # Two steps: from the third on, a few weights whose gradient is almost cancelled by the L2
    # term flip the sign of Adam's near-unit update on rounding noise (either implementation's),
    # and the comparison measures that noise rather than the code.
    "adam": (["--optimizer", "adam", "--lr", "0.01", "--weight-decay", "1e-2"],
             lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=1e-2), {"steps": 2}),
    "adamw_smoothing_clip": (["--optimizer", "adamw", "--lr", "0.01", "--beta1", "0.85",
                              "--label-smoothing", "0.1", "--clip-norm", "0.5"],
                             lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.85, 0.999)),
                             {"smoothing": 0.1, "clip": 0.5}),
    "mse_cosine_freeze": (["--loss", "mse", "--optimizer", "sgd", "--lr", "0.05", "--momentum",
                           "0.9", "--lr-schedule", "cosine", "--warmup", "2", "--freeze", "c1."],
                          lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                          {"mse": True, "cosine_warmup": 2, "freeze": "c1."}),
    "sgd_dropout": (["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9"],
                    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), {"dropout": True}),
    # --checkpoint: BN in training mode and Dropout recomputed in the backward pass; also built
    # without it, and the two runs must give the same losses, parameters, statistics and logits
    # with a smaller graph arena.
    "sgd_dropout_checkpoint": (["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9",
                                "--checkpoint", "--seed", "7"],
                               lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                               {"dropout": True, "checkpoint": True, "seed": 7}),
}


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.stderr.write("$ %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
        raise SystemExit("FAILED: command exited with %d" % r.returncode)
    return r


def read_params(path):
    b = open(path, "rb").read()
    assert b[:8] == b"CNNCCPRM", "bad magic"
    version, count = struct.unpack_from("<II", b, 8)
    assert version == 1
    at, out = 16, {}
    for _ in range(count):
        (n,) = struct.unpack_from("<I", b, at)
        at += 4
        name = b[at:at + n].decode()
        at += n
        (rank,) = struct.unpack_from("<I", b, at)
        at += 4
        dims = struct.unpack_from("<%dq" % rank, b, at)
        at += 8 * rank
        numel = int(np.prod(dims)) if rank else 1
        out[name] = np.frombuffer(b, np.float32, numel, at).reshape(dims)
        at += 4 * numel
    assert at == len(b), "trailing bytes"
    return out


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    scale = np.abs(want).max()
    err = np.abs(got - want).max()
    return err / scale if scale > 0 else err


def run_case(name, args):
    opts, make_opt, extra = CASES[name]
    steps = min(STEPS, extra.get("steps", STEPS))
    work = os.path.join(args.work, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    torch.manual_seed(7)
    classes, batch = 5, 8
    model = DeepDropNet(classes) if extra.get("checkpoint") else \
        DropNet(classes) if extra.get("dropout") else Net(classes)
    if extra.get("seed") is not None:
        model.seed = extra["seed"]
    with torch.no_grad():  # non-trivial BN parameters and statistics
        for bn in (model.b1, model.b2) + ((model.b3,) if extra.get("checkpoint") else ()):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
    ref = copy.deepcopy(model)
    onnx_path = os.path.join(work, "net.onnx")
    model = copy.deepcopy(ref).train()
    torch.onnx.export(model, torch.randn(batch, 2, 8, 8), onnx_path, input_names=["x"],
                      output_names=["logits"], opset_version=13,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    # The export's own forward pass has moved the exported running statistics: start PyTorch
    # from exactly what the ONNX file holds.
    import onnx
    from onnx import numpy_helper
    init = {i.name: torch.tensor(numpy_helper.to_array(i))
            for i in onnx.load(onnx_path).graph.initializer}
    ref.load_state_dict({k: init.get(k, v) for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(11)
    xs = rng.standard_normal((steps, batch, 2, 8, 8)).astype(np.float32)
    if extra.get("mse"):
        ys = rng.standard_normal((steps, batch, classes)).astype(np.float32)
    else:
        ys = rng.integers(0, classes, (steps, batch)).astype(np.int64)
    xs.tofile(os.path.join(work, "inputs.bin"))
    ys.tofile(os.path.join(work, "labels.bin"))
    def build_and_run(sub, options):
        """Compiles, builds and runs the harness in work/sub; returns NET_GRAPH_ARENA_BYTES."""
        out = os.path.join(work, sub, "out")
        run([args.cnncc, onnx_path, "--train", "--batch", str(batch), "--name", "net", "-o",
             os.path.join(out, "net.c")] + options)
        exe = os.path.join(work, sub, "harness")
        srcs = [os.path.join(out, f) for f in sorted(os.listdir(out)) if f.endswith(".c")]
        run(shlex.split(args.cc) + ["-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"] +
            args.cflags.split() + ["-I", out, os.path.join(HERE, "step_harness.c")] + srcs +
            ["-o", exe, "-lm"])
        if sub:
            for f in ("inputs.bin", "labels.bin"):
                shutil.copy(os.path.join(work, f), os.path.join(work, sub, f))
        run([exe, os.path.join(work, sub), str(steps)])
        with open(os.path.join(out, "net_train.h")) as f:
            return int(re.search(r"#define NET_GRAPH_ARENA_BYTES (\d+)", f.read()).group(1))

    arena = build_and_run("", opts)
    if extra.get("checkpoint"):
        base_arena = build_and_run("base", [o for o in opts if not o.startswith("--checkpoint")])
        worst_ck, same = 0.0, True
        for f in ("losses.bin", "params.bin", "train_logits.bin", "eval_logits.bin"):
            a = open(os.path.join(work, f), "rb").read()
            b = open(os.path.join(work, "base", f), "rb").read()
            same &= a == b
            if f == "params.bin":
                pa, pb = read_params(os.path.join(work, f)), read_params(os.path.join(work, "base", f))
                worst_ck = max([worst_ck] + [rel_err(pa[k], pb[k]) for k in pb])
            else:
                worst_ck = max(worst_ck, rel_err(np.frombuffer(a, np.float32),
                                                 np.frombuffer(b, np.float32)))
        print("%-22s --checkpoint vs without: %s, worst rel %.2e; graph arena %d -> %d bytes" %
              (name, "bit-identical" if same else "different", worst_ck, base_arena, arena))
        if worst_ck > 1e-6 or arena >= base_arena:
            print("%-22s FAILED: --checkpoint changed the results or did not shrink the arena" %
                  "")
            return False

    # PyTorch
    ref.train()
    if extra.get("freeze"):
        for n, p in ref.named_parameters():
            p.requires_grad_(not n.startswith(extra["freeze"]))
    params = [p for p in ref.parameters() if p.requires_grad]
    opt = make_opt(params)
    sched = None
    if extra.get("cosine_warmup"):
        w = extra["cosine_warmup"]
        sched = torch.optim.lr_scheduler.SequentialLR(opt, [
            torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0 / w, end_factor=1.0,
                                              total_iters=w - 1),
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps - w)], milestones=[w])
    losses = []
    for s in range(steps):
        opt.zero_grad()
        if extra.get("dropout"):
            ref.mask_step = s
        logits = ref(torch.tensor(xs[s]))
        if extra.get("mse"):
            loss = F.mse_loss(logits, torch.tensor(ys[s]))
        else:
            loss = F.cross_entropy(logits, torch.tensor(ys[s]),
                                   label_smoothing=extra.get("smoothing", 0.0))
        loss.backward()
        if extra.get("clip"):
            torch.nn.utils.clip_grad_norm_(params, extra["clip"])
        opt.step()
        if sched:
            sched.step()
        losses.append(loss.item())
    last_logits = logits.detach().numpy()
    ref.eval()
    with torch.no_grad():
        eval_logits = ref(torch.tensor(xs[0])).numpy()

    got_losses = np.fromfile(os.path.join(work, "losses.bin"), np.float32)
    got_params = read_params(os.path.join(work, "params.bin"))
    results = [("losses", rel_err(got_losses, losses))]
    state = {k: v.numpy() for k, v in ref.state_dict().items() if v.dtype == torch.float32}
    frozen = [k for k in state if extra.get("freeze") and k.startswith(extra["freeze"])]
    for k in frozen:
        if k in got_params:
            raise SystemExit("FAILED: frozen parameter %s was written as trained" % k)
    for k, want in state.items():
        if k in frozen:
            continue
        if k not in got_params:
            raise SystemExit("FAILED: %s missing from the parameter file" % k)
        results.append((k, rel_err(got_params[k], want)))
    results.append(("train logits", rel_err(
        np.fromfile(os.path.join(work, "train_logits.bin"), np.float32).reshape(last_logits.shape),
        last_logits)))
    results.append(("eval logits", rel_err(
        np.fromfile(os.path.join(work, "eval_logits.bin"), np.float32).reshape(eval_logits.shape),
        eval_logits)))
    worst = max(e for _, e in results)
    print("%-22s losses %s" % (name, " ".join("%.5f" % l for l in losses)))
    print("%-22s max relative error %.2e (%s)" % ("", worst, ", ".join(
        "%s %.1e" % (k, e) for k, e in results)))
    return worst <= TOL


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cnncc", required=True)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--cflags", default="")
    ap.add_argument("--work", required=True)
    ap.add_argument("--case", action="append")
    args = ap.parse_args()
    names = args.case or list(CASES)
    failed = [n for n in names if not run_case(n, args)]
    print("%d passed, %d failed" % (len(names) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
