"""Hugging Face's view of a tokenizer directory, for tests/toy/bpe_trainer_test.cpp.

usage: hf_tokenize.py TOKENIZER_DIR TEXTS_JSON OUTPUT_JSON

TEXTS_JSON is a list of strings. Writes, per text:
  plain   GPT2TokenizerFast(vocab.json, merges.txt)(text, add_special_tokens=False) ids
  auto    AutoTokenizer.from_pretrained(TOKENIZER_DIR)(text) ids (OPT: BOS first)
  slow    GPT2Tokenizer.from_pretrained(TOKENIZER_DIR)(text) ids
  pieces  tokenizers' ByteLevel pre-tokenizer (GPT-2's regex) pieces, in the byte alphabet
  decoded AutoTokenizer's decode(auto ids, skip_special_tokens=True)
and the vocabulary sizes.
"""
import json
import os
import sys

from tokenizers import pre_tokenizers
from transformers import AutoTokenizer, GPT2Tokenizer, GPT2TokenizerFast


def main():
    directory, texts_path, out_path = sys.argv[1:4]
    texts = json.load(open(texts_path, encoding="utf-8"))
    plain = GPT2TokenizerFast(os.path.join(directory, "vocab.json"), os.path.join(directory, "merges.txt"))
    auto = AutoTokenizer.from_pretrained(directory)
    slow = GPT2Tokenizer.from_pretrained(directory)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    out = {
        "auto_class": type(auto).__name__,
        "vocab_size": auto.vocab_size,
        "len": len(auto),
        "bos": auto.bos_token_id, "eos": auto.eos_token_id, "pad": auto.pad_token_id,
        "plain": [plain(t, add_special_tokens=False)["input_ids"] for t in texts],
        "auto": [auto(t)["input_ids"] for t in texts],
        "slow": [slow(t)["input_ids"] for t in texts],
        "pieces": [[p for p, _ in byte_level.pre_tokenize_str(t)] for t in texts],
    }
    out["decoded"] = [auto.decode(ids, skip_special_tokens=True) for ids in out["auto"]]
    json.dump(out, open(out_path, "w", encoding="utf-8"), ensure_ascii=False)


if __name__ == "__main__":
    main()
