"""eP-ALM's forward, loss and gradients in PyTorch on transformers' OPT layers.

The forward is tests/bench/epalm_torch.py (HF's OPTDecoderLayer modules driven by
hand); adapters wrap HF's modules here. For several variants,
under OUTDIR/<variant>/ it writes the tiny OPT checkpoint, the variant's
settings (variant.json), its inputs and initial trainables (inputs.safetensors,
trainables.safetensors) and the expected logits, loss and gradient of every
trainable (expected.safetensors).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import OPTConfig, OPTForCausalLM

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
from epalm_torch import epalm_forward, reference_loss  # noqa: E402

torch.manual_seed(0)
out_root = sys.argv[1]
ENC = 24  # encoder width
B, T = 3, 9

opt_config = OPTConfig(vocab_size=64, hidden_size=32, num_hidden_layers=8, ffn_dim=48, num_attention_heads=4,
                       max_position_embeddings=40, dropout=0.0, attention_dropout=0.0, init_std=0.2,
                       attn_implementation="eager")

VARIANTS = {
    # the paper's ePALM: 6 per-level connectors, 10-token prompt with the MLP (scaled to the tiny decoder)
    "per_level_6_prompt_mlp": dict(levels=6, shared=False, start=1, end=7, prompt=10, mlp=True),
    # eP-ALM_pt-L: one shared connector, prompt without MLP
    "shared_prompt_no_mlp": dict(levels=6, shared=True, start=1, end=7, prompt=10, mlp=False),
    # the headline eP-ALM: one linear, one token, no prompt
    "single_level_no_prompt": dict(levels=1, shared=True, start=2, end=6, prompt=0, mlp=False),
    # adapters on both sub-blocks, per-level with a short prompt
    "adapters": dict(levels=2, shared=False, start=1, end=5, prompt=3, mlp=True, adapters=True),
    # the reference's non-causal perceptual token
    "reference_noncausal": dict(levels=3, shared=False, start=2, end=7, prompt=2, mlp=False, noncausal=True),
    # Rows with no unmasked key: left padding, no prompt, three layers before the
    # first injection, a label right after the padding; with and without the flag.
    # Only the reference's mask composition gives these rows their values.
    "left_padding_no_prompt": dict(levels=2, shared=False, start=3, end=7, prompt=0, mlp=False, left_pads=[0, 3, 1]),
    "left_padding_no_prompt_noncausal": dict(levels=2, shared=False, start=3, end=7, prompt=0, mlp=False,
                                             noncausal=True, left_pads=[0, 3, 1]),
    # The no-perception baseline: the soft prompt over the frozen LM, no connector, no injected token.
    "no_perception": dict(levels=1, shared=True, start=2, end=6, prompt=4, mlp=True, perception=False),
    # Training's batches (right padding only), which the packed pass takes: the paper's layout,
    # adapters, the headline without a prompt, the baseline, and tokens injected from layer 0.
    "right_padded_per_level_prompt_mlp": dict(levels=6, shared=False, start=1, end=7, prompt=10, mlp=True,
                                              left_pads=[0, 0, 0]),
    "right_padded_adapters": dict(levels=2, shared=False, start=1, end=5, prompt=3, mlp=True, adapters=True,
                                  left_pads=[0, 0, 0]),
    "right_padded_single_level_no_prompt": dict(levels=1, shared=True, start=2, end=6, prompt=0, mlp=False,
                                                left_pads=[0, 0, 0]),
    "right_padded_no_perception": dict(levels=1, shared=True, start=2, end=6, prompt=4, mlp=True, perception=False,
                                       left_pads=[0, 0, 0]),
    "right_padded_from_layer_0": dict(levels=3, shared=False, start=0, end=6, prompt=2, mlp=False,
                                      left_pads=[0, 0, 0]),
}


class Adapter(torch.nn.Module):
    def __init__(self, dim, bottleneck):
        super().__init__()
        self.down = torch.nn.Linear(dim, bottleneck)
        self.up = torch.nn.Linear(bottleneck, dim)

    def forward(self, x):
        return x + self.up(torch.relu(self.down(x)))


for name, v in VARIANTS.items():
    directory = os.path.join(out_root, name)
    os.makedirs(directory, exist_ok=True)
    model = OPTForCausalLM(opt_config).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    D = opt_config.hidden_size
    trainables = {}
    for c in range((1 if v["shared"] else v["levels"]) if v.get("perception", True) else 0):
        trainables[f"connector.{c}.weight"] = torch.randn(D, ENC) * 0.2
        trainables[f"connector.{c}.bias"] = torch.randn(D) * 0.1
    if v["prompt"]:
        trainables["prompt_module.prefix_embedding.0.weight"] = torch.randn(v["prompt"], D)
        if v["mlp"]:
            for i in (1, 3):
                trainables[f"prompt_module.prefix_embedding.{i}.weight"] = torch.randn(D, D) * 0.2
                trainables[f"prompt_module.prefix_embedding.{i}.bias"] = torch.randn(D) * 0.1
    adapters = {}
    if v.get("adapters"):
        for kind in ("attention", "ffn"):
            for layer in range(opt_config.num_hidden_layers):
                for part, shape in (("down", (D // 4, D)), ("up", (D, D // 4))):
                    trainables[f"{kind}_adapters.{layer}.{part}.weight"] = torch.randn(*shape) * 0.2
                    trainables[f"{kind}_adapters.{layer}.{part}.bias"] = torch.randn(shape[0]) * 0.1
        for layer_index, layer in enumerate(model.model.decoder.layers):
            attn = Adapter(D, D // 4)
            ffn = Adapter(D, D // 4)
            attn_module, fc2 = layer.self_attn, layer.fc2

            class AttentionWithAdapter(torch.nn.Module):
                def __init__(self, inner, adapter):
                    super().__init__()
                    self.inner, self.adapter = inner, adapter

                def forward(self, *args, **kwargs):
                    out = self.inner(*args, **kwargs)
                    return (self.adapter(out[0]),) + tuple(out[1:])

            layer.self_attn = AttentionWithAdapter(attn_module, attn)
            layer.fc2 = torch.nn.Sequential(fc2, ffn)
            adapters[layer_index] = (attn, ffn)
    for t in trainables.values():
        t.requires_grad_(True)
    if adapters:  # the adapter modules use the trainables themselves
        for layer, (attn, ffn) in adapters.items():
            for kind, module in (("attention", attn), ("ffn", ffn)):
                for part in ("down", "up"):
                    lin = getattr(module, part)
                    del lin.weight, lin.bias
                    lin.weight = trainables[f"{kind}_adapters.{layer}.{part}.weight"]
                    lin.bias = trainables[f"{kind}_adapters.{layer}.{part}.bias"]

    features = torch.randn(B, v["levels"], ENC)
    ids = torch.randint(3, 64, (B, T))
    mask = torch.ones(B, T, dtype=torch.long)
    mask[0, 6:] = 0  # right padding, as the reference batches
    left_pads = v.get("left_pads", [0, 2, 0])  # left padding, as generation batches
    for row, pads in enumerate(left_pads):
        mask[row, :pads] = 0
    ids[mask == 0] = 1
    for row, pads in enumerate(left_pads):
        ids[row, pads] = 2  # BOS where the row starts: a label right after any padding
    labels = ids.masked_fill(mask == 0, -100)

    logits = epalm_forward(model, v, trainables, features, ids, mask)
    loss = reference_loss(logits, labels)
    loss.backward()

    # The frozen OPT weights under their plain names (without the adapter wrappers).
    plain = {}
    for k, val in model.state_dict().items():
        if "adapter" in k or "fc2.1." in k:
            continue
        plain[k.replace("self_attn.inner.", "self_attn.").replace("fc2.0.", "fc2.")] = val
    model_to_save = OPTForCausalLM(opt_config)
    model_to_save.load_state_dict(plain)
    model_to_save.save_pretrained(directory, safe_serialization=True)
    save_file({"features": features, "input_ids": ids, "attention_mask": mask, "labels": labels},
              os.path.join(directory, "inputs.safetensors"))
    save_file({k: t.detach().contiguous() for k, t in trainables.items()},
              os.path.join(directory, "trainables.safetensors"))
    expected = {"logits": logits.detach().contiguous(), "loss": loss.detach().reshape(1)}
    for k, t in trainables.items():
        assert t.grad is not None, (name, k)
        expected["grad." + k] = t.grad.contiguous()
    save_file(expected, os.path.join(directory, "expected.safetensors"))
    with open(os.path.join(directory, "variant.json"), "w") as f:
        json.dump(v, f)
    print(name, "loss", float(loss))
