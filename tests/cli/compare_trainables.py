"""Prints the largest relative difference (norm of the difference over the
norm) between the trainables ("param.*") of two `epalm train` checkpoints,
and exits 1 when their names or shapes differ."""
import sys

from safetensors.torch import load_file


def trainables(path):
    return {k: v.double() for k, v in load_file(path).items() if k.startswith("param.")}


def main():
    a, b = trainables(sys.argv[1]), trainables(sys.argv[2])
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        print("trainables differ in names or shapes")
        return 1
    worst = 0.0
    for k in a:
        norm = float(b[k].norm())
        worst = max(worst, float((a[k] - b[k]).norm()) / norm if norm > 0 else float(a[k].norm()))
    print(f"{len(a)} trainables, worst relative difference {worst:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
