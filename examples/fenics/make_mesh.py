#!/usr/bin/python3
"""Writes mesh.yaml, the unstructured mesh of examples/fenics: the Delaunay triangulation of
points on the unit square's sides (boundary nodes) and of random points inside (seeded, kept
apart), in the format of experiments/meshes/README.md. heat.py triangulates the same nodes
again (matplotlib's Delaunay of the rounded positions, the same triangles) to build its
dolfinx mesh.

usage: /usr/bin/python3 make_mesh.py [side_nodes] [interior_nodes] > mesh.yaml
"""
import sys

import matplotlib.tri as mtri
import numpy as np
import yaml


def points(side, interior, seed=7):
    s = np.linspace(0.0, 1.0, side)
    edge = [(t, 0.0) for t in s[:-1]] + [(1.0, t) for t in s[:-1]] + \
        [(1.0 - t, 1.0) for t in s[:-1]] + [(0.0, 1.0 - t) for t in s[:-1]]
    rng, inside, spacing = np.random.default_rng(seed), [], 0.6 / np.sqrt(interior)
    while len(inside) < interior:
        p = rng.uniform(0.04, 0.96, 2)
        if all(np.hypot(*(p - q)) > spacing for q in inside):
            inside.append(p)
    nodes = np.round(np.array(edge + [tuple(p) for p in inside]), 6)
    return nodes, len(edge)


def main():
    side = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    interior = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    nodes, walls = points(side, interior)
    edges = sorted({(min(a, b), max(a, b)) for a, b in mtri.Triangulation(*nodes.T).edges})
    mesh = {"nodes": nodes.tolist(), "edges": [[int(a), int(b)] for a, b in edges],
            "node_type": [1 if k < walls else 0 for k in range(len(nodes))]}
    print(f"# The unit square, unstructured: {len(nodes)} nodes ({walls} on the walls), "
          f"{len(edges)} edges.\n# Written by make_mesh.py {side} {interior}; format in "
          "experiments/meshes/README.md.")
    print(yaml.safe_dump(mesh, default_flow_style=None, width=100, sort_keys=False), end="")

if __name__ == "__main__":
    main()
