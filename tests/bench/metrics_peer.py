"""The Python peer of `epalm bench metrics`: pycocoevalcap and the official VQA evaluation.

Reads the workload epalm wrote (--inputs: captions with references, VQA annotations and
predictions) and times, with the same warmup and repetitions as epalm:
  tokenize  pycocoevalcap's PTBTokenizer on references and predictions (as COCOEvalCap does:
            two Java runs of Stanford CoreNLP 3.4.1)
  cider     pycocoevalcap's Cider().compute_score on the tokenized captions
  vqa       vqaEval.py's evaluate() (tests/bench/vqa_eval_official.py)
Prints one JSON object: times_s (cider + vqa per repetition, the headline), the parts' times,
memory, versions, and a digest (the CIDEr-D score and VQA accuracy); writes the tokenized
captions to --tokenized so epalm can compare them line by line.
"""
import argparse
import json
import sys
import time
from importlib.metadata import version

from peer_timing import reset_peak_rss, rss_bytes
import vqa_eval_official


def timed(once, warmup, repetitions):
    for _ in range(warmup):
        once()
    times, out = [], None
    for _ in range(repetitions):
        start = time.perf_counter()
        out = once()
        times.append(time.perf_counter() - start)
    return times, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--inputs", required=True)
    p.add_argument("--tokenized", required=True)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repetitions", type=int, default=5)
    a = p.parse_args()

    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    work = json.load(open(a.inputs, encoding="utf-8"))
    captions = work["captions"]
    annotations = {q["question_id"]: q for q in work["vqa"]["annotations"]}
    predictions = work["vqa"]["predictions"]
    gts_raw = {c["image_id"]: [{"caption": r} for r in c["references"]] for c in captions}
    res_raw = {c["image_id"]: [{"caption": c["prediction"]}] for c in captions}

    def tokenize():
        tokenizer = PTBTokenizer()
        return tokenizer.tokenize(gts_raw), tokenizer.tokenize(res_raw)

    reset = reset_peak_rss()
    rss_before = rss_bytes("VmRSS")
    tokenize_times, (gts, res) = timed(tokenize, a.warmup, a.repetitions)
    cider_times, (cider, _) = timed(lambda: Cider().compute_score(gts, res), a.warmup, a.repetitions)
    vqa_times, vqa = timed(lambda: vqa_eval_official.evaluate(annotations, predictions), a.warmup, a.repetitions)

    with open(a.tokenized, "w", encoding="utf-8") as f:
        json.dump([{"prediction": res[c["image_id"]][0], "references": gts[c["image_id"]]} for c in captions], f,
                  ensure_ascii=False)
    result = {
        "times_s": [c + v for c, v in zip(cider_times, vqa_times)],
        "rss_before_bytes": rss_before,
        "peak_rss_bytes": rss_bytes("VmHWM"),
        "peak_rss_reset": reset,
        "threads": 1,
        "versions": {"python": sys.version.split()[0], "pycocoevalcap": version("pycocoevalcap"),
                     "numpy": version("numpy")},
        "digest": {"cider_d": float(cider), "vqa_overall": vqa["overall"],
                   "parts_s": {"tokenize": tokenize_times, "cider": cider_times, "vqa": vqa_times}},
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
