#!/usr/bin/python3
"""scripts/check_well_file.py passes a fresh `surge solve heat2d` file and fails each copy of it
broken in one way, naming the broken path: a checker that passed everything would fail here.

usage: well_checker_rejects.py <check_well_file.py> <surge>
"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np


def set_attr(path, name, value):
    return lambda f: f[path].attrs.__setitem__(name, value)


def del_attr(path, name):
    return lambda f: f[path].attrs.__delitem__(name)


def delete(path):
    return lambda f: f.__delitem__(path)


def fewer_frames(f):
    d = f["t0_fields/temperature"]
    data, attrs = d[:, 1:], dict(d.attrs)
    del f["t0_fields/temperature"]
    f["t0_fields/temperature"] = data
    for k, v in attrs.items():
        f["t0_fields/temperature"].attrs[k] = v


# (what is broken, how, a piece of the line the checker must print)
CASES = [
    ("a bc_type outside The Well's enum", set_attr("boundary_conditions/x_wall", "bc_type",
                                                   "dirichlet"),
     "/boundary_conditions/x_wall: bc_type 'dirichlet' should be one of WALL, OPEN, PERIODIC"),
    ("dimensions/time without time_varying", del_attr("dimensions/time", "time_varying"),
     "/dimensions/time: should have the attribute 'time_varying'"),
    ("a sample-varying boundary with a mask of one trajectory's shape",
     set_attr("boundary_conditions/y_wall", "sample_varying", True),
     "/boundary_conditions/y_wall/mask: has shape (10,), expected (1, 10)"),
    ("a boundary without a mask", delete("boundary_conditions/x_wall/mask"),
     "/boundary_conditions/x_wall: should hold the dataset 'mask'"),
    ("a boundary on an unknown axis", set_attr("boundary_conditions/x_wall", "associated_dims",
                                               np.array(["z"], dtype=object)),
     "/boundary_conditions/x_wall: associated dim 'z' should be one of spatial_dims"),
    ("no dataset_name", del_attr("/", "dataset_name"),
     "/: should have the attribute 'dataset_name'"),
    ("a non-integer n_spatial_dims", set_attr("/", "n_spatial_dims", 2.0),
     "/: attribute 'n_spatial_dims' should be an integer"),
    ("a parameter missing from scalars/", delete("scalars/b1"),
     "/scalars: should hold 'b1' of simulation_parameters"),
    ("a field with fewer frames than dimensions/time", fewer_frames,
     "/t0_fields/temperature: has shape (1, 2, 12, 10), expected (1, 3, 12, 10)"),
    ("dim_varying of the wrong length", set_attr("t0_fields/temperature", "dim_varying",
                                                 np.array([True])),
     "/t0_fields/temperature: dim_varying has 1 entries, n_spatial_dims is 2"),
    ("time_varying that is not a boolean", set_attr("scalars/alpha", "time_varying", 0),
     "/scalars/alpha: attribute 'time_varying' should be a boolean"),
    ("a coordinate that varies in time", set_attr("dimensions/x", "time_varying", True),
     "/dimensions/x: has shape (), expected (3,)"),
    ("no t2_fields group", delete("t2_fields"), "/t2_fields: should be a root group"),
]


def run(checker, path):
    p = subprocess.run(["/usr/bin/python3", checker, path], capture_output=True, text=True)
    return p.returncode, p.stdout


def main(checker, surge):
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "good.h5")
        subprocess.run([surge, "solve", "heat2d", "nx=12", "ny=10", "n_outputs=2", "--log-level",
                        "warn", "--out", good], check=True, stdout=subprocess.DEVNULL)
        rc, out = run(checker, good)
        if rc != 0 or out.strip() != f"ok {good}":
            print(f"FAIL: the unbroken file did not pass (exit {rc}):\n{out}")
            return 1
        for what, mutate, expected in CASES:
            bad = os.path.join(tmp, "bad.h5")
            shutil.copy(good, bad)
            with h5py.File(bad, "r+") as f:
                mutate(f)
            rc, out = run(checker, bad)
            if rc == 1 and expected in out:
                print(f"ok: {what}: {expected}")
            else:
                failures += 1
                print(f"FAIL: {what}: exit {rc}, expected a line with '{expected}', got:\n{out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
