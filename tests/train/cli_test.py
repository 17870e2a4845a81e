#!/usr/bin/python3
"""cnncc --train's options: each bad value or combination stops with its message and exit
status 1 and writes nothing; all options at once compile, to C that compiles at -Werror. usage: cli_test.py CNNCC WORKDIR"""
import os
import shutil
import subprocess
import sys
import warnings

import torch

cnncc, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
warnings.filterwarnings("ignore")
model = os.path.join(work, "m.onnx")
net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.Linear(8, 3))
torch.onnx.export(net.train(), torch.zeros(2, 1, 4, 4), model, opset_version=13,
                  training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)

BAD = [
    (["--lr", "0.1"], "--lr is a training option: it needs --train"),
    (["--train", "--lr", "abc"], "--lr takes a positive number, not 'abc'"),
    (["--train", "--lr=-1"], "--lr takes a positive number, not '-1'"),
    (["--train", "--optimizer", "rmsprop"], "--optimizer takes sgd, adam or adamw, not 'rmsprop'"),
    (["--train", "--loss", "nll"], "--loss takes cross_entropy or mse, not 'nll'"),
    (["--train", "--nesterov"], "--nesterov needs --optimizer sgd with --momentum > 0"),
    (["--train", "--optimizer", "adam", "--momentum", "0.9"], "--momentum applies to --optimizer sgd"),
    (["--train", "--momentum", "1.5"], "--momentum takes a number in [0, 1), not '1.5'"),
    (["--train", "--lr-schedule", "step"], "--lr-schedule step needs --lr-step N"),
    (["--train", "--lr-step", "3"], "--lr-step applies to --lr-schedule step"),
    (["--train", "--loss", "mse", "--label-smoothing", "0.1"],
     "--label-smoothing applies to --loss cross_entropy"),
    (["--train", "--batch", "0"], "--batch takes a positive count, not '0'"),
    (["--train", "--freeze", "a,,b"], "--freeze: empty prefix in 'a,,b'"),
    (["--train", "--main"], "--train writes NAME_train.c: it does not take --weights or --main"),
    (["--params", os.path.join(work, "m.onnx")], "an ONNX model takes only a cnncc parameter file"),
    (["--train", "--seed", "-1"], "--seed takes a number from 0 to 4294967295, not '-1'"),
    (["--checkpoint"], "--checkpoint recomputes activations for a backward pass: it needs --grad"),
    (["--train", "--checkpoint=every:0"], "--checkpoint=every:K takes a positive node count, not '0'"),
    (["--train", "--checkpoint=nosuch"], "--checkpoint: 'nosuch' is not a value computed by the model's forward pass"),
]
failed = 0
for args, want in BAD:
    out = os.path.join(work, "bad", "m.c")
    r = subprocess.run([cnncc, model, "-o", out] + args, capture_output=True, text=True)
    ok = r.returncode == 1 and want in r.stderr and not os.path.exists(out)
    print("%-4s %-50s %s" % ("ok" if ok else "FAIL", " ".join(args), r.stderr.strip().splitlines()[0]
                                                           if r.stderr.strip() else "(no message)"))
    failed += not ok
good = ["--train", "--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--weight-decay=1e-4",
        "--lr-schedule", "step", "--lr-step", "2", "--lr-gamma", "0.5", "--warmup", "3",
        "--clip-norm", "1", "--label-smoothing", "0.05", "--epochs", "3", "--batch", "4",
        "--freeze", "0.", "--checkpoint", "--seed", "3"]
r = subprocess.run([cnncc, model, "-o", os.path.join(work, "good", "m.c")] + good,
                   capture_output=True, text=True)
ok = r.returncode == 0 and os.path.exists(os.path.join(work, "good", "m_train.c"))
if ok:  # and what it wrote compiles warning-free
    gd = os.path.join(work, "good")
    for f in sorted(os.listdir(gd)):
        if f.endswith(".c"):
            c = subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-c",
                                os.path.join(gd, f), "-o", os.path.join(gd, f + ".o")],
                               capture_output=True, text=True)
            ok = ok and c.returncode == 0
            if c.returncode != 0:
                print(c.stderr)
print("%-4s every option at once%s" % ("ok" if ok else "FAIL", "" if ok else ": " + r.stderr))
failed += not ok

# A .cnn model's `train` section sets the options; the command line wins over it; a bad value in
# it is reported at its line with a caret. (The LeNet-5 parameter count comes from PyTorch.)
lenet = os.path.join(work, "lenet.cnn")
with open(lenet, "w") as f:
    f.write("""model lenet
input image: f32[1, 1, 28, 28]
x = conv2d(image, 6, kernel=5, pad=2) -> relu -> maxpool(2)
x = conv2d(x, 16, kernel=5, pad=0) -> relu -> maxpool(2)
x = flatten(x)
x = linear(x, 120) -> relu
x = linear(x, 84) -> relu
output logits = linear(x, 10)
train {
  optimizer = sgd
  momentum = 0.9
  batch = 32
}
""")
torch_lenet = torch.nn.Sequential(
    torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
    torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(),
    torch.nn.Linear(84, 10))
n_params = sum(p.numel() for p in torch_lenet.parameters())


def header_macros(folder):
    macros = {}
    for line in open(os.path.join(folder, "lenet_train.h")):
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define":
            macros[parts[1]] = parts[2]
    return macros


for extra, batch in (([], "32"), (["--batch", "8"], "8")):
    d = os.path.join(work, "dsl" + "".join(extra))
    r = subprocess.run([cnncc, lenet, "-o", os.path.join(d, "lenet.c"), "--train"] + extra,
                       capture_output=True, text=True)
    m = header_macros(d) if r.returncode == 0 else {}
    ok = (m.get("LENET_TRAIN_BATCH") == batch and
          m.get("LENET_TRAIN_PARAM_COUNT") == str(n_params) and
          # SGD with momentum: one buffer of the parameters' size (each tensor 64-byte aligned)
          0 <= int(m.get("LENET_OPTIM_STATE_BYTES", "-1")) - 4 * n_params < 64 * 10)
    print("%-4s .cnn train section %s: batch %s, %s trained floats (PyTorch: %d)%s" % (
        "ok" if ok else "FAIL", " ".join(extra) or "(as declared)", m.get("LENET_TRAIN_BATCH"),
        m.get("LENET_TRAIN_PARAM_COUNT"), n_params, "" if ok else ": " + r.stderr))
    failed += not ok
bad = os.path.join(work, "bad_lr.cnn")
with open(lenet) as src, open(bad, "w") as f:
    f.write(src.read().replace("momentum = 0.9", "lr = -1"))
r = subprocess.run([cnncc, bad, "-o", os.path.join(work, "bad_lr", "m.c"), "--train"],
                   capture_output=True, text=True)
want = "bad_lr.cnn:11:3: error: --lr takes a positive number, not '-1'\n    lr = -1\n    ^"
out_dir = os.path.join(work, "bad_lr")
ok = r.returncode == 1 and want in r.stderr and not (os.path.isdir(out_dir) and os.listdir(out_dir))
print("%-4s .cnn train section error at its line%s" % ("ok" if ok else "FAIL",
                                                       "" if ok else ": " + r.stderr))
failed += not ok
print("%d passed, %d failed" % (len(BAD) + 4 - failed, failed))
sys.exit(1 if failed else 0)
