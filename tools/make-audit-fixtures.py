#!/usr/bin/python3
# Writes the audit fixtures tests/testthat/fixtures/audit-small.safetensors
# and audit-small.npz: one small model, drawn with NumPy's generator (and,
# if torch is importable, with torch's own nn.Linear / nn.Conv2d defaults),
# saved in both formats from the same float32 arrays. Two tensors
# reproduce issue 25's bugs: `dt_proj.bias` overwritten with ones, and
# `head.weight` left at torch's default where Glorot was declared
# (Linear(16, 64): torch's variance 1/48, Glorot's 2/80, 1.2x).
# audit-mamba.safetensors and .npz: a Mamba mixer's special tensors drawn as
# mamba_simple.py draws them (dt_proj.bias, the inverse softplus of a
# log-uniform dt on [1e-3, 0.1] floored at 1e-4; A_log = log(1..16);
# dt_proj.weight U(+-dt_rank^-1/2); out_proj torch's default), and five
# reproduced bugs: the dt bias zeroed by a wrapper's _init_weights
# (zoology#32), left at nn.Linear's default bias (transformers#43717),
# spyx PR#42's log(dt) fed where dt was meant (softplus(bias) about dt^2),
# Glorot where torch's default was meant, and a zeroed out_proj where none
# was declared. The tests read the committed files and need no Python.
#   /usr/bin/python3 tools/make-audit-fixtures.py   (from the package root)
import json, struct, sys, os
import numpy as np

rng = np.random.default_rng(20261203)
try:
    import torch
    torch.manual_seed(20261203)
    def torch_default(shape):
        if len(shape) == 2:
            return torch.nn.Linear(shape[1], shape[0]).weight.detach().numpy()
        return torch.nn.Conv2d(shape[1], shape[0], shape[2]).weight.detach().numpy()
    source = "torch " + torch.__version__
except ImportError:
    def torch_default(shape):
        # torch's kaiming_uniform_(a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        fan_in = int(np.prod(shape[1:]))
        b = 1 / np.sqrt(fan_in)
        return rng.uniform(-b, b, size=shape)
    source = "numpy " + np.__version__

def glorot_uniform(shape):   # torch layout (out, in)
    b = np.sqrt(6 / (shape[0] + shape[1]))
    return rng.uniform(-b, b, size=shape)

model = {
    "fc1.weight": glorot_uniform((32, 16)),                    # declared Glorot
    "fc1.bias": np.zeros(32),                                  # declared zeros
    "conv.weight": torch_default((8, 3, 3, 3)),                # declared torch default
    "norm.weight": np.ones(32),                                # declared ones
    "norm.bias": np.zeros(32),                                 # declared zeros
    "embed.weight": rng.normal(0, 1, size=(40, 8)),            # declared N(0, 1)
    "dt_proj.bias": np.ones(16),                               # bug: meant U(-0.1, 0.1)
    "head.weight": torch_default((64, 16)),                    # bug: meant Glorot
}
model = {k: np.ascontiguousarray(v, dtype="<f4") for k, v in model.items()}

out = os.path.join("tests", "testthat", "fixtures")
os.makedirs(out, exist_ok=True)
header, offset = {"__metadata__": {"format": "np", "source": source}}, 0
for k, v in model.items():
    header[k] = {"dtype": "F32", "shape": list(v.shape),
                 "data_offsets": [offset, offset + v.nbytes]}
    offset += v.nbytes
h = json.dumps(header, separators=(",", ":")).encode("utf-8")
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, "audit-small.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for v in model.values():
        f.write(v.tobytes(order="C"))
np.savez_compressed(os.path.join(out, "audit-small.npz"), **model)
print("wrote the fixtures from", source, file=sys.stderr)

# ---- a Mamba mixer: audit-mamba.* -------------------------------------------
rng2 = np.random.default_rng(20261208)
d_inner, d_state, dt_rank = 256, 16, 16
dt_min, dt_max, floor = 1e-3, 0.1, 1e-4
def log_uniform_dt(n):
    if "torch" in sys.modules:
        dt = torch.exp(torch.rand(n) * (np.log(dt_max) - np.log(dt_min)) + np.log(dt_min))
        return dt.clamp(min=floor).numpy().astype(np.float64)
    return np.maximum(np.exp(rng2.uniform(np.log(dt_min), np.log(dt_max), n)), floor)
def dt_bias():        # mamba_simple.py: inv_dt = dt + log(-expm1(-dt))
    dt = log_uniform_dt(d_inner)
    return dt + np.log(-np.expm1(-dt))
def spyx_bias():      # log(dt) where dt was meant: softplus(bias) about dt^2
    dt = log_uniform_dt(d_inner)
    return np.log(dt) + np.log(-np.expm1(-dt))
def linear_default(i, o):
    if "torch" in sys.modules:
        l = torch.nn.Linear(i, o)
        return l.weight.detach().numpy(), l.bias.detach().numpy()
    b = 1 / np.sqrt(i)
    return rng2.uniform(-b, b, size=(o, i)), rng2.uniform(-b, b, size=o)
dt_w = rng2.uniform(-dt_rank ** -0.5, dt_rank ** -0.5, size=(d_inner, dt_rank))
out_w, _ = linear_default(32, 128)
_, default_bias = linear_default(dt_rank, d_inner)
mamba = {
    "mixer.dt_proj.weight": dt_w,                                   # U(+-dt_rank^-1/2)
    "mixer.dt_proj.bias": dt_bias(),                                # Mamba's dt bias
    "mixer.A_log": np.log(np.tile(np.arange(1, d_state + 1, dtype=np.float32), (d_inner, 1))),
    "mixer.out_proj.weight": out_w,                                 # torch default
    "bug_zeroed_dt.dt_proj.bias": np.zeros(d_inner),                # _init_weights zeroed it
    "bug_default_dt.dt_proj.bias": default_bias,                    # nn.Linear's default bias
    "bug_spyx_dt.dt_proj.bias": spyx_bias(),                        # spyx PR#42
    "bug_glorot.out_proj.weight": glorot_uniform((128, 32)),        # Glorot, not torch default
    "bug_zeroed.out_proj.weight": np.zeros((128, 32)),              # a zeroed branch
}
mamba = {k: np.ascontiguousarray(v, dtype="<f4") for k, v in mamba.items()}
header, offset = {"__metadata__": {"format": "np", "source": source}}, 0
for k, v in mamba.items():
    header[k] = {"dtype": "F32", "shape": list(v.shape),
                 "data_offsets": [offset, offset + v.nbytes]}
    offset += v.nbytes
h = json.dumps(header, separators=(",", ":")).encode("utf-8")
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, "audit-mamba.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for v in mamba.values():
        f.write(v.tobytes(order="C"))
np.savez_compressed(os.path.join(out, "audit-mamba.npz"), **mamba)
