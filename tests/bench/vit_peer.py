"""The PyTorch + transformers peer of `epalm bench vit-forward`.

Loads the checkpoint directory epalm wrote (or was given) with
ViTModel.from_pretrained (eager attention, no pooler), reads pixel_values from
the inputs file epalm wrote, and times the same forward pass under
torch.no_grad() with the same thread count: `warmup` untimed runs, then
`repetitions` timed ones. Prints one JSON object on stdout:
  times_s, rss_before_bytes, peak_rss_bytes (VmHWM, reset before the runs),
  cuda_peak_bytes / cuda_before_bytes on a GPU, versions, and a digest of the
  output (every image's [CLS] row of last_hidden_state and the mean |value|)
  so epalm can check both computed the same thing.
"""
import argparse
import json
import sys
import time


def rss_bytes(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--inputs", required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repetitions", type=int, default=5)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--dtype", default="fp32")
    p.add_argument("--device", default="cpu")
    a = p.parse_args()

    import torch
    import transformers
    from safetensors.torch import load_file
    from transformers import ViTModel

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[a.dtype]
    device = torch.device(a.device)
    model = ViTModel.from_pretrained(a.checkpoint, torch_dtype=dtype, attn_implementation="eager",
                                     add_pooling_layer=False)
    model = model.to(device).eval()
    pixels = load_file(a.inputs)["pixel_values"].to(device=device, dtype=dtype)
    cuda = device.type == "cuda"

    def once():
        with torch.no_grad():
            return model(pixel_values=pixels).last_hidden_state

    for _ in range(a.warmup):
        once()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    reset = reset_peak_rss()
    rss_before = rss_bytes("VmRSS")
    cuda_before = torch.cuda.memory_allocated(device) if cuda else 0
    times = []
    out = None
    for _ in range(a.repetitions):
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = once()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    result = {
        "times_s": times,
        "rss_before_bytes": rss_before,
        "peak_rss_bytes": rss_bytes("VmHWM"),
        "peak_rss_reset": reset,
        "threads": torch.get_num_threads(),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "transformers": transformers.__version__},
    }
    if cuda:
        result["cuda_before_bytes"] = cuda_before
        result["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(device)
    if out is not None:
        out = out.float().cpu()
        result["digest"] = {"cls": out[:, 0, :].tolist(), "last_hidden_state_mean_abs": out.abs().mean().item()}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
