#!/usr/bin/python3
"""Checks the results.h5 of a continuous study (parameters.continuous: true).

usage: check_continuous.py <output_dir> <frames per member> <stop reason> <first members>
                           [min_samples=N] [batches=N]

Exact counts: samples received (server_ranks/samples_received) equal the sum over the members
table, and the reservoir's puts + refused puts equal the training members' samples; every
member is done (all its frames, once) or stopped (fewer, one attempt); simulation ids run
0..N-1 without a gap and no parameter set repeats (the sampler went on, never restarted);
more members were drawn than the <first members> (validation + train_members) the study
began with. min_samples=N: at least N samples were received; batches=N: training ended at
batch N; resumed=1: members may have had more than one attempt (relaunched by `surge resume`),
else each had exactly one. Prints one line "ok: ..." and exits 0, or "FAIL: ..." and exits 1.
"""
import os
import sys

import h5py
import numpy as np


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def text(values):
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def main():
    out, steps, reason, first = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    options = dict(a.split("=", 1) for a in sys.argv[5:])
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        if f.attrs["stop_reason"] != reason:
            fail(f"stop_reason '{f.attrs['stop_reason']}', expected '{reason}'")
        m = f["members"]
        status, roles = text(m.attrs["status"]), text(m.attrs["role"])
        ids, samples, attempts = m["simulation_id"][:], m["samples"][:], m["attempts"][:]
        parameters = m["parameters"][:]
        received = int(f["server_ranks/samples_received"][:].sum())
        batches = int(f["training/batch"][-1])
        res = f["reservoir"].attrs
        puts = int(res["puts"] + res["rejected_puts"])
    n = len(ids)
    if sorted(int(i) for i in ids) != list(range(n)):
        fail(f"simulation ids {sorted(map(int, ids))} are not 0..{n - 1}")
    if len({tuple(p) for p in parameters}) != n:
        fail("a parameter set was drawn twice: the sampler restarted")
    if n <= first:
        fail(f"{n} members: none drawn past the first {first}")
    if received != int(samples.sum()):
        fail(f"{received} samples received, the members table sums to {int(samples.sum())}")
    train = int(sum(samples[i] for i in range(n) if roles[i] == "train"))
    if puts != train:
        fail(f"the reservoir took {puts} samples, training members delivered {train}")
    attempts_ok = (lambda a: a >= 1) if options.get("resumed") == "1" else (lambda a: a == 1)
    for i in range(n):
        if not attempts_ok(attempts[i]):
            fail(f"simulation {ids[i]} ({status[i]}) had {attempts[i]} attempts")
        if status[i] == "done" and samples[i] != steps:
            fail(f"simulation {ids[i]} done with {samples[i]} samples, expected {steps}")
        elif status[i] == "stopped" and samples[i] > steps:
            fail(f"stopped simulation {ids[i]}: {samples[i]} samples of {steps}")
        elif status[i] not in ("done", "stopped"):
            fail(f"simulation {ids[i]} is {status[i]}")
        if roles[i] == "validation" and status[i] != "done":
            fail(f"validation simulation {ids[i]} is {status[i]}")
    if "min_samples" in options and received < int(options["min_samples"]):
        fail(f"{received} samples received, expected at least {options['min_samples']}")
    if "batches" in options and batches != int(options["batches"]):
        fail(f"training ended at batch {batches}, expected {options['batches']}")
    count = {s: status.count(s) for s in sorted(set(status))}
    print(f"ok: {n} members {count}, {received} samples, {batches} batches")


if __name__ == "__main__":
    main()
