#!/usr/bin/env python3
"""Writes disk.yaml: the unit disk as rings of nodes (ring k of 6k nodes at radius k/K), each
ring joined to the next by a strip of triangles; the outer ring is the boundary.
Usage: python3 make_disk.py [rings] > disk.yaml (standard library only)."""
import math
import sys


def disk(rings):
    nodes, first = [(0.0, 0.0)], [0]
    for k in range(1, rings + 1):
        first.append(len(nodes))
        # Odd rings turned by half a spacing, so that the strips do not line up radially.
        turn = math.pi / (6 * k) if k % 2 else 0.0
        nodes += [(k / rings * math.cos(turn + 2 * math.pi * m / (6 * k)),
                   k / rings * math.sin(turn + 2 * math.pi * m / (6 * k))) for m in range(6 * k)]
    edges = set()

    def join(a, b):
        edges.add((min(a, b), max(a, b)))

    for m in range(6):
        join(0, 1 + m)
    for k in range(1, rings + 1):
        n = 6 * k
        for m in range(n):
            join(first[k] + m, first[k] + (m + 1) % n)
    for k in range(1, rings):
        # Walk both rings by angle; each step closes one triangle of the strip.
        inner = list(range(first[k], first[k] + 6 * k))
        outer = list(range(first[k + 1], first[k + 1] + 6 * (k + 1)))

        def unwrapped(ring):
            out, last = [], -1.0
            for i in range(len(ring) + 1):
                x, y = nodes[ring[i % len(ring)]]
                a = math.atan2(y, x) % (2 * math.pi)
                while a <= last:
                    a += 2 * math.pi
                out.append(a)
                last = a
            return out

        ai, ao = unwrapped(inner), unwrapped(outer)
        i = j = 0
        join(inner[0], outer[0])
        while i < len(inner) or j < len(outer):
            if j >= len(outer) or (i < len(inner) and ai[i + 1] <= ao[j + 1]):
                i += 1
            else:
                j += 1
            join(inner[i % len(inner)], outer[j % len(outer)])
    boundary = set(range(first[rings], len(nodes)))
    return nodes, sorted(edges), [1 if v in boundary else 0 for v in range(len(nodes))]


def main():
    rings = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    nodes, edges, types = disk(rings)
    print(f"# The unit disk: {len(nodes)} nodes on {rings} rings, {len(edges)} edges, outer ring "
          f"boundary.\n# Written by make_disk.py {rings}; format in README.md.")
    print("nodes:")
    for x, y in nodes:
        print(f"  - [{x:.6f}, {y:.6f}]")
    print("edges:")
    for a, b in edges:
        print(f"  - [{a}, {b}]")
    print("node_type: [" + ", ".join(map(str, types)) + "]")


if __name__ == "__main__":
    main()
