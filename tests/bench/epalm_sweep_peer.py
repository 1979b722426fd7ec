"""The PyTorch + transformers peer of `epalm bench sweep-fused`: the grid's
cells one after another, as a sweep of the reference's training runs would
train them (in one process here, so loading is not timed).

Loads the OPT and ViT checkpoints epalm wrote (eager attention, frozen) and
the inputs once; each timed run trains every variant from its initial
trainables (--trainables with {k} for the variant's index) for --steps
steps, each step on batch step % --batches: ViT forward under no_grad (as
training with augmentation computes features every step), the [CLS] tokens of
the variant's last levels, eP-ALM's injected forward (epalm_torch.py), the
reference loss, backward, torch.optim.AdamW. Prints one JSON object (see
peer_timing.py) with a digest: each variant's first-step loss.
"""
import argparse
import copy
import json
import sys

from epalm_peer import cls_features, epalm_arguments, load_epalm_peer
from peer_timing import measure


def main():
    p = argparse.ArgumentParser()
    epalm_arguments(p)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--batches", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--weight-decay", type=float, required=True)
    a = p.parse_args()

    import torch
    from safetensors.torch import load_file

    from epalm_torch import epalm_forward, reference_loss

    variants = json.loads(a.variant)
    first = copy.copy(a)
    first.trainables = a.trainables.format(k=0)
    first.variant = json.dumps(variants[0])
    decoder, encoder, _, inputs, _, device, dtype = load_epalm_peer(first, trainable=True)
    initial = [load_file(a.trainables.format(k=k)) for k in range(len(variants))]
    first_losses = []

    def batch_of(step, name):
        start = (step % a.batches) * a.batch
        return inputs[name][start:start + a.batch]

    def sweep():
        first_losses.clear()
        for variant, values in zip(variants, initial):
            trainables = {k: t.to(device).clone().requires_grad_(True) for k, t in values.items()}
            optimizer = torch.optim.AdamW(list(trainables.values()), lr=a.lr, weight_decay=a.weight_decay)
            for step in range(a.steps):
                with torch.no_grad():
                    features = cls_features(encoder, batch_of(step, "pixel_values").to(dtype), variant["levels"])
                logits = epalm_forward(decoder, variant, trainables, features.float(), batch_of(step, "input_ids"),
                                       batch_of(step, "attention_mask"))
                loss = reference_loss(logits, batch_of(step, "labels"))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if step == 0:
                    first_losses.append(loss.item())

    result, _ = measure(sweep, a.warmup, a.repetitions, device)
    result["digest"] = {"first_losses": list(first_losses)}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
