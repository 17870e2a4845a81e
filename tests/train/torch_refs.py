#!/usr/bin/python3
"""Reference values for tests/train/test_train_kernels.c, computed with PyTorch at test time.

Writes .npy files into OUTDIR: inputs (deterministic, from numpy's seeded generator) and what
PyTorch computes from them — losses and their gradients (torch.nn.functional.cross_entropy
with label smoothing, mse_loss, through autograd), optimizer states and parameters after three
steps of torch.optim.SGD (momentum, Nesterov, weight decay), Adam and AdamW, the factor
torch.nn.utils.clip_grad_norm_ applies, and learning rates of StepLR and of linear warm-up
followed by CosineAnnealingLR.
usage: torch_refs.py OUTDIR"""
import os
import sys

import warnings

import numpy as np
import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.set_num_threads(1)
warnings.filterwarnings("ignore", category=UserWarning)
rng = np.random.default_rng(1234)


def save(name, a):
    np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(a))


# ---- cross entropy: 7 rows of 10 classes; row 3 has huge logits (stability) -------------------
B, C = 7, 10
logits = (rng.standard_normal((B, C)) * 3).astype(np.float32)
logits[3] = logits[3] * 300.0 + 1000.0
labels = rng.integers(0, C, size=B).astype(np.int64)
save("xent_logits", logits)
save("xent_labels", labels)
for tag, s in (("s0", 0.0), ("s1", 0.1)):
    z = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(z, torch.tensor(labels), label_smoothing=s)
    loss.backward()
    save("xent_loss_" + tag, np.array([loss.item()], np.float32))
    save("xent_grad_" + tag, z.grad.numpy())

# ---- MSE over a 3x37 tensor ------------------------------------------------------------------
pred = rng.standard_normal((3, 37)).astype(np.float32)
target = rng.standard_normal((3, 37)).astype(np.float32)
p = torch.tensor(pred, requires_grad=True)
loss = torch.nn.functional.mse_loss(p, torch.tensor(target))
loss.backward()
save("mse_pred", pred)
save("mse_target", target)
save("mse_loss", np.array([loss.item()], np.float32))
save("mse_grad", p.grad.numpy())

# ---- optimizers: 1003 parameters, three steps with three gradients -----------------------------
N, STEPS = 1003, 3
w0 = rng.standard_normal(N).astype(np.float32)
grads = (rng.standard_normal((STEPS, N)) * 0.5).astype(np.float32)
save("opt_w0", w0)
save("opt_grads", grads)
configs = {
    "sgd_momentum": lambda prm: torch.optim.SGD(prm, lr=0.05, momentum=0.9, weight_decay=1e-3),
    "sgd_nesterov": lambda prm: torch.optim.SGD(prm, lr=0.05, momentum=0.9, nesterov=True,
                                                weight_decay=5e-4),
    "sgd_plain": lambda prm: torch.optim.SGD(prm, lr=0.1),
    "adam": lambda prm: torch.optim.Adam(prm, lr=0.01, betas=(0.8, 0.99), eps=1e-6,
                                         weight_decay=1e-2),
    "adamw": lambda prm: torch.optim.AdamW(prm, lr=0.01, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=0.05),
}
for name, make in configs.items():
    w = torch.tensor(w0.copy(), requires_grad=True)
    opt = make([w])
    for t in range(STEPS):
        w.grad = torch.tensor(grads[t])
        opt.step()
        save("opt_%s_w%d" % (name, t + 1), w.detach().numpy())
    st = opt.state[w]
    if "momentum_buffer" in st and st["momentum_buffer"] is not None:
        save("opt_%s_mom" % name, st["momentum_buffer"].numpy())
    if "exp_avg" in st:
        save("opt_%s_m" % name, st["exp_avg"].numpy())
        save("opt_%s_v" % name, st["exp_avg_sq"].numpy())

# ---- clip_grad_norm_ over two tensors --------------------------------------------------------
ga = (rng.standard_normal(300) * 2).astype(np.float32)
gb = (rng.standard_normal(77) * 2).astype(np.float32)
ta, tb = torch.zeros(300, requires_grad=True), torch.zeros(77, requires_grad=True)
ta.grad, tb.grad = torch.tensor(ga), torch.tensor(gb)
torch.nn.utils.clip_grad_norm_([ta, tb], max_norm=5.0)
save("clip_ga", ga)
save("clip_gb", gb)
save("clip_ga_out", ta.grad.numpy())
save("clip_gb_out", tb.grad.numpy())

# ---- schedules: rate used at each optimizer step ------------------------------------------------
def rates(make_sched, steps, per_epoch_step):
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    sched = make_sched(opt)
    out = []
    for s in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if per_epoch_step is None or (s + 1) % per_epoch_step == 0:
            sched.step()
    return np.array(out, np.float32)

# StepLR(step_size=2 epochs, gamma=0.5), 3 steps an epoch, 7 epochs
save("lr_step", rates(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), 21, 3))
# 5 warm-up steps then cosine to 0 over the remaining 35 of 40 steps, stepped every step
W, T = 5, 40
save("lr_cosine", rates(lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
    torch.optim.lr_scheduler.LinearLR(o, start_factor=1.0 / W, end_factor=1.0, total_iters=W - 1),
    torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T - W)], milestones=[W]), T, None))
