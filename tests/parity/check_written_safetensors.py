#!/usr/bin/env python3
"""Checks a file epalm's write_safetensors wrote (argv[1]) with the Python peer.

safetensors_parity_tests writes the tensors below, built by the same formula
in C++; this script loads the file with safetensors, compares every tensor and
the metadata exactly, and checks the layout (header length and padding, entry
order, data bytes) equals what safetensors.torch.save writes for the same tensors. Prints the first difference and exits 1.
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save

METADATA = {"epalm": "write_safetensors", "format": "pt"}
# name -> (dtype, shape); values arange(n) * 0.25 + 1 in float64, then cast.
SPECS = {
    "w.f32": (torch.float32, [3, 4]),
    "w.f16": (torch.float16, [5]),
    "w.bf16": (torch.bfloat16, [2, 3]),
    "w.f64": (torch.float64, []),
    "w.i64": (torch.int64, [4]),
    "w.i32": (torch.int32, [2, 2]),
    "w.i16": (torch.int16, [3]),
    "w.i8": (torch.int8, [3]),
    "w.u8": (torch.uint8, [7]),
    "w.bool": (torch.bool, [3]),
    "w.empty": (torch.float32, [0, 4]),
}


def expected():
    tensors = {}
    for name, (dtype, shape) in SPECS.items():
        n = 1
        for d in shape:
            n *= d
        tensors[name] = (torch.arange(n, dtype=torch.float64) * 0.25 + 1).reshape(shape).to(dtype)
    # Written from a transposed (non-contiguous) view.
    tensors["w.transposed"] = (torch.arange(12, dtype=torch.float64) * 0.25 + 1).reshape(3, 4).t().float()
    tensors["w.negative"] = torch.arange(6, dtype=torch.int64) - 3
    return tensors


def split(data):
    """Header length, metadata, tensor entries in order (with their fields in
    order), data bytes. The Rust writer keeps metadata in a HashMap, so its
    order varies from run to run; everything else must match byte for byte."""
    n = int.from_bytes(data[:8], "little")
    text = data[8:8 + n].decode()
    pairs = json.loads(text, object_pairs_hook=lambda items: items)
    metadata = dict(next((v for k, v in pairs if k == "__metadata__"), []))
    tensors = [(k, v) for k, v in pairs if k != "__metadata__"]
    return n, len(text) - len(text.rstrip(" ")), metadata, tensors, data[8 + n:]


def fail(message):
    print("check_written_safetensors:", message)
    sys.exit(1)


def main():
    path = sys.argv[1]
    want = expected()
    got = load_file(path)
    if sorted(got) != sorted(want):
        fail(f"names {sorted(got)} != {sorted(want)}")
    for name, tensor in want.items():
        if got[name].dtype != tensor.dtype or got[name].shape != tensor.shape or not torch.equal(got[name], tensor):
            fail(f"{name}: got {got[name].dtype} {list(got[name].shape)} {got[name]}, want {tensor}")
    with safe_open(path, framework="pt") as f:
        if f.metadata() != METADATA:
            fail(f"metadata {f.metadata()} != {METADATA}")
    with open(path, "rb") as f:
        ours = split(f.read())
    theirs = split(save({k: v.contiguous() for k, v in want.items()}, metadata=METADATA))
    if ours != theirs:
        fail(f"layout differs from safetensors.torch.save:\n ours {ours!r:.600}\n them {theirs!r:.600}")
    print("check_written_safetensors: ok,", len(want), "tensors")


if __name__ == "__main__":
    main()
