#!/usr/bin/python3
"""Halton against breed on heat2d_alpha.yaml: the same member count, batch budget and
validation members (drawn uniformly over the whole box from their own stream of the seed),
three seeds each.

usage: experiments/adaptive_sampling/compare.py [--surge build/bin/surge] [--out DIR]
                                                [--seeds 1 2 3] [--breed YAML-MAP]
                                                [KEY=VALUE ...]

Then the mean validation error in each (alpha, ic) cell over the seeds, with the training
members run there per seed: where each sampler leaves its error.

KEY=VALUE: overrides of heat2d_alpha.yaml given to both samplers' runs (a larger ensemble,
say: parameters.train_members=256).

For each run, from results.h5 final_validation/relative_l2_per_member: the mean validation
relative L2 error over the validation members, and the worst-decile error (the mean over the
worst tenth of them, at least one); then the means over the seeds of each sampler and the
ratios breed / halton. Prints a markdown table; each run's plots (member_loss.png: the
training members over (ic, alpha) coloured by their training loss and by their fresh-loss
ratio, the breed statistic) stay in DIR/<run>/plots.
"""
import argparse
import os
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BREED = "{type: breed, parameters: {generation: 32, ramp: 64, exploration: 0.7, sigma: 0.05}}"


def run(surge, out, name, sampler, seed, overrides):
    d = os.path.join(out, f"{name}_seed{seed}")
    cmd = [surge, "run", os.path.join(HERE, "heat2d_alpha.yaml"), f"study.output_dir={d}",
           f"study.seed={seed}", f"parameters.sampler={sampler}", *overrides, "--overwrite"]
    t0 = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - t0
    with h5py.File(os.path.join(d, "results.h5"), "r") as f:
        per = f["final_validation/relative_l2_per_member"][:, 0]
        ids = f["final_validation/simulation_id"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in f["members"].attrs["parameter_names"]]
        role = [r.decode() if isinstance(r, bytes) else r for r in f["members"].attrs["role"]]
        params = f["members/parameters"][:]
        alpha = params[:, names.index("alpha")]
        ic = params[:, names.index("ic")]
        # The members that ran: a member still pending when training stopped is in the table
        # (Halton's are all drawn up front) but delivered nothing.
        ran = np.array([r == "train" for r in role]) & (f["members/samples"][:] > 0)
        train_alpha = alpha[ran]
        validation = params[[r == "validation" for r in role]]
        # final_validation's rows follow its simulation ids: the members' (alpha, ic) by id.
        by_id = {int(i): k for k, i in enumerate(f["members/simulation_id"][:])}
        rows_of = [by_id[int(i)] for i in ids]
        judged = (alpha[rows_of], ic[rows_of])
        trained = (alpha[ran], ic[ran])
        batches = int(f.attrs["batches"])
        train_wall = f["training/wall_time_s"][-1]
    worst = np.sort(per)[::-1][:max(1, len(per) // 10)]
    return {"dir": d, "mean": float(per.mean()), "worst": float(worst.mean()), "wall": wall,
            "train_wall": float(train_wall), "batches": batches, "members": len(train_alpha),
            "ids": ids.tolist(),
            "validation": validation.tolist(), "low_alpha": float(np.mean(train_alpha < 0.1)),
            "per": per, "judged": judged, "trained": trained}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--surge", default=os.path.join(ROOT, "build", "bin", "surge"))
    p.add_argument("--out", default="/tmp/adaptive_sampling")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--breed", default=BREED)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    a = p.parse_args()
    rows = {}
    for name, sampler in [("halton", "{type: halton}"), ("breed", a.breed)]:
        rows[name] = []
        for seed in a.seeds:
            r = run(a.surge, a.out, name, sampler, seed, a.overrides)
            rows[name].append(r)
            print(f"{name} seed {seed}: mean {100 * r['mean']:.2f} %, worst decile "
                  f"{100 * r['worst']:.2f} %, {r['batches']} batches, {r['members']} training "
                  f"members ran ({100 * r['low_alpha']:.0f} % with alpha < 0.1), {r['wall']:.0f} s "
                  f"({r['train_wall']:.1f} s training)",
                  file=sys.stderr)
    for h, b in zip(rows["halton"], rows["breed"]):
        if h["validation"] != b["validation"]:
            sys.exit(f"FAIL: {h['dir']} and {b['dir']} were judged on different validation members")
    print("| sampler | seed | training members run: share with alpha < 0.1 | batches | mean rel. L2 | "
          "worst-decile rel. L2 | wall |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        for seed, r in zip(a.seeds, runs):
            print(f"| {name} | {seed} | {100 * r['low_alpha']:.0f} % of {r['members']} | "
                  f"{r['batches']} | {100 * r['mean']:.2f} % | {100 * r['worst']:.2f} % | "
                  f"{r['wall']:.0f} s |")
    mean = {n: np.mean([r["mean"] for r in rs]) for n, rs in rows.items()}
    worst = {n: np.mean([r["worst"] for r in rs]) for n, rs in rows.items()}
    for n in rows:
        print(f"| **{n}, mean of seeds** | | | | {100 * mean[n]:.2f} % | {100 * worst[n]:.2f} % | |")
    print(f"\nbreed / halton: mean {mean['breed'] / mean['halton']:.2f}x, worst decile "
          f"{worst['breed'] / worst['halton']:.2f}x (target: worst decile <= 0.7x, mean <= 1x)")
    print_cells(rows)


ALPHA_BANDS = [0.01, 0.02, 0.05, 0.1, 0.3, 1.0]
IC_BANDS = [100, 200, 300, 500]


def band(values, edges):
    """Each value's band among edges[k] <= v < edges[k + 1], the top edge in the last band."""
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def print_cells(rows):
    """Where the error is: the mean validation error in each (alpha, ic) cell over all seeds,
    and the training members run there per seed (in brackets), halton then breed."""
    shape = (len(ALPHA_BANDS) - 1, len(IC_BANDS) - 1)

    def cells(alpha, ic):  # each member's cell as one index
        return np.ravel_multi_index((band(alpha, ALPHA_BANDS), band(ic, IC_BANDS)), shape)

    size = shape[0] * shape[1]
    table = {}
    for n, runs in rows.items():
        at = [cells(*r["judged"]) for r in runs]
        err = sum(np.bincount(k, weights=r["per"], minlength=size) for k, r in zip(at, runs))
        judged = sum(np.bincount(k, minlength=size) for k in at)
        trained = sum(np.bincount(cells(*r["trained"]), minlength=size) for r in runs) / len(runs)
        table[n] = [f"{100 * e / k:.2f} % ({t:.0f})" if k else f"- ({t:.0f})"
                    for e, k, t in zip(err, judged, trained)]
    names = list(rows)
    head = " | ".join(f"ic {IC_BANDS[j]}-{IC_BANDS[j + 1]}: {n}"
                      for j in range(shape[1]) for n in names)
    print(f"\nmean validation rel. L2 by cell (training members per seed)\n\n| alpha | {head} |")
    print("|---|" + "---|" * (shape[1] * len(names)))
    for i in range(shape[0]):
        out = [table[n][i * shape[1] + j] for j in range(shape[1]) for n in names]
        print(f"| {ALPHA_BANDS[i]}-{ALPHA_BANDS[i + 1]} | " + " | ".join(out) + " |")

if __name__ == "__main__":
    main()
