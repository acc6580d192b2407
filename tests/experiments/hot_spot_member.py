#!/usr/bin/python3
"""A member of an external solver whose field is not symmetric in x and y (issue 32, one axis
convention): u on an nx x ny grid of the unit square, sent as [nx, ny] (axis 0 is x, y the
fastest: u[i, j] at x_i = i / (nx - 1), y_j = j / (ny - 1)), a hot spot of amplitude amp at
(0.4, 0.6) that decays as exp(-t).

usage: hot_spot_member.py nx=11 ny=6 outputs=4 output_dt=0.1 amp=A
"""
import sys

import numpy as np

import surge_client


def main(argv):
    o = dict(a.split("=", 1) for a in argv)
    nx, ny, outputs, dt = int(o["nx"]), int(o["ny"]), int(o["outputs"]), float(o["output_dt"])
    x, y = np.linspace(0, 1, nx), np.linspace(0, 1, ny)
    spot = float(o["amp"]) * np.exp(-((x[:, None] - 0.4) ** 2 + (y[None, :] - 0.6) ** 2) / 0.02)
    client = surge_client.Client.from_env(fields=["u"], shape=(nx, ny),
                                          parameters=[float(o["amp"])])
    for k in range(outputs):
        client.send("u", k, k * dt, spot * np.exp(-k * dt))
    client.finalize()


if __name__ == "__main__":
    main(sys.argv[1:])
