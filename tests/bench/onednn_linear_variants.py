"""oneDNN linear variants on the models' frozen product shapes, PyTorch's own ops.

What docs/validation.md's "tried and not taken" figures come from: for each
shape, GFLOP/s of ATen's oneDNN linear with the plain weight (what
layers::frozen_linear calls), with the weight prepacked
(mkldnn::_reorder_linear_weight), and of torch.nn.functional.linear (MKL on
x86), and whether the packed product is the plain one's bits; then a ViT-B MLP
at batch 8 with GELU and the residual add fused into the product (oneDNN
post-ops) against separate ops, times and bit equality.

    python tests/bench/onednn_linear_variants.py [--threads 2]
"""
import argparse
import time

import torch

# [rows, in, out]: ViT-B/16 at batch 8 (1576 rows), a decoder micro-batch's
# packed rows, a generation step's rows, the LM head on 168 target rows.
SHAPES = [(1576, 768, 768), (1576, 768, 3072), (1576, 3072, 768), (178, 768, 3072), (178, 3072, 768),
          (16, 768, 3072), (168, 768, 50272)]


def median_s(f, n=30):
    for _ in range(3):
        f()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return sorted(times)[n // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    linear = torch.ops.mkldnn._linear_pointwise
    pack = torch.ops.mkldnn._reorder_linear_weight
    print(f"torch {torch.__version__}, {args.threads} threads")
    print(f"{'rows x in x out':>22} {'plain':>7} {'packed':>7} {'MKL':>7}  GFLOP/s  packed == plain")
    for rows, fan_in, fan_out in SHAPES:
        x, w, b = torch.randn(rows, fan_in), torch.randn(fan_out, fan_in) * 0.02, torch.randn(fan_out)
        packed = pack(w, None)
        flop = 2 * rows * fan_in * fan_out
        plain_s = median_s(lambda: linear(x, w, b, "none", [], ""))
        packed_s = median_s(lambda: linear(x, packed, b, "none", [], ""))
        mkl_s = median_s(lambda: torch.nn.functional.linear(x, w, b))
        same = torch.equal(linear(x, w, b, "none", [], ""), linear(x, packed, b, "none", [], ""))
        print(f"{f'{rows} x {fan_in} x {fan_out}':>22} {flop / plain_s / 1e9:7.0f} {flop / packed_s / 1e9:7.0f} "
              f"{flop / mkl_s / 1e9:7.0f}  {same}")

    rows = 1576
    x, h, residual = torch.randn(rows, 768), torch.randn(rows, 3072), torch.randn(rows, 768)
    fc1 = pack(torch.randn(3072, 768) * 0.03, None), torch.randn(3072)
    fc2_w, fc2_b = torch.randn(768, 3072) * 0.02, torch.randn(768)
    gelu_apart = lambda: torch.nn.functional.gelu(linear(x, fc1[0], fc1[1], "none", [], ""))
    gelu_fused = lambda: linear(x, fc1[0], fc1[1], "gelu", [], "none")
    add_apart = lambda: residual + linear(h, fc2_w, fc2_b, "none", [], "")
    add_fused = lambda: torch.ops.mkldnn._linear_pointwise.binary(h, residual, fc2_w, fc2_b, "add")
    for name, apart, fused in [("GELU after fc1", gelu_apart, gelu_fused), ("residual add after fc2", add_apart, add_fused)]:
        print(f"{name}: apart {median_s(apart) * 1e3:.1f} ms, fused {median_s(fused) * 1e3:.1f} ms, "
              f"same bits {torch.equal(apart(), fused())}")


if __name__ == "__main__":
    main()
