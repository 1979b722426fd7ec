"""The PyTorch + transformers peer of `epalm bench opt-forward` / `opt-generate`.

Loads the checkpoint directory epalm wrote (or was given) with
OPTForCausalLM.from_pretrained (eager attention), reads input_ids and
attention_mask from the inputs file epalm wrote, and times the same work under
torch.no_grad() with the same thread count: `warmup` untimed runs, then
`repetitions` timed ones. Prints one JSON object on stdout:
  times_s, rss_before_bytes, peak_rss_bytes (VmHWM, reset before the runs),
  cuda_peak_bytes / cuda_before_bytes on a GPU, versions, and a digest of the
  outputs (logits sum and mean |logit| of the last position, or the generated
  ids) so epalm can check both computed the same thing.
"""
import argparse
import json
import sys

from peer_timing import common_arguments, measure


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["forward", "generate"], required=True)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--save-outputs", default="", help="forward: write the last position's logits here (safetensors)")
    common_arguments(p)
    a = p.parse_args()

    import torch
    from safetensors.torch import load_file
    from transformers import OPTForCausalLM

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[a.dtype]
    device = torch.device(a.device)
    model = OPTForCausalLM.from_pretrained(a.checkpoint, torch_dtype=dtype, attn_implementation="eager")
    model = model.to(device).eval()
    inputs = load_file(a.inputs)
    ids = inputs["input_ids"].to(device)
    mask = inputs["attention_mask"].to(device)

    def once():
        with torch.no_grad():
            if a.mode == "forward":
                return model(input_ids=ids, attention_mask=mask).logits
            # Exactly new_tokens per row: no EOS stop, as epalm runs it.
            return model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1,
                                  max_new_tokens=a.new_tokens, eos_token_id=None,
                                  pad_token_id=model.config.pad_token_id)

    result, out = measure(once, a.warmup, a.repetitions, device)
    if out is not None:
        if a.mode == "forward":
            last = out[:, -1, :].float()
            result["digest"] = {"last_logits_sum": last.sum().item(), "last_logits_mean_abs": last.abs().mean().item()}
            if a.save_outputs:
                from safetensors.torch import save_file
                save_file({"last_logits": last.cpu().contiguous()}, a.save_outputs)
        else:
            result["digest"] = {"generated": out.cpu().tolist()}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
