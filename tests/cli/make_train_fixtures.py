"""Tiny frozen models for `epalm train` / `epalm generate` end to end.

usage: make_train_fixtures.py OUTPUT_DIR TOKENIZER_FIXTURES

Writes OUTPUT_DIR/opt (a 4-layer OPT with the real vocabulary size and the
tokenizer fixture's files, so "</a>" and every token id fit) and
OUTPUT_DIR/vit (a 3-block ViT at 224 x 224 with 32-pixel patches), both with
transformers' save_pretrained. Without the tokenizer fixture (no GPT-2 BPE
files) it writes only MISSING and the tests skip.
"""
import os
import shutil
import sys

import torch
from transformers import OPTConfig, OPTForCausalLM, ViTConfig, ViTModel


def main():
    out, tokenizer = sys.argv[1], os.path.join(sys.argv[2], "opt")
    os.makedirs(out, exist_ok=True)
    if not os.path.isdir(tokenizer):
        open(os.path.join(out, "MISSING"), "w").write(f"no tokenizer fixture in {tokenizer}\n")
        return
    torch.manual_seed(0)
    opt = OPTForCausalLM(OPTConfig(vocab_size=50272, hidden_size=16, num_hidden_layers=4, ffn_dim=32,
                                   num_attention_heads=2, max_position_embeddings=64, word_embed_proj_dim=16,
                                   dropout=0.0, init_std=0.2))
    opt.save_pretrained(os.path.join(out, "opt"), safe_serialization=True)
    for name in os.listdir(tokenizer):
        shutil.copy(os.path.join(tokenizer, name), os.path.join(out, "opt", name))
    vit = ViTModel(ViTConfig(image_size=224, patch_size=32, hidden_size=16, num_hidden_layers=3,
                             num_attention_heads=2, intermediate_size=32, initializer_range=0.2),
                   add_pooling_layer=False)
    vit.save_pretrained(os.path.join(out, "vit"), safe_serialization=True)
    print("tiny OPT and ViT written to", out)


if __name__ == "__main__":
    main()
