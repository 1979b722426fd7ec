#!/usr/bin/env python3
"""Seed corpora for the parser fuzz targets (tests/fuzz/run-parser-fuzz), in
real formats: argv[1]/<target>/ gets transformers' own config.json files, a
byte-level BPE tokenizer in Hugging Face's file layout, annotation files in
each dataset's layout, sweep and INI files as users write them, and (with
argv[2], the store_writer test program) a spool file a real recorder wrote.
Files a target reads together are joined by "\\n----\\n" lines; the
annotation target's first byte picks the task (its index in the target)."""
import json
import os
import subprocess
import sys
import tempfile

SEP = "\n----\n"


def write(folder, name, text):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())


def model_configs(out):
    import transformers as t
    configs = {
        "opt": t.OPTConfig(), "opt-350m": t.OPTConfig(hidden_size=1024, word_embed_proj_dim=512,
                                                      do_layer_norm_before=False),
        "vit": t.ViTConfig(), "timesformer": t.TimesformerConfig(), "ast": t.ASTConfig(),
        "tiny-opt": t.OPTConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, ffn_dim=32,
                                num_attention_heads=2, max_position_embeddings=32),
    }
    for name, config in configs.items():
        write(out, name + ".json", config.to_json_string())
    write(out, "timm-vit.json", json.dumps({"architecture": "vit_base_patch16_224", "num_classes": 1000,
                                            "num_features": 768, "global_pool": "token",
                                            "model_args": {"img_size": 224}}))


def tokenizer_files(out):
    # A byte-level BPE vocabulary as GPT-2 / OPT ship it (Ġ is a leading space).
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in "abcdefghijklmnopqrstuvwxyzWT?.Ġ":
        vocab.setdefault(ch, len(vocab))
    merges = ["Ġ t", "h e", "Ġt he", "a t", "Ġ a", "o n", "i s", "Ġ is"]
    for m in merges:
        vocab.setdefault(m.replace(" ", ""), len(vocab))
    config = {"add_bos_token": True, "bos_token": "</s>", "eos_token": "</s>", "pad_token": "<pad>",
              "unk_token": "<unk>", "model_max_length": 1000000000000000019884624838656,
              "added_tokens_decoder": {"1": {"content": "<pad>", "special": True, "lstrip": False,
                                             "rstrip": False, "normalized": True, "single_word": False}}}
    special = {"bos_token": {"content": "</s>", "lstrip": False, "normalized": True, "rstrip": False,
                             "single_word": False}, "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
    merges_txt = "#version: 0.2\n" + "\n".join(merges) + "\n"
    write(out, "opt-style", SEP.join([json.dumps(vocab), merges_txt, json.dumps(config), json.dumps(special)]))
    write(out, "files-only", SEP.join([json.dumps(vocab), merges_txt, "", ""]))


def annotations(out):
    vqa = [{"img_id": "COCO_train2014_000000000009", "sent": "What color is the bus?", "question_id": 9001,
            "label": {"red": 1.0, "orange": 0.3}, "question_type": "what color is the", "answer_type": "other"},
           {"img_id": "COCO_val2014_000000000042", "sent": "Is this a kitchen?", "question_id": 42003,
            "label": {"yes": 0.9}, "answer_type": "yes/no"}]
    questions = {"questions": [{"image_id": 42, "question": "Is this a kitchen?", "question_id": 42003}]}
    answers = {"annotations": [{"question_id": 42003, "image_id": 42, "answer_type": "yes/no",
                                "multiple_choice_answer": "yes",
                                "answers": [{"answer": "yes", "answer_confidence": "yes", "answer_id": i}
                                            for i in range(1, 11)]}]}
    gqa = [{"img_id": "2354786", "sent": "Is the sky dark?", "question_id": "02930152", "label": {"yes": 1.0}}]
    coco = {"dataset": "coco", "images": [
        {"filepath": "train2014", "filename": "COCO_train2014_000000000009.jpg", "imgid": 0, "split": "train",
         "cocoid": 9, "sentences": [{"raw": "A red bus.", "tokens": ["a", "red", "bus"], "imgid": 0, "sentid": 0}]}]}
    video_qa = [{"video": "video7010.mp4", "question": "what is a man doing?", "answer": "dance"}]
    video_caption = [{"video": "video7010.mp4", "caption": ["a man dances", "someone is dancing"]}]
    audio = [{"audio": "audio/Yb0RFKhbpFJA.wav", "caption": "wind blows and leaves rustle"}]
    # The first byte is the task's index in annotation_fuzz.cpp's kLayouts.
    for index, name, text in [(0, "vqa-vlt5", json.dumps(vqa)), (1, "vqa-official",
                                                                 json.dumps(questions) + SEP + json.dumps(answers)),
                              (2, "gqa", json.dumps(gqa)), (3, "coco", json.dumps(coco)),
                              (4, "msrvtt-qa", json.dumps(video_qa)), (5, "msrvtt-caption", json.dumps(video_caption)),
                              (6, "audiocaps", json.dumps(audio))]:
        write(out, name, bytes([index]) + text.encode())


def sweeps(out):
    write(out, "axes.json", json.dumps({"name": "prompt", "experiment": "ablation-prompt-length",
                                        "axes": {"prompt-length": [1, 5, 10]}, "seeds": [0, 1],
                                        "set": {"epochs": 1}, "max-retries": 2, "lease-seconds": 60}))
    write(out, "overrides.json", json.dumps({
        "name": "levels", "experiment": "ablation-levels", "axes": {"levels": [1, 2]},
        "overrides": [{"when": {"levels": 2}, "set": {"lr": 1e-4}}],
        "command": ["{epalm}", "train", "--config", "{config}"], "launcher": ["mpirun", "-np", "2"]}))
    write(out, "spool.json", json.dumps({"name": "lm-size", "experiment": "ablation-lm-size", "seeds": [0, 1, 2],
                                         "spool": True, "output-dir": "sweeps/lm",
                                         "launcher": ["srun", "--nodes=1", "--gpus=4", "--ntasks=4"]}))


def ini_files(out):
    write(out, "run.ini", "# epalm train\ntask = vqa\ndata-root = data\ndata-fraction = 0.5\naugment = false\n"
                          "levels = 2\nmax-steps = 100\nseed = 7\nlr = 1e-3\noutput-dir = runs/x\n")
    # Found by this fuzzer: Boost's error message for this key never finished (now refused first).
    write(out, "placeholder-key.ini", "levels %original_token%= 10\nseed = 1\n")
    write(out, "sections.ini", "[ignored]\ntask=gqa\nwhere = a=1\nwhere = b=2\n; comment\nlr=  2e-5  \n")


def spool(out, writer):
    if not writer:
        return
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.jsonl")
        subprocess.run([writer, "--spool", path, "--runs", "2", "--steps", "5", "--keys", "2"], check=True,
                       stdout=subprocess.DEVNULL)
        with open(path, "rb") as f:
            write(out, "recorded.jsonl", f.read())


def main():
    out, writer = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    model_configs(os.path.join(out, "model_config"))
    tokenizer_files(os.path.join(out, "tokenizer_files"))
    annotations(os.path.join(out, "annotation"))
    sweeps(os.path.join(out, "sweep"))
    ini_files(os.path.join(out, "ini_config"))
    spool(os.path.join(out, "spool"), writer)
    os.makedirs(os.path.join(out, "spool"), exist_ok=True)


if __name__ == "__main__":
    main()
