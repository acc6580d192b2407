#!/usr/bin/python3
"""Plots of a `surge run` results directory (Debian's python3-h5py and python3-matplotlib).

usage: /usr/bin/python3 experiments/plot_results.py <output_dir>

Reads <output_dir>/results.h5 and writes into <output_dir>/plots/:
  training.png     training loss and validation relative L2 error against batches
  throughput.png   samples/s of the trainer and reservoir occupancy against wall time
  prediction.png   truth / prediction / error of the last frame of a validation member
"""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_training(f, out):
    t = f["training"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(t["batch"][:], t["loss"][:], lw=0.8, label="training loss (normalised MSE)")
    if "validation" in f and len(f["validation/batch"]) > 0:
        v = f["validation"]
        names = [n.decode() if isinstance(n, bytes) else n for n in v.attrs["field_names"]]
        rel = v["relative_l2"][:]
        for k, name in enumerate(names):
            ax.semilogy(v["batch"][:], rel[:, k], "o-", ms=3, label=f"validation relative L2 ({name})")
    ax.set_xlabel("batch")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(f.attrs.get("study", "surge run"))
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_throughput(f, out):
    t = f["training"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(t["wall_time_s"][:], t["samples_per_s"][:], lw=0.8, color="C0")
    ax.set_xlabel("wall time [s]")
    ax.set_ylabel("trainer samples/s", color="C0")
    if "buffer_occupancy" in t:
        ax2 = ax.twinx()
        ax2.plot(t["wall_time_s"][:], t["buffer_occupancy"][:], lw=0.8, color="C1")
        ax2.set_ylabel("reservoir occupancy [samples]", color="C1")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_prediction(f, out):
    if "predictions" not in f or len(f["predictions/simulation_id"]) == 0:
        return False
    p = f["predictions"]
    truth = p["truth"][0, -1]
    pred = p["prediction"][0, -1]
    err = pred - truth
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    vmin, vmax = truth.min(), truth.max()
    for ax, data, title, cmap, lim in (
        (axes[0], truth, "truth", "inferno", (vmin, vmax)),
        (axes[1], pred, "prediction", "inferno", (vmin, vmax)),
        (axes[2], err, "prediction - truth", "RdBu_r", (-abs(err).max(), abs(err).max())),
    ):
        im = ax.imshow(data.T, origin="lower", cmap=cmap, vmin=lim[0], vmax=lim[1],
                       extent=(0, 1, 0, 1))
        ax.set_title(title)
        ax.set_xlabel("x")
        fig.colorbar(im, ax=ax, shrink=0.85)
    axes[0].set_ylabel("y")
    rel = np.linalg.norm(err) / max(np.linalg.norm(truth), 1e-30)
    fig.suptitle(f"validation simulation {int(p['simulation_id'][0])}, last frame, "
                 f"relative L2 error {100 * rel:.2f} %")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return True


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    directory = sys.argv[1]
    path = os.path.join(directory, "results.h5")
    if not os.path.exists(path):
        print(f"plot_results: no {path}", file=sys.stderr)
        return 1
    plots = os.path.join(directory, "plots")
    os.makedirs(plots, exist_ok=True)
    with h5py.File(path, "r") as f:
        plot_training(f, os.path.join(plots, "training.png"))
        plot_throughput(f, os.path.join(plots, "throughput.png"))
        made = plot_prediction(f, os.path.join(plots, "prediction.png"))
    print(f"plot_results: wrote {plots}/training.png, throughput.png"
          + (", prediction.png" if made else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
