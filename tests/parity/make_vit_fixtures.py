"""Tiny random ViT checkpoints, images, and Hugging Face transformers' outputs on them.

Writes, under OUTDIR:
  <variant>/            a checkpoint directory (config.json + model.safetensors) holding also
                        inputs.safetensors (pixel_values, interpolated_pixel_values) and
                        expected.safetensors (last_hidden_state, hidden_state_<i>, the interpolated run's,
                        and a bf16 run's), all from HF ViTModel with attn_implementation="eager";
    base                ViTModel (bare names, with a pooler), qkv bias, 32px / 8px patches
    classifier          ViTForImageClassification ("vit." prefix, classifier), no qkv bias, 24px / 6px
    timm                timm names (cls_token, pos_embed, blocks.i.attn.qkv, ...), made by renaming an HF
                        ViTForImageClassification's state dict with the converter's mapping (docs/models.md;
                        timm itself is not installed), LayerNorm eps 1e-6 as timm's, 32px / 4px patches
  images/               images.safetensors (uint8 [H, W, 3] images: noise and smooth gradients, up- and
                        downscaled, odd sizes), resized.safetensors (PIL's Image.resize for every filter),
                        processed.safetensors (ViTImageProcessor's pixel_values, default and custom
                        preprocessor_config.json, and the eP-ALM eval transform), custom/preprocessor_config.json,
                        default/preprocessor_config.json, torch_antialias.json (how far LibTorch's antialiased
                        interpolate is from PIL, for the record)
The C++ parity tests load these with epalm and compare.
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor, ViTModel

torch.manual_seed(0)
torch.use_deterministic_algorithms(True)
out_root = sys.argv[1]
os.makedirs(out_root, exist_ok=True)


def randomize(model):
    """Random non-trivial LayerNorm parameters and biases (HF inits them to 1 / 0)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name or name.endswith("bias"):
                p.add_(torch.randn_like(p) * 0.2)
            elif "cls_token" in name or "position_embeddings" in name:
                p.copy_(torch.randn_like(p) * 0.5)


def timm_state_dict(model, config):
    """An HF ViTForImageClassification's weights under timm's names (inverse of convert_vit_timm_to_pytorch)."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    out = {
        "cls_token": sd["vit.embeddings.cls_token"],
        "pos_embed": sd["vit.embeddings.position_embeddings"],
        "patch_embed.proj.weight": sd["vit.embeddings.patch_embeddings.projection.weight"],
        "patch_embed.proj.bias": sd["vit.embeddings.patch_embeddings.projection.bias"],
        "norm.weight": sd["vit.layernorm.weight"],
        "norm.bias": sd["vit.layernorm.bias"],
        "head.weight": sd["classifier.weight"],
        "head.bias": sd["classifier.bias"],
    }
    for i in range(config.num_hidden_layers):
        hf, tm = f"vit.encoder.layer.{i}.", f"blocks.{i}."
        att = hf + "attention.attention."
        out[tm + "attn.qkv.weight"] = torch.cat([sd[att + p + ".weight"] for p in ("query", "key", "value")])
        if config.qkv_bias:
            out[tm + "attn.qkv.bias"] = torch.cat([sd[att + p + ".bias"] for p in ("query", "key", "value")])
        for theirs, ours in (("attn.proj", "attention.output.dense"), ("mlp.fc1", "intermediate.dense"),
                             ("mlp.fc2", "output.dense"), ("norm1", "layernorm_before"),
                             ("norm2", "layernorm_after")):
            out[tm + theirs + ".weight"] = sd[hf + ours + ".weight"]
            out[tm + theirs + ".bias"] = sd[hf + ours + ".bias"]
    return {k: v.contiguous() for k, v in out.items()}


def hf_outputs(backbone, pixel_values, interpolate=False, prefix=""):
    with torch.no_grad():
        result = backbone(pixel_values=pixel_values, output_hidden_states=True,
                          interpolate_pos_encoding=interpolate)
    assert len(result.hidden_states) == backbone.config.num_hidden_layers + 1
    # hidden_states[-1] is the last block's output before the final LayerNorm.
    assert not torch.equal(result.hidden_states[-1], result.last_hidden_state)
    out = {prefix + "last_hidden_state": result.last_hidden_state.contiguous()}
    for i, h in enumerate(result.hidden_states):
        out[f"{prefix}hidden_state_{i}"] = h.contiguous()
    return out


base = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48, hidden_act="gelu",
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_channels=3, num_labels=5,
            attn_implementation="eager")
variants = {
    "base": (dict(image_size=32, patch_size=8, qkv_bias=True), "base_model", (48, 40)),
    "classifier": (dict(image_size=24, patch_size=6, qkv_bias=False, hidden_size=48, num_attention_heads=6,
                        num_hidden_layers=2), "classifier", None),
    "timm": (dict(image_size=32, patch_size=4, qkv_bias=True, num_attention_heads=2, num_hidden_layers=4,
                  layer_norm_eps=1e-6), "timm", (28, 36)),
}

for name, (overrides, save_as, other_size) in variants.items():
    directory = os.path.join(out_root, name)
    os.makedirs(directory, exist_ok=True)
    config = ViTConfig(**{**base, **overrides})
    if save_as == "base_model":
        model = ViTModel(config).eval()  # with a pooler, which epalm ignores
        backbone = model
    else:
        model = ViTForImageClassification(config).eval()
        backbone = model.vit
    randomize(model)
    if save_as == "timm":
        config.save_pretrained(directory)
        save_file(timm_state_dict(model, config), os.path.join(directory, "model.safetensors"),
                  metadata={"format": "pt"})
    else:
        model.save_pretrained(directory, safe_serialization=True)

    size = config.image_size
    pixel_values = torch.randn(2, 3, size, size)
    inputs = {"pixel_values": pixel_values}
    expected = hf_outputs(backbone, pixel_values)
    if other_size:
        other = torch.randn(2, 3, *other_size)
        inputs["interpolated_pixel_values"] = other
        expected.update(hf_outputs(backbone, other, interpolate=True, prefix="interpolated_"))
    bf16 = hf_outputs(backbone.to(torch.bfloat16), pixel_values.to(torch.bfloat16), prefix="bf16_")
    expected.update({k: v.float() for k, v in bf16.items()})  # bf16 values, stored exactly as fp32
    save_file(inputs, os.path.join(directory, "inputs.safetensors"))
    save_file(expected, os.path.join(directory, "expected.safetensors"))
    print(f"{name}: {sorted(os.listdir(directory))}")

# ---------------------------------------------------------------- images
image_dir = os.path.join(out_root, "images")
os.makedirs(image_dir, exist_ok=True)
rng = np.random.default_rng(0)


def gradient(h, w):
    y, x = np.mgrid[0:h, 0:w]
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x / 7.0) * np.cos(y / 5.0)
    return np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8)


images = {
    "noise_37x53": rng.integers(0, 256, (37, 53, 3), dtype=np.uint8),
    "noise_300x200": rng.integers(0, 256, (300, 200, 3), dtype=np.uint8),
    "noise_224x224": rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),
    "noise_15x9": rng.integers(0, 256, (15, 9, 3), dtype=np.uint8),
    "gradient_480x640": gradient(480, 640),
    "gradient_50x70": gradient(50, 70),
    "gradient_225x223": gradient(225, 223),
    "edges_97x131": (rng.integers(0, 2, (97, 131, 1)) * 255).repeat(3, -1).astype(np.uint8),
}
save_file({k: torch.from_numpy(v.copy()) for k, v in images.items()}, os.path.join(image_dir, "images.safetensors"))

# PIL's resize for every filter and a few target sizes (up, down, odd, one axis only).
filters = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR,
           "hamming": Image.Resampling.HAMMING, "bicubic": Image.Resampling.BICUBIC,
           "lanczos": Image.Resampling.LANCZOS}
targets = [(224, 224), (31, 17), (120, 53), (12, 50), (20, 190)]
resized = {}
antialias = {}
for image_name, array in images.items():
    pil = Image.fromarray(array)
    for filter_name, code in filters.items():
        for (h, w) in targets + [(array.shape[0], 77)]:
            resized[f"{image_name}/{filter_name}/{h}x{w}"] = torch.from_numpy(
                np.array(pil.resize((w, h), resample=code)))
    # How far LibTorch's antialiased interpolate (float, then rounded) is from PIL.
    chw = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).float()
    for filter_name, mode in (("bilinear", "bilinear"), ("bicubic", "bicubic")):
        ours = torch.nn.functional.interpolate(chw, size=(224, 224), mode=mode, antialias=True,
                                               align_corners=False).round().clamp(0, 255)
        pil_out = torch.from_numpy(np.array(pil.resize((224, 224), resample=filters[filter_name])))
        diff = (ours[0].permute(1, 2, 0) - pil_out.float()).abs()
        antialias[f"{image_name}/{filter_name}"] = {"max_levels": float(diff.max()),
                                                    "mean_levels": float(diff.mean())}
save_file(resized, os.path.join(image_dir, "resized.safetensors"))
with open(os.path.join(image_dir, "torch_antialias.json"), "w") as f:
    json.dump(antialias, f, indent=1)
print("torch antialias vs PIL, max 8-bit levels:", max(v["max_levels"] for v in antialias.values()))

# ViTImageProcessor (slow, PIL) with its defaults and with a custom preprocessor_config.json.
processors = {
    "default": ViTImageProcessor(),
    "custom": ViTImageProcessor(size={"height": 40, "width": 56}, resample=Image.Resampling.BICUBIC,
                                image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
                                rescale_factor=1 / 127.5),
}
processed = {}
for key, processor in processors.items():
    processor.save_pretrained(os.path.join(image_dir, key))
    for image_name, array in images.items():
        pixel_values = processor(images=Image.fromarray(array), return_tensors="pt")["pixel_values"][0]
        processed[f"{key}/{image_name}"] = pixel_values.contiguous()

# The eP-ALM reference's test transform (dataset/vqa.py): torchvision Resize((224, 224), BICUBIC) on the PIL
# image (= PIL's resize), ToTensor (float32 / 255), Normalize(CLIP mean, std). torchvision is not installed;
# these are its operations, spelled out.
mean = torch.tensor([0.48145466, 0.4578275, 0.40821073], dtype=torch.float32).view(3, 1, 1)
std = torch.tensor([0.26862954, 0.26130258, 0.27577711], dtype=torch.float32).view(3, 1, 1)
for image_name, array in images.items():
    pil = Image.fromarray(array).resize((224, 224), Image.Resampling.BICUBIC)
    tensor = torch.from_numpy(np.array(pil)).permute(2, 0, 1).contiguous().to(torch.float32).div(255)
    processed[f"epalm/{image_name}"] = tensor.sub(mean).div(std).contiguous()
save_file(processed, os.path.join(image_dir, "processed.safetensors"))
print(f"images: {sorted(os.listdir(image_dir))}")
