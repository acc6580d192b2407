/* C API of the surge streaming client, for C, Fortran (module surge_client) and Python
 * (surge_client.py, over libsurge_client.so) solvers: one client per MPI rank of a member.
 * Every function returns SURGE_OK or an error code; surge_client_last_error() then describes
 * the failure (per thread). A member started by `surge run` (solver type external) joins
 * with surge_client_init_from_env, sends with surge_client_send, ends with
 * surge_client_finalize. */
#ifndef SURGE_STREAMING_CLIENT_H
#define SURGE_STREAMING_CLIENT_H

#include <stdint.h>

#if defined(__GNUC__)
#define SURGE_CLIENT_API __attribute__((visibility("default")))
#else
#define SURGE_CLIENT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct surge_client surge_client;

/* What each status means. Every surge C API gives one kind of failure one meaning (the
 * surrogate's surrogate.h with its own prefix): a wrong argument is ARGUMENT in both. */
enum surge_status {
  SURGE_OK = 0,
  /* The caller's arguments or environment are wrong: a NULL pointer, a value out of range, an
   * invalid identity (field names, shape), a malformed endpoint, a missing or ill-formed
   * SURGE_* variable, a CURVE key file that cannot be read or may be read by others. */
  SURGE_ERROR_ARGUMENT = 1,
  /* The server refused the handshake (another experiment, a member it did not start, an
   * announcement unlike the study's members, another protocol version); the message says
   * why. */
  SURGE_ERROR_REFUSED = 2,
  /* The stream failed or a send breaks its rules: no answer to the handshake within its
   * timeout, an unreadable answer; a field the client did not announce, a block outside the
   * global shape; no connection to the server for longer than the server timeout (clients
   * made by surge_client_init_from_env). */
  SURGE_ERROR_PROTOCOL = 3,
  /* Anything else: out of memory, a ZeroMQ failure. Any call may return it. */
  SURGE_ERROR_INTERNAL = 4
};

enum surge_dtype { SURGE_FLOAT32 = 1, SURGE_FLOAT64 = 2 };

/* Shakes hands with the server at `front_endpoint` and makes *client, without an admission
 * ticket or a CURVE client key pair: for servers that admit members without them (a receiver
 * configured without require_tickets, as in surge's own tests and benchmarks). `surge run`
 * admits only the members it launched, which join with surge_client_init_from_env. Every
 * field has the same global shape global_shape[0..ndim) (row-major). `parameters` (may be NULL when
 * parameter_count is 0) go with every block. `server_public_key_file` is NULL or "" without
 * CURVE. Waits up to 10 s for the server's answer. Returns SURGE_OK, SURGE_ERROR_ARGUMENT
 * (client NULL, any argument above NULL or out of range: field_count >= 1, ndim in 1..4,
 * member_rank in [0, member_size), dtype SURGE_FLOAT32 or SURGE_FLOAT64; duplicate or empty
 * field names; a malformed endpoint; an unreadable key file), SURGE_ERROR_REFUSED or
 * SURGE_ERROR_PROTOCOL (no answer, an unreadable one); on error *client is NULL. */
SURGE_CLIENT_API int surge_client_init(surge_client** client, const char* front_endpoint,
                                       const char* experiment, uint64_t simulation_id,
                                       int member_rank, int member_size, int dtype, int field_count,
                                       const char* const* field_names, int ndim,
                                       const uint64_t* global_shape, int parameter_count,
                                       const double* parameters,
                                       const char* server_public_key_file);

/* As surge_client_init for a member started by `surge run` (solver type external): the
 * front endpoint, experiment and simulation id come from the environment variables
 * SURGE_ENDPOINT, SURGE_EXPERIMENT and SURGE_SIMULATION_ID, the server timeout from
 * SURGE_SERVER_TIMEOUT_S, the CURVE server public key file from
 * SURGE_SERVER_PUBLIC_KEY_FILE, the client key pair from SURGE_CLIENT_PUBLIC_KEY_FILE and
 * SURGE_CLIENT_SECRET_KEY_FILE, and the admission ticket from SURGE_MEMBER_TICKET (all optional).
 * `parameters` are the member's sampled values, in the order of the experiment's
 * solver.parameters.parameters. The handshake waits up to SURGE_SERVER_TIMEOUT_S (10 s at
 * most); later sends fail once the server has been unreachable that long. Returns what
 * surge_client_init returns; SURGE_ERROR_ARGUMENT also for a missing or ill-formed variable,
 * with a message naming it; on error *client is NULL. */
SURGE_CLIENT_API int surge_client_init_from_env(surge_client** client, int member_rank,
                                                int member_size, int dtype, int field_count,
                                                const char* const* field_names, int ndim,
                                                const uint64_t* global_shape, int parameter_count,
                                                const double* parameters);

/* As surge_client_init_from_env, with a shape per field: field i has ndims[i] axes, its
 * global extents (row-major) following those of the fields before it in `shapes` (field 0's
 * at shapes[0], field 1's at shapes[ndims[0]], ...). A scalar field u and a vector field
 * velocity on one nx x ny grid: ndims {2, 3}, shapes {nx, ny, nx, ny, 2} (surge's axes:
 * axis 0 is x, y the fastest). */
SURGE_CLIENT_API int surge_client_init_fields_from_env(surge_client** client, int member_rank,
                                                       int member_size, int dtype, int field_count,
                                                       const char* const* field_names,
                                                       const int* ndims, const uint64_t* shapes,
                                                       int parameter_count,
                                                       const double* parameters);

/* As surge_client_init_fields_from_env, naming the parameters: parameter_names[i] (NULL for
 * none) is the name of parameters[i]. The server refuses the member (SURGE_ERROR_REFUSED, the
 * message naming both lists) when the names or their order differ from the study's, which
 * surge run gives its members in SURGE_PARAMETER_NAMES (comma-separated); without names only
 * the count is checked. Returns what surge_client_init_fields_from_env returns;
 * SURGE_ERROR_ARGUMENT also for a NULL, empty or repeated name. */
SURGE_CLIENT_API int surge_client_init_named_from_env(
    surge_client** client, int member_rank, int member_size, int dtype, int field_count,
    const char* const* field_names, const int* ndims, const uint64_t* shapes, int parameter_count,
    const char* const* parameter_names, const double* parameters);

/* Sends this rank's block of `field_name` at `step`: block_extent[0..ndim) elements of the
 * client's dtype at `data`, placed at block_offset[0..ndim) in the global field (ndim: the
 * field's own number of axes). Both may be
 * NULL for the whole field. The data are copied once; the call blocks under back-pressure.
 * Returns SURGE_OK, SURGE_ERROR_ARGUMENT (client, field_name or data NULL, or only one of
 * block_offset and block_extent given) or SURGE_ERROR_PROTOCOL (a field the client did not
 * announce, a block outside the global shape, a step outside the range the server takes (the
 * message names the step, the field and the range: a study takes steps 0 .. outputs-1), the
 * server unreachable for longer than the server timeout); the client stays usable after
 * either. */
SURGE_CLIENT_API int surge_client_send(surge_client* client, const char* field_name, int64_t step,
                                       double time, const void* data, const uint64_t* block_offset,
                                       const uint64_t* block_extent);

/* Sends end-of-simulation, waits for queued blocks to leave, and frees the client (also on
 * error). NULL is accepted. Returns SURGE_OK or SURGE_ERROR_PROTOCOL (the end of stream not
 * sent: the server unreachable for longer than the server timeout). */
SURGE_CLIENT_API int surge_client_finalize(surge_client* client);

/* The message of this thread's last failed call, or "" if none failed. */
SURGE_CLIENT_API const char* surge_client_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SURGE_STREAMING_CLIENT_H */
