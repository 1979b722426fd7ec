"""Decodes a PNG the way any viewer does (Pillow) and reports what is drawn.

usage: check_png.py FILE.png [JSON]

JSON (optional): {"colours": [[r, g, b], ...] (0..1), "points": [[x, y, series], ...]}.
Prints {"width", "height", "mode", "colour_pixels": [count per colour],
"points_drawn": how many points have their series' colour within 2 pixels,
"distinct_colours"}. A channel matches within 3/255 (Cairo rounds through 16 bits).
"""
import json
import sys

import numpy as np
from PIL import Image


def main():
    image = Image.open(sys.argv[1])
    image.load()
    mode = image.mode
    rgb = np.asarray(image.convert("RGB"), dtype=np.int32)
    spec = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {"colours": [], "points": []}
    colours = [np.round(np.array(c) * 255).astype(np.int32) for c in spec.get("colours", [])]

    def matches(pixels, colour):
        return np.all(np.abs(pixels - colour) <= 3, axis=-1)

    counts = [int(matches(rgb, c).sum()) for c in colours]
    drawn = 0
    for x, y, series in spec.get("points", []):
        x, y = int(round(x)), int(round(y))
        window = rgb[max(0, y - 2):y + 3, max(0, x - 2):x + 3]
        drawn += bool(matches(window, colours[series]).any())
    distinct = len(np.unique(rgb.reshape(-1, 3), axis=0))
    print(json.dumps({"width": image.width, "height": image.height, "mode": mode, "colour_pixels": counts,
                      "points_drawn": drawn, "distinct_colours": distinct}))


if __name__ == "__main__":
    main()
