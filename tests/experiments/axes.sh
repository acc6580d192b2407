#!/usr/bin/env bash
# Issue 32, one axis convention end to end (axes.yaml): members send u as [nx, ny] = [11, 6]
# with a hot spot at (x, y) = (0.4, 0.6). It must be at (0.4, 0.6), not (0.6, 0.4), in
#   1. results.h5 predictions/truth (what the plots read): index (4, 3) of [nx, ny];
#   2. the plot: plot_results.py's panel of that frame, its brightest pixel's centre;
#   3. the file of `surge predict`: the maximum of t0_fields/u at dimensions/x = 0.4,
#      dimensions/y = 0.6, at every frame.
# Counts are exact (check_results.py: 5 members x 4 frames).
# usage: axes.sh <surge> <source dir>
set -euo pipefail
surge=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$src/tests/experiments
"$surge" run "$here/axes.yaml" study.output_dir="$tmp/out" </dev/null
/usr/bin/python3 "$here/check_results.py" "$tmp/out" 4 0:1 1:1 2:1 3:1 4:1
"$surge" predict "$tmp/out/model" amp=1.2 --out "$tmp/pred.h5" --log-level warn
/usr/bin/python3 - "$src/experiments" "$tmp/out/results.h5" "$tmp/pred.h5" <<'PY'
import sys
import h5py
import numpy as np
sys.path.insert(0, sys.argv[1])
import plot_results  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
def fail(m):
    print("FAIL:", m)
    sys.exit(1)
with h5py.File(sys.argv[2], "r") as f:
    truth = f["predictions/truth"][0]  # [frames, nx, ny]
if truth.shape[1:] != (11, 6):
    fail(f"results.h5 predictions/truth frames of shape {truth.shape[1:]}, not [nx, ny] = (11, 6)")
for k, frame in enumerate(truth):
    at = np.unravel_index(np.argmax(frame), frame.shape)
    if at != (4, 3):
        fail(f"results.h5 frame {k}: the hot spot is at index {at}, not (4, 3) = (0.4, 0.6)")
fig, ax = plt.subplots()
plot_results.field_panel(fig, ax, truth[0], "u", "inferno", (truth[0].min(), truth[0].max()))
image = ax.get_images()[0]
drawn = np.asarray(image.get_array())
x0, x1, y0, y1 = image.get_extent()
row, col = np.unravel_index(np.argmax(drawn), drawn.shape)
rows, cols = drawn.shape
# origin="lower": row 0 is drawn at the bottom.
x = x0 + (col + 0.5) * (x1 - x0) / cols
y = y0 + (row + 0.5) * (y1 - y0) / rows if image.origin == "lower" else \
    y1 - (row + 0.5) * (y1 - y0) / rows
if abs(x - 0.4) > 1e-6 or abs(y - 0.6) > 1e-6:
    fail(f"the plot draws the hot spot at ({x:.3f}, {y:.3f}), not (0.4, 0.6)")
print(f"plot: the hot spot drawn at ({x:.3f}, {y:.3f})")
with h5py.File(sys.argv[3], "r") as p:
    u, xs, ys = p["t0_fields/u"][0], p["dimensions/x"][:], p["dimensions/y"][:]
if u.shape[1:] != (11, 6) or len(xs) != 11 or len(ys) != 6:
    fail(f"surge predict wrote u {u.shape} on x {len(xs)}, y {len(ys)}")
for k, frame in enumerate(u):
    i, j = np.unravel_index(np.argmax(frame), frame.shape)
    if abs(xs[i] - 0.4) > 1e-6 or abs(ys[j] - 0.6) > 1e-6:
        fail(f"surge predict frame {k}: the hot spot is at ({xs[i]:.3f}, {ys[j]:.3f}), "
             "not (0.4, 0.6)")
print(f"ok: the hot spot is at (0.4, 0.6) in results.h5, the plot and {len(u)} predicted frames")
PY
