#!/usr/bin/python3
"""A mesh_heat member file on experiments/meshes/disk.yaml (the mesh path relative to the
repository root, the working directory): it passes check_well_file.py, holds the mesh's N
nodes as a grid of N x 1, frame 0 is the initial bump, the walls keep `boundary` in every
frame, and the heat diffuses.

usage: mesh_heat_member.py <check_well_file.py> <surge>   (run from the repository root)
"""
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import yaml

MESH = "experiments/meshes/disk.yaml"
PARAMS = {"ic_amplitude": 3.0, "ic_x": 0.2, "ic_y": -0.1, "ic_width": 0.3, "boundary": 0.5,
          "alpha": 0.8}


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def main(checker, surge):
    with open(MESH) as f:
        mesh = yaml.safe_load(f)
    nodes = np.array(mesh["nodes"], dtype=np.float64)
    walls = np.array(mesh["node_type"]) == 1
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "member.h5")
        args = [surge, "solve", "mesh_heat", f"mesh={MESH}", "n_outputs=4", "--log-level", "warn",
                "--out", out] + [f"{k}={v}" for k, v in PARAMS.items()]
        subprocess.run(args, check=True)
        subprocess.run(["/usr/bin/python3", checker, out], check=True)
        with h5py.File(out, "r") as f:
            u = f["t0_fields/temperature"][...]
            if u.shape != (1, 5, len(nodes), 1):
                fail(f"temperature has shape {u.shape}, expected (1, 5, {len(nodes)}, 1)")
            for k, v in PARAMS.items():
                if f.attrs[k] != v or f["scalars"][k][0] != np.float32(v):
                    fail(f"parameter {k} is {f.attrs[k]}, expected {v}")
            if MESH not in f.attrs["surge_config"]:
                fail("surge_config does not name the mesh")
            times = f["dimensions/time"][...]
            if f["dimensions/x"].shape != (len(nodes),) or list(f["dimensions/y"]) != [0.0]:
                fail("dimensions/x should hold N values, dimensions/y the single 0")
            if not np.all(np.isfinite(f["dimensions/x"][...])):
                fail("dimensions/x is not finite")
    u = u[0, :, :, 0].astype(np.float64)
    c = np.array([PARAMS["ic_x"], PARAMS["ic_y"]])
    r2 = ((nodes - c) ** 2).sum(axis=1)
    u0 = PARAMS["ic_amplitude"] * np.exp(-r2 / (2 * PARAMS["ic_width"] ** 2))
    u0[walls] = PARAMS["boundary"]
    if np.abs(u[0] - u0).max() > 1e-6 * PARAMS["ic_amplitude"]:
        fail(f"frame 0 differs from the initial bump by {np.abs(u[0] - u0).max()}")
    if not np.all(u[:, walls] == np.float32(PARAMS["boundary"])):
        fail("a boundary node left `boundary`")
    if not math.isclose(times[0], 0.0) or not math.isclose(times[-1], 0.1, rel_tol=1e-6):
        fail(f"frame times {times}")
    peaks = np.abs(u[:, ~walls] - PARAMS["boundary"]).max(axis=1)
    if not np.all(np.diff(peaks) < 0) or peaks[-1] > 0.5 * peaks[0]:
        fail(f"the bump does not decay: {peaks}")
    print(f"ok: {len(nodes)} nodes, frame 0 is the initial bump, peak {peaks[0]:.3f} -> "
          f"{peaks[-1]:.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
