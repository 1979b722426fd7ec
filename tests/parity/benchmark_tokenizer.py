"""Encoding speed of the C++ OPT tokenizer against HF's fast (Rust) tokenizer, same run.

usage: benchmark_tokenizer.py BUILD_DIR [REPEATS]

Both encode the parity corpus (BUILD_DIR/fixtures/tokenizer/encode.jsonl, from a
`launch/test` run) on one thread, after a warm-up pass: HF through the Rust
tokenizer's encode_batch (no Python call per text), C++ one text at a time.
"""

import json
import os
import subprocess
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread, as the C++ side

from transformers import GPT2TokenizerFast  # noqa: E402


def main():
    build, repeats = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    fixtures = os.path.join(build, "fixtures", "tokenizer")
    corpus = os.path.join(fixtures, "encode.jsonl")
    texts = [json.loads(line)["text"] for line in open(corpus, encoding="utf-8")]
    fast = GPT2TokenizerFast.from_pretrained(os.path.join(fixtures, "opt"))._tokenizer  # the Rust object
    fast.encode_batch(texts)
    start = time.perf_counter()
    for _ in range(repeats):
        fast.encode_batch(texts)
    hf_seconds = (time.perf_counter() - start) / repeats
    out = subprocess.run([os.path.join(build, "tests", "tokenizer_benchmark"), os.path.join(fixtures, "opt"), corpus,
                          str(repeats)], check=True, capture_output=True, text=True).stdout.split()
    cpp_seconds = float(out[0])
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} texts, {chars} characters, {repeats} timed passes, one thread")
    print(f"HF GPT2TokenizerFast (Rust): {hf_seconds * 1e3:8.1f} ms per pass")
    print(f"epalm C++ tokenizer:         {cpp_seconds * 1e3:8.1f} ms per pass")
    print(f"ratio C++ / HF fast: {cpp_seconds / hf_seconds:.2f} (below 1: C++ is faster)")


if __name__ == "__main__":
    main()
