/* C API of surge::Surrogate: a trained surrogate (the directory training exported) in a C or
 * Fortran program (module surge_surrogate, ISO_C_BINDING). Link surge::surrogate
 * (libsurge_surrogate.so: LibTorch only, no MPI). Every function but free and last_error
 * returns SURGE_SURROGATE_OK or an error code; surge_surrogate_last_error() then says what
 * failed, for the calling thread, in one line that names the call. One handle may serve several
 * threads at once: nothing changes it after load.
 *
 * Arrays are row-major (C order): a state or a field is [channels, grid...] of
 * surge_surrogate_output_size() floats; indices count from 0. */
#ifndef SURGE_SURROGATE_H
#define SURGE_SURROGATE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct surge_surrogate surge_surrogate;

/* What each status means. Every surge C API gives one kind of failure one meaning (the
 * streaming client's client.h with its own prefix): a wrong argument is ARGUMENT in both. */
enum surge_surrogate_status {
  SURGE_SURROGATE_OK = 0,
  /* The caller's arguments are wrong: a NULL pointer, a count or size that does not match the
   * model, an index out of range, or a call the model's kind does not have (predict on a
   * next-step model, ...). */
  SURGE_SURROGATE_ERROR_ARGUMENT = 1,
  /* surge_surrogate_load only: the directory is missing, is not an exported surrogate, or
   * holds unreadable, corrupt or inconsistent files. */
  SURGE_SURROGATE_ERROR_LOAD = 2,
  /* Anything else: out of memory, a LibTorch failure. */
  SURGE_SURROGATE_ERROR_INTERNAL = 3
};

enum surge_surrogate_kind {
  SURGE_SURROGATE_FIELD_FROM_PARAMETERS = 1, /* mlp: every channel at t from the parameters */
  SURGE_SURROGATE_NEXT_STEP = 2              /* fno, graphnet: the state dt later */
};

/* Loads `dir` (surrogate.yaml + model.pt) into *surrogate. Returns SURGE_SURROGATE_OK,
 * SURGE_SURROGATE_ERROR_ARGUMENT (surrogate or dir NULL), SURGE_SURROGATE_ERROR_LOAD (any
 * failure to read the directory) or SURGE_SURROGATE_ERROR_INTERNAL (out of memory); on error
 * *surrogate is NULL (unless surrogate itself is NULL). */
int surge_surrogate_load(surge_surrogate** surrogate, const char* dir);

/* Frees the handle; NULL is accepted. */
void surge_surrogate_free(surge_surrogate* surrogate);

/* The message of this thread's last failed call (one line), or "" if none failed. */
const char* surge_surrogate_last_error(void);

/* ---- What the model is. Each returns SURGE_SURROGATE_OK or SURGE_SURROGATE_ERROR_ARGUMENT
 * (the handle or an output pointer NULL, an index out of range). */

/* SURGE_SURROGATE_FIELD_FROM_PARAMETERS or SURGE_SURROGATE_NEXT_STEP. */
int surge_surrogate_kind(const surge_surrogate* surrogate, int* kind);
/* The parameters predict, step and rollout take (t excluded), their names and the range each
 * was trained on. Names stay valid until the handle is freed. */
int surge_surrogate_parameter_count(const surge_surrogate* surrogate, int64_t* count);
int surge_surrogate_parameter_name(const surge_surrogate* surrogate, int64_t index,
                                   const char** name);
int surge_surrogate_parameter_range(const surge_surrogate* surrogate, int64_t index, double* min,
                                    double* max);
/* The output channels (a vector field's components are channels: velocity_x, velocity_y). */
int surge_surrogate_channel_count(const surge_surrogate* surrogate, int64_t* count);
int surge_surrogate_channel_name(const surge_surrogate* surrogate, int64_t index,
                                 const char** name);
/* The grid of every channel: its number of axes and the nodes along each. */
int surge_surrogate_grid_rank(const surge_surrogate* surrogate, int64_t* rank);
int surge_surrogate_grid_extent(const surge_surrogate* surrogate, int64_t axis, int64_t* extent);
/* Floats in one field or state: channels times the grid's nodes. */
int surge_surrogate_output_size(const surge_surrogate* surrogate, int64_t* size);
/* The solver output times the model was trained on (count may be 0). */
int surge_surrogate_time_count(const surge_surrogate* surrogate, int64_t* count);
int surge_surrogate_time(const surge_surrogate* surrogate, int64_t index, double* t);
/* Next-step models: the time one step advances (0 for other kinds). */
int surge_surrogate_dt(const surge_surrogate* surrogate, double* dt);

/* ---- Predictions. Each returns SURGE_SURROGATE_OK, SURGE_SURROGATE_ERROR_ARGUMENT (a NULL
 * pointer, a parameter count or array size that does not match the model, a call the
 * model's kind does not have, batch < 1 or steps < 0) or SURGE_SURROGATE_ERROR_INTERNAL (a
 * LibTorch failure, out of memory). */

/* Field-from-parameters models: every channel at time t for parameters[0..parameter_count),
 * into out[0..out_size), out_size being surge_surrogate_output_size(). */
int surge_surrogate_predict(const surge_surrogate* surrogate, const double* parameters,
                            int64_t parameter_count, double t, float* out, int64_t out_size);
/* The same for `batch` cases at once: parameters [batch][parameter_count], t [batch],
 * out [batch][output_size] (out_size = batch * output_size). */
int surge_surrogate_predict_batch(const surge_surrogate* surrogate, int64_t batch,
                                  const double* parameters, int64_t parameter_count,
                                  const double* t, float* out, int64_t out_size);
/* Next-step models: the state dt after `state`, into next (both of size, = output_size; they
 * may be the same array). */
int surge_surrogate_step(const surge_surrogate* surrogate, const float* state,
                         const double* parameters, int64_t parameter_count, float* next,
                         int64_t size);
/* Next-step models: `steps` steps from `initial` (output_size floats), into out, which holds
 * steps + 1 states, `initial` first (out_size = (steps + 1) * output_size). */
int surge_surrogate_rollout(const surge_surrogate* surrogate, const float* initial,
                            const double* parameters, int64_t parameter_count, int64_t steps,
                            float* out, int64_t out_size);

#ifdef __cplusplus
}
#endif

#endif /* SURGE_SURROGATE_H */
