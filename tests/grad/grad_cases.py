"""Gradient test cases for cnncc --grad: small PyTorch modules, one or a few ops each, plus
whole torchvision models. Each case: name -> (module factory, input shapes, mode), mode being
"eval" (BatchNorm with running statistics) or "train" (BatchNorm with batch statistics, exported
as training_mode=1; Dropout replaced by Identity). Weights and BN statistics are seeded and
non-trivial."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Lambda(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, *xs):
        return self.fn(self.mods, *xs)


class Scalars(nn.Module):
    """0-d parameters (as Clip's tensor bounds) under the given names."""

    def __init__(self, **values):
        super().__init__()
        for k, v in values.items():
            setattr(self, k, nn.Parameter(torch.tensor(float(v))))


# ReduceProd windows along the last axis with 0, 1 and 2 zeros (x * PROD_MASK, x of shape (2, 3, 4))
PROD_MASK = torch.tensor([[[1., 1., 1., 1.], [1., 0., 1., 1.], [0., 1., 0., 1.]],
                          [[0., 1., 1., 1.], [1., 1., 1., 1.], [0., 0., 0., 1.]]])


def seq(*mods):
    return lambda: nn.Sequential(*mods)


def act(fn):
    """conv then the activation: the activation sees varied values of both signs."""
    return lambda: Lambda(lambda m, x: fn(m[0](x)), nn.Conv2d(3, 4, 3, padding=1))


CASES = {
    # convolutions
    "conv": (seq(nn.Conv2d(3, 5, 3)), [(2, 3, 7, 7)], "eval"),
    "conv_stride_pad": (seq(nn.Conv2d(3, 4, 3, stride=2, padding=1)), [(2, 3, 9, 8)], "eval"),
    "conv_stride_drop": (seq(nn.Conv2d(3, 4, 2, stride=2)), [(1, 3, 9, 7)], "eval"),
    "conv_dilation": (seq(nn.Conv2d(4, 6, 3, dilation=2, padding=2, bias=False)), [(1, 4, 10, 9)], "eval"),
    "conv_groups": (seq(nn.Conv2d(6, 9, 3, groups=3, padding=1)), [(2, 6, 6, 6)], "eval"),
    "conv_depthwise": (seq(nn.Conv2d(8, 8, 3, groups=8, padding=1, stride=2)), [(2, 8, 9, 9)], "eval"),
    "conv_pointwise": (seq(nn.Conv2d(10, 12, 1)), [(2, 10, 5, 5)], "eval"),
    "conv_asym_pad": (seq(nn.ZeroPad2d((1, 0, 2, 1)), nn.Conv2d(3, 4, 3, stride=2)), [(1, 3, 8, 8)], "eval"),
    "conv1d": (seq(nn.Conv1d(3, 4, 5, stride=2, padding=2)), [(2, 3, 17)], "eval"),
    "conv3d": (seq(nn.Conv3d(2, 3, 3, padding=1)), [(1, 2, 4, 5, 5)], "eval"),
    "conv_transpose": (seq(nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)), [(2, 4, 5, 5)], "eval"),
    "conv_transpose_groups": (seq(nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2)), [(1, 4, 4, 3)], "eval"),
    # grouped (not depthwise): per-group GEMMs on x86 (filter gradient, ConvTranspose data gradient)
    "conv_groups2": (seq(nn.Conv2d(10, 14, 3, groups=2, stride=2, padding=1)), [(2, 10, 9, 8)], "eval"),
    "conv_groups4": (seq(nn.Conv2d(12, 20, 3, groups=4, dilation=2, padding=2, bias=False)), [(2, 12, 7, 9)], "eval"),
    "conv_groups_weight_input": (lambda: Lambda(lambda m, x, w: F.conv2d(x, w, stride=2, padding=1, groups=2)),
                                 [(2, 6, 7, 7), (10, 3, 3, 3)], "eval"),
    # weights as run-time inputs (as in a train step): packed at run time on x86
    "conv_weight_input": (lambda: Lambda(lambda m, x, w: F.conv2d(x, w, stride=2, padding=1)), [(2, 3, 7, 7), (4, 3, 3, 3)], "eval"),
    "conv_transpose_weight_input": (lambda: Lambda(lambda m, x, w: F.conv_transpose2d(x, w, stride=2, padding=1)), [(2, 4, 4, 5), (4, 3, 3, 3)], "eval"),
    # matrix products
    "gemm": (seq(nn.Flatten(), nn.Linear(48, 7)), [(3, 3, 4, 4)], "eval"),
    "matmul": (lambda: Lambda(lambda m, a, b: torch.matmul(a, b)), [(4, 5), (5, 3)], "eval"),
    "matmul_batched": (lambda: Lambda(lambda m, a, b: torch.matmul(a, b)), [(2, 3, 4, 5), (5, 6)], "eval"),
    # pooling
    "maxpool": (seq(nn.MaxPool2d(3, stride=2, padding=1)), [(2, 3, 9, 8)], "eval"),
    "maxpool_ceil": (seq(nn.MaxPool2d(2, stride=2, ceil_mode=True)), [(1, 2, 7, 7)], "eval"),
    "avgpool": (seq(nn.AvgPool2d(3, stride=2, padding=1)), [(2, 3, 9, 8)], "eval"),
    "avgpool_nopad_count": (seq(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)), [(1, 3, 7, 7)], "eval"),
    "global_avgpool": (seq(nn.AdaptiveAvgPool2d(1)), [(2, 5, 4, 3)], "eval"),
    "global_maxpool": (lambda: Lambda(lambda m, x: F.adaptive_max_pool2d(x, 1)), [(2, 5, 4, 3)], "eval"),
    # normalization
    "batchnorm_eval": (seq(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), [(2, 3, 6, 6)], "eval"),
    "batchnorm_train": (seq(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), [(3, 3, 6, 6)], "train"),
    "instancenorm": (seq(nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4, affine=True)), [(2, 3, 6, 6)], "eval"),
    "groupnorm": (seq(nn.Conv2d(3, 6, 3), nn.GroupNorm(3, 6)), [(2, 3, 6, 6)], "eval"),
    "layernorm": (lambda: Lambda(lambda m, x: m[0](x), nn.LayerNorm([5, 6])), [(2, 3, 5, 6)], "eval"),
    "softmax": (lambda: Lambda(lambda m, x: torch.softmax(x, dim=1)), [(3, 7)], "eval"),
    "softmax_axis": (lambda: Lambda(lambda m, x: torch.softmax(x, dim=2)), [(2, 3, 5)], "eval"),
    "log_softmax": (lambda: Lambda(lambda m, x: torch.log_softmax(x, dim=-1)), [(3, 7)], "eval"),
    # activations
    "relu": (act(torch.relu), [(2, 3, 5, 5)], "eval"),
    "leaky_relu": (act(lambda x: F.leaky_relu(x, 0.1)), [(2, 3, 5, 5)], "eval"),
    "relu6": (act(F.relu6), [(2, 3, 5, 5)], "eval"),
    "clip": (act(lambda x: torch.clamp(x, -0.3, 0.4)), [(2, 3, 5, 5)], "eval"),
    "sigmoid": (act(torch.sigmoid), [(2, 3, 5, 5)], "eval"),
    "tanh": (act(torch.tanh), [(2, 3, 5, 5)], "eval"),
    "hardsigmoid": (act(F.hardsigmoid), [(2, 3, 5, 5)], "eval"),
    "hardswish": (act(F.hardswish), [(2, 3, 5, 5)], "eval"),
    "silu": (act(F.silu), [(2, 3, 5, 5)], "eval"),
    "gelu": (act(F.gelu), [(2, 3, 5, 5)], "eval"),
    "elu": (act(F.elu), [(2, 3, 5, 5)], "eval"),
    "selu": (act(F.selu), [(2, 3, 5, 5)], "eval"),
    "celu": (act(lambda x: F.celu(x, 0.7)), [(2, 3, 5, 5)], "eval"),
    "softplus": (act(F.softplus), [(2, 3, 5, 5)], "eval"),
    "softsign": (act(F.softsign), [(2, 3, 5, 5)], "eval"),
    "mish": (act(F.mish), [(2, 3, 5, 5)], "eval"),
    "exp_log_sqrt": (act(lambda x: torch.sqrt(torch.exp(x) + 1.0) + torch.log(x * x + 0.5)), [(2, 3, 5, 5)], "eval"),
    "abs_neg_recip": (act(lambda x: -torch.abs(x) + 1.0 / (x * x + 1.0)), [(2, 3, 5, 5)], "eval"),
    "pow": (act(lambda x: torch.pow(x, 3.0) * 0.5 + x ** 2), [(2, 3, 5, 5)], "eval"),
    # Pow with a tensor exponent (broadcast, differentiated), PyTorch's conventions at a == 0:
    # da masked to 0 where b == 0 (0^0, out2), db masked to 0 where a == 0 and b >= 0 (out1, out2)
    "pow_tensor": (lambda: Lambda(lambda m, a, b, c: (torch.pow(a * a + 0.5, b),
                                                      torch.pow(torch.relu(a), torch.relu(b) + 1.0),
                                                      torch.pow(torch.relu(a) + (a > 0) * 0.3, c * (a > 0)))),
                   [(2, 3, 4), (3, 1), (4,)], "eval"),
    # Clip with tensor bounds (torch.clamp: dx where lo <= x <= hi, ties to x; dlo where x < lo
    # and lo < hi; dhi where x > hi or hi < lo): initializer bounds (out0, on a quarter grid so that
    # elements tie with both bounds), bounds computed at run time (out1), one bound only (out2,
    # out3), lo > hi (out4: y = hi everywhere)
    "clip_tensor_bounds": (lambda: Lambda(lambda m, x: (
        torch.clamp(torch.floor(x * 4.0) / 4.0 + m[0].s, m[0].lo, m[0].hi) * 1.0,
        torch.clamp(x, m[0].lo * 2.0, m[0].hi - x.mean()),
        torch.clamp(x, min=m[0].hi * 1.0), torch.clamp(x, max=m[0].lo + 0.25),
        torch.clamp(x * 1.5, m[0].hi * 1.0, m[0].lo * 1.0)), Scalars(s=0.0, lo=-0.5, hi=0.75)),
        [(2, 3, 5, 4)], "eval"),
    # ReduceProd with zeros: windows with 0, 1 and 2+ zeros (out0), keepdims (out1), all axes with
    # one zero (out2)
    "reduce_prod_zeros": (lambda: Lambda(lambda m, x: ((x * PROD_MASK).prod(dim=2),
                                                       (x * PROD_MASK).prod(dim=0, keepdim=True),
                                                       (x[:, 1] * PROD_MASK[:, 1] + 0.5 * PROD_MASK[:, 1]).prod())),
                          [(2, 3, 4)], "eval"),
    # broadcasting arithmetic
    "add_broadcast": (lambda: Lambda(lambda m, a, b: a + b), [(2, 3, 4, 5), (3, 1, 5)], "eval"),
    "sub_broadcast": (lambda: Lambda(lambda m, a, b: a - b), [(2, 3, 4, 5), (1, 3, 1, 1)], "eval"),
    "mul_broadcast": (lambda: Lambda(lambda m, a, b: a * b), [(2, 3, 4, 5), (5,)], "eval"),
    "div_broadcast": (lambda: Lambda(lambda m, a, b: a / (b * b + 1.0)), [(2, 3, 4), (2, 1, 4)], "eval"),
    "residual": (lambda: Lambda(lambda m, x: torch.relu(m[1](torch.relu(m[0](x))) + x),
                                nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)), [(2, 4, 6, 6)], "eval"),
    "prelu": (seq(nn.Conv2d(3, 4, 3), nn.PReLU(4, 0.2)), [(2, 3, 5, 5)], "eval"),
    "where": (lambda: Lambda(lambda m, a, b: torch.where(a > 0.2, a * 2.0, b)), [(2, 3, 4), (3, 4)], "eval"),
    # resampling
    "resize_nearest": (lambda: Lambda(lambda m, x: F.interpolate(x, scale_factor=2, mode="nearest") * 1.0), [(2, 3, 4, 5)], "eval"),
    "resize_bilinear": (lambda: Lambda(lambda m, x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)), [(2, 3, 4, 5)], "eval"),
    "resize_bilinear_ac": (lambda: Lambda(lambda m, x: F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True)), [(1, 2, 4, 5)], "eval"),
    # non-integer scales, downsampling (legacy nearest: asymmetric, floor; bilinear: half_pixel)
    "resize_mixed": (lambda: Lambda(lambda m, x: (F.interpolate(x, size=(7, 11), mode="nearest") * 1.0,
                                                  F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=False))),
                     [(2, 3, 5, 6)], "eval"),
    # data movement
    "concat": (lambda: Lambda(lambda m, a, b: torch.cat([m[0](a), b, a], dim=1), nn.Conv2d(3, 2, 1)), [(2, 3, 4, 4), (2, 5, 4, 4)], "eval"),
    "split": (lambda: Lambda(lambda m, x: torch.split(x, [2, 3, 1], dim=1)[0] * 2.0 + torch.split(x, [2, 3, 1], dim=1)[2]), [(2, 6, 4)], "eval"),
    "chunk_both": (lambda: Lambda(lambda m, x: (lambda c: c[0] * c[1])(torch.chunk(x, 2, dim=2))), [(2, 3, 6)], "eval"),
    "slice": (lambda: Lambda(lambda m, x: x[:, 1:3, 2:, :-1] * 3.0), [(2, 4, 5, 6)], "eval"),
    "pad": (lambda: Lambda(lambda m, x: F.pad(x, (1, 2, 0, 1)) * 2.0), [(2, 3, 4, 4)], "eval"),
    # constant Pad with negative pads (a crop): the gradient is dy placed back with zeros
    "pad_negative": (lambda: Lambda(lambda m, x: (F.pad(x, (-1, 2, 1, -2)) * 2.0,
                                                  F.pad(x, (-2, -1, 0, -3), value=0.5) * 1.0)), [(2, 3, 5, 6)], "eval"),
    "pad_reflect_edge": (lambda: Lambda(lambda m, x: (F.pad(x, (1, 2, 3, 1), mode="reflect") * 1.0,
                                                      F.pad(x, (2, 1, 0, 3), mode="replicate") * 1.0)), [(2, 3, 5, 4)], "eval"),
    "pixel_shuffle": (lambda: Lambda(lambda m, x: (F.pixel_shuffle(x, 2) * 1.0, F.pixel_unshuffle(x, 2) * 1.0)), [(2, 8, 4, 6)], "eval"),
    "reshape_transpose": (lambda: Lambda(lambda m, x: x.reshape(2, 3, 20).transpose(1, 2).reshape(2, 60) * 1.5), [(2, 3, 4, 5)], "eval"),
    "squeeze_unsqueeze": (lambda: Lambda(lambda m, x: x.unsqueeze(1).squeeze(3) * 2.0), [(2, 3, 1, 5)], "eval"),
    # Gather (index_select / indexing): scatter-add gradient, repeated and negative indices
    "gather_axis0": (lambda: Lambda(lambda m, x: torch.index_select(x, 0, torch.tensor([2, 0, 2, 1, 2])) * 1.5),
                     [(3, 4, 5)], "eval"),
    "gather_axis1": (lambda: Lambda(lambda m, x: (x[:, torch.tensor([[1, -1], [1, 0]])] * 1.0,
                                                  torch.index_select(torch.relu(x), 1, torch.tensor([3, 3, 0])) * 2.0)),
                     [(2, 4, 3)], "eval"),
    "channel_shuffle": (lambda: Lambda(lambda m, x: x.reshape(2, 2, 3, 4, 4).transpose(1, 2).reshape(2, 6, 4, 4) * 1.0), [(2, 6, 4, 4)], "eval"),
    # reductions
    "reduce_mean": (lambda: Lambda(lambda m, x: x.mean(dim=(2, 3))), [(2, 3, 4, 5)], "eval"),
    "reduce_sum_keep": (lambda: Lambda(lambda m, x: x.sum(dim=1, keepdim=True) * x), [(2, 3, 4)], "eval"),
    "reduce_max_min": (lambda: Lambda(lambda m, x: (x.amax(dim=(2, 3)) * 1.5, x.amin(dim=1),
                                                    torch.relu(x).amax(dim=1, keepdim=True))), [(2, 3, 4, 5)], "eval"),
    "reduce_norms": (lambda: Lambda(lambda m, x: torch.norm(x, p=2, dim=2) + torch.norm(x, p=1, dim=2)
                                    + torch.logsumexp(x, dim=2) + (x * 0.5 + 1.5).prod(dim=2)), [(2, 3, 4)], "eval"),
    # elementwise Max/Min (ties: half of the gradient to each input, as PyTorch)
    "max_min": (lambda: Lambda(lambda m, a, b: torch.maximum(a, b) + torch.minimum(a * 0.5, b)
                               + torch.maximum(a, torch.relu(a)) * 2.0), [(2, 3, 4), (3, 1)], "eval"),
    # MatMul with 1-D operands (numpy promotion)
    "matmul_1d": (lambda: Lambda(lambda m, v, a, b: (torch.matmul(v, b), torch.matmul(a, v),
                                                         torch.matmul(v, v) * 1.0)), [(5,), (2, 4, 5), (2, 5, 3)], "eval"),
    "tile": (lambda: Lambda(lambda m, x: x.repeat(1, 2, 3) * torch.arange(36.0).reshape(1, 6, 6)), [(2, 3, 2)], "eval"),
    "slice_strided": (lambda: Lambda(lambda m, x: (x[:, ::2, 1::3] * 2.0, x[:, 1:4:2, 2::3] * 1.0,
                                                   torch.flip(x, [2])[:, :2, ::2] * 1.0)),
                      [(2, 5, 7)], "eval"),
    # eval-mode dropout is the identity
    "dropout_eval": (seq(nn.Conv2d(3, 4, 3), nn.Dropout(0.5)), [(2, 3, 5, 5)], "eval"),
    # whole models
    "resnet18": ("torchvision.resnet18", [(1, 3, 32, 32)], "eval"),
    "resnet18_train_bn": ("torchvision.resnet18", [(2, 3, 64, 64)], "train"),
    "mobilenet_v2": ("torchvision.mobilenet_v2", [(1, 3, 32, 32)], "eval"),
    "mobilenet_v2_train_bn": ("torchvision.mobilenet_v2", [(4, 3, 96, 96)], "train"),
}
