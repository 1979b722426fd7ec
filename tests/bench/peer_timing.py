"""What every `epalm bench` peer script shares: the common options, and timing
the same work as epalm (warmup, timed repetitions, peak memory) into the JSON
record epalm reads back."""
import argparse
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


def common_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--device", default="cpu")


def measure(once, warmup, repetitions, device):
    """Runs once() `warmup` times untimed, then `repetitions` times timed.
    Returns the record (times, memory, versions) and the last output."""
    import torch
    import transformers

    cuda = device.type == "cuda"
    for _ in range(warmup):
        once()
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    reset = reset_peak_rss()
    rss_before = rss_bytes("VmRSS")
    cuda_before = torch.cuda.memory_allocated(device) if cuda else 0
    times = []
    out = None
    for _ in range(repetitions):
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
    return result, out
