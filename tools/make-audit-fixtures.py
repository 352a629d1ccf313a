#!/usr/bin/python3
# Writes the audit fixtures tests/testthat/fixtures/audit-small.safetensors
# and audit-small.npz: one small model, drawn with NumPy's generator (and,
# if torch is importable, with torch's own nn.Linear / nn.Conv2d defaults),
# saved in both formats from the same float32 arrays. Two tensors
# reproduce issue 25's bugs: `dt_proj.bias` overwritten with ones, and
# `head.weight` left at torch's default where Glorot was declared
# (Linear(16, 64): torch's variance 1/48, Glorot's 2/80, 1.2x). The tests
# read the committed files and need no Python.
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
