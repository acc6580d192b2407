#!/usr/bin/python3
"""A member of an external solver whose field lives on the nodes of a mesh (issue 32): u is a
bump centred at (cx, 0) on the nodes of the mesh file given, decaying as exp(-decay t), sent
as a field of shape [n] (the node order of the mesh file), steps 0 .. outputs-1 at t = k dt.

usage: mesh_member.py MESH outputs=N output_dt=DT cx=X decay=D
"""
import sys

import numpy as np
import yaml

import surge_client


def main(argv):
    mesh, options = argv[0], dict(a.split("=", 1) for a in argv[1:])
    with open(mesh) as f:
        nodes = np.array(yaml.safe_load(f)["nodes"], dtype=np.float64)
    outputs, dt = int(options["outputs"]), float(options["output_dt"])
    cx, decay = float(options["cx"]), float(options["decay"])
    bump = np.exp(-((nodes[:, 0] - cx) ** 2 + nodes[:, 1] ** 2) / 0.1)
    client = surge_client.Client.from_env(fields=["u"], shape=(len(nodes),),
                                          parameters=[cx, decay], parameter_names=["cx", "decay"])
    for k in range(outputs):
        client.send("u", k, k * dt, bump * np.exp(-decay * k * dt))
    client.finalize()


if __name__ == "__main__":
    main(sys.argv[1:])
