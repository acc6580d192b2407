#!/usr/bin/env bash
# Issue 32: fields on the nodes of a user's mesh through `surge run` and `surge predict`
# (mesh_fields.yaml: mesh_member.py members sending u of shape [217] on the disk mesh, named by
# solver.parameters.mesh relative to the experiment file). Checked: exact counts
# (check_results.py: 5 members x 6 frames, a rollout), the graph network trained on that mesh
# (the model carries it, node for node), results.h5 mesh/ holds its coordinates and edges
# (what the plots draw on); `surge predict --initial` from a frame of a member writes the
# mesh's real coordinates in mesh/ and starts from that frame. Then a mesh of another node
# count is refused, naming both counts (exit 2).
# usage: mesh_fields.sh <surge> <source dir>
set -euo pipefail
surge=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
here=$src/tests/experiments
"$surge" run "$here/mesh_fields.yaml" study.output_dir="$tmp/out" </dev/null
/usr/bin/python3 "$here/check_results.py" "$tmp/out" 6 0:1 1:1 2:1 3:1 4:1
# A member's initial state as a Well-layout file (what a member of this solver would write).
/usr/bin/python3 - "$src/experiments/meshes/disk.yaml" "$tmp/initial.h5" <<'PY'
import sys
import h5py
import numpy as np
import yaml
nodes = np.array(yaml.safe_load(open(sys.argv[1]))["nodes"])
u = np.exp(-((nodes[:, 0] - 0.1) ** 2 + nodes[:, 1] ** 2) / 0.1)
with h5py.File(sys.argv[2], "w") as f:
    f.attrs["cx"], f.attrs["decay"] = 0.1, 2.0
    f.create_dataset("dimensions/time", data=np.array([0.0, 0.1]))
    f.create_dataset("t0_fields/u", data=np.stack([u, u])[None, :, :, None].astype(np.float32))
PY
"$surge" predict "$tmp/out/model" --initial "$tmp/initial.h5" --steps 3 --out "$tmp/pred.h5" \
  --log-level warn
/usr/bin/python3 "$src/scripts/check_well_file.py" "$tmp/pred.h5"
/usr/bin/python3 - "$src/experiments/meshes/disk.yaml" "$tmp/out" "$tmp/pred.h5" \
  "$tmp/initial.h5" <<'PY'
import os
import sys
import h5py
import numpy as np
import yaml
def fail(m):
    print("FAIL:", m)
    sys.exit(1)
mesh_file, out, pred_path, initial_path = sys.argv[1:5]
mesh = yaml.safe_load(open(mesh_file))
nodes, edges = np.array(mesh["nodes"]), np.array(mesh["edges"])
if nodes.shape != (217, 2) or edges.shape != (600, 2):
    fail(f"the disk mesh changed: {nodes.shape} nodes, {edges.shape} edges")
def check_mesh(f, where):
    if "mesh" not in f:
        fail(f"{where}: no mesh/ group")
    m = f["mesh"]
    for axis, name in enumerate("xy"):
        if not np.array_equal(m[name][:], nodes[:, axis]):
            fail(f"{where}: mesh/{name} is not the mesh's node coordinates")
    if not np.array_equal(m["edges"][:], edges):
        fail(f"{where}: mesh/edges are not the mesh's")
with h5py.File(os.path.join(out, "results.h5"), "r") as f:
    check_mesh(f, "results.h5")
    truth = f["predictions/truth"]
    if truth.shape[-2:] != (217, 1):
        fail(f"results.h5 predictions/truth {truth.shape}: not on the 217 nodes")
model = yaml.safe_load(open(os.path.join(out, "model", "surrogate.yaml")))
if model["architecture"]["parameters"]["mesh"] != "mesh.yaml":
    fail(f"the model is not on its mesh: {model['architecture']['parameters']}")
if yaml.safe_load(open(os.path.join(out, "model", "mesh.yaml"))) != mesh:
    fail("model/mesh.yaml is not the study's mesh")
with h5py.File(pred_path, "r") as p, h5py.File(initial_path, "r") as i:
    check_mesh(p, "surge predict's file")
    u = p["t0_fields/u"]
    if u.shape != (1, 4, 217, 1):
        fail(f"surge predict's u has shape {u.shape}, not (1, 4, 217, 1)")
    if not np.array_equal(u[0, 0], i["t0_fields/u"][0, 0]):
        fail("the prediction does not start from the initial frame")
    if not np.all(np.isfinite(u[...])):
        fail("the prediction is not finite")
print("ok: results.h5, the model and surge predict's file are on the mesh's 217 nodes")
PY
# A mesh whose node count is not the field's: refused before anything starts.
set +e
"$surge" run "$here/mesh_fields.yaml" study.output_dir="$tmp/out2" --dry-run \
  "solver.parameters.fields={u: [200]}" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?
set -e
[[ $rc == 2 ]] || { cat "$tmp/stderr"; echo "FAIL: exit $rc, not 2, for a mesh of another size"; exit 1; }
grep -q "solver.parameters.mesh '.*disk.yaml' has 217 nodes, the fields 200" "$tmp/stderr" ||
  { cat "$tmp/stderr"; echo "FAIL: the error does not name both node counts"; exit 1; }
echo "ok: a mesh of 217 nodes for fields of 200 is refused"
