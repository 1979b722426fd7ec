"""Tiny random OPT checkpoints and Hugging Face transformers' outputs on them.

Writes, under OUTDIR, one folder per variant (a real HF checkpoint directory:
config.json + safetensors, sharded for one variant) holding also
  inputs.safetensors    input_ids, attention_mask (left-, right- and un-padded rows)
  expected.safetensors  logits, hidden_state_<i>, and generated sequences
  generation.json       the generate() settings behind each expected sequence tensor
The C++ parity tests load the checkpoint with epalm and compare.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import OPTConfig, OPTForCausalLM, OPTModel

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
out_root = sys.argv[1]

# vocab 64 keeps EOS (id 2) likely, so generation exercises finished beams.
base = dict(vocab_size=64, hidden_size=32, num_hidden_layers=3, ffn_dim=48, num_attention_heads=4,
            max_position_embeddings=40, dropout=0.0, attention_dropout=0.0, pad_token_id=1, bos_token_id=2,
            eos_token_id=2, init_std=0.4, attn_implementation="eager")
variants = {
    # pre-LayerNorm like opt-125m..6.7b, saved from OPTForCausalLM: "model.decoder.*" keys
    "pre_ln": (dict(), "causal_lm", None),
    # post-LayerNorm with project_in/out like opt-350m, saved from OPTModel: "decoder.*" keys
    "post_ln_projected": (dict(do_layer_norm_before=False, word_embed_proj_dim=16), "base_model", None),
    # pre-LN, gelu, sharded into several files with model.safetensors.index.json
    "sharded": (dict(activation_function="gelu", num_hidden_layers=4), "causal_lm", "20KB"),
}

input_ids = torch.randint(3, 64, (3, 7))
attention_mask = torch.ones(3, 7, dtype=torch.long)
attention_mask[0, :3] = 0  # left padding
attention_mask[1, 5:] = 0  # right padding
input_ids[attention_mask == 0] = 1

left_ids = input_ids.clone()
left_mask = attention_mask.clone()
left_ids[1] = 1
left_mask[1] = 0
left_ids[1, 2:] = input_ids[1, :5]  # row 1 re-padded on the left for generation
left_mask[1, 2:] = 1

generation = {
    "greedy": dict(num_beams=1, max_new_tokens=10),
    "beam3": dict(num_beams=3, max_new_tokens=10, length_penalty=1.0, early_stopping=False),
    "beam4_early": dict(num_beams=4, max_new_tokens=9, length_penalty=0.5, early_stopping=True),
    "beam2_never": dict(num_beams=2, max_new_tokens=8, length_penalty=1.5, early_stopping="never"),
}

for name, (overrides, save_as, shard) in variants.items():
    directory = os.path.join(out_root, name)
    os.makedirs(directory, exist_ok=True)
    config = OPTConfig(**{**base, **overrides})
    model = OPTForCausalLM(config).eval()
    with torch.no_grad():  # random non-trivial LayerNorm parameters and biases
        for pname, p in model.named_parameters():
            if "layer_norm" in pname or pname.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.2)
    to_save = model.model if save_as == "base_model" else model
    kwargs = {"max_shard_size": shard} if shard else {}
    to_save.save_pretrained(directory, safe_serialization=True, **kwargs)

    with torch.no_grad():
        result = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
    expected = {"logits": result.logits.contiguous()}
    for i, h in enumerate(result.hidden_states):
        expected[f"hidden_state_{i}"] = h.contiguous()
    for key, settings in generation.items():
        with torch.no_grad():
            sequences = model.generate(input_ids=left_ids, attention_mask=left_mask, do_sample=False,
                                       pad_token_id=1, eos_token_id=2, **settings)
        expected[f"generated_{key}"] = sequences.contiguous()
    save_file({"input_ids": input_ids, "attention_mask": attention_mask, "left_input_ids": left_ids,
               "left_attention_mask": left_mask}, os.path.join(directory, "inputs.safetensors"))
    save_file(expected, os.path.join(directory, "expected.safetensors"))
    with open(os.path.join(directory, "generation.json"), "w") as f:
        json.dump(generation, f, indent=1)
    files = sorted(os.listdir(directory))
    print(f"{name}: {files}")
