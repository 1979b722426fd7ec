"""Tiny frozen models for `epalm train` / `epalm generate` / `epalm eval` end to end.

usage: make_train_fixtures.py OUTPUT_DIR

Writes OUTPUT_DIR/opt: a 4-layer OPT with a byte-level BPE tokenizer of its own
(OPT's four head tokens, the 256 byte symbols, a few merges; made with
transformers' GPT2Tokenizer and saved beside the weights, so the tests need no
downloaded vocabulary), and OUTPUT_DIR/vit: a 3-block ViT at 224 x 224 with
32-pixel patches. Both with transformers' save_pretrained.
"""
import json
import os
import sys

import torch
from transformers import GPT2Tokenizer, OPTConfig, OPTForCausalLM, ViTConfig, ViTModel
from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

MERGES = ["Ġ t", "Ġ a", "h e", "i n", "Ġt he", "e r", "o n", "Ġ w", "Ġ s", "a t"]


def write_tokenizer(directory):
    raw = os.path.join(directory, "raw")
    os.makedirs(raw, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in bytes_to_unicode().values():
        vocab[symbol] = len(vocab)
    for merge in MERGES:
        vocab[merge.replace(" ", "")] = len(vocab)
    with open(os.path.join(raw, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(raw, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(m + "\n" for m in MERGES))
    tokenizer = GPT2Tokenizer(os.path.join(raw, "vocab.json"), os.path.join(raw, "merges.txt"), errors="replace",
                              unk_token="</s>", bos_token="</s>", eos_token="</s>", pad_token="<pad>",
                              add_prefix_space=False, add_bos_token=True)
    tokenizer.save_pretrained(directory)
    for name in os.listdir(raw):
        os.remove(os.path.join(raw, name))
    os.rmdir(raw)
    return len(vocab)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    opt_dir = os.path.join(out, "opt")
    vocab = write_tokenizer(opt_dir)
    opt = OPTForCausalLM(OPTConfig(vocab_size=vocab + 8, hidden_size=16, num_hidden_layers=4, ffn_dim=32,
                                   num_attention_heads=2, max_position_embeddings=64, word_embed_proj_dim=16,
                                   dropout=0.0, init_std=0.2))
    opt.save_pretrained(opt_dir, safe_serialization=True)
    vit = ViTModel(ViTConfig(image_size=224, patch_size=32, hidden_size=16, num_hidden_layers=3,
                             num_attention_heads=2, intermediate_size=32, initializer_range=0.2),
                   add_pooling_layer=False)
    vit.save_pretrained(os.path.join(out, "vit"), safe_serialization=True)
    print("tiny OPT (vocabulary", vocab, ") and ViT written to", out)


if __name__ == "__main__":
    main()
