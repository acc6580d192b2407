#!/usr/bin/env python3
"""A solver of one's own joining a surge study (solver type external), in Python with numpy:
the physics of examples/c/advection.c on one process. 2D advection-diffusion on the periodic
unit square,
    du/dt + vx du/dx + vy du/dy = kappa (d2u/dx2 + d2u/dy2),  u(x, y, 0) = sin 2pi (x + 2y),
explicit Euler, first-order upwind advection and central diffusion; u[i, j] is x_i, y_j (surge's
axes: [nx, ny], axis 0 is x, y the fastest).

Joining the study takes three calls of the module surge_client (installed in
<prefix>/lib/python3/dist-packages: PYTHONPATH=<prefix>/lib/python3/dist-packages):
Client.from_env, send per output, finalize.

usage: advection.py nx=32 ny=32 outputs=10 output_dt=0.05 vx=0.5 vy=0.5 kappa=0.005
"""
import math
import sys

import numpy as np

import surge_client


def step(u, dt, vx, vy, kappa):
    nx, ny = u.shape
    w, e = np.roll(u, 1, axis=0), np.roll(u, -1, axis=0)  # u at i - 1, i + 1
    s, n = np.roll(u, 1, axis=1), np.roll(u, -1, axis=1)  # u at j - 1, j + 1
    adv_x = vx * nx * (u - w if vx > 0 else e - u)
    adv_y = vy * ny * (u - s if vy > 0 else n - u)
    diff = (w - 2 * u + e) * nx**2 + (s - 2 * u + n) * ny**2
    return u + dt * (kappa * diff - adv_x - adv_y)


def main(argv):
    o = {"nx": 32, "ny": 32, "outputs": 10, "output_dt": 0.05, "vx": 0.5, "vy": 0.5,
         "kappa": 0.005}
    for arg in argv:
        key, _, value = arg.partition("=")
        if key not in o or not value:
            sys.exit(f"advection.py: error: '{arg}' is not a known key=value")
        o[key] = type(o[key])(value)
    nx, ny, outputs, output_dt = o["nx"], o["ny"], o["outputs"], o["output_dt"]
    vx, vy, kappa = o["vx"], o["vy"], o["kappa"]
    x, y = np.arange(nx) / nx, np.arange(ny) / ny
    u = np.sin(2 * np.pi * (x[:, None] + 2 * y[None, :]))
    # Explicit stability: dt (|vx|/hx + |vy|/hy + 2 kappa (1/hx^2 + 1/hy^2)) <= 1, halved.
    rate = abs(vx) * nx + abs(vy) * ny + 2 * kappa * (nx**2 + ny**2)
    substeps = math.ceil(output_dt * rate / 0.5)
    dt = output_dt / substeps

    # 1. Join the study: the field u of shape [nx, ny], the sampled parameters in the order of
    #    the experiment's solver.parameters.parameters.
    client = surge_client.Client.from_env(fields=["u"], shape=(nx, ny), parameters=[vx, kappa])
    for k in range(outputs):
        for _ in range(substeps if k > 0 else 0):
            u = step(u, dt, vx, vy, kappa)
        # 2. Send output k (step 0 is the initial state) at t = k * output_dt.
        client.send("u", k, k * output_dt, u)
    # 3. End the stream: without it the study counts the attempt as failed.
    client.finalize()


if __name__ == "__main__":
    main(sys.argv[1:])
