"""The PyTorch + transformers peer of `epalm bench epalm-train-step`.

Loads the OPT and ViT checkpoints epalm wrote (eager attention, frozen), the
trainables (epalm's initial values) and the inputs, and times the same
training step with the same thread count: ViT forward under no_grad, the
[CLS] token of the last `levels` blocks through the final LayerNorm, eP-ALM's
injected forward (epalm_torch.py), the reference loss, backward, and
torch.optim.AdamW. Prints one JSON object on stdout (see peer_timing.py) with
a digest: the first and last step's loss.
"""
import argparse
import json
import sys

from peer_timing import common_arguments, measure


def main():
    p = argparse.ArgumentParser()
    common_arguments(p)
    p.add_argument("--encoder", required=True)
    p.add_argument("--trainables", required=True)
    p.add_argument("--variant", required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--weight-decay", type=float, required=True)
    a = p.parse_args()

    import torch
    from safetensors.torch import load_file
    from transformers import OPTForCausalLM, ViTModel

    from epalm_torch import epalm_forward, reference_loss

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[a.dtype]
    device = torch.device(a.device)
    variant = json.loads(a.variant)
    decoder = OPTForCausalLM.from_pretrained(a.checkpoint, torch_dtype=dtype, attn_implementation="eager")
    encoder = ViTModel.from_pretrained(a.encoder, torch_dtype=dtype, attn_implementation="eager",
                                       add_pooling_layer=False)
    decoder, encoder = decoder.to(device).eval(), encoder.to(device).eval()
    for module in (decoder, encoder):
        for w in module.parameters():
            w.requires_grad_(False)
    trainables = {k: t.to(device).requires_grad_(True) for k, t in load_file(a.trainables).items()}
    inputs = {k: t.to(device) for k, t in load_file(a.inputs).items()}
    pixels = inputs["pixel_values"].to(dtype)
    optimizer = torch.optim.AdamW(list(trainables.values()), lr=a.lr, weight_decay=a.weight_decay)
    levels = variant["levels"]
    blocks = encoder.config.num_hidden_layers
    losses = []

    def once():
        with torch.no_grad():
            hidden = encoder(pixel_values=pixels, output_hidden_states=True).hidden_states
            features = torch.stack([encoder.layernorm(hidden[b + 1][:, 0]) for b in range(blocks - levels, blocks)], 1)
        logits = epalm_forward(decoder, variant, trainables, features.float(), inputs["input_ids"],
                               inputs["attention_mask"])
        loss = reference_loss(logits, inputs["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        return loss

    result, _ = measure(once, a.warmup, a.repetitions, device)
    result["digest"] = {"first_loss": losses[0], "last_loss": losses[-1]}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
