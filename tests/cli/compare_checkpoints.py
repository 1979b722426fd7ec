"""Compares two `epalm train` checkpoints bit for bit: every tensor (the
trainables "param.*" and the optimizer's state). Prints the names of the
tensors that differ, with the largest difference of each, and exits 1 when
any differs or the names or shapes do not match."""
import sys

import torch
from safetensors.torch import load_file


def main():
    a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        print("the checkpoints differ in tensor names or shapes")
        return 1
    differing = [k for k in sorted(a) if not torch.equal(a[k], b[k])]
    for k in differing:
        print(f"{k}: largest difference {float((a[k].double() - b[k].double()).abs().max()):.3e}")
    print(f"{len(a)} tensors, {len(differing)} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
