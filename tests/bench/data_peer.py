"""The PyTorch peer of `epalm bench data` / `data-video`, and the maker of its media.

  data_peer.py make --dir D --kind image|video --count N
      writes a dataset root: N COCO-sized JPEGs (640x480, quality 90) under
      COCO/images/val2014 with vqa/bench.json (VL-T5 records), or N MSR-VTT-like
      clips (320x240 H.264 MP4, 30 fps, 5 s) under videos/all with annotation/bench.json.
  data_peer.py time --dir D --kind ... --batch B --workers W [--warmup --repetitions --frames F]
      times one pass over it with torch.utils.data.DataLoader(num_workers=W,
      persistent workers, pin_memory off) running the eP-ALM reference's
      evaluation transforms: PIL open/convert/Resize((224,224), bicubic) +
      ToTensor + Normalize; for clips PyAV decoding of the 'middle' frames (the
      reference uses decord, not on PyPI for this Python) + torchvision's tensor
      Resize. Prints the record epalm reads (peer_timing.measure).
"""
import argparse
import json
import os
import sys

import numpy as np

from peer_timing import measure

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def picture(rng, h, w):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([127 + 100 * np.sin(rng.uniform(0.01, 0.1) * x + c) * np.cos(rng.uniform(0.01, 0.1) * y)
                    for c in range(3)], -1)
    img += rng.normal(0, 10, (h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def make(a):
    rng = np.random.default_rng(0)
    if a.kind == "image":
        from PIL import Image
        folder = os.path.join(a.dir, "COCO/images/val2014")
        os.makedirs(folder, exist_ok=True)
        os.makedirs(os.path.join(a.dir, "vqa"), exist_ok=True)
        records = []
        base = [picture(rng, 480, 640) for _ in range(4)]
        for i in range(a.count):
            name = f"COCO_val2014_{i:012d}"
            img = np.roll(base[i % 4], 7 * i, axis=1)
            Image.fromarray(img).save(os.path.join(folder, name + ".jpg"), "JPEG", quality=90)
            records.append({"img_id": name, "sent": "What is it?", "question_id": i, "label": {"yes": 1.0}})
        with open(os.path.join(a.dir, "vqa/bench.json"), "w") as f:
            json.dump(records, f)
    else:
        import av
        folder = os.path.join(a.dir, "videos/all")
        os.makedirs(folder, exist_ok=True)
        os.makedirs(os.path.join(a.dir, "annotation"), exist_ok=True)
        base = picture(rng, 240, 320)
        records = []
        for i in range(a.count):
            path = os.path.join(folder, f"video{i}.mp4")
            with av.open(path, "w") as container:
                stream = container.add_stream("libx264", rate=30)
                stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
                for t in range(150):
                    frame = av.VideoFrame.from_ndarray(np.roll(base, 3 * t + i, axis=1), format="rgb24")
                    for packet in stream.encode(frame):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
            records.append({"video": f"video{i}.mp4", "question": "what is it", "question_id": i,
                            "label": {"a": 1.0}})
        with open(os.path.join(a.dir, "annotation/bench.json"), "w") as f:
            json.dump(records, f)
    # A record epalm's peer runner can read: nothing timed.
    json.dump({"times_s": [], "rss_before_bytes": 0, "peak_rss_bytes": 0, "made": a.count}, sys.stdout)
    sys.stdout.write("\n")


class ImageSet:
    def __init__(self, root):
        self.paths = sorted(os.path.join(root, "COCO/images/val2014", n)
                            for n in os.listdir(os.path.join(root, "COCO/images/val2014")))

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import torch
        from PIL import Image
        img = Image.open(self.paths[i]).convert("RGB").resize((224, 224), Image.BICUBIC)
        t = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div(255)
        return (t - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]


class ClipSet:
    def __init__(self, root, frames):
        folder = os.path.join(root, "videos/all")
        self.paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
        self.frames = frames

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        import av
        import torch
        import torch.nn.functional as F
        with av.open(self.paths[i]) as c:
            vlen = sum(1 for p in c.demux(video=0) if p.size > 0)
        edges = np.linspace(0, vlen, self.frames + 1).astype(int)
        wanted = [(edges[k] + edges[k + 1] - 1) // 2 for k in range(self.frames)]
        frames = []
        with av.open(self.paths[i]) as c:
            for n, frame in enumerate(c.decode(video=0)):
                while len(frames) < len(wanted) and wanted[len(frames)] == n:
                    frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) == len(wanted):
                    break
        x = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=[224, 224], mode="bicubic", align_corners=False).clamp(0, 255).round().div(255)
        return (x - torch.tensor(MEAN)[None, :, None, None]) / torch.tensor(STD)[None, :, None, None]


def time_it(a):
    import torch
    torch.set_num_threads(1)  # the workers' parallelism is across samples, as ours
    dataset = ImageSet(a.dir) if a.kind == "image" else ClipSet(a.dir, a.frames)
    loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch, num_workers=a.workers,
                                         persistent_workers=a.workers > 0)

    def once():
        n = 0
        for batch in loader:
            n += batch.shape[0]
        return n

    result, count = measure(once, a.warmup, a.repetitions, torch.device("cpu"))
    result["digest"] = {"samples": count}
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("action", choices=["make", "time"])
    p.add_argument("--dir", required=True)
    p.add_argument("--kind", choices=["image", "video"], default="image")
    p.add_argument("--count", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repetitions", type=int, default=3)
    a = p.parse_args()
    make(a) if a.action == "make" else time_it(a)


if __name__ == "__main__":
    main()
