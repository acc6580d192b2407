#!/usr/bin/python3
"""Checks a study of an advection example (examples/*/advection.*) beyond its counts: the
fields the members streamed (results.h5 predictions/truth, every frame of the validation
members) are those of a numpy reference of the same scheme, so a C member's blocks over two
ranks, a Fortran member's reversed shapes and a C++ member's second field of another shape
(grad_u, [nx, ny, 2]: channels grad_u_x and grad_u_y) land where they belong, on surge's axes
(axis 0 is x: the initial state sin 2 pi (x + 2 y) is not symmetric in x and y); the exported
model is periodic on the axes the study declares (solver.parameters.periodic); and, for a
model of fields from parameters, the file `surge predict` made from it has the members' frames
and times.

usage: check_advection.py <output_dir> <predict.h5 (read for an MLP study only)>
"""
import math
import os
import sys

import h5py
import numpy as np
import yaml


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def reference(vx, kappa, nx=32, ny=32, outputs=10, output_dt=0.05, vy=0.5):
    """The frames of the examples' scheme in float64, [frames, nx, ny]: written independently
    of examples/python/advection.py, in [y, x] order, and transposed at the end."""
    x, y = np.arange(nx) / nx, np.arange(ny) / ny
    u = np.sin(2 * np.pi * (x[None, :] + 2 * y[:, None]))
    rate = abs(vx) * nx + abs(vy) * ny + 2 * kappa * (nx**2 + ny**2)
    substeps = math.ceil(output_dt * rate / 0.5)
    dt = output_dt / substeps
    frames = [u]
    for _ in range(outputs - 1):
        for _ in range(substeps):
            w, e = np.roll(u, 1, axis=1), np.roll(u, -1, axis=1)
            s, n = np.roll(u, 1, axis=0), np.roll(u, -1, axis=0)
            adv_x = vx * nx * (u - w if vx > 0 else e - u)
            adv_y = vy * ny * (u - s if vy > 0 else n - u)
            diff = (w - 2 * u + e) * nx**2 + (s - 2 * u + n) * ny**2
            u = u + dt * (kappa * diff - adv_x - adv_y)
        frames.append(u)
    return np.array(frames).transpose(0, 2, 1)


def channel(frames, name):
    """A channel of the members' state from the frames of u: u, or a component of its
    gradient by central differences on the periodic grid (examples/cxx/advection.cpp)."""
    if name == "u":
        return frames
    nx, ny = frames.shape[1:]
    if name == "grad_u_x":
        return (np.roll(frames, -1, axis=1) - np.roll(frames, 1, axis=1)) * nx / 2
    if name == "grad_u_y":
        return (np.roll(frames, -1, axis=2) - np.roll(frames, 1, axis=2)) * ny / 2
    fail(f"no reference for channel {name}")


def find_key(node, key):
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for v in node.values():
            found = find_key(v, key)
            if found is not None:
                return found
    return None


def main():
    out, predicted = sys.argv[1], sys.argv[2]
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        names = [n.decode() if isinstance(n, bytes) else n
                 for n in f["members"].attrs["parameter_names"]]
        channels = [c.decode() if isinstance(c, bytes) else c
                    for c in f["final_validation"].attrs["field_names"]]
        operator = f.attrs["model_kind"] == "next_step"
        config = yaml.safe_load(f.attrs["surge_config"])
        ids = list(f["members/simulation_id"][:])
        parameters = f["members/parameters"][:]
        truth = f["predictions/truth"][:]
        if truth.ndim == 4:  # one channel: no channel axis
            truth = truth[:, :, None]
        checked = 0
        for m, sim in enumerate(f["predictions/simulation_id"][:]):
            p = dict(zip(names, parameters[ids.index(sim)]))
            ref = reference(p["vx"], p["kappa"])
            for c, name in enumerate(channels):
                want, got = channel(ref, name), truth[m][:, c]
                if got.shape != want.shape:
                    fail(f"simulation {sim}: {name} of shape {got.shape}, expected {want.shape}")
                err = np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want)))
                if not err < 1e-5:
                    worst = np.unravel_index(np.argmax(np.abs(got - want)), want.shape)
                    fail(f"simulation {sim} (vx {p['vx']:.4g}, kappa {p['kappa']:.4g}): {name} "
                         f"differs from the reference by {err:.3g} at frame, x, y = {worst}")
            checked += 1
        times = f["predictions/time"][:]
    declared = config["solver"]["parameters"]["periodic"]
    with open(os.path.join(out, "model", "surrogate.yaml")) as g:
        exported = find_key(yaml.safe_load(g), "periodic")
    if exported != declared:
        fail(f"the model is periodic on {exported}, the study declares {declared}")
    if not operator:
        with h5py.File(predicted, "r") as f:
            t = f["dimensions/time"][:]
            if not np.allclose(t, times, rtol=0, atol=1e-6):  # float32 in the file
                fail(f"surge predict wrote times {list(t)}, the members' are {list(times)}")
            u = f["t0_fields/u"][:]
            if u.shape != (1, len(times), 32, 32) or not np.all(np.isfinite(u)):
                fail(f"surge predict wrote u of shape {u.shape}, expected "
                     f"(1, {len(times)}, 32, 32)")
    print(f"ok: advection fields {channels} of {checked} validation members match the "
          f"reference; the model is periodic on {exported}"
          + ("" if operator else f"; surge predict wrote {len(times)} frames"))


if __name__ == "__main__":
    main()
