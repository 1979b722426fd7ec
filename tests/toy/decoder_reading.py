"""What a toy decoder reads from text, measured with transformers on its checkpoint.

usage: decoder_reading.py DECODER_DIR WORLD_ROOT [OUTPUT_JSON]

The held-out lines of the world's corpus are every 20th line (as `epalm toy pretrain` holds them
out). Each held-out reading line, "<description>. <question></a> <answer>", is cut after the answer
token and answered greedily (3 new tokens); an answer is right when its first words equal the
line's. Prints the accuracy per question type (the question's first three words; "is the"
for a clip's yes/no questions) and writes them,
with their line counts, to OUTPUT_JSON. docs/toy-world.md reports the default world's figures.
"""
import collections
import json
import sys

import torch
from transformers import AutoTokenizer, OPTForCausalLM

ANSWER_TOKEN = "</a>"


def main():
    decoder, root = sys.argv[1], sys.argv[2]
    output = sys.argv[3] if len(sys.argv) > 3 else None
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(decoder)
    tokenizer.add_special_tokens({"additional_special_tokens": [ANSWER_TOKEN]})
    model = OPTForCausalLM.from_pretrained(decoder).eval()
    with open(f"{root}/corpus/train.txt") as f:
        lines = [line.strip() for line in f if line.strip()]
    held_out = [line for i, line in enumerate(lines) if i % 20 == 19]
    # Reading lines only: a description (a sentence) before the question.
    reading = [line for line in held_out if ANSWER_TOKEN in line and ". " in line.split(ANSWER_TOKEN)[0]]
    right = collections.defaultdict(list)
    for line in reading:
        prompt, answer = line.split(ANSWER_TOKEN)
        question = prompt.split(". ")[-1]
        kind = " ".join(question.split()[:3]).lower()
        if kind.startswith("is the "):
            kind = "is the"  # a clip's yes/no question names its colour and shape

        ids = tokenizer(prompt + ANSWER_TOKEN, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        said = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).split()
        expected = answer.split()
        right[kind].append(said[: len(expected)] == expected)
    report = {kind: {"accuracy": sum(v) / len(v), "lines": len(v)} for kind, v in sorted(right.items())}
    print(f"{len(reading)} held-out reading lines")
    for kind, r in report.items():
        print(f"{kind:24s} {r['accuracy']:.2f} ({r['lines']})")
    if output:
        with open(output, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
