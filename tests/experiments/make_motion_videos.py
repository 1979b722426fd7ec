"""Videos of a square moving right or left (label 0: horizontal) or down or up
(label 1: vertical), for the TimeSformer pretraining test: no single frame
tells the label. Written with PyAV (H.264 MP4).

usage: make_motion_videos.py OUTPUT_DIR
Writes OUTPUT_DIR/<i>.mp4 and OUTPUT_DIR/labels.json, a list of
{"path", "label", "split"} ("train" or "heldout"). Skips the work when
OUTPUT_DIR/stamp matches this script and PyAV's version.
"""
import hashlib
import json
import os
import sys

import av
import numpy as np

SIZE, FRAMES, SQUARE, STEP = 64, 8, 24, 5
DIRECTIONS = [(0, 1), (0, -1), (1, 0), (-1, 0)]  # (dy, dx): right, left, down, up
TRAIN, HELDOUT = 256, 64


def write(path, direction, rng):
    dy, dx = DIRECTIONS[direction]
    colour = rng.integers(96, 256, size=3)
    travel = STEP * (FRAMES - 1)
    # A start from which the whole path stays inside the picture.
    y0 = rng.integers(0, SIZE - SQUARE + 1) if dy == 0 else (0 if dy > 0 else travel) + rng.integers(0, SIZE - SQUARE - travel + 1)
    x0 = rng.integers(0, SIZE - SQUARE + 1) if dx == 0 else (0 if dx > 0 else travel) + rng.integers(0, SIZE - SQUARE - travel + 1)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = SIZE, SIZE, "yuv420p"
        stream.options = {"crf": "12"}
        for t in range(FRAMES):
            picture = np.zeros((SIZE, SIZE, 3), np.uint8)
            y, x = y0 + dy * STEP * t, x0 + dx * STEP * t
            picture[y:y + SQUARE, x:x + SQUARE] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    stamp = hashlib.sha256(open(__file__, "rb").read()).hexdigest() + " av " + av.__version__ + "\n"
    stamp_path = os.path.join(out, "stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print("motion videos up to date in", out)
        return
    rng = np.random.default_rng(0)
    records = []
    for i in range(TRAIN + HELDOUT):
        direction = i % len(DIRECTIONS)
        path = os.path.join(out, f"{i}.mp4")
        write(path, direction, rng)
        records.append({"path": path, "label": direction // 2, "direction": direction,
                        "split": "train" if i < TRAIN else "heldout"})
    json.dump(records, open(os.path.join(out, "labels.json"), "w"), indent=1)
    open(stamp_path, "w").write(stamp)
    print(len(records), "motion videos written to", out)


if __name__ == "__main__":
    main()
