#!/usr/bin/env python3
"""Layout assignment (compiler/passes/layout.c): a small inverted-residual model whose values
between blockable 1x1 and depthwise convolutions are stored channel-blocked (NCHW8c), compiled
with the pass and with --no-nchwc, both compared with PyTorch and with each other.

usage: /usr/bin/python3 tests/models/nchwc_layout_test.py --cnncc PATH --work DIR
           [--cc "gcc"] [--cflags "..."] [--threads N]

The model (batch 2, 62x54 input; ReLU6 as nn.ReLU6 exports it, one Clip; SiLU as x * sigmoid(x),
which fuse.c folds into the convolution's epilogue) and the kernel each
convolution must get ("in": x NCHW -> y NCHW8c, "blk": x, y NCHW8c, "out": x NCHW8c -> y NCHW,
"dw": the blocked depthwise kernel, "-": an NCHW kernel):
  stem  3x3 s2 3->16 + relu -> s [16, 31, 27]                      -  (not blockable: 3x3)
  B0    dw0 3x3 on s + relu6                                        -  (its input s is plain)
        pj0 16->8                                                   in (region entry, no act)
  B1    ex1 8->24 relu6, dw1 3x3 s1 relu6, pj1 24->8 + a0           blk dw blk  (a0's last
        reader: residual in place)
  B2    ex2 8->40 relu, dw2 5x5 s1 relu, pj2 40->16 -> b            blk dw blk
  B3    ex3 16->24 relu6, dw3 3x3 s1 (no act), pj3 24->16 + b       blk dw blk  (b is read
        again by pj4: NOT in place)
  B4    ex4 16->24 relu, dw4 3x3 s1 relu, pj4 24->16 + b            blk dw blk  (in place)
  B5    ex5 16->24 relu6, dw5 3x3 s2 relu6 [24, 16, 14], pj5 24->24  blk dw out (read by cs)
  cs    1x1 24->24 + LeakyReLU                                      -  (LeakyReLU: not blockable)
  B6    ex6 24->40 relu6, dw6 5x5 s2 (no act) [40, 8, 7], pj6 40->40 in dw out (read by c3)
  c3    3x3 40->24 + relu                                           -
  t12   1x1 24->12 + relu -> [12, 8, 7]                             -  (12 % 8 != 0: NCHW)
  B7    ex7 12->48 relu6, dw7 5x5 s1 relu6, pj7 48->40              in dw blk
  B8    ex8 40->576 relu6, dw8 3x3 s1 relu6, pj8 576->40 + i        blk dw blk  (576 input
        channels: two k blocks; 8x7 plane, under schedule.c's 28x28: NOT in place)
  B9    squeeze-excitation, as EfficientNet's: ex9 40->48 silu, dw9 3x3 s1 silu -> h,
        GlobalAveragePool(h) (fused into dw9), se1 48->8 silu, se2 8->48 sigmoid,
        h * se2 (fused into pj9 as its input scale), pj9 48->40 + j     blk dw blk  (se1, se2:
        NCHW on 1x1 planes)
  head  1x1 40->64 hard-swish -> k (second graph output)            out
        GlobalAveragePool, Linear 64->10 -> y (first graph output)
Planes 31x27, 16x14, 8x7: pixel counts that are not multiples of 6 (the kernels' row tiles);
24 and 40 channels: a last 8-channel panel of the 16-channel weight panels.
Checks:
  1. cnncc --dump=schedule: every convolution has the kernel listed above (3 "in", 14 "blk",
     3 "out", 9 "dw"), no value with c % 8 != 0 (t12's 12 channels) is {nchw8c}; dw9 has the
     pooled second output and pj9 the input scale (the fusions kept on blocked kernels); in the
     generated code pj1 and pj4 write over their residual and pj3 and pj8 do not; with
     --no-nchwc, and with --tune avx512, nothing in the dump mentions nchw8c (both programs
     are compiled with --tune avx2: the layout pass is part of the AVX2 tuning).
  2. Both programs' outputs within 1e-4 of PyTorch (y through tests/models/run_model_test.py,
     k here), with --threads N as given (compiled with --max-threads N).
  3. The two programs' outputs (y and k) within 1e-5 * max|PyTorch| of each other: they differ
     only in summation order (the blocked 1x1 sums input channels in order, k blocks of 512).
"""
import os
import re
import shutil
import sys

import numpy as np

from script_test import dump_lines, parse_args, run_against_pytorch

IN, BLK, OUT = ("f32_pw_nchw8c_6x16_avx2 (x NCHW, y NCHW8c)",
                "f32_pw_nchw8c_6x16_avx2 (x, y NCHW8c)",
                "f32_pw_nchw8c_6x16_avx2 (x NCHW8c, y NCHW)")
DW = "f32_dwconv_nchw8c_avx2 (x, y NCHW8c)"
EXPECTED = {  # convolution -> kernel; None: an NCHW kernel (nothing with nchw8c)
    "stem": None, "dw0": None, "pj0": IN,
    "ex1": BLK, "dw1": DW, "pj1": BLK,
    "ex2": BLK, "dw2": DW, "pj2": BLK,
    "ex3": BLK, "dw3": DW, "pj3": BLK,
    "ex4": BLK, "dw4": DW, "pj4": BLK,
    "ex5": BLK, "dw5": DW, "pj5": OUT,
    "cs": None,
    "ex6": IN, "dw6": DW, "pj6": OUT,
    "c3": None, "t12": None,
    "ex7": IN, "dw7": DW, "pj7": BLK,
    "ex8": BLK, "dw8": DW, "pj8": BLK,
    "ex9": BLK, "dw9": DW, "se1": None, "se2": None, "pj9": BLK,
    "head": OUT,
}
RESIDUAL_IN_PLACE = {"pj1": True, "pj3": False, "pj4": True, "pj8": False}


def build_model(outdir):
    import torch
    import torch.nn as nn

    torch.manual_seed(11)

    def pw(ci, co):
        return nn.Conv2d(ci, co, 1)

    def dw(c, k, s):
        return nn.Conv2d(c, c, k, stride=s, padding=k // 2, groups=c)

    relu, relu6 = torch.relu, nn.ReLU6()  # nn.ReLU6: one Clip (F.relu6 exports Relu + Clip)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=1)
            self.dw0, self.pj0 = dw(16, 3, 1), pw(16, 8)
            self.ex1, self.dw1, self.pj1 = pw(8, 24), dw(24, 3, 1), pw(24, 8)
            self.ex2, self.dw2, self.pj2 = pw(8, 40), dw(40, 5, 1), pw(40, 16)
            self.ex3, self.dw3, self.pj3 = pw(16, 24), dw(24, 3, 1), pw(24, 16)
            self.ex4, self.dw4, self.pj4 = pw(16, 24), dw(24, 3, 1), pw(24, 16)
            self.ex5, self.dw5, self.pj5 = pw(16, 24), dw(24, 3, 2), pw(24, 24)
            self.cs = pw(24, 24)
            self.ex6, self.dw6, self.pj6 = pw(24, 40), dw(40, 5, 2), pw(40, 40)
            self.c3 = nn.Conv2d(40, 24, 3, padding=1)
            self.t12 = pw(24, 12)
            self.ex7, self.dw7, self.pj7 = pw(12, 48), dw(48, 5, 1), pw(48, 40)
            self.ex8, self.dw8, self.pj8 = pw(40, 576), dw(576, 3, 1), pw(576, 40)
            self.ex9, self.dw9, self.pj9 = pw(40, 48), dw(48, 3, 1), pw(48, 40)
            self.se1, self.se2 = pw(48, 8), pw(8, 48)
            self.head = pw(40, 64)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            s = relu(self.stem(x))
            a0 = self.pj0(relu6(self.dw0(s)))
            a1 = self.pj1(relu6(self.dw1(relu6(self.ex1(a0))))) + a0
            b = self.pj2(relu(self.dw2(relu(self.ex2(a1)))))
            c = self.pj3(self.dw3(relu6(self.ex3(b)))) + b
            d = self.pj4(relu(self.dw4(relu(self.ex4(c))))) + b
            e = self.pj5(relu6(self.dw5(relu6(self.ex5(d)))))
            f = nn.functional.leaky_relu(self.cs(e), 0.1)
            g = self.pj6(self.dw6(relu6(self.ex6(f))))
            t = relu(self.t12(relu(self.c3(g))))
            i = self.pj7(relu6(self.dw7(relu6(self.ex7(t)))))
            j = self.pj8(relu6(self.dw8(relu6(self.ex8(i))))) + i
            silu = nn.functional.silu
            h = silu(self.dw9(silu(self.ex9(j))))
            se = torch.sigmoid(self.se2(silu(self.se1(nn.functional.adaptive_avg_pool2d(h, 1)))))
            j9 = self.pj9(h * se) + j
            k = nn.functional.hardswish(self.head(j9))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(k, 1), 1)), k

    net = Net().eval()
    with torch.no_grad():  # He init, inputs in [-4, 4]: activations of a few units, so that
        for m in net.modules():  # every ReLU6 clips some values at 6 and zeroes others
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.uniform_(m.bias, -0.5, 0.5)
    x = (torch.rand(2, 3, 62, 54) * 2 - 1) * 4
    with torch.no_grad():
        y, k = net(x)
    blocked, plain = os.path.join(outdir, "nchwc"), os.path.join(outdir, "plain")
    path = os.path.join(blocked, "model.onnx")
    for d in (blocked, plain):
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input.npy"), x.numpy())
        np.save(os.path.join(d, "expected.npy"), y.numpy())
    torch.onnx.export(net, x, path, input_names=["x"], output_names=["y", "k"], opset_version=13)
    shutil.copyfile(path, os.path.join(plain, "model.onnx"))
    return blocked, plain, y.numpy(), k.numpy()


# The layout pass is part of the AVX2 tuning (compiler/pipeline.c): tuned for AVX-512 every
# value stays NCHW. The blocked code is still built with the variant's flags (AVX-512 included).
TUNE = ["--tune", "avx2"]

CONV = re.compile(r"^\s*%\S+?:f32\[([0-9, ]+)\](\{nchw8c\})?(, %\S+?:f32\[[0-9, ]+\])? = "
                  r"conv\(.*\[([^\]]*)\]\s+#\s+/(\w+)/Conv$")


def check_dump(args, model):
    """Check 1 on the default build: the kernels, the c % 8 != 0 values, the residuals in place."""
    lines = dump_lines(args.cnncc, model, "schedule", ["--max-threads", str(args.threads)] + TUNE)
    ok = True
    got = {}
    fused = {}
    for line in lines:
        m = CONV.match(line)
        if m:
            got[m.group(5)] = m.group(4)
            fused[m.group(5)] = (bool(m.group(3)), "+in_scale" in line)
    for name, want in EXPECTED.items():
        kernel = got.get(name)
        good = kernel is not None and (kernel == want if want else "nchw8c" not in kernel.lower())
        if not good:
            print("%s: kernel [%s], want %s" % (name, kernel, "[%s]" % want if want else
                                                "an NCHW one"))
        ok = ok and good
    for name in sorted(set(got) - set(EXPECTED)):
        print("unexpected convolution %s [%s]" % (name, got[name]))
        ok = False
    counts = [sum(1 for k in got.values() if k == want) for want in (IN, BLK, OUT, DW)]
    print("kernels: %d (x NCHW, y NCHW8c), %d (x, y NCHW8c), %d (x NCHW8c, y NCHW), "
          "%d blocked depthwise (want 3, 14, 3, 9)" % tuple(counts))
    ok = ok and counts == [3, 14, 3, 9]
    se = (fused.get("dw9", (False, False))[0], fused.get("pj9", (False, False))[1])
    print("dw9 pooled output fused: %s, pj9 input scale fused: %s (want both)" % se)
    ok = ok and se == (True, True)

    # values: c % 8 != 0 never blocked; t12's 12-channel output there and plain
    n_blocked, bad, t12 = 0, [], None
    for line in lines:
        for dims, tag in re.findall(r"%\S+?:f32\[([0-9, ]+)\](\{nchw8c\})?", line):
            dims = [int(v) for v in dims.split(",")]
            if tag:
                n_blocked += 1
                if len(dims) != 4 or dims[1] % 8 != 0:
                    bad.append(dims)
        m = CONV.match(line)
        if m and m.group(5) == "t12":
            t12 = (m.group(1).replace(" ", ""), bool(m.group(2)))
    print("t12 output: %s (want [2,12,8,7], not blocked); {nchw8c} mentions: %d, with c %% 8 "
          "!= 0: %d" % (t12, n_blocked, len(bad)))
    ok = ok and t12 == ("2,12,8,7", False) and not bad and n_blocked > 0

    # residual in place: the pointwise call's residual pointer is its output pointer
    with open(os.path.join(os.path.dirname(model), "dump", "m.c")) as f:
        code = f.read()
    for name, want in RESIDUAL_IN_PLACE.items():
        m = re.search(r"/\* Conv '/%s/Conv' \*/.*?cnnrt_f32_conv_pw_nchwc_ref\(&\w+, (.*?)\);"
                      % name, code, re.S)
        ptrs = re.findall(r"\(\w+ \+ \d+\)|NULL", m.group(1)) if m else []
        if len(ptrs) != 6:  # x, input scale, weights, bias, residual, y
            print("%s: no blocked pointwise call with a residual in the generated code" % name)
            ok = False
            continue
        in_place = ptrs[4] == ptrs[5]
        print("%s: residual %s, y %s: %sin place (want %sin place)"
              % (name, ptrs[4], ptrs[5], "" if in_place else "NOT ", "" if want else "NOT "))
        ok = ok and in_place == want
    return ok


def close(a, b, tol, what):
    if a.shape != b.shape:
        print("%s: shape %s != %s" % (what, a.shape, b.shape))
        return False
    d = float(np.max(np.abs(a.astype(np.float64) - b)))
    print("%s: max|d| = %.3g (want <= %.3g)" % (what, d, tol))
    return d <= tol


def main():
    args = parse_args(__doc__)
    blocked, plain, y_ref, k_ref = build_model(args.work)

    ok = check_dump(args, os.path.join(blocked, "model.onnx"))
    for flags in (["--no-nchwc"] + TUNE, ["--tune", "avx512"]):
        text = dump_lines(args.cnncc, os.path.join(plain, "model.onnx"), "schedule",
                          ["--max-threads", str(args.threads)] + flags)
        n = sum(1 for line in text if "nchw8c" in line.lower())
        print("%s: %d dump lines mention nchw8c (want 0)" % (" ".join(flags), n))
        ok = ok and n == 0

    outs = {}
    for d, flags in ((blocked, " ".join(TUNE)), (plain, " ".join(["--no-nchwc"] + TUNE))):
        ok = run_against_pytorch(d, args, flags) and ok
        res = os.path.join(d, "run", "res")
        files = [os.path.join(res, f) for f in ("y.npy", "k.npy")]
        if not all(os.path.exists(f) for f in files):
            print("missing outputs in %s" % res)
            ok = False
            continue
        outs[d] = [np.load(f) for f in files]
        ok = close(outs[d][1], k_ref, 1e-4 * float(np.max(np.abs(k_ref))),
                   "%s k vs PyTorch" % os.path.basename(d)) and ok
    if len(outs) == 2:
        for i, (name, ref) in enumerate((("y", y_ref), ("k", k_ref))):
            ok = close(outs[blocked][i], outs[plain][i], 1e-5 * float(np.max(np.abs(ref))),
                       "nchwc vs --no-nchwc %s" % name) and ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
