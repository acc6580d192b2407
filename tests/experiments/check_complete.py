#!/usr/bin/python3
"""Checks that every file surge left in a directory tree is complete: no temporary
(*.partial, *.old) remains; every HDF5 file opens and every dataset in it reads; every
LibTorch archive (*.pt) is a valid zip; every model directory (surrogate.yaml) parses and has
its weights. With --reference DIR, an archive also found there (same relative path) must
have the same size as that complete one.

usage: check_complete.py <dir> [--reference DIR]
"""
import os
import sys
import zipfile

import h5py
import yaml


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def check_h5(path):
    try:
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: obj[()] if isinstance(obj, h5py.Dataset) else None)
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        fail(f"{path} does not read as HDF5: {e}")


def check_pt(path):
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except Exception as e:  # noqa: BLE001
        fail(f"{path} is not a complete LibTorch archive: {e}")
    if bad is not None:
        fail(f"{path}: record {bad} is corrupt")


def check_model(directory):
    with open(os.path.join(directory, "surrogate.yaml")) as f:
        root = yaml.safe_load(f)
    for key in ("format_version", "architecture", "io", "normalisation", "weights"):
        if key not in root:
            fail(f"{directory}/surrogate.yaml has no '{key}'")
    if not os.path.isfile(os.path.join(directory, root["weights"])):
        fail(f"{directory} has no weights file {root['weights']}")


def main():
    top = sys.argv[1]
    reference = sys.argv[sys.argv.index("--reference") + 1] if "--reference" in sys.argv else None
    checked = 0
    for directory, dirs, files in os.walk(top):
        for name in dirs + files:
            if name.endswith(".partial") or name.endswith(".old"):
                fail(f"temporary left behind: {os.path.join(directory, name)}")
        if "surrogate.yaml" in files:
            check_model(directory)
        for name in files:
            path = os.path.join(directory, name)
            if name.endswith(".h5"):
                check_h5(path)
            elif name.endswith(".pt"):
                check_pt(path)
                if reference:
                    twin = os.path.join(reference, os.path.relpath(path, top))
                    if os.path.isfile(twin) and os.path.getsize(twin) != os.path.getsize(path):
                        fail(f"{path} has {os.path.getsize(path)} bytes, a complete one "
                             f"{os.path.getsize(twin)}")
            checked += 1
    print(f"ok: {checked} file(s) complete under {top}")


if __name__ == "__main__":
    main()
