#!/usr/bin/env python3
"""Programs that use an installed surge::surrogate (examples/surrogate/{cxx,c,fortran}).

  inference_consumers.py setup WORK PREFIX SOURCE SURGE TOOL [--fortran]
      checks what PREFIX (`cmake --install` of surge) holds for the consumers, trains an MLP
      (TOOL train) and an FNO (`surge run tests/experiments/small_mhd2d_fno.yaml`), and writes
      what `surge predict` gives for each, plus a missing and corrupt model directories, into
      WORK.
  inference_consumers.py check WORK LANG SOURCE
      builds examples/surrogate/LANG against PREFIX, then checks that the program
      reproduces `surge predict` bit for bit on both models, that a missing or corrupt model
      directory gives one line and a non-zero status, and that none of MPI, HDF5, ZeroMQ or
      Kokkos comes in through surge (LibTorch's own dependencies aside).
  inference_consumers.py needed LIB...
      the direct dependencies (NEEDED) of LIB... include none of MPI, HDF5, ZeroMQ, Kokkos.
Prints `ok: ...` on success; any failure is one line starting with FAIL and a non-zero exit.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

FORBIDDEN = re.compile(r"mpi|open-pal|open-rte|hdf5|zmq|kokkos", re.IGNORECASE)
# Never acceptable, wherever they come from (Debian's LibTorch needs none of these).
NEVER = re.compile(r"mpi|open-pal|open-rte|openmpi|kokkos", re.IGNORECASE)
MLP_PARAMETERS = ["450", "150", "300", "250"]  # b1..b4 of surrogates_tool's heat model


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def run(*args):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        fail(f"{' '.join(map(str, args))} exited with {proc.returncode}:\n"
             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def model_io(model_dir):
    """The channel and parameter names of an exported model (surrogate.yaml's io section,
    as surge writes it: fields in flow style, inputs as flow maps)."""
    text = open(os.path.join(model_dir, "surrogate.yaml")).read()
    io = text[text.index("\nio:"):]
    fields = re.search(r"\n  fields: \[(.*)\]", io).group(1)
    inputs = re.findall(r"\{name: ([^,}]+)", io[:io.index("\n  fields:")])
    channels = [f.strip() for f in fields.split(",")]
    return channels, [i for i in inputs if i != "t"]


def well_frames(path, channels):
    """[frames, channels, nx, ny] float32 from a Well-layout file of one trajectory: a
    scalar channel is t0_fields/<name>, component k of a vector t1_fields/<name>[..., k]."""
    out = []
    with h5py.File(path, "r") as f:
        for c in channels:
            if c in f["t0_fields"]:
                out.append(f["t0_fields"][c][0])
                continue
            base, axis = c.rsplit("_", 1)
            k = {"x": 0, "y": 1, "z": 2}.get(axis)
            out.append(f["t1_fields"][base][0][..., k if k is not None else int(axis)])
    return np.ascontiguousarray(np.stack(out, axis=1), dtype=np.float32)


def setup(work, prefix, source, surge, tool, fortran):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    wanted = ["lib/libsurge_surrogate.so", "lib/libsurge_core_base.so",
              "include/surge/surrogate.h", "include/surge/surrogate.hpp",
              "lib/cmake/surge/surge-surrogate-targets.cmake",
              "share/surge/fortran/surge_surrogate.f90"]
    if fortran:
        wanted += ["include/surge/fortran/surge_surrogate.mod",
                   "lib/cmake/surge/surge-surrogate-fortran-targets.cmake"]
    for f in wanted:
        if not os.path.exists(os.path.join(prefix, f)):
            fail(f"not installed: {f}")
    models = {}

    # Field from parameters: the small heat MLP of surrogates_tool, at its stored times.
    mlp = os.path.join(work, "mlp")
    run(tool, "train", mlp)
    pred = os.path.join(work, "mlp_predict.h5")
    names = ["b1", "b2", "b3", "b4"]
    run(surge, "predict", mlp, *[f"{n}={v}" for n, v in zip(names, MLP_PARAMETERS)],
        "--out", pred, "--log-level", "warn")
    channels, parameters = model_io(mlp)
    if parameters != names:
        fail(f"the MLP takes {parameters}, not {names}")
    expected = well_frames(pred, channels)
    expected.tofile(os.path.join(work, "mlp_expected.f32"))
    models["mlp"] = {"dir": mlp, "args": MLP_PARAMETERS, "channels": channels,
                     "shape": list(expected.shape)}

    # Next step: a short Orszag-Tang FNO study, rolled out from a fresh member's initial state.
    study = os.path.join(work, "fno_study")
    run(surge, "run", os.path.join(source, "tests/experiments/small_mhd2d_fno.yaml"),
        f"study.output_dir={study}", "training.max_batches=30", "--no-plots")
    fno = os.path.join(study, "model")
    member = os.path.join(work, "member.h5")
    run(surge, "solve", "mhd2d", "problem=orszag_tang", "nx=16", "ny=16", "n_outputs=8",
        "ot_velocity=1.05", "ot_b0_scale=0.9", "--out", member, "--log-level", "warn")
    rollout = os.path.join(work, "fno_predict.h5")
    run(surge, "predict", fno, "--initial", member, "--out", rollout, "--log-level", "warn")
    channels, parameters = model_io(fno)
    expected = well_frames(rollout, channels)
    expected.tofile(os.path.join(work, "fno_expected.f32"))
    initial = os.path.join(work, "fno_initial.f32")
    if not np.array_equal(expected[0], well_frames(member, channels)[0]):
        fail("surge predict's rollout does not start from the member's initial state")
    expected[0].tofile(initial)
    with h5py.File(member, "r") as f:  # the parameters surge predict read from the member
        values = [repr(float(f.attrs[p])) for p in parameters]
    models["fno"] = {"dir": fno, "args": [initial, str(expected.shape[0] - 1)] + values,
                     "channels": channels, "shape": list(expected.shape)}

    # Directories that must not load.
    broken = {"missing": (os.path.join(work, "nowhere"), "does not exist")}
    empty = os.path.join(work, "empty")
    os.makedirs(empty)
    broken["empty"] = (empty, "holds no surrogate.yaml")
    weights = os.path.join(work, "corrupt_weights")
    shutil.copytree(mlp, weights)
    with open(os.path.join(weights, "model.pt"), "r+b") as f:
        f.truncate(os.path.getsize(os.path.join(weights, "model.pt")) // 2)
    broken["corrupt_weights"] = (weights, "cannot read weights")
    yaml = os.path.join(work, "corrupt_yaml")
    shutil.copytree(mlp, yaml)
    with open(os.path.join(yaml, "surrogate.yaml"), "w") as f:
        f.write("format_version: [2\nio: {\n")
    broken["corrupt_yaml"] = (yaml, "surrogate.yaml")
    with open(os.path.join(work, "setup.json"), "w") as f:
        json.dump({"prefix": prefix, "models": models, "broken": broken}, f, indent=1)
    print(f"ok: surge installed in {prefix}; MLP {models['mlp']['shape']} and FNO rollout "
          f"{models['fno']['shape']} from surge predict")


def ldd(path):
    """{soname: resolved path} of every library `path` loads."""
    out = run("ldd", path)
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            if m.group(2) == "not":
                fail(f"{path}: {m.group(1)} not found")
            libs[m.group(1)] = m.group(2)
    return libs


def needed(path):
    out = run("readelf", "-d", path)
    return re.findall(r"\(NEEDED\).*\[(.*)\]", out)


def check_needed(paths):
    for p in paths:
        bad = [n for n in needed(p) if FORBIDDEN.search(n)]
        if bad:
            fail(f"{os.path.basename(p)} needs {', '.join(bad)}")
    return len(paths)


def check_linkage(exe, prefix):
    libs = ldd(exe)
    ours = {n: p for n, p in libs.items() if n.startswith("libsurge")}
    for n, p in ours.items():
        if not os.path.realpath(p).startswith(os.path.realpath(prefix)):
            fail(f"{exe} loads {n} from {p}, not from the installed prefix {prefix}")
    if not any(n.startswith("libsurge_surrogate") for n in ours):
        fail(f"{exe} does not load libsurge_surrogate.so")
    check_needed([exe] + list(ours.values()))
    # What LibTorch itself brings (Debian's links ZeroMQ and, through OpenCV and GDAL, serial
    # HDF5) is LibTorch's; surge must add none of them, and MPI or Kokkos from nowhere.
    from_torch = set()
    for n, p in libs.items():
        if re.match(r"lib(torch|c10)", n):
            from_torch |= set(ldd(p)) | {n}
    bad = [n for n in libs if NEVER.search(n) or (FORBIDDEN.search(n) and n not in from_torch)]
    if bad:
        fail(f"{exe} loads {', '.join(sorted(bad))}")
    return len(libs), len(from_torch)


def check(work, lang, source):
    setup_info = json.load(open(os.path.join(work, "setup.json")))
    prefix = setup_info["prefix"]
    name = f"surrogate_{lang}"
    build = os.path.join(work, lang)
    shutil.rmtree(build, ignore_errors=True)
    run("cmake", "-S", os.path.join(source, "examples/surrogate", lang), "-B", build,
        "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={prefix}")
    run("cmake", "--build", build)
    exe = os.path.join(build, name)

    for kind, m in setup_info["models"].items():
        out = os.path.join(build, f"{kind}.f32")
        stdout = run(exe, m["dir"], out, *m["args"])
        printed = [line.split(" ", 1)[1] for line in stdout.splitlines()
                   if line.startswith("channel ")]
        if printed != m["channels"]:
            fail(f"{name} printed the channels {printed}, not {m['channels']}")
        expected = np.fromfile(os.path.join(work, f"{kind}_expected.f32"), dtype=np.float32)
        got = np.fromfile(out, dtype=np.float32)
        if got.shape != expected.shape:
            fail(f"{name} wrote {got.size} floats for the {kind}, surge predict {expected.size}")
        if not np.array_equal(got.view(np.uint32), expected.view(np.uint32)):
            diff = np.abs(got - expected).max()
            fail(f"{name}'s {kind} prediction differs from surge predict (max |diff| {diff:.3g})")

    cases = dict(setup_info["broken"])
    cases["wrong_parameters"] = (setup_info["models"]["mlp"]["dir"], "takes 4 parameters, got 3")
    for case, (directory, text) in cases.items():
        args = [exe, directory, os.path.join(build, "x.f32")]
        if case == "wrong_parameters":
            args += MLP_PARAMETERS[:3]
        proc = subprocess.run(args, capture_output=True, text=True)
        lines = proc.stderr.strip().splitlines()
        if proc.returncode == 0 or len(lines) != 1 or not lines[0].startswith(f"{name}: ") \
                or text not in lines[0]:
            fail(f"{case}: {name} exited with {proc.returncode} and wrote {lines!r} "
                 f"(wanted one line with '{text}')")

    count, torch_count = check_linkage(exe, prefix)
    shapes = {k: m["shape"] for k, m in setup_info["models"].items()}
    print(f"ok: {name} reproduces surge predict bit for bit ({shapes}); missing and corrupt "
          f"models give one line; {count} shared libraries ({torch_count} of them LibTorch's "
          f"own), none of MPI, HDF5, ZeroMQ or Kokkos from surge")


def main(argv):
    if len(argv) >= 7 and argv[1] == "setup":
        setup(*argv[2:7], fortran="--fortran" in argv[7:])
    elif len(argv) == 5 and argv[1] == "check":
        check(*argv[2:5])
    elif len(argv) >= 3 and argv[1] == "needed":
        print(f"ok: {check_needed(argv[2:])} libraries need none of MPI, HDF5, ZeroMQ, Kokkos")
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
