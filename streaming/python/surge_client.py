"""surge_client: a Python solver joins a surge study (``solver: {type: external}``).

The module wraps the C API of the streaming client (streaming/include/surge/streaming/client.h)
with ctypes: no build step, numpy arrays in. A member started by ``surge run`` finds its
connection in the environment (SURGE_ENDPOINT, SURGE_EXPERIMENT, SURGE_SIMULATION_ID,
SURGE_MEMBER_TICKET, and SURGE_SERVER_TIMEOUT_S / SURGE_SERVER_PUBLIC_KEY_FILE /
SURGE_CLIENT_PUBLIC_KEY_FILE / SURGE_CLIENT_SECRET_KEY_FILE when the study uses them)::

    import numpy as np
    import surge_client

    client = surge_client.Client.from_env(fields=["u"], shape=(32, 32),
                                          parameters=[velocity, kappa])
    for step in range(outputs):
        ...                                  # advance the solver
        client.send("u", step, step * dt, u)  # u: an array of shape (32, 32)
    client.finalize()

A shape per field (a scalar u and a vector field v with its 2 components as the last axis)::

    client = surge_client.Client.from_env(fields={"u": (32, 32), "v": (32, 32, 2)},
                                          parameters=[velocity, kappa])

Naming the parameters (``parameter_names=``) lets the server check their order: it refuses a
member whose names or order differ from the study's, which every member finds in
SURGE_PARAMETER_NAMES (``surge_client.study_parameter_names()``)::

    client = surge_client.Client.from_env(fields=["u"], shape=(32, 32),
                                          parameters=[velocity, kappa],
                                          parameter_names=["velocity", "kappa"])

or ``with surge_client.Client.from_env(...) as client:``, which finalizes when the block ends
normally and leaves the stream unended when it raises (the server then counts the attempt as
failed, and the launcher relaunches it).

The shared library is looked up in this order: the file named by SURGE_CLIENT_LIBRARY; in an
installed copy (``cmake --install``: <prefix>/lib/python3/dist-packages/surge_client.py), the
prefix's library directory; next to this module, in ../lib, ../../lib and ../../../lib from it
(a build tree's python/ and lib/); then the dynamic loader's path (LD_LIBRARY_PATH).
"""
import ctypes
import ctypes.util
import os

import numpy as np

OK, ERROR_ARGUMENT, ERROR_REFUSED, ERROR_PROTOCOL, ERROR_INTERNAL = range(5)
_DTYPES = {np.dtype(np.float32): 1, np.dtype(np.float64): 2}


class SurgeError(RuntimeError):
    """A call of the C API failed: ``status`` is its code (ERROR_ARGUMENT, ERROR_REFUSED,
    ERROR_PROTOCOL, ERROR_INTERNAL), the message says why."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


# The installed copy's library directory, relative to this file (cmake --install sets it).
_INSTALLED_LIBRARY_DIR = None


def _candidates():
    explicit = os.environ.get("SURGE_CLIENT_LIBRARY")
    if explicit:
        return [explicit]
    here = os.path.dirname(os.path.abspath(__file__))
    ups = [[], [".."], ["..", "lib"], ["..", "..", "lib"], ["..", "..", "..", "lib"]]
    if _INSTALLED_LIBRARY_DIR is not None:
        ups.insert(0, [_INSTALLED_LIBRARY_DIR])
    out = [os.path.join(here, *up, "libsurge_client.so") for up in ups]
    out = [p for p in out if os.path.exists(p)]
    return out + [ctypes.util.find_library("surge_client") or "libsurge_client.so"]


def _load():
    errors = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise ImportError("surge_client: cannot load libsurge_client.so (set SURGE_CLIENT_LIBRARY "
                          "to its path, or LD_LIBRARY_PATH to its directory): "
                          + "; ".join(errors))
    u64p = ctypes.POINTER(ctypes.c_uint64)
    lib.surge_client_init_from_env.argtypes = [
        ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, u64p, ctypes.c_int,
        ctypes.POINTER(ctypes.c_double)]
    lib.surge_client_init_fields_from_env.argtypes = [
        ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_int), u64p, ctypes.c_int,
        ctypes.POINTER(ctypes.c_double)]
    lib.surge_client_init_named_from_env.argtypes = [
        ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_int), u64p, ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_double)]
    lib.surge_client_send.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64,
                                      ctypes.c_double, ctypes.c_void_p, u64p, u64p]
    lib.surge_client_finalize.argtypes = [ctypes.c_void_p]
    lib.surge_client_last_error.restype = ctypes.c_char_p
    for f in (lib.surge_client_init_from_env, lib.surge_client_init_fields_from_env,
              lib.surge_client_init_named_from_env, lib.surge_client_send, lib.surge_client_finalize):
        f.restype = ctypes.c_int
    return lib


_lib = _load()


def _check(status):
    if status != OK:
        raise SurgeError(status, _lib.surge_client_last_error().decode(errors="replace"))


def _u64_array(values):
    return (ctypes.c_uint64 * len(values))(*[int(v) for v in values])


def study_parameter_names():
    """The study's parameter names in the order it expects their values (SURGE_PARAMETER_NAMES,
    set by ``surge run``); [] when unset."""
    text = os.environ.get("SURGE_PARAMETER_NAMES", "")
    return text.split(",") if text else []


class Client:
    """One MPI rank of a member: sends its block of each field per output."""

    def __init__(self, handle, shapes, dtype):
        self._handle = handle
        self.shapes = {name: tuple(shape) for name, shape in shapes.items()}
        self.dtype = dtype

    @property
    def shape(self):
        """The global shape every field has (None when the fields differ in shape)."""
        distinct = set(self.shapes.values())
        return distinct.pop() if len(distinct) == 1 else None

    @classmethod
    def from_env(cls, fields, shape=None, parameters=(), dtype=np.float64, rank=0, size=1,
                 parameter_names=None):
        """Joins the study that started this process.

        fields: the names of the fields this member streams (those of the experiment's
            solver.parameters.fields), each of global shape ``shape`` (row-major; a vector
            field's components are the last axis); or a mapping {name: shape} when the fields
            differ in shape (then leave ``shape`` out); parameters: the member's
            sampled values in the order of solver.parameters.parameters; dtype: numpy.float64
            or numpy.float32 (the study's solver.parameters.dtype); rank, size: this process's
            rank in the member and the member's ranks (e.g. mpi4py's comm.rank, comm.size; 0
            and 1 without MPI); parameter_names: None, or the name of each value in
            ``parameters`` (the server then refuses the member, naming both lists, when they
            are not the study's in its order).
        Raises SurgeError (a missing or ill-formed environment variable, named; the server
        refused the handshake, e.g. for a field it does not expect; no answer)."""
        dtype = np.dtype(dtype)
        if dtype not in _DTYPES:
            raise ValueError(f"dtype {dtype}: surge streams float32 or float64")
        per_field = hasattr(fields, "items")
        if per_field == (shape is not None):
            raise ValueError("give fields as a list with one shape=, or as {name: shape}")
        shapes = {f: tuple(s) for f, s in fields.items()} if per_field \
            else {f: tuple(shape) for f in fields}
        names = (ctypes.c_char_p * len(shapes))(*[f.encode() for f in shapes])
        params = (ctypes.c_double * len(parameters))(*[float(p) for p in parameters])
        handle = ctypes.c_void_p()
        if parameter_names is not None:
            if len(parameter_names) != len(parameters):
                raise ValueError(f"{len(parameter_names)} parameter names for "
                                 f"{len(parameters)} values")
            pnames = (ctypes.c_char_p * len(parameter_names))(
                *[n.encode() for n in parameter_names])
            ndims = (ctypes.c_int * len(shapes))(*[len(s) for s in shapes.values()])
            _check(_lib.surge_client_init_named_from_env(
                ctypes.byref(handle), int(rank), int(size), _DTYPES[dtype], len(shapes), names,
                ndims, _u64_array([n for s in shapes.values() for n in s]), len(parameters),
                pnames, params))
        elif per_field:
            ndims = (ctypes.c_int * len(shapes))(*[len(s) for s in shapes.values()])
            _check(_lib.surge_client_init_fields_from_env(
                ctypes.byref(handle), int(rank), int(size), _DTYPES[dtype], len(shapes), names,
                ndims, _u64_array([n for s in shapes.values() for n in s]), len(parameters),
                params))
        else:
            _check(_lib.surge_client_init_from_env(
                ctypes.byref(handle), int(rank), int(size), _DTYPES[dtype], len(shapes), names,
                len(shape), _u64_array(shape), len(parameters), params))
        return cls(handle, shapes, dtype)

    def send(self, field, step, time, data, offset=None):
        """Sends this rank's block of ``field`` at output ``step`` (0, 1, ...) and ``time``.

        data: the whole field (its shape in ``self.shapes``) or, with ``offset`` (its global
        index per axis), this rank's block of shape ``data.shape``. It is converted to the
        client's dtype and made contiguous if needed, then copied once; the call blocks while
        the server applies back-pressure. Raises SurgeError (ERROR_PROTOCOL for a step the
        server does not take, naming the range: a study takes steps 0 .. outputs-1)."""
        if self._handle is None:
            raise SurgeError(ERROR_ARGUMENT, "send after finalize")
        # An unknown field is the C API's to refuse (SurgeError naming it).
        shape = self.shapes.get(field, ())
        data = np.ascontiguousarray(data, dtype=self.dtype)
        if offset is None:
            if field in self.shapes and data.size != int(np.prod(shape)):
                raise ValueError(f"field '{field}': {data.shape} is not the global shape "
                                 f"{shape} (give offset= to send a block)")
            off = ext = None
        else:
            if field in self.shapes and (len(offset) != len(shape) or data.ndim != len(shape)):
                raise ValueError(f"field '{field}': a block of {data.ndim} axes at offset "
                                 f"{tuple(offset)}, the field has {len(shape)}")
            off, ext = _u64_array(offset), _u64_array(data.shape)
        _check(_lib.surge_client_send(self._handle, field.encode(), int(step), float(time),
                                      data.ctypes.data_as(ctypes.c_void_p), off, ext))

    def finalize(self):
        """Ends the member's stream (after every block sent) and frees the client; idempotent.
        Raises SurgeError if the end cannot be delivered."""
        handle, self._handle = self._handle, None
        if handle is not None:
            _check(_lib.surge_client_finalize(handle))

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.finalize()
        return False
