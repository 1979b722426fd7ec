"""Small real-format datasets for the readers, decoders and data loader, and the
Python pipeline's tensors for them (tests/parity/data_parity_test.cpp).

Writes under OUT:
  root/                a dataset root in the layouts of every task (docs/epalm.md, Data layouts):
                       COCO/images/{train2014,val2014}/*.jpg, COCO/dataset_coco.json,
                       vqa/{karpathy_train,karpathy_test}.json (VL-T5), the official VQA v2
                       vqa/v2_OpenEnded_mscoco_val2014_questions.json + v2_mscoco_val2014_annotations.json,
                       GQA/{train,testdev}.json, VG/VG_100K/*.jpg, GQA/images/*.jpg
  video/               annotation/{qa_train,qa_test,caption_train,caption_test}.json, videos/all/*.mp4|*.avi
  audio/               annotation/{train,test}.json, audios/*.wav|*.flac
  expected.json        what the readers must return (samples per split, ids, paths, answers, scores)
  images.safetensors   Pillow's Image.open(p).convert("RGB") of every image, and the reference
                       transforms' outputs: eval (Resize((224,224), bicubic) + ToTensor + Normalize)
                       and train given a crop box and flip (PIL crop + resize + flip)
  videos.safetensors   PyAV's rgb24 frames of every clip, and the eval / train transforms of
                       chosen frames (torchvision 0.13's tensor Resize: bicubic, no antialias)
  audio.safetensors    soundfile's float32 waveforms, and ASTFeatureExtractor's (numpy) features
                       of the mean-removed channel 0 of the 16 kHz files
Images are made with Pillow, clips with PyAV (libx264 H.264 in MP4, MPEG-4 part 2 in AVI),
audio with soundfile (16-bit WAV, 24-bit FLAC, float WAV).
"""
import hashlib
import json
import os
import shutil
import sys

import av
import numpy as np
import PIL
import soundfile
import torch
import torch.nn.functional as F
import transformers
from PIL import Image
from safetensors.torch import save_file

CLIP_MEAN = torch.tensor((0.48145466, 0.4578275, 0.40821073))
CLIP_STD = torch.tensor((0.26862954, 0.26130258, 0.27577711))
SIZE = 224


def smooth_image(rng, height, width):
    """A picture with edges and gradients (not pure noise, which JPEG mangles)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = []
    for c in range(3):
        fx, fy, phase = rng.uniform(0.02, 0.2), rng.uniform(0.02, 0.2), rng.uniform(0, 6)
        channels.append(127 + 100 * np.sin(fx * x + phase) * np.cos(fy * y))
    img = np.stack(channels, -1) + rng.normal(0, 12, (height, width, 3))
    img[height // 3: height // 2, width // 4: width // 2] = rng.integers(0, 256, 3)  # a flat block, sharp edges
    return np.clip(img, 0, 255).astype(np.uint8)


def eval_image(pil):
    """The reference's test transform: Resize((224,224), BICUBIC) -> ToTensor -> Normalize."""
    resized = pil.resize((SIZE, SIZE), Image.BICUBIC)
    t = torch.from_numpy(np.array(resized)).permute(2, 0, 1).float().div(255)
    return (t - CLIP_MEAN[:, None, None]) / CLIP_STD[:, None, None]


def train_image(pil, top, left, height, width, flip):
    """RandomResizedCrop's resized_crop on a PIL image (crop, then resize bicubic), then the flip."""
    out = pil.crop((left, top, left + width, top + height)).resize((SIZE, SIZE), Image.BICUBIC)
    if flip:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
    t = torch.from_numpy(np.array(out)).permute(2, 0, 1).float().div(255)
    return (t - CLIP_MEAN[:, None, None]) / CLIP_STD[:, None, None]


def tensor_resize(frames_tchw, box=None, flip=False):
    """torchvision 0.13 on a uint8 [T,C,H,W] tensor: crop, F.resize (bicubic, no antialias:
    interpolate in float32, clamp, round, uint8), flip, /255, Normalize."""
    x = frames_tchw
    if box is not None:
        top, left, h, w = box
        x = x[:, :, top:top + h, left:left + w]
    x = F.interpolate(x.float(), size=[SIZE, SIZE], mode="bicubic", align_corners=False)
    x = x.clamp(0, 255).round().to(torch.uint8)
    if flip:
        x = x.flip(-1)
    x = x.float().div(255.0)
    return (x - CLIP_MEAN[None, :, None, None]) / CLIP_STD[None, :, None, None]


def middle_indices(num_frames, vlen):
    """eP-ALM's video_utils.get_frame_indices(sample='middle')."""
    acc_samples = min(num_frames, vlen)
    intervals = np.linspace(start=0, stop=vlen, num=acc_samples + 1).astype(int)
    ranges = [(intervals[i], intervals[i + 1] - 1) for i in range(len(intervals) - 1)]
    idx = [(x[0] + x[1]) // 2 for x in ranges]
    while len(idx) < num_frames:
        idx.append(idx[-1])
    return idx


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)


def make_images(root, rng, tensors, expected_paths):
    """COCO, VG and GQA pictures in the sizes and kinds the datasets have."""
    specs = [
        ("COCO/images/train2014/COCO_train2014_000000000009.jpg", (48, 64), "jpeg"),
        ("COCO/images/train2014/COCO_train2014_000000000025.jpg", (61, 45), "jpeg-gray"),
        ("COCO/images/train2014/COCO_train2014_000000000030.jpg", (40, 52), "jpeg-444"),
        ("COCO/images/val2014/COCO_val2014_000000000042.jpg", (33, 70), "jpeg"),
        ("COCO/images/val2014/COCO_val2014_000000000073.jpg", (50, 50), "png-rgba"),  # a PNG named .jpg
        ("COCO/images/val2014/COCO_val2014_000000000074.jpg", (37, 29), "png-palette"),
        ("VG/VG_100K/2354786.jpg", (58, 77), "jpeg"),
        ("VG/VG_100K/2368326.jpg", (45, 30), "png-16"),
        ("GQA/images/n161313.jpg", (52, 60), "jpeg-progressive"),
    ]
    boxes = {}
    for relative, (h, w), kind in specs:
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pixels = smooth_image(rng, h, w)
        if kind == "jpeg":
            Image.fromarray(pixels).save(path, "JPEG", quality=85)
        elif kind == "jpeg-444":
            Image.fromarray(pixels).save(path, "JPEG", quality=95, subsampling=0)
        elif kind == "jpeg-progressive":
            Image.fromarray(pixels).save(path, "JPEG", quality=80, progressive=True)
        elif kind == "jpeg-gray":
            Image.fromarray(pixels).convert("L").save(path, "JPEG", quality=90)
        elif kind == "png-rgba":
            alpha = rng.integers(0, 256, (h, w, 1), dtype=np.uint8)
            Image.fromarray(np.concatenate([pixels, alpha], -1), "RGBA").save(path, "PNG")
        elif kind == "png-palette":
            Image.fromarray(pixels).convert("P", palette=Image.ADAPTIVE, colors=50).save(path, "PNG")
        elif kind == "png-16":
            # 16-bit greyscale (Pillow's "I;16"): its RGB clamps at 255 rather than taking the high byte.
            wide = pixels[:, :, 0].astype(np.uint16) * 2 + rng.integers(0, 2, (h, w)).astype(np.uint16)
            Image.fromarray(wide).save(path, "PNG")
        key = relative
        pil = Image.open(path).convert("RGB")
        tensors[f"decoded/{key}"] = torch.from_numpy(np.array(pil).copy())
        tensors[f"eval/{key}"] = eval_image(pil)
        # Two crop boxes inside the picture, one with a flip.
        H, W = pil.height, pil.width
        for n, flip in enumerate((False, True)):
            bh, bw = int(rng.integers(H // 2, H + 1)), int(rng.integers(W // 2, W + 1))
            top, left = int(rng.integers(0, H - bh + 1)), int(rng.integers(0, W - bw + 1))
            boxes[f"{key}#{n}"] = [top, left, bh, bw, int(flip)]
            tensors[f"train/{key}#{n}"] = train_image(pil, top, left, bh, bw, flip)
        expected_paths.append(relative)
    return boxes


def make_image_annotations(root):
    expected = {}
    coco = "COCO/images/"
    vlt5_train = [
        {"img_id": "COCO_train2014_000000000009", "sent": "What color is the bus?", "question_id": 9001,
         "label": {"red": 1.0, "orange": 0.3}, "question_type": "what color is the", "answer_type": "other",
         "is_topk_optimal": True},
        {"img_id": "COCO_train2014_000000000025", "sent": "How many giraffes are there?", "question_id": 25002,
         "label": {"2": 1.0}, "question_type": "how many", "answer_type": "number"},
        {"img_id": "COCO_val2014_000000000042", "sent": "Is this a kitchen?", "question_id": 42003,
         "label": {"yes": 0.9, "no": 0.3}, "question_type": "is this a", "answer_type": "yes/no"},
    ]
    vlt5_test = [
        {"img_id": "COCO_val2014_000000000073", "sent": "What is on the plate?", "question_id": 73004,
         "label": {}, "question_type": "what is on the", "answer_type": "other"},
        {"img_id": "COCO_val2014_000000000074", "sent": "Where is the cat?", "question_id": 74005,
         "question_type": "where is the", "answer_type": "other"},
    ]
    write_json(os.path.join(root, "vqa/karpathy_train.json"), vlt5_train)
    write_json(os.path.join(root, "vqa/karpathy_test.json"), vlt5_test)

    def qa_expected(records, image_of):
        out = []
        for r in records:
            label = r.get("label", {})
            out.append({"id": str(r["question_id"]), "media_id": r["img_id"], "media": image_of(r),
                        "question": r["sent"], "answers": list(label.keys()), "scores": list(label.values())})
        return out

    def coco_image(r):
        folder = "train2014" if "train2014" in r["img_id"] else "val2014"
        return f"{coco}{folder}/{r['img_id']}.jpg"

    # Official VQA v2 val2014: questions + 10-answer annotations.
    questions = {"info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "val2014",
                 "license": {}, "questions": [
                     {"image_id": 42, "question": "What is the man holding?", "question_id": 420},
                     {"image_id": 73, "question": "How many plates?", "question_id": 730},
                     {"image_id": 42, "question": "Is it sunny?", "question_id": 421}]}
    gt = {"420": ["umbrella"] * 6 + ["an umbrella"] * 2 + ["bag", "umbrella"],
          "730": ["2", "2", "two", "3", "2", "2", "2", "3", "2", "2"],
          "421": ["yes"] * 10}
    types = {"420": ("what is the man", "other"), "730": ("how many", "number"), "421": ("is it", "yes/no")}
    annotations = {"info": {}, "license": {}, "data_subtype": "val2014", "annotations": []}
    for q in questions["questions"]:
        qid = str(q["question_id"])
        annotations["annotations"].append({
            "question_id": q["question_id"], "image_id": q["image_id"], "question_type": types[qid][0],
            "answer_type": types[qid][1], "multiple_choice_answer": gt[qid][0],
            "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": k + 1} for k, a in enumerate(gt[qid])]})
    write_json(os.path.join(root, "vqa/v2_OpenEnded_mscoco_val2014_questions.json"), questions)
    write_json(os.path.join(root, "vqa/v2_mscoco_val2014_annotations.json"), annotations)

    def official_score(answers, a):  # vqaEval.py's leave-one-out accuracy of answer a (exact match)
        accs = []
        for i in range(len(answers)):
            others = answers[:i] + answers[i + 1:]
            accs.append(min(1.0, sum(1 for o in others if o == a) / 3.0))
        return sum(accs) / len(accs)

    official = []
    for q in questions["questions"]:
        qid = str(q["question_id"])
        distinct = list(dict.fromkeys(gt[qid]))
        official.append({"id": qid, "media_id": f"COCO_val2014_{q['image_id']:012d}",
                         "media": f"{coco}val2014/COCO_val2014_{q['image_id']:012d}.jpg", "question": q["question"],
                         "answers": distinct, "scores": [official_score(gt[qid], a) for a in distinct],
                         "official_answers": gt[qid], "question_type": types[qid][0], "answer_type": types[qid][1]})
    expected["vqa/val2014"] = official
    train = qa_expected(vlt5_train, coco_image)
    # karpathy splits get the official answers of the questions the official files hold (none here: other ids)
    expected["vqa/karpathy_train"] = train
    expected["vqa/karpathy_test"] = qa_expected(vlt5_test, coco_image)

    gqa_train = [
        {"img_id": "2354786", "sent": "Is the sky dark?", "question_id": "02930152", "label": {"yes": 1.0}},
        {"img_id": "2368326", "sent": "What is on the white wall?", "question_id": "07333408", "label": {"pipe": 1.0}},
    ]
    gqa_testdev = [{"img_id": "n161313", "sent": "Is it overcast?", "question_id": "201307251",
                    "label": {"no": 1.0}}]
    write_json(os.path.join(root, "GQA/train.json"), gqa_train)
    write_json(os.path.join(root, "GQA/testdev.json"), gqa_testdev)
    expected["gqa/train"] = qa_expected(gqa_train, lambda r: f"VG/VG_100K/{r['img_id']}.jpg")
    expected["gqa/testdev"] = qa_expected(gqa_testdev, lambda r: f"GQA/images/{r['img_id']}.jpg")

    karpathy = {"dataset": "coco", "images": []}
    caption_images = [
        ("train2014", "COCO_train2014_000000000009.jpg", "train", [" A red bus on a street. ", "A bus.\n"]),
        ("train2014", "COCO_train2014_000000000025.jpg", "restval", ["Two giraffes, café au lait."]),
        ("val2014", "COCO_val2014_000000000042.jpg", "val", ["A kitchen.", "A small kitchen with a sink"]),
        ("val2014", "COCO_val2014_000000000073.jpg", "test", ["A plate of food"]),
        ("train2014", "COCO_train2014_000000000030.jpg", "test", ["  Text with spaces  ", "It's 3 o'clock"]),
    ]
    for k, (folder, name, split, sentences) in enumerate(caption_images):
        karpathy["images"].append({
            "filepath": folder, "filename": name, "split": split, "imgid": k, "cocoid": int(name[-10:-4]),
            "sentids": list(range(len(sentences))),
            "sentences": [{"raw": s, "tokens": s.lower().split(), "imgid": k, "sentid": j} for j, s in enumerate(sentences)]})
    write_json(os.path.join(root, "COCO/dataset_coco.json"), karpathy)
    for split in ("train", "val", "test"):
        out = []
        for folder, name, s, sentences in caption_images:
            renamed = "train" if s in ("train", "restval") else s
            if renamed != split:
                continue
            img_id = name.split(".")[0]
            media = f"{coco}{folder}/{name}"
            refs = [x.strip() for x in sentences]
            if split == "train":
                out += [{"id": f"{img_id}#{j}", "media_id": img_id, "media": media, "question": "", "answers": [r],
                         "scores": []} for j, r in enumerate(refs)]
            else:
                out.append({"id": img_id, "media_id": img_id, "media": media, "question": "", "answers": refs,
                            "scores": []})
        expected[f"coco-caption/{split}"] = out
    return expected


def make_videos(root, rng, tensors):
    """H.264 MP4 clips (as MSR-VTT) and an MPEG-4 AVI (as MSVD)."""
    clips = [("video7010.mp4", "libx264", 64, 48, 21), ("video7011.mp4", "libx264", 48, 32, 9),
             ("-4wsuPCjDBc_5_15.avi", "mpeg4", 56, 40, 17)]
    info = {}
    for name, codec, w, h, frames in clips:
        path = os.path.join(root, "videos/all", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        base = smooth_image(rng, h, w).astype(np.int16)
        with av.open(path, "w") as container:
            stream = container.add_stream(codec, rate=25)
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": "18", "bf": "2"}  # B-frames: decode order differs from presentation
            for t in range(frames):
                moved = np.roll(base, 2 * t, axis=1) + 6 * t
                frame = av.VideoFrame.from_ndarray(np.clip(moved, 0, 255).astype(np.uint8), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        with av.open(path) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        all_frames = torch.from_numpy(np.stack(decoded))  # [N, H, W, 3]
        tensors[f"frames/{name}"] = all_frames
        tchw = all_frames.permute(0, 3, 1, 2)
        middle = middle_indices(8, len(decoded))
        tensors[f"eval/{name}"] = tensor_resize(tchw[middle])
        H, W = h, w
        bh, bw = int(rng.integers(H // 2, H + 1)), int(rng.integers(W // 2, W + 1))
        top, left = int(rng.integers(0, H - bh + 1)), int(rng.integers(0, W - bw + 1))
        picked = sorted(int(i) for i in rng.integers(0, len(decoded), 4))
        tensors[f"train/{name}"] = tensor_resize(tchw[picked], (top, left, bh, bw), True)
        info[name] = {"frames": len(decoded), "middle": [int(i) for i in middle], "train_indices": picked,
                      "train_box": [top, left, bh, bw, 1]}
    return info


def make_video_annotations(root):
    qa_train = [{"video": "video7010.mp4", "sent": "what is moving?", "question_id": 1, "label": {"car": 1.0}},
                {"video": "video7011.mp4", "question": "who is talking", "question_id": 2, "label": {"man": 1.0}},
                {"video": "-4wsuPCjDBc_5_15.avi", "question": "what does a man do", "question_id": 3,
                 "label": {"play": 1.0}}]
    qa_test = [{"video": "video7010.mp4", "question": "what color is it?", "question_id": "q7",
                "label": {"red": 1.0}}]
    caption_train = [{"video": "video7010.mp4", "caption": ["a car drives", "a red car"]},
                     {"video": "video7011.mp4", "caption": "a man talks "},
                     {"video": "video7010.mp4", "caption": "a road"}]
    caption_test = [{"video": "-4wsuPCjDBc_5_15.avi", "caption": ["someone plays", " a man plays a guitar"]},
                    {"video": "video7011.mp4", "caption": "a man"},
                    {"video": "-4wsuPCjDBc_5_15.avi", "caption": "music"}]
    for split, records in (("qa_train", qa_train), ("qa_test", qa_test), ("caption_train", caption_train),
                           ("caption_test", caption_test)):
        write_json(os.path.join(root, f"annotation/{split}.json"), records)
    expected = {}
    for split, records in (("qa_train", qa_train), ("qa_test", qa_test)):
        expected[f"msrvtt-qa/{split}"] = [
            {"id": str(r["question_id"]), "media_id": r["video"].split(".")[0], "media": f"videos/all/{r['video']}",
             "question": r.get("sent", r.get("question")), "answers": list(r["label"]),
             "scores": list(r["label"].values())} for r in records]
    expected["msrvtt-caption/caption_train"] = [
        {"id": "video7010#0", "media_id": "video7010", "media": "videos/all/video7010.mp4", "question": "",
         "answers": ["a car drives"], "scores": []},
        {"id": "video7010#1", "media_id": "video7010", "media": "videos/all/video7010.mp4", "question": "",
         "answers": ["a red car"], "scores": []},
        {"id": "video7010#2", "media_id": "video7010", "media": "videos/all/video7010.mp4", "question": "",
         "answers": ["a road"], "scores": []},
        {"id": "video7011#0", "media_id": "video7011", "media": "videos/all/video7011.mp4", "question": "",
         "answers": ["a man talks"], "scores": []}]
    expected["msvd-caption/caption_test"] = [
        {"id": "-4wsuPCjDBc_5_15", "media_id": "-4wsuPCjDBc_5_15", "media": "videos/all/-4wsuPCjDBc_5_15.avi",
         "question": "", "answers": ["someone plays", "a man plays a guitar", "music"], "scores": []},
        {"id": "video7011", "media_id": "video7011", "media": "videos/all/video7011.mp4", "question": "",
         "answers": ["a man"], "scores": []}]
    return expected


def make_audio(root, rng, tensors):
    """AudioCaps-like clips: 16-bit WAV, 24-bit FLAC (stereo), float WAV at another rate."""
    clips = [("audios/train/YAbc_30.wav", 16000, 1, "PCM_16", 1.3), ("audios/train/YDef_0.flac", 16000, 2, "PCM_24", 0.9),
             ("audios/test/YGhi_10.wav", 22050, 1, "FLOAT", 0.7)]
    info = {}
    extractor = transformers.ASTFeatureExtractor()
    for relative, rate, channels, subtype, seconds in clips:
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        n = int(rate * seconds)
        t = np.arange(n) / rate
        signal = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) + 0.05 * rng.normal(size=n)
                           for c in range(channels)], -1)
        soundfile.write(path, signal.astype(np.float32), rate, subtype=subtype)
        wave, sr = soundfile.read(path, dtype="float32", always_2d=True)
        tensors[f"waveform/{relative}"] = torch.from_numpy(wave.T.copy())
        info[relative] = {"sample_rate": sr}
        if sr == 16000:  # ASTFeatureExtractor knows 16 kHz only
            channel0 = (wave.T - wave.mean())[0]
            feats = extractor(channel0, sampling_rate=16000, return_tensors="np")["input_values"][0]
            tensors[f"features/{relative}"] = torch.from_numpy(feats.astype(np.float32))
    return info


def make_audio_annotations(root):
    train = [{"audio": "train/YAbc_30.wav", "caption": "a dog barks"},
             {"audio": "train/YDef_0.flac", "caption": ["wind blows", " birds sing "]}]
    test = [{"audio": "test/YGhi_10.wav", "caption": ["rain falls", "thunder", "water", "rain", "storm"]}]
    write_json(os.path.join(root, "annotation/train.json"), train)
    write_json(os.path.join(root, "annotation/test.json"), test)
    return {
        "audiocaps/train": [
            {"id": "train/YAbc_30#0", "media_id": "train/YAbc_30", "media": "audios/train/YAbc_30.wav", "question": "",
             "answers": ["a dog barks"], "scores": []},
            {"id": "train/YDef_0#0", "media_id": "train/YDef_0", "media": "audios/train/YDef_0.flac", "question": "",
             "answers": ["wind blows"], "scores": []},
            {"id": "train/YDef_0#1", "media_id": "train/YDef_0", "media": "audios/train/YDef_0.flac", "question": "",
             "answers": ["birds sing"], "scores": []}],
        "audiocaps/test": [
            {"id": "test/YGhi_10", "media_id": "test/YGhi_10", "media": "audios/test/YGhi_10.wav", "question": "",
             "answers": ["rain falls", "thunder", "water", "rain", "storm"], "scores": []}],
    }


def main():
    out = sys.argv[1]
    stamp_path = os.path.join(out, "STAMP")
    digest = hashlib.sha256(open(__file__, "rb").read()).hexdigest()
    stamp = (f"{digest} pillow {PIL.__version__} av {av.__version__} soundfile {soundfile.__version__} "
             f"torch {torch.__version__} transformers {transformers.__version__}\n")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print(f"{out} is current")
        return
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    rng = np.random.default_rng(20231001)
    expected = {}

    root = os.path.join(out, "root")
    images = {}
    paths = []
    boxes = make_images(root, rng, images, paths)
    expected.update(make_image_annotations(root))
    save_file({k: v.contiguous() for k, v in images.items()}, os.path.join(out, "images.safetensors"))

    video_root = os.path.join(out, "video")
    videos = {}
    video_info = make_videos(video_root, rng, videos)
    expected.update(make_video_annotations(video_root))
    save_file({k: v.contiguous() for k, v in videos.items()}, os.path.join(out, "videos.safetensors"))

    audio_root = os.path.join(out, "audio")
    audio = {}
    audio_info = make_audio(audio_root, rng, audio)
    expected.update(make_audio_annotations(audio_root))
    save_file({k: v.contiguous() for k, v in audio.items()}, os.path.join(out, "audio.safetensors"))

    write_json(os.path.join(out, "expected.json"), {
        "splits": expected, "images": paths, "crop_boxes": boxes, "videos": video_info, "audio": audio_info,
        "versions": {"pillow": PIL.__version__, "av": av.__version__, "ffmpeg": str(av.library_versions["libavcodec"]),
                     "soundfile": soundfile.__version__}})
    open(stamp_path, "w").write(stamp)
    print(f"wrote {out}: {len(paths)} images, {len(video_info)} clips, {len(audio_info)} audio files, "
          f"{len(expected)} splits")


if __name__ == "__main__":
    main()
