#!/usr/bin/python3
"""Online against offline training at equal wall time and equal cores, on the default study.

usage: experiments/online_vs_offline/equal_time.py [--surge build/bin/surge] [--out DIR]
                                                   [--splits 0.25,0.5,0.75] [--quick]

online:  one continuous `surge run experiments/heat2d_mlp.yaml` (its time budget ends it);
         its whole wall time W, start to results, is the budget both sides get.
offline: for each split f, `surge solve` writes training members (the online study's draws,
         in its order, 2 solves at a time as its launcher runs them) until f * W has passed,
         then `surge train` trains on the files with the same model, buffer, schedule and seed
         for the rest of W (training.max_seconds = the rest less the measured start-up and
         write-out of `surge train`).
Both validate on the same members: the online study's validation members, which offline
solves before its clock starts (so offline gets them for free). One table: side, split,
members, bytes written, unique samples seen, wall time, final validation relative L2 (mean
over the validation members), and the ratio online / offline. --quick runs a 30 s budget on
a 32 x 32 grid with one split (a smoke test, not a measurement).
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time

import h5py
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, du, flow, outcome, timed  # noqa: E402

DEFAULT_STUDY = os.path.join(ROOT, "experiments", "heat2d_mlp.yaml")


def online(surge, overrides):
    seconds = timed([surge, "run", DEFAULT_STUDY, "study.output_dir=online", "--no-plots",
                     *overrides], "online.log")
    with h5py.File("online/results.h5", "r") as r:
        m = r["members"]
        members = list(zip(m["simulation_id"][:], m["parameters"][:], m.attrs["role"]))
        names = list(m.attrs["parameter_names"])
    return seconds, members, names


def solver(study, overrides):
    keys = dict(study["solver"]["parameters"])
    for o in overrides:
        k, _, v = o.partition("=")
        if k.startswith("solver.parameters."):
            keys[k.split(".")[-1]] = v
    return keys


class Solver:
    """surge solve of members, 2 at a time; a member's file is members/m<id>.h5."""

    def __init__(self, surge, keys, names):
        self.surge, self.keys, self.names = surge, [f"{k}={v}" for k, v in keys.items()], names

    def __call__(self, member):
        sim, values, _ = member
        path = f"members/m{int(sim):05d}.h5"
        if os.path.exists(path):
            return path, 0.0
        start = time.monotonic()
        cmd = [self.surge, "solve", "heat2d", *self.keys,
               *[f"{n}={float(v)!r}" for n, v in zip(self.names, values)],
               "--out", path + ".tmp", "--log-level", "warn"]
        p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            sys.exit(f"equal_time.py: {' '.join(cmd)} failed: {p.stderr}")
        os.rename(path + ".tmp", path)
        return path, time.monotonic() - start


def solve_until(solve, members, budget):
    """Solves members in order, 2 at a time, starting none that its mean time would carry past
    `budget` seconds. Returns the files written and the seconds it took."""
    start = time.monotonic()
    files, times, queue = [], [], list(members)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        running = set()
        while queue or running:
            mean = sum(times) / len(times) if times else 0.0
            while queue and len(running) < 2 and time.monotonic() - start + mean <= budget:
                running.add(pool.submit(solve, queue.pop(0)))
            if not running:
                break
            done, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for d in done:
                path, seconds = d.result()
                files.append(path)
                times.append(seconds)
    return sorted(files), time.monotonic() - start


def offline_yaml(path, study, out, train, valid, ranges, max_seconds):
    training = dict(study["training"], max_seconds=round(max_seconds, 1))
    with open(path, "w") as f:
        f.write(f"""study: {{name: {out}, output_dir: {out}}}
data:
  train: {flow(train)}
  validation: {flow(valid)}
  ranges: {flow(ranges)}
reservoir: {flow(study["reservoir"])}
model: {flow(study["model"])}
training: {flow(training)}
""")


def startup_seconds(surge, study, valid, ranges):
    """Wall time of a `surge train` that trains for 0.5 s, less those 0.5 s: what the offline
    side spends outside training (start-up, validation set, results)."""
    offline_yaml("probe.yaml", study, "probe", valid[:1], valid[1:], ranges, 0.5)
    return max(timed([surge, "train", "probe.yaml", "--no-plots"], "probe.log") - 0.5, 0.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--surge", default=os.path.join(ROOT, "build", "bin", "surge"))
    parser.add_argument("--out", default=os.path.join(ROOT, "results", "online_vs_offline_time"))
    parser.add_argument("--splits", default="0.25,0.5,0.75",
                        help="shares of the wall time offline spends solving (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="a 30 s smoke test")
    args = parser.parse_args()
    surge = os.path.abspath(args.surge)
    splits = [float(s) for s in args.splits.split(",")]
    if any(not 0 < s < 1 for s in splits):
        sys.exit("equal_time.py: --splits must lie strictly between 0 and 1")
    overrides = []
    if args.quick:
        overrides = ["training.max_seconds=30", "solver.parameters.nx=32",
                     "solver.parameters.ny=32", "model.parameters.hidden=[64, 64]"]
        splits = splits[1:2] if len(splits) > 1 else splits
    out = os.path.abspath(args.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "members"))
    os.chdir(out)
    with open(DEFAULT_STUDY) as f:
        study = yaml.safe_load(f)
    for o in overrides:  # the model and time overrides, for the offline side too
        k, _, v = o.partition("=")
        parts = k.split(".")
        node = study
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = yaml.safe_load(v)

    uptime = open("/proc/loadavg").read().split()[:3]
    wall, members, names = online(surge, overrides)
    solve = Solver(surge, solver(study, overrides), names)
    valid_members = [m for m in members if m[2] == "validation"]
    train_members = [m for m in members if m[2] == "train"]
    valid = [solve(m)[0] for m in valid_members]
    # The ranged parameters (fixed ones are constants the model does not see vary).
    ranges = {n: v for n, v in study["parameters"]["ranges"].items() if isinstance(v, list)}
    ranges["t"] = [0, float(study["solver"]["parameters"]["t_end"])]
    overhead = startup_seconds(surge, study, valid, ranges)

    rows = [("online: surge run (continuous)", "-", online_row(wall))]
    for f in splits:
        for path in os.listdir("members"):  # each split solves its own members
            if os.path.join("members", path) not in valid:
                os.remove(os.path.join("members", path))
        train, t_solve = solve_until(solve, train_members, f * wall)
        name = f"offline_{int(round(100 * f))}"
        offline_yaml(f"{name}.yaml", study, name, train, valid, ranges,
                     max(wall - t_solve - overhead, 1.0))
        t_train = timed([surge, "train", f"{name}.yaml", "--no-plots"], f"{name}.log")
        o = outcome(f"{name}/results.h5")
        o.update(members=len(train) + len(valid), wall=t_solve + t_train,
                 written=du(*train, name), detail=f"solve {t_solve:.0f} s + train {t_train:.0f} s")
        rows.append((f"offline: surge solve + surge train", f"{f:.2f}", o))
    print(f"\nequal wall time W = {wall:.1f} s (the online study's, start to results); offline's "
          f"surge train spends {overhead:.1f} s outside training (measured); load "
          f"average at the start {' '.join(uptime)}, at the end "
          f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    print("| side | solve share | members | bytes written | unique samples seen | wall time | "
          "validation rel. L2 |")
    print("|---|---|---|---|---|---|---|")
    for label, split, o in rows:
        print(f"| {label} | {split} | {o['members']} | {o['written'] / 1e6:.1f} MB | "
              f"{o['unique']} of {o['samples']} | {o['wall']:.1f} s ({o['detail']}) | "
              f"{100 * o['rel']:.2f} % |")
    best = min(rows[1:], key=lambda r: r[2]["rel"])
    print(f"online / best offline (solve share {best[1]}): "
          f"{rows[0][2]['rel'] / best[2]['rel']:.2f}")
    return 0


def online_row(wall):
    o = outcome("online/results.h5")
    with h5py.File("online/results.h5", "r") as r:
        members = len(r["members/simulation_id"])
    o.update(members=members, wall=wall, written=du("online"),
             detail=f"{o['batches']} batches")
    return o


if __name__ == "__main__":
    sys.exit(main())
