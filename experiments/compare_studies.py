#!/usr/bin/python3
"""One table comparing `surge run` results directories (Debian's python3-h5py), per channel:

  validation   the final validation relative L2: for field-from-parameters models over every
               frame of the validation members, for next-step models over one-step pairs
  rollout mean next-step models: relative L2 of the autoregressive rollout from the initial
               state, mean over every horizon (to set beside an MLP's validation error, a
               mean over every frame of the same members, the initial one included)
  rollout end  the same at the last frame; VRMSE likewise

usage: /usr/bin/python3 experiments/compare_studies.py DIR [DIR ...] [--markdown]
"""
import os
import sys

import h5py
import numpy as np


def names(group):
    return [n.decode() if isinstance(n, bytes) else n for n in group.attrs["field_names"]]


def rows(directory):
    with h5py.File(os.path.join(directory, "results.h5"), "r") as f:
        study = f.attrs["study"]
        kind = f.attrs.get("model_kind", "field_from_parameters")
        arch = "mlp"
        for line in f.attrs["surge_config"].splitlines():
            if line.startswith("model:"):
                arch = None
            elif arch is None and line.strip().startswith("type:"):
                arch = line.split(":", 1)[1].strip()
        v = f["final_validation"]
        rel, vrmse = v["relative_l2"][:], v["vrmse"][:]
        r = f["rollout"] if "rollout" in f else None
        for k, channel in enumerate(names(v)):
            row = {"study": study, "model": arch, "kind": kind, "channel": channel,
                   "validation": rel[k], "validation_vrmse": vrmse[k],
                   "seconds": float(f.attrs["wall_seconds"]), "batches": int(f.attrs["batches"])}
            if r is not None:
                rr, rv = r["relative_l2"][:, k], r["vrmse"][:, k]
                row.update(rollout_mean=rr.mean(), rollout_end=rr[-1], vrmse_end=rv[-1],
                           horizon=int(r["horizon"][-1]))
            yield row


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    header = ["study", "model", "channel", "validation rel. L2", "rollout mean rel. L2",
              "rollout end rel. L2", "rollout end VRMSE", "time"]
    lines = []
    for d in args:
        for row in rows(d):
            pct = lambda x: f"{100 * x:.2f} %"
            lines.append([row["study"], row["model"], row["channel"],
                          pct(row["validation"]) + (" (one-step)" if "rollout_mean" in row else ""),
                          pct(row["rollout_mean"]) if "rollout_mean" in row else "",
                          f"{pct(row['rollout_end'])} ({row['horizon']} steps)"
                          if "rollout_end" in row else "",
                          f"{row['vrmse_end']:.3f}" if "vrmse_end" in row else "",
                          f"{row['seconds']:.0f} s, {row['batches']} batches"])
    if "--markdown" in sys.argv:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for l in lines:
            print("| " + " | ".join(l) + " |")
    else:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
        for l in [header] + lines:
            print("  ".join(str(x).ljust(w) for x, w in zip(l, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
