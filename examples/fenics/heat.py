#!/usr/bin/python3
"""A FEniCSx (dolfinx 0.5) solver of one's own joining a surge study (solver type external):
the heat equation on an unstructured mesh of the unit square,
    du/dt = kappa laplace(u),  u = 0 on the walls,
    u(x, y, 0) = exp(-((x - cx)^2 + (y - 0.5)^2) / 0.02),
P1 Lagrange elements, backward Euler (the matrix assembled once, kappa a dolfinx Constant so
that every member reuses one compiled form). u is sent on the mesh's nodes, in the order of
mesh.yaml, the file the study names in solver.parameters.mesh: the graph network learns on it.

Joining the study takes three calls of the module surge_client (PYTHONPATH=<prefix>/lib/
python3/dist-packages, or build/python in the build tree): Client.from_env, send per output,
finalize. With out=FILE it joins no study and writes its frames to FILE instead, in the layout
`surge predict --initial` reads (t0_fields/u of shape (1, outputs, n, 1), dimensions/time, the
parameters as attributes): a reference for the surrogate.

usage: heat.py MESH outputs=6 output_dt=0.05 substeps=5 kappa=K cx=X [out=FILE]
"""
import sys

import numpy as np
import ufl
import yaml
from dolfinx import fem, mesh
from dolfinx.fem import petsc
from mpi4py import MPI
from petsc4py import PETSc

import matplotlib.tri as mtri
import surge_client


def read_mesh(path):
    """The dolfinx mesh of the nodes of `path` (experiments/meshes/ format), triangulated as
    make_mesh.py did, and for each node of the file the P1 dof that holds it."""
    with open(path) as f:
        nodes = np.array(yaml.safe_load(f)["nodes"], dtype=np.float64)
    cells = mtri.Triangulation(*nodes.T).triangles.astype(np.int64)
    domain = ufl.Mesh(ufl.VectorElement("Lagrange", "triangle", 1))
    msh = mesh.create_mesh(MPI.COMM_SELF, cells, nodes, domain)
    V = fem.FunctionSpace(msh, ("Lagrange", 1))
    # dolfinx numbers the dofs its own way: find each file node's dof by its position.
    where = {tuple(np.round(p[:2], 9)): dof for dof, p in enumerate(V.tabulate_dof_coordinates())}
    order = np.array([where[tuple(np.round(p, 9))] for p in nodes])
    if len(set(order)) != len(nodes):
        sys.exit("heat.py: error: the mesh's nodes do not map one to one onto the dofs")
    return msh, V, order


class Frames:
    """What heat.py writes with out=FILE in place of the client's calls."""

    def __init__(self, path, kappa, cx):
        self.path, self.parameters = path, {"kappa": kappa, "cx": cx}
        self.frames, self.times = [], []

    def send(self, field, step, time, u):
        self.frames.append(np.array(u, dtype=np.float32))
        self.times.append(time)

    def finalize(self):
        import h5py
        with h5py.File(self.path, "w") as f:
            f.attrs.update(self.parameters)
            f.create_dataset("dimensions/time", data=np.array(self.times))
            f.create_dataset("t0_fields/u", data=np.array(self.frames)[None, :, :, None])


def main(argv):
    path, o = argv[0], {"outputs": "6", "output_dt": "0.05", "substeps": "5"}
    o.update(a.split("=", 1) for a in argv[1:])
    outputs, output_dt, substeps = int(o["outputs"]), float(o["output_dt"]), int(o["substeps"])
    kappa, cx = float(o["kappa"]), float(o["cx"])
    msh, V, order = read_mesh(path)
    dt = output_dt / substeps

    walls = mesh.locate_entities_boundary(msh, 1, lambda x: np.full(x.shape[1], True))
    bc = fem.dirichletbc(PETSc.ScalarType(0), fem.locate_dofs_topological(V, 1, walls), V)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    u_n, uh = fem.Function(V), fem.Function(V)
    u_n.interpolate(lambda x: np.exp(-((x[0] - cx) ** 2 + (x[1] - 0.5) ** 2) / 0.02))
    k = fem.Constant(msh, PETSc.ScalarType(kappa * dt))
    a = fem.form(u * v * ufl.dx + k * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
    L = fem.form(u_n * v * ufl.dx)
    A = petsc.assemble_matrix(a, bcs=[bc])
    A.assemble()
    b = petsc.create_vector(L)
    solver = PETSc.KSP().create(msh.comm)
    solver.setOperators(A)
    solver.setType(PETSc.KSP.Type.PREONLY)
    solver.getPC().setType(PETSc.PC.Type.LU)

    # 1. Join the study: u on the mesh's n nodes (shape [n]), the parameters by name.
    client = Frames(o["out"], kappa, cx) if "out" in o else surge_client.Client.from_env(
        fields=["u"], shape=(len(order),), parameters=[kappa, cx], parameter_names=["kappa", "cx"])
    for step in range(outputs):
        for _ in range(substeps if step > 0 else 0):
            with b.localForm() as local:
                local.set(0)
            petsc.assemble_vector(b, L)
            petsc.apply_lifting(b, [a], [[bc]])
            b.ghostUpdate(addv=PETSc.InsertMode.ADD_VALUES, mode=PETSc.ScatterMode.REVERSE)
            petsc.set_bc(b, [bc])
            solver.solve(b, uh.vector)
            uh.x.scatter_forward()
            u_n.x.array[:] = uh.x.array
        # 2. Send output `step` (0: the initial state) at t = step * output_dt, node by node
        #    in the mesh file's order.
        client.send("u", step, step * output_dt, u_n.x.array[order])
    # 3. End the stream: without it the study counts the attempt as failed.
    client.finalize()


if __name__ == "__main__":
    main(sys.argv[1:])
