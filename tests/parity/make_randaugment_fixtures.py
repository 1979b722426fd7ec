"""RandAugment's ops as the reference runs them, on the data fixtures' pictures and clips
(tests/data/rand_augment_parity_test.cpp).

Usage: make_randaugment_fixtures.py OUT DATA_FIXTURES   (DATA_FIXTURES: make_data_fixtures.py's OUT)

Writes under OUT:
  albef.safetensors        input/<name>: uint8 [H, W, 3] pictures (the decoded fixture images, one
                           of them resized to 224 x 224, one with a lifted minimum in two channels);
                           <op>/<sign>/<name>: that picture after the op of ALBEF's RandomAugment at
                           level 7 (dataset/randaugment.py), made with the cv2 / numpy calls ALBEF makes
  torchvision.safetensors  input/<name>: uint8 [T, 3, H, W] clips (4 frames of each fixture clip, one
                           resized to 224 x 224); <op>/<sign>/<name>: torchvision's own
                           autoaugment._apply_op at RandAugment()'s magnitude (bin 9 of 31, nearest,
                           fill None) on the clip
  magnitudes.json          torchvision's signed magnitude per op, sign and clip
One torch thread, as in the reference's DataLoader workers.
"""
import hashlib
import json
import os
import shutil
import sys

import cv2
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import load_file, save_file
from torchvision.transforms import InterpolationMode
from torchvision.transforms.autoaugment import RandAugment, _apply_op

# ALBEF: RandomAugment(2, 7, isPIL=True, augs=[...]), MAX_LEVEL 10, replace_value (128, 128, 128).
LEVEL = 7
MAX_LEVEL = 10
FILL = (128, 128, 128)


# --- ALBEF's ops: the numpy / cv2 calls of dataset/randaugment.py ------------------------------
def albef_autocontrast(img):
    channels = []
    for ch in cv2.split(img):
        high, low = ch.max(), ch.min()  # numpy uint8 scalars: ALBEF's `-low` below wraps around
        if high <= low:
            table = np.arange(256)
        else:
            scale = 255 / (high - low)
            with np.errstate(over="ignore"):
                offset = -low * scale
            table = np.arange(256) * scale + offset
            table[table < 0] = 0
            table[table > 255] = 255
        channels.append(table.clip(0, 255).astype(np.uint8)[ch])
    return cv2.merge(channels)


def albef_equalize(img):
    channels = []
    for ch in cv2.split(img):
        hist = cv2.calcHist([ch], [0], None, [256], [0, 256])
        nonzero = hist[hist != 0].reshape(-1)
        step = np.sum(nonzero[:-1]) // 255
        if step == 0:
            channels.append(ch)
            continue
        n = np.empty_like(hist)
        n[0] = step // 2
        n[1:] = hist[:-1]
        channels.append((np.cumsum(n) // step).clip(0, 255).astype(np.uint8)[ch])
    return cv2.merge(channels)


def albef_brightness(img, factor):
    return (np.arange(256, dtype=np.float32) * factor).clip(0, 255).astype(np.uint8)[img]


def albef_sharpness(img, factor):
    kernel = np.ones((3, 3), dtype=np.float32)
    kernel[1][1] = 5
    kernel /= 13
    degenerate = cv2.filter2D(img, -1, kernel)
    out = img.astype(np.float32)
    degenerate = degenerate.astype(np.float32)[1:-1, 1:-1, :]
    out[1:-1, 1:-1, :] = degenerate + factor * (out[1:-1, 1:-1, :] - degenerate)
    with np.errstate(invalid="ignore"):
        return out.astype(np.uint8)  # no clipping: numpy's cast wraps, as in ALBEF


def albef_warp(img, matrix):
    h, w = img.shape[:2]
    return cv2.warpAffine(img, matrix, (w, h), borderValue=FILL, flags=cv2.INTER_LINEAR).astype(np.uint8)


def albef_rotate(img, degree):
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degree, 1)
    return cv2.warpAffine(img, matrix, (w, h), borderValue=FILL)


def albef_ops():
    enhance = (LEVEL / MAX_LEVEL) * 1.8 + 0.1
    shear = (LEVEL / MAX_LEVEL) * 0.3
    shift = (LEVEL / MAX_LEVEL) * float(10)
    degrees = (LEVEL / MAX_LEVEL) * 30
    return {
        "Identity": (False, lambda img, s: img),
        "AutoContrast": (False, lambda img, s: albef_autocontrast(img)),
        "Equalize": (False, lambda img, s: albef_equalize(img)),
        "Brightness": (False, lambda img, s: albef_brightness(img, enhance)),
        "Sharpness": (False, lambda img, s: albef_sharpness(img, enhance)),
        "ShearX": (True, lambda img, s: albef_warp(img, np.float32([[1, s * shear, 0], [0, 1, 0]]))),
        "ShearY": (True, lambda img, s: albef_warp(img, np.float32([[1, 0, 0], [s * shear, 1, 0]]))),
        "TranslateX": (True, lambda img, s: albef_warp(img, np.float32([[1, 0, -(s * shift)], [0, 1, 0]]))),
        "TranslateY": (True, lambda img, s: albef_warp(img, np.float32([[1, 0, 0], [0, 1, -(s * shift)]]))),
        "Rotate": (True, lambda img, s: albef_rotate(img, s * degrees)),
    }


def signs(signed):
    return (("positive", 1), ("negative", -1)) if signed else (("positive", 1),)


def make_albef(data, out):
    decoded = load_file(os.path.join(data, "images.safetensors"))
    pictures = {}
    for key, value in decoded.items():
        if key.startswith("decoded/"):
            pictures[key[len("decoded/"):].replace("/", "_")] = value.numpy()
    first = next(iter(sorted(pictures)))
    base = pictures[first]
    pictures["resized_224"] = cv2.resize(base, (224, 224), interpolation=cv2.INTER_CUBIC)
    lifted = base.copy()
    lifted[:, :, 1:] = (40 + lifted[:, :, 1:].astype(np.uint16) * 150 // 255).astype(np.uint8)
    pictures["lifted_minimum"] = lifted
    tensors = {f"input/{name}": torch.from_numpy(np.ascontiguousarray(p)) for name, p in pictures.items()}
    for op, (signed, fn) in albef_ops().items():
        for sign_name, sign in signs(signed):
            for name, picture in pictures.items():
                result = fn(picture.copy(), sign)
                assert result.dtype == np.uint8 and result.shape == picture.shape, op
                tensors[f"{op}/{sign_name}/{name}"] = torch.from_numpy(np.ascontiguousarray(result))
    save_file(tensors, os.path.join(out, "albef.safetensors"))
    return len(pictures)


TORCHVISION_OPS = ["Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
                   "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize"]


def make_torchvision(data, out):
    frames = load_file(os.path.join(data, "videos.safetensors"))
    clips = {}
    for key, value in frames.items():
        if key.startswith("frames/"):
            tchw = value.permute(0, 3, 1, 2)
            picked = torch.linspace(0, tchw.shape[0] - 1, 4).round().long()
            clips[key[len("frames/"):].replace(".", "_")] = tchw[picked].contiguous()
    first = clips[sorted(clips)[0]]
    clips["resized_224"] = F.interpolate(first.float(), size=[224, 224], mode="bicubic", align_corners=False) \
        .clamp(0, 255).round().to(torch.uint8)
    augment = RandAugment()  # num_ops 2, magnitude 9, 31 bins, nearest, fill None
    tensors = {f"input/{name}": clip for name, clip in clips.items()}
    magnitudes = {}
    for name, clip in clips.items():
        space = augment._augmentation_space(augment.num_magnitude_bins, (clip.shape[-2], clip.shape[-1]))
        assert list(space) == TORCHVISION_OPS
        for op, (values, signed) in space.items():
            magnitude = float(values[augment.magnitude].item()) if values.ndim > 0 else 0.0
            for sign_name, sign in signs(signed):
                m = magnitude * -1.0 if sign < 0 else magnitude
                result = _apply_op(clip.clone(), op, m, interpolation=augment.interpolation, fill=augment.fill)
                assert result.dtype == torch.uint8 and result.shape == clip.shape, op
                tensors[f"{op}/{sign_name}/{name}"] = result.contiguous()
                magnitudes[f"{op}/{sign_name}/{name}"] = m
    save_file(tensors, os.path.join(out, "torchvision.safetensors"))
    with open(os.path.join(out, "magnitudes.json"), "w") as f:
        json.dump(magnitudes, f, indent=1)
    return len(clips)


def main():
    out, data = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    stamp_path = os.path.join(out, "STAMP")
    digest = hashlib.sha256(open(__file__, "rb").read()).hexdigest()
    inputs = hashlib.sha256(open(os.path.join(data, "STAMP"), "rb").read()).hexdigest()
    stamp = (f"{digest} data {inputs} cv2 {cv2.__version__} numpy {np.__version__} torch {torch.__version__} "
             f"torchvision {torchvision.__version__}\n")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print(f"{out} is current")
        return
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    pictures = make_albef(data, out)
    clips = make_torchvision(data, out)
    open(stamp_path, "w").write(stamp)
    print(f"wrote {out}: {pictures} pictures, {clips} clips")


if __name__ == "__main__":
    main()
