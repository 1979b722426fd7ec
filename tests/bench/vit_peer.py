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

from peer_timing import common_arguments, measure


def main():
    p = argparse.ArgumentParser()
    common_arguments(p)
    a = p.parse_args()

    import torch
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

    def once():
        with torch.no_grad():
            return model(pixel_values=pixels).last_hidden_state

    result, out = measure(once, a.warmup, a.repetitions, device)
    if out is not None:
        out = out.float().cpu()
        result["digest"] = {"cls": out[:, 0, :].tolist(), "last_hidden_state_mean_abs": out.abs().mean().item()}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
