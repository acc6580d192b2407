#!/usr/bin/python3
"""Online against offline training on the same members, model and batch budget.

usage: experiments/online_vs_offline/compare.py [--surge build/bin/surge] [--out DIR] [--quick]

(b) online:  `surge run` streams the ensemble into the reservoir buffer and trains on it.
(a) offline: `surge solve` writes the same members (the parameters (b) drew, 2 solves at a
             time as (b)'s launcher runs them) to files, then `surge train` trains on the
             files with the same model, buffer, seed, input ranges and batch budget.
(c) online with as many training members as (a)'s solves could write in (a)'s wall time
             (same validation members, same batch budget).
Then one table: time to result (wall seconds, for (a) the solves plus the training), final
validation relative L2 on the same validation members, bytes written to disk (member files,
results.h5, model/, logs), and unique samples seen (training samples the trainer drew at
least once, from the buffer's seen counts). Study checkpoints are off in (b) and (c), as (a)
has none. The default size ran in 1 to 2.5 minutes on 2 busy cores; --quick in under a
minute.
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

SIZES = {
    # grid, outputs, training members, validation members, hidden widths, batch budget
    "default": dict(n=32, outputs=40, train=16, validation=2, hidden=[128, 128], batches=2000,
                    validate_every=500),
    "quick": dict(n=16, outputs=10, train=6, validation=2, hidden=[32, 32], batches=200,
                  validate_every=50),
}
RANGES = {"ic": [100, 500], "b1": [100, 500], "b2": [100, 500], "b3": [100, 500],
          "b4": [100, 500]}


def flow(value):
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return str(value)


def shared_sections(size):
    return f"""reservoir: {{type: reservoir, parameters: {{capacity: 4096, watermark: 64, batch_size: 32,
                                          extra_passes: 1000}}}}
model: {{type: mlp, parameters: {{hidden: {flow(size["hidden"])}}}}}
training:
  optimizer: {{type: adam, lr: 0.001}}
  schedule: {{type: cosine, min_lr: 0.00001}}
  max_batches: {size["batches"]}
  validate_every: {size["validate_every"]}
  seed: 5
"""


def solver_keys(size):
    return {"nx": size["n"], "ny": size["n"], "t_end": 0.1, "n_outputs": size["outputs"],
            "scheme": "implicit"}


def online_yaml(path, out, size, train_members):
    with open(path, "w") as f:
        f.write(f"""study: {{name: online, output_dir: {out}, seed: 1234, checkpoint_every_s: 0}}
parameters:
  sampler: {{type: halton}}
  train_members: {train_members}
  validation_members: {size["validation"]}
  ranges: {flow(dict(RANGES, alpha=1.0))}
solver: {{type: heat2d, ranks: 1, parameters: {flow(solver_keys(size))}}}
launcher: {{type: local, parameters: {{max_concurrent: 2}}}}
""" + shared_sections(size))


def timed(cmd, log):
    start = time.monotonic()
    with open(log, "w") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"compare.py: {' '.join(cmd)} failed (exit {p.returncode}); see {log}")
    return seconds


def du(*paths):
    """Bytes in the files under `paths`, each file once (a persistent worker's simulations'
    logs are hard links to one file)."""
    seen, total = set(), 0

    def add(f):
        nonlocal total
        st = os.stat(f)
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size

    for path in paths:
        if os.path.isfile(path):
            add(path)
        for root, _, files in os.walk(path):
            for f in files:
                add(os.path.join(root, f))
    return total


def outcome(results):
    with h5py.File(results, "r") as r:
        rel = float(np.mean(r["final_validation/relative_l2"][:]))
        res = r["reservoir"]
        puts = int(res.attrs["puts"]) if "puts" in res.attrs else None
        held = res["seen_held"][:]
        removed = res["seen_at_removal"][:]
        unseen = (held[0] if len(held) else 0) + (removed[0] if len(removed) else 0)
        total = int(held.sum() + removed.sum())
        batches = int(r.attrs["batches"])
        train = [s for s, role in zip(r["members/samples"][:], r["members"].attrs["role"])
                 if role == "train"]
    return dict(rel=rel, unique=total - int(unseen), samples=int(sum(train)), batches=batches,
                puts=puts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--surge", default=os.path.join(ROOT, "build", "bin", "surge"))
    parser.add_argument("--out", default=os.path.join(ROOT, "results", "online_vs_offline"))
    parser.add_argument("--quick", action="store_true", help="a small case, under a minute")
    args = parser.parse_args()
    surge = os.path.abspath(args.surge)
    size = SIZES["quick" if args.quick else "default"]
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    os.chdir(out)

    # (b) online.
    online_yaml("online.yaml", "online", size, size["train"])
    t_online = timed([surge, "run", "online.yaml", "--no-plots"], "online.log")

    # (a) offline: the members (b) ran, written by surge solve 2 at a time, then surge train.
    with h5py.File("online/results.h5", "r") as r:
        m = r["members"]
        members = list(zip(m["simulation_id"][:], m["parameters"][:], m.attrs["role"]))
        names = list(m.attrs["parameter_names"])
    os.makedirs("members")
    keys = [f"{k}={v}" for k, v in solver_keys(size).items()]

    def solve(member):
        sim, values, _ = member
        cmd = [surge, "solve", "heat2d", *keys,
               *[f"{n}={float(v)!r}" for n, v in zip(names, values)],
               "--out", f"members/m{sim:04d}.h5", "--log-level", "warn"]
        p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            sys.exit(f"compare.py: {' '.join(cmd)} failed: {p.stderr}")

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(solve, members))
    t_solve = time.monotonic() - start
    train = [f"members/m{s:04d}.h5" for s, _, role in members if role == "train"]
    valid = [f"members/m{s:04d}.h5" for s, _, role in members if role == "validation"]
    ranges = dict(RANGES, t=[0, 0.1])
    with open("offline.yaml", "w") as f:
        f.write(f"""study: {{name: offline, output_dir: offline}}
data:
  train: {flow(train)}
  validation: {flow(valid)}
  ranges: {flow(ranges)}
""" + shared_sections(size))
    t_train = timed([surge, "train", "offline.yaml", "--no-plots"], "offline.log")
    t_offline = t_solve + t_train

    # (c) online with the training members the offline solves would write in (a)'s time.
    per_member = t_solve / len(members)
    more = max(size["train"], int(t_offline / per_member) - size["validation"])
    online_yaml("online_more.yaml", "online_more", size, more)
    t_more = timed([surge, "run", "online_more.yaml", "--no-plots"], "online_more.log")

    rows = [
        ("(a) offline: surge solve + surge train", len(members), t_offline,
         outcome("offline/results.h5"), du("members", "offline")),
        ("(b) online: surge run, same members", len(members), t_online,
         outcome("online/results.h5"), du("online")),
        (f"(c) online: members that fit in (a)'s time", more + size["validation"], t_more,
         outcome("online_more/results.h5"), du("online_more")),
    ]
    print(f"\n{'quick' if args.quick else 'default'} size: heat2d {size['n']}x{size['n']}, "
          f"{size['outputs'] + 1} frames per member, {size['validation']} validation members, "
          f"MLP {size['hidden']}, {size['batches']} batches of 32; offline solves took "
          f"{t_solve:.1f} s ({per_member:.2f} s per member, 2 at a time), training {t_train:.1f} s")
    print("| run | members | time to result | validation rel. L2 | bytes written | "
          "unique samples seen |")
    print("|---|---|---|---|---|---|")
    for label, n, seconds, o, written in rows:
        print(f"| {label} | {n} | {seconds:.1f} s | {100 * o['rel']:.2f} % | "
              f"{written / 1e6:.1f} MB | {o['unique']} of {o['samples']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
