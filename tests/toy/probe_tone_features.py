"""Whether the AST's frozen features hold each tone's attributes: a linear probe.

usage: probe_tone_features.py FEATURE_DIR WORLD_ROOT

FEATURE_DIR is one key's folder of a study's frozen-feature cache (its files name their sample,
"train/toy000125"), e.g. $EPALM_HOME/toy-study/<world key>/features/<key> for the audio-captioning
cells. For each of the first three tones' loudness, length and pitch (or "no such tone"), a
softmax-regression probe is fitted on the train clips' standardised features (Adam, 500 steps, a
small L2 penalty) and scored on the test clips that have that tone, beside the majority answer.
docs/toy-world.md reports the default world's figures.
"""
import glob
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file


def cached_features(feature_dir):
    by_sample = {}
    for path in glob.glob(f"{feature_dir}/*.safetensors"):
        with safe_open(path, "pt") as f:
            by_sample[f.metadata()["sample_id"]] = path
    return by_sample


def split(root, name, by_sample):
    items = json.load(open(f"{root}/labels/audio_{name}.json"))["items"]
    features, labels = [], []
    for item in items:
        sample = item["media"].replace("audios/", "").replace(".wav", "")
        if sample in by_sample:
            features.append(load_file(by_sample[sample])["features"].reshape(-1))
            labels.append(item)
    if not features:
        sys.exit(f"{name}: no cached features of the {name} clips in this folder")
    return torch.stack(features), labels


def main():
    feature_dir, root = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    by_sample = cached_features(feature_dir)
    x_train, train = split(root, "train", by_sample)
    x_test, test = split(root, "test", by_sample)
    classes = json.load(open(f"{root}/labels/audio_train.json"))["classes"]
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    a, b = (x_train - mean) / std, (x_test - mean) / std

    def answers(items, attribute, tone):
        none = len(classes[attribute])
        return torch.tensor([classes[attribute].index(i["tones"][tone][attribute]) if len(i["tones"]) > tone else none
                             for i in items])

    print(f"{len(train)} train clips, {len(test)} test clips")
    for attribute in ("loudness", "length", "pitch"):
        for tone in range(3):
            y_train, y_test = answers(train, attribute, tone), answers(test, attribute, tone)
            n = len(classes[attribute]) + 1
            w = torch.zeros(a.shape[1], n, requires_grad=True)
            bias = torch.zeros(n, requires_grad=True)
            optimizer = torch.optim.Adam([w, bias], lr=1e-2)
            for _ in range(500):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(a @ w + bias, y_train) + 1e-3 * (w ** 2).sum()
                loss.backward()
                optimizer.step()
            present = y_test < len(classes[attribute])
            accuracy = ((b @ w + bias).argmax(1) == y_test)[present].float().mean().item()
            majority = torch.bincount(y_test[present]).max().item() / present.sum().item()
            print(f"tone {tone + 1} {attribute:9s} probe {accuracy:.2f}  majority {majority:.2f}  ({present.sum().item()} clips)")


if __name__ == "__main__":
    main()
