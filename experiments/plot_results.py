#!/usr/bin/python3
"""Plots of a `surge run` results directory (Debian's python3-h5py and python3-matplotlib).

usage: /usr/bin/python3 experiments/plot_results.py <output_dir>

Reads <output_dir>/results.h5 and writes into <output_dir>/plots/:
  training.png     training loss and validation relative L2 error against batches
  throughput.png   samples/s of the trainer and reservoir occupancy against wall time
  prediction.png   truth / prediction / error of the last frame of a validation member, per
                   channel (for next_step models: the last frame of its rollout)
  rollout.png      next_step models: truth / rollout / error at three times, per channel
  rollout_error.png  next_step models: rollout relative L2 error against horizon, per channel
  member_loss.png  training members over the first two ranged parameters, coloured by their
                   training loss (members/training_loss) and, beside it, by their fresh-loss
                   ratio (members/fresh_loss_ratio, the breed statistic); validation members as
                   crosses (none when fewer than two parameters are ranged)
"""
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.tri  # noqa: E402
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


def plot_member_loss(f, out):
    m = f["members"]
    if "training_loss" not in m:
        return False
    params = m["parameters"][:]
    names = [n.decode() if isinstance(n, bytes) else n for n in m.attrs["parameter_names"]]
    ranged = [k for k in range(params.shape[1]) if np.ptp(params[:, k]) > 0]
    if len(ranged) < 2:
        return False
    i, j = ranged[:2]
    loss = m["training_loss"][:]
    trained = np.isfinite(loss) & (loss > 0)
    if not trained.any():
        return False
    # The training loss, and the breed sampler's statistic where results.h5 has it.
    panels = [(loss, "member training loss (mean per sample)")]
    if "fresh_loss_ratio" in m:
        panels.append((m["fresh_loss_ratio"][:], "fresh-loss ratio (the breed statistic)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (value, label) in zip(axes[0], panels):
        shown = trained & np.isfinite(value) & (value > 0)
        sc = ax.scatter(params[shown, i], params[shown, j], c=value[shown], s=18,
                        cmap="viridis", norm=matplotlib.colors.LogNorm())
        ax.scatter(params[~trained, i], params[~trained, j], marker="x", s=14, c="k", lw=0.8,
                   label="validation members")
        fig.colorbar(sc, ax=ax, label=label)
        ax.set_xlabel(names[i])
        ax.set_ylabel(names[j])
        ax.legend(loc="best", fontsize=8)
        ax.set_title(f.attrs.get("study", "surge run"))
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return True


def names_of(group):
    return [n.decode() if isinstance(n, bytes) else n for n in group.attrs["field_names"]]


def frames_of(p, key):
    """[members, frames, channels, nx, ny], whatever the number of channels."""
    data = p[key][:]
    return data[:, :, None] if data.ndim == 4 else data


def mesh_triangles(f):
    """The triangles of results.h5's mesh/ (fields on its nodes), or None on a grid: every
    three nodes joined pairwise by edges of the mesh (its cells, for a triangulation)."""
    if "mesh" not in f:
        return None
    m = f["mesh"]
    x, y = m["x"][:], m["y"][:]
    neighbours = [set() for _ in x]
    for a, b in m["edges"][:].tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    triangles = [(a, b, c) for a in range(len(x)) for b in neighbours[a] if b > a
                 for c in neighbours[a] & neighbours[b] if c > b]
    if not triangles:
        return None
    return matplotlib.tri.Triangulation(x, y, np.array(triangles))


def field_panel(fig, ax, data, title, cmap, lim, tri=None):
    """A field [nx, ny] (axis 0 is x, drawn to the right; y upwards; grid point (i, j) at
    (i / (nx - 1), j / (ny - 1)), as in dimensions/ of surge's files), or on the nodes of `tri`."""
    if tri is not None:
        im = ax.tripcolor(tri, data.reshape(-1), shading="gouraud", cmap=cmap, vmin=lim[0],
                          vmax=lim[1])
        ax.set_aspect("equal")
    else:
        hx, hy = (0.5 / max(n - 1, 1) for n in data.shape)
        im = ax.imshow(data.T, origin="lower", cmap=cmap, vmin=lim[0], vmax=lim[1],
                       extent=(-hx, 1 + hx, -hy, 1 + hy))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(im, ax=ax, shrink=0.8)


def plot_fields(f, out, frame_indices, label):
    """Rows: channels; columns: truth / prediction / error at each frame index."""
    p = f["predictions"]
    truth, pred = frames_of(p, "truth")[0], frames_of(p, "prediction")[0]
    names = names_of(p)
    times = p["time"][:]
    tri = mesh_triangles(f)
    cols = 3 * len(frame_indices)
    fig, axes = plt.subplots(len(names), cols, figsize=(2.4 * cols, 2.1 * len(names)),
                             squeeze=False)
    for c, name in enumerate(names):
        for j, k in enumerate(frame_indices):
            t, y = truth[k, c], pred[k, c]
            err = y - t
            lim = (t.min(), t.max())
            e = max(abs(err).max(), 1e-30)
            field_panel(fig, axes[c, 3 * j], t, f"{name} truth t={times[k]:.3g}", "inferno", lim,
                        tri)
            field_panel(fig, axes[c, 3 * j + 1], y, f"{name} {label}", "inferno", lim, tri)
            field_panel(fig, axes[c, 3 * j + 2], err, f"{name} error", "RdBu_r", (-e, e), tri)
    rel = np.linalg.norm(pred[frame_indices[-1]] - truth[frame_indices[-1]]) / max(
        np.linalg.norm(truth[frame_indices[-1]]), 1e-30)
    fig.suptitle(f"validation simulation {int(p['simulation_id'][0])}: {label}, "
                 f"relative L2 error of the last frame shown {100 * rel:.2f} %")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def plot_prediction(f, out):
    if "predictions" not in f or len(f["predictions/simulation_id"]) == 0:
        return False
    label = "rollout" if f.attrs.get("model_kind", "") == "next_step" else "prediction"
    plot_fields(f, out, [frames_of(f["predictions"], "truth").shape[1] - 1], label)
    return True


def plot_rollout(f, out_fields, out_error):
    if "rollout" not in f:
        return False
    r = f["rollout"]
    fig, ax = plt.subplots(figsize=(7, 4))
    rel = r["relative_l2"][:]
    for k, name in enumerate(names_of(r)):
        ax.semilogy(r["horizon"][:], rel[:, k], "o-", ms=3, label=name)
    ax.set_xlabel("rollout steps from the initial state")
    ax.set_ylabel("relative L2 error (validation mean)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_error, dpi=120)
    plt.close(fig)
    frames = frames_of(f["predictions"], "truth").shape[1]
    plot_fields(f, out_fields, sorted({1, frames // 2, frames - 1}), "rollout")
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
        rolled = plot_rollout(f, os.path.join(plots, "rollout.png"),
                              os.path.join(plots, "rollout_error.png"))
        scattered = plot_member_loss(f, os.path.join(plots, "member_loss.png"))
    print(f"plot_results: wrote {plots}/training.png, throughput.png"
          + (", prediction.png" if made else "")
          + (", rollout.png, rollout_error.png" if rolled else "")
          + (", member_loss.png" if scattered else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
