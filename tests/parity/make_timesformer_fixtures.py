"""Tiny random TimeSformer checkpoints, Hugging Face transformers' outputs on them,
VideoMAEImageProcessor outputs on generated frames, and eP-ALM's frame indices.

Writes under OUTDIR:
  <variant>/            a HF checkpoint directory (config.json + model.safetensors) with
    inputs.safetensors    pixel_values [B, T, C, H, W]
    expected.safetensors  last_hidden_state, hidden_state_<i> (fp32, eager), and for
                          bf16 variants bf16_* (HF run in bfloat16) too
  resized_time/         expected outputs of a 2-frame model whose time embeddings are the
                        4-frame checkpoint's nearest-interpolated (original TimeSformer load)
  video/                frames_<case> uint8 [T, H, W, 3], pixels_<case> float32 [T, 3, h, w]
                        (VideoMAEImageProcessor), <case>.json preprocessor configs
  frame_indices.json    eP-ALM get_frame_indices('middle') and the 'rand' intervals
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import TimesformerConfig, TimesformerForVideoClassification, TimesformerModel, VideoMAEImageProcessor

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
out_root = sys.argv[1]
os.makedirs(out_root, exist_ok=True)

base = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48, layer_norm_eps=1e-6,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.2,
            attn_implementation="eager")
# name: (config overrides, input frames, input (H, W), save as, bf16 too)
variants = {
    # 4x4 patches, 4 frames, saved from TimesformerForVideoClassification ("timesformer." keys + classifier)
    "divided": (dict(image_size=32, patch_size=8, num_frames=4, num_labels=5), 4, (32, 32), "classifier", True),
    # 6x6 patches of 4 pixels, 3 frames, odd everything, saved from TimesformerModel (no prefix)
    "divided_patch4": (dict(image_size=24, patch_size=4, num_frames=3, qkv_bias=False), 3, (24, 24), "base", False),
    # input frame count (2) differs from the config's (4): HF interpolates the time embeddings and
    # reshapes its blocks with config.num_frames
    "frames_differ": (dict(image_size=32, patch_size=8, num_frames=4), 2, (32, 32), "classifier", False),
    # taller input than the config's square: position embeddings interpolated (nearest) to 6x4
    "taller_input": (dict(image_size=32, patch_size=8, num_frames=2), 2, (48, 32), "classifier", False),
    "joint": (dict(image_size=16, patch_size=8, num_frames=3, attention_type="joint_space_time"), 3, (16, 16),
              "classifier", False),
    "space_only": (dict(image_size=16, patch_size=4, num_frames=2, attention_type="space_only"), 2, (16, 16),
                   "classifier", False),
}


def randomize(model):
    with torch.no_grad():  # non-trivial LayerNorms, biases and embeddings
        for pname, p in model.named_parameters():
            if "layernorm" in pname or pname.endswith("bias") or "embeddings." in pname and p.dim() == 3:
                p.add_(torch.randn_like(p) * 0.2)


def run(model, pixel_values):
    with torch.no_grad():
        out = model(pixel_values=pixel_values, output_hidden_states=True)
    result = {"last_hidden_state": out.last_hidden_state.contiguous()}
    for i, h in enumerate(out.hidden_states):
        result[f"hidden_state_{i}"] = h.contiguous()
    return result


for name, (overrides, frames, (height, width), save_as, bf16) in variants.items():
    directory = os.path.join(out_root, name)
    os.makedirs(directory, exist_ok=True)
    config = TimesformerConfig(**{**base, **overrides})
    classifier = TimesformerForVideoClassification(config).eval()
    randomize(classifier)
    model = classifier.timesformer
    (classifier if save_as == "classifier" else model).save_pretrained(directory, safe_serialization=True)
    pixel_values = torch.randn(2, frames, config.num_channels, height, width)
    expected = run(model, pixel_values)
    if bf16:
        expected.update({"bf16_" + k: v for k, v in run(model.to(torch.bfloat16), pixel_values.bfloat16()).items()})
        model.float()
    save_file({"pixel_values": pixel_values}, os.path.join(directory, "inputs.safetensors"))
    save_file(expected, os.path.join(directory, "expected.safetensors"))
    print(f"{name}: {sorted(os.listdir(directory))}")

# The 4-frame "frames_differ" checkpoint run at 2 frames properly: time embeddings resized at load.
source = TimesformerModel.from_pretrained(os.path.join(out_root, "frames_differ"), attn_implementation="eager")
config = TimesformerConfig(**{**source.config.to_dict(), "num_frames": 2})
config._attn_implementation = "eager"
resized = TimesformerModel(config).eval()
state = source.state_dict()
time = state["embeddings.time_embeddings"]
state["embeddings.time_embeddings"] = torch.nn.functional.interpolate(time.transpose(1, 2), size=2,
                                                                      mode="nearest").transpose(1, 2)
resized.load_state_dict(state)
pixel_values = torch.randn(2, 2, 3, 32, 32)
directory = os.path.join(out_root, "resized_time")
os.makedirs(directory, exist_ok=True)
save_file({"pixel_values": pixel_values}, os.path.join(directory, "inputs.safetensors"))
save_file(run(resized, pixel_values), os.path.join(directory, "expected.safetensors"))

# VideoMAEImageProcessor (PIL bilinear resize, center crop, rescale, normalize) on generated frames.
video_dir = os.path.join(out_root, "video")
os.makedirs(video_dir, exist_ok=True)
rng = np.random.default_rng(0)


def smooth_frames(t, h, w):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    frames = []
    for i in range(t):
        r = 127.5 + 127.5 * np.sin(x / (7.0 + i) + y / 13.0)
        g = 255.0 * x / max(w - 1, 1)
        b = 127.5 + 127.5 * np.cos((x + y + 5 * i) / 9.0)
        frames.append(np.stack([r, g, b], -1))
    return np.clip(np.rint(np.stack(frames) + rng.normal(0, 8, (t, h, w, 3))), 0, 255).astype(np.uint8)


cases = {
    # name: (frames, processor settings)
    "landscape": (smooth_frames(3, 240, 320), dict(image_mean=[0.45] * 3, image_std=[0.225] * 3)),
    "portrait_noise": (rng.integers(0, 256, (2, 300, 226, 3), dtype=np.uint8),
                       dict(image_mean=[0.45] * 3, image_std=[0.225] * 3)),
    "square": (smooth_frames(2, 224, 224), dict(image_mean=[0.5] * 3, image_std=[0.5] * 3)),
    "upscale": (smooth_frames(2, 90, 120), dict(image_mean=[0.45, 0.4, 0.35], image_std=[0.225, 0.25, 0.3])),
    # crop larger than the resized frame: HF pads with zeros
    "pad_crop": (smooth_frames(2, 50, 70), dict(size={"shortest_edge": 40}, crop_size={"height": 48, "width": 44})),
}
for case, (frames, settings) in cases.items():
    processor = VideoMAEImageProcessor(**settings)
    pixels = processor(list(frames), return_tensors="pt")["pixel_values"][0]
    processor.save_pretrained(os.path.join(video_dir, case))
    save_file({"frames": torch.from_numpy(frames).contiguous(), "pixels": pixels.contiguous()},
              os.path.join(video_dir, case + ".safetensors"))


# eP-ALM dataset/video_utils.py get_frame_indices (mshukor/eP-ALM@9ecfeb9), 'rand' and 'middle'.
def intervals_of(num_frames, vlen):
    acc_samples = min(num_frames, vlen)
    intervals = np.linspace(start=0, stop=vlen, num=acc_samples + 1).astype(int)
    return [(int(interv), int(intervals[idx + 1] - 1)) for idx, interv in enumerate(intervals[:-1])]


def middle_indices(num_frames, vlen):
    frame_indices = [(x[0] + x[1]) // 2 for x in intervals_of(num_frames, vlen)]
    if len(frame_indices) < num_frames:
        padded = [frame_indices[-1]] * num_frames
        padded[:len(frame_indices)] = frame_indices
        frame_indices = padded
    return frame_indices


table = []
for num_frames in (1, 2, 4, 8, 16):
    for vlen in (1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 100, 301, 1000, 12345):
        table.append({"num_frames": num_frames, "length": vlen, "middle": middle_indices(num_frames, vlen),
                      "intervals": intervals_of(num_frames, vlen)})
with open(os.path.join(out_root, "frame_indices.json"), "w") as f:
    json.dump(table, f)
print("video cases:", sorted(cases), "frame index cases:", len(table))
