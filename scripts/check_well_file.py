#!/usr/bin/python3
"""Checks HDF5 files against the layout of The Well (PolymathicAI/the_well v1.2.1): every rule
its scripts/check_thewell_formatting.py asserts, plus what its WellDataset needs to read a
file (a bc_type of its enum WALL, OPEN, PERIODIC; sample_varying and time_varying on
dimensions/time).

usage: check_well_file.py FILE...
Prints "ok FILE" for a file that passes, else one line per violated rule naming the HDF5
path; exits 1 if any file fails. Group names that do not follow The Well's convention
(x_wall) are warnings on stderr, as in The Well's checker.
"""
import sys

import h5py
import numpy as np

BC_TYPES = ("WALL", "OPEN", "PERIODIC")


class Checker:
    def __init__(self, f):
        self.f = f
        self.problems = []
        self.warnings = []

    def fail(self, path, message):
        self.problems.append(f"{path}: {message}")

    def attr(self, obj, name, kinds, what):
        """The attribute `name` of `obj` if it exists and is one of `kinds`, else None."""
        if name not in obj.attrs:
            self.fail(obj.name, f"should have the attribute '{name}'")
            return None
        value = obj.attrs[name]
        if not isinstance(value, kinds):
            self.fail(obj.name, f"attribute '{name}' should be {what}, not {type(value).__name__}")
            return None
        return value

    def strings(self, obj, name):
        value = self.attr(obj, name, (list, np.ndarray), "a list of strings")
        if value is None:
            return None
        for item in value:
            if not isinstance(item, str):
                self.fail(obj.name, f"'{item}' in attribute '{name}' should be a string")
                return None
        return list(value)

    def group(self, name):
        if name not in self.f or not isinstance(self.f[name], h5py.Group):
            self.fail(f"/{name}", "should be a root group")
            return None
        return self.f[name]

    def root(self):
        f = self.f
        self.attr(f, "dataset_name", str, "a string")
        self.n_dims = self.attr(f, "n_spatial_dims", (int, np.integer), "an integer")
        self.n_traj = self.attr(f, "n_trajectories", (int, np.integer), "an integer")
        self.attr(f, "grid_type", str, "a string")
        names = self.strings(f, "simulation_parameters") or []
        scalars = f["scalars"] if isinstance(f.get("scalars"), h5py.Group) else {}
        for key in names:
            if key not in f.attrs:
                self.fail("/", f"'{key}' of simulation_parameters should be a root attribute")
            if key not in scalars:
                self.fail("/scalars", f"should hold '{key}' of simulation_parameters")

    def dimensions(self):
        g = self.group("dimensions")
        self.n_time, self.spatial, self.sizes = None, [], {}
        if g is None:
            return
        if "time" in g and isinstance(g["time"], h5py.Dataset) and g["time"].ndim > 0:
            self.n_time = g["time"].shape[-1]
        spatial = self.strings(g, "spatial_dims")
        if spatial is not None and self.n_dims is not None and len(spatial) != self.n_dims:
            self.fail(g.name, f"spatial_dims has {len(spatial)} names, n_spatial_dims is "
                      f"{self.n_dims}")
        self.spatial = spatial or []
        for dim in self.spatial:
            if dim in g and isinstance(g[dim], h5py.Dataset) and g[dim].ndim > 0:
                self.sizes[dim] = g[dim].shape[-1]
        self.dataset(g, "time")
        for dim in self.spatial:
            self.dataset(g, dim, spatial=True)

    def varying(self, obj):
        flags = [self.attr(obj, a, (bool, np.bool_), "a boolean")
                 for a in ("sample_varying", "time_varying")]
        return None if None in flags else flags

    def leading_shape(self, obj, flags):
        """The shape The Well expects before the spatial axes, or None if unknown."""
        sample, time = flags
        shape = ()
        if sample:
            if self.n_traj is None:
                return None
            shape += (int(self.n_traj),)
        if time:
            if self.n_time is None:
                self.fail(obj.name, "is time_varying but /dimensions/time has no length")
                return None
            shape += (self.n_time,)
        return shape

    def dataset(self, group, key, spatial=False, order=None):
        if key not in group or not isinstance(group[key], h5py.Dataset):
            self.fail(group.name, f"should hold the dataset '{key}'")
            return
        d = group[key]
        flags = self.varying(d)
        use_dims = None
        if order is not None:
            use_dims = self.attr(d, "dim_varying", (list, np.ndarray), "a list of booleans")
            if use_dims is not None and self.n_dims is not None and len(use_dims) != self.n_dims:
                self.fail(d.name, f"dim_varying has {len(use_dims)} entries, n_spatial_dims is "
                          f"{self.n_dims}")
                use_dims = None
        if flags is None or (order is not None and (use_dims is None or self.n_dims is None)):
            return
        expected = self.leading_shape(d, flags)
        if expected is None:
            return
        if order is not None:
            for dim, used in zip(self.spatial, use_dims):
                if used:
                    if dim not in self.sizes:
                        return
                    expected += (self.sizes[dim],)
            expected += (int(self.n_dims),) * order
        current = d.shape[:-1] if spatial else d.shape
        if current != expected:
            self.fail(d.name, f"has shape {current}, expected {expected}")

    def fields(self, order):
        g = self.group(f"t{order}_fields")
        if g is None:
            return
        for key in self.strings(g, "field_names") or []:
            self.dataset(g, key, order=order)

    def scalars(self):
        g = self.group("scalars")
        if g is None:
            return
        for key in self.strings(g, "field_names") or []:
            self.dataset(g, key)

    def boundary(self, b):
        bc_type = self.attr(b, "bc_type", str, "a string")
        if bc_type is not None:
            if bc_type not in BC_TYPES:
                self.fail(b.name, f"bc_type '{bc_type}' should be one of {', '.join(BC_TYPES)}")
            elif bc_type.lower() not in b.name:
                self.warnings.append(f"{b.name}: not named after its bc_type ({bc_type})")
        self.strings(b, "associated_fields")
        dims = self.strings(b, "associated_dims")
        for dim in dims or []:
            if dim not in self.spatial:
                self.fail(b.name, f"associated dim '{dim}' should be one of spatial_dims")
                dims = None
            elif dim not in b.name:
                self.warnings.append(f"{b.name}: not named after its associated_dims")
        if "mask" not in b or not isinstance(b["mask"], h5py.Dataset):
            self.fail(b.name, "should hold the dataset 'mask'")
            return
        flags = self.varying(b)
        if flags is None or dims is None:
            return
        expected = self.leading_shape(b, flags)
        if expected is None:
            return
        for dim in self.spatial:
            if dim in dims:
                if dim not in self.sizes:
                    return
                expected += (self.sizes[dim],)
        if b["mask"].shape != expected:
            self.fail(b["mask"].name, f"has shape {b['mask'].shape}, expected {expected} from "
                      f"sample_varying, time_varying and associated_dims")

    def boundaries(self):
        g = self.group("boundary_conditions")
        if g is None:
            return
        for key in g:
            if isinstance(g[key], h5py.Group):
                self.boundary(g[key])
            else:
                self.fail(g[key].name, "should be a group (bc_type, associated_dims, mask)")

    def run(self):
        self.root()
        self.dimensions()
        for order in range(3):
            self.fields(order)
        self.scalars()
        self.boundaries()


def check(path):
    """The violated rules of the file at `path` (an empty list if it passes), and warnings."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        return [f"cannot open as HDF5: {e}"], []
    with f:
        c = Checker(f)
        try:
            c.run()
        except Exception as e:  # a layout too broken to go on: still one line, still a failure
            c.fail("/", f"cannot check further: {type(e).__name__}: {e}")
        return c.problems, c.warnings


def main(paths):
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        problems, warnings = check(path)
        for w in warnings:
            print(f"warning: {path}: {w}", file=sys.stderr)
        for p in problems:
            print(f"{path}: {p}")
        if problems:
            failed = True
        else:
            print(f"ok {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
