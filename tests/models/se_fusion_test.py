#!/usr/bin/env python3
"""Squeeze-excitation fusions (compiler/passes/fuse.c): a small model with SE blocks, compiled
with the fusions and with them blocked, both compared with PyTorch, and with each other bit for
bit.

usage: /usr/bin/python3 tests/models/se_fusion_test.py --cnncc PATH --work DIR
           [--cc "gcc"] [--cflags "..."] [--threads N]

The model (batch 2, 12x12 and 6x6 images, odd channel counts) has four SE blocks
(GlobalAveragePool -> 1x1 conv + SiLU -> 1x1 conv + Sigmoid = s) whose Mul(x, s) feeds:
  A  a 1x1 conv, Mul(x, s)                       -> scale fused into the 1x1 conv
  B  a 1x1 conv with a residual Add, Mul(s, x)   -> scale fused into the 1x1 conv
  C  a 3x3 conv                                   -> not fused (not pointwise)
  D  a 1x1 conv and an Add                        -> not fused (the product has two readers)
and whose pool reads x from a depthwise conv (A, B: the pool is fused into the depthwise conv as
its second output) or from other convs (C, D: not fused).
"fused" is model.onnx as exported; "blocked" is the same graph with every SE Mul's output also
listed as a graph output (the Mul must then write it), and with a same-shape Reshape between
each depthwise conv and its pool (the pool no longer reads a conv's output).
Checks: cnncc --dump=fuse shows exactly 2 "+in_scale" convs and 2 two-output (pooling) convs for
"fused", none for "blocked"; both programs' first output within 1e-4 of PyTorch
(tests/models/run_model_test.py); and the two outputs identical bit for bit (the fused kernels
form float(x * s) as the Mul did, and reduce each plane with the pool's own function).
"""
import os
import sys

import numpy as np

from script_test import dump_lines, parse_args, run_against_pytorch


def build_model(outdir):
    import onnx
    import torch
    import torch.nn as nn

    torch.manual_seed(5)

    class SE(nn.Module):
        def __init__(self, c, r):
            super().__init__()
            self.fc1 = nn.Conv2d(c, r, 1)
            self.fc2 = nn.Conv2d(r, c, 1)

        def forward(self, x):
            s = nn.functional.adaptive_avg_pool2d(x, 1)  # GlobalAveragePool
            return torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(s))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 20, 3, padding=1)
            self.dw_a = nn.Conv2d(20, 20, 3, padding=1, groups=20)
            self.se_a = SE(20, 5)
            self.proj_a = nn.Conv2d(20, 13, 1)
            self.exp_b = nn.Conv2d(13, 27, 1)
            self.dw_b = nn.Conv2d(27, 27, 3, padding=1, groups=27)
            self.se_b = SE(27, 7)
            self.proj_b = nn.Conv2d(27, 13, 1)
            self.se_c = SE(13, 4)
            self.conv_c = nn.Conv2d(13, 17, 3, stride=2, padding=1)
            self.se_d = SE(17, 5)
            self.proj_d = nn.Conv2d(17, 9, 1)

        def forward(self, x):
            x = nn.functional.silu(self.stem(x))
            a = nn.functional.silu(self.dw_a(x))
            a = self.proj_a(a * self.se_a(a))              # A: Mul(x, s) -> 1x1
            b = nn.functional.silu(self.dw_b(self.exp_b(a)))
            b = self.proj_b(self.se_b(b) * b) + a           # B: Mul(s, x) -> 1x1 + residual
            c = self.conv_c(b * self.se_c(b))               # C: -> 3x3
            d = c * self.se_d(c)                            # D: -> 1x1 and an Add
            return self.proj_d(d) + d[:, :9]

    net = Net().eval()
    x = torch.rand(2, 3, 12, 12) * 2 - 1
    with torch.no_grad():
        y = net(x)
    fused = os.path.join(outdir, "fused")
    blocked = os.path.join(outdir, "blocked")
    for d in (fused, blocked):
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, "input.npy"), x.numpy())
        np.save(os.path.join(d, "expected.npy"), y.numpy())
    path = os.path.join(fused, "model.onnx")
    torch.onnx.export(net, x, path, input_names=["x"], output_names=["y"], opset_version=13)

    # The blocked variant: every SE Mul (x times the sigmoid of something other than x) also
    # writes its product as a graph output.
    m = onnx.load(path)
    sig = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "Sigmoid"}
    muls = [n.output[0] for n in m.graph.node if n.op_type == "Mul" and  # not SiLU's x * sigmoid(x)
            any(i in sig and sig[i] not in n.input for i in n.input)]
    if len(muls) != 4:
        raise SystemExit("expected 4 SE Muls in the export, found %d" % len(muls))
    for name in muls:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    producer = {o: n for n in m.graph.node for o in n.output}
    nodes = list(m.graph.node)
    n_reshaped = 0
    for k, n in enumerate(nodes):
        if n.op_type != "GlobalAveragePool":
            continue
        src = n.input[0]
        p = producer.get(src)
        # the depthwise conv's SiLU: Mul(conv, Sigmoid(conv))
        if p is None or p.op_type != "Mul" or not any(
                producer.get(i) is not None and producer[i].op_type == "Conv" and
                any(a.name == "group" and a.i > 1 for a in producer[i].attribute)
                for i in p.input):
            continue
        shape_name, view = "blk_shape_%d" % k, "blk_view_%d" % k
        m.graph.initializer.append(onnx.helper.make_tensor(
            shape_name, onnx.TensorProto.INT64, [4], [0, 0, 0, 0]))  # 0: keep the dimension
        m.graph.node.append(onnx.helper.make_node("Reshape", [src, shape_name], [view]))
        n.input[0] = view
        n_reshaped += 1
    if n_reshaped != 2:
        raise SystemExit("expected 2 pools of depthwise convs, found %d" % n_reshaped)
    sorted_nodes = topo_sort(m.graph)
    del m.graph.node[:]
    m.graph.node.extend(sorted_nodes)
    onnx.save(m, os.path.join(blocked, "model.onnx"))
    return fused, blocked


def topo_sort(graph):
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    pending, done = list(graph.node), []
    while pending:
        for n in pending:
            if all(i in known or i == "" for i in n.input):
                done.append(n)
                known.update(n.output)
                pending.remove(n)
                break
        else:
            raise SystemExit("cycle in the blocked graph")
    return done


def count_fusions(cnncc, model):
    """(convs with a fused input scale, convs with a fused pool) in cnncc's --dump=fuse."""
    lines = dump_lines(cnncc, model, "fuse")
    return (sum(1 for line in lines if " +in_scale " in line),
            sum(1 for line in lines if "], %" in line.split(" = conv(")[0] and " = conv(" in line))


def main():
    args = parse_args(__doc__)
    fused, blocked = build_model(args.work)

    n_fused = count_fusions(args.cnncc, os.path.join(fused, "model.onnx"))
    n_blocked = count_fusions(args.cnncc, os.path.join(blocked, "model.onnx"))
    print("fused input scales / pools: %d / %d (want 2 / 2), blocked variant: %d / %d (want 0 / 0)"
          % (n_fused + n_blocked))
    ok = n_fused == (2, 2) and n_blocked == (0, 0)

    outs = []
    for d in (fused, blocked):
        ok = run_against_pytorch(d, args) and ok
        outs.append(os.path.join(d, "run", "res", "y.npy"))
    if all(os.path.exists(f) for f in outs):
        a, b = (np.load(f) for f in outs)
        same = a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))
        d = float(np.max(np.abs(a.astype(np.float64) - b))) if a.shape == b.shape else float("nan")
        print("fused vs blocked: %s (max|d| = %.3g)" % ("bit-identical" if same else "DIFFER", d))
        ok = ok and same
    else:
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
