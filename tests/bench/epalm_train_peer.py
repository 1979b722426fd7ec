"""The PyTorch + transformers peer of `epalm bench epalm-train-step`.

Loads the OPT and ViT checkpoints epalm wrote (eager attention, frozen), the
trainables (epalm's initial values) and the inputs, and times the same
training step with the same thread count: ViT forward under no_grad, the
[CLS] token of the last `levels` blocks through the final LayerNorm, eP-ALM's
injected forward (epalm_torch.py), the reference loss, backward, and
torch.optim.AdamW. Prints one JSON object on stdout (see peer_timing.py) with
a digest: the first and last step's loss, and the median time of the encoder
forward within the timed steps (what bounds the step's ratio).
"""
import argparse
import json
import statistics
import sys
import time

from epalm_peer import cls_features, epalm_arguments, load_epalm_peer
from peer_timing import measure


def main():
    p = argparse.ArgumentParser()
    epalm_arguments(p)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--weight-decay", type=float, required=True)
    p.add_argument("--save-outputs", default="", help="write the logits before the first step here (safetensors)")
    a = p.parse_args()

    import torch

    from epalm_torch import epalm_forward, reference_loss

    decoder, encoder, trainables, inputs, variant, device, dtype = load_epalm_peer(a, trainable=True)
    pixels = inputs["pixel_values"].to(dtype)
    optimizer = torch.optim.AdamW(list(trainables.values()), lr=a.lr, weight_decay=a.weight_decay)
    losses = []
    encoder_s = []
    if a.save_outputs:  # the forward both sides start from, compared logit by logit
        from safetensors.torch import save_file
        with torch.no_grad():
            logits = epalm_forward(decoder, variant, trainables, cls_features(encoder, pixels, variant["levels"]).float(),
                                   inputs["input_ids"], inputs["attention_mask"])
        save_file({"logits": logits.float().cpu().contiguous()}, a.save_outputs)

    def once():
        start = time.perf_counter()
        with torch.no_grad():
            features = cls_features(encoder, pixels, variant["levels"])
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        encoder_s.append(time.perf_counter() - start)
        logits = epalm_forward(decoder, variant, trainables, features.float(), inputs["input_ids"],
                               inputs["attention_mask"])
        loss = reference_loss(logits, inputs["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        return loss

    result, _ = measure(once, a.warmup, a.repetitions, device)
    result["digest"] = {"first_loss": losses[0], "last_loss": losses[-1],
                        "encoder_s": statistics.median(encoder_s[-a.repetitions:])}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
