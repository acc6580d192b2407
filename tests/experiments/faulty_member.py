#!/usr/bin/python3
"""A member of the external-solver fault test (tests/experiments/external_faults.yaml): sends
u(x, y, t) = exp(-20 pi^2 kappa t) sin 2pi (x + 2y - (vx + 1) t) on a 16 x 16 grid, steps 0..9
at t = 0.05 k, through the Python client (its shape per field). The first attempt of each
simulation named in SURGE_TEST_FAULTS ("id:fault,...") misbehaves instead:
  crash      sends 4 steps, then dies (exit code 3, no end of stream)
  partial    sends 3 steps, ends its stream and exits 0
  no_stream  exits 0 without connecting
  bad_field  announces a field the study does not have: the server refuses it
  float32    announces float32 where the study declares float64: the server refuses it
  silent     never connects, and sleeps
  extra_step sends the initial state as well, steps 0..10 (one more than the study takes): its
             client refuses step 10, naming the range, and the member exits 1
  wrong_order names its parameters in an order that is not the study's: the server refuses it
Members of an even simulation id name their parameters (in the order of SURGE_PARAMETER_NAMES),
the others do not; both send the values in that order, and write them, by name, to
$SURGE_TEST_TMP/parameters_<id> for check_results.py.
An attempt is the first when its marker file is not yet in $SURGE_TEST_TMP.

usage: faulty_member.py vx=V kappa=K
"""
import os
import sys
import time

import numpy as np

import surge_client


def main():
    p = dict(a.split("=", 1) for a in sys.argv[1:])
    vx, kappa = float(p["vx"]), float(p["kappa"])
    sim = int(os.environ["SURGE_SIMULATION_ID"])
    faults = dict(f.split(":") for f in os.environ.get("SURGE_TEST_FAULTS", "").split(",") if f)
    fault = faults.get(str(sim))
    marker = os.path.join(os.environ["SURGE_TEST_TMP"], f"attempted_{sim}")
    if fault and not os.path.exists(marker):
        open(marker, "w").close()
    else:
        fault = None
    if fault == "no_stream":
        return
    if fault == "silent":
        time.sleep(600)
    # A shape per field (the examples give one shape for all).
    fields = {"u": (16, 16), "p": (16, 16)} if fault == "bad_field" else {"u": (16, 16)}
    dtype = np.float32 if fault == "float32" else np.float64
    order = surge_client.study_parameter_names()
    if fault == "wrong_order":
        order = order[::-1]
    values = [p[n] for n in order]
    names = order if sim % 2 == 0 or fault == "wrong_order" else None
    client = surge_client.Client.from_env(fields=fields, parameters=[float(v) for v in values],
                                          dtype=dtype, parameter_names=names)
    with open(os.path.join(os.environ["SURGE_TEST_TMP"], f"parameters_{sim}"), "w") as f:
        f.write(" ".join(f"{n}={p[n]}" for n in order))
    x = np.arange(16) / 16
    steps = {"crash": 4, "partial": 3, "extra_step": 11}.get(fault, 10)
    for k in range(steps):
        t = 0.05 * k
        u = np.exp(-20 * np.pi**2 * kappa * t) * np.sin(
            2 * np.pi * (x[None, :] + 2 * x[:, None] - (vx + 1) * t))
        client.send("u", k, t, u)
    if fault == "crash":
        os._exit(3)
    client.finalize()


if __name__ == "__main__":
    main()
