/* A program that uses a trained surrogate through the C API of surge::surrogate: the C
 * example of surrogates/README.md, and a consumer the tests build against an installed surge.
 *   surrogate_c MODEL OUT P1 P2 ...                field-from-parameters models: every
 *                                                  channel at each of the model's times
 *   surrogate_c MODEL OUT INITIAL STEPS P1 P2 ...  next-step models: a rollout from INITIAL
 * P1 P2 ... are the parameters in the model's order. INITIAL (one state) and OUT (the frames)
 * are raw float32 files, [frames, channels, grid...] in C order. Prints the channel names. */
#include <stdio.h>
#include <stdlib.h>

#include <surge/surrogate.h>

/* Reads n floats from `path` into a new array, or returns NULL. */
static float* read_floats(const char* path, int64_t n) {
  FILE* f = fopen(path, "rb");
  float* data = malloc((size_t)n * sizeof(float));
  const int ok = f && data && fread(data, sizeof(float), (size_t)n, f) == (size_t)n;
  if (f) fclose(f);
  if (ok) return data;
  free(data);
  return NULL;
}

static int write_floats(const char* path, const float* data, int64_t n) {
  FILE* f = fopen(path, "wb");
  const int ok = f && fwrite(data, sizeof(float), (size_t)n, f) == (size_t)n;
  if (f && fclose(f) != 0) return 0;
  return ok;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: surrogate_c MODEL OUT [INITIAL STEPS] P1 P2 ...\n");
    return 2;
  }
  /* [readme] */
  surge_surrogate* s = NULL;
  if (surge_surrogate_load(&s, argv[1]) != SURGE_SURROGATE_OK) {
    fprintf(stderr, "surrogate_c: %s\n", surge_surrogate_last_error());
    return 1;
  }
  int kind = 0;
  int64_t size = 0;
  surge_surrogate_kind(s, &kind);
  surge_surrogate_output_size(s, &size); /* floats in one state: channels x nx x ny */
  /* [readme end] */
  const int next_step = kind == SURGE_SURROGATE_NEXT_STEP, first = next_step ? 5 : 3;
  const int64_t steps = next_step && argc > 4 ? atoll(argv[4]) : 0;
  int64_t frames = steps + 1; /* next step: the initial state, then one per step */
  if (!next_step) surge_surrogate_time_count(s, &frames);       /* the model's output times */
  const int64_t n_parameters = argc > first ? argc - first : 0; /* in the model's order */
  double* parameters = malloc((size_t)(n_parameters + 1) * sizeof(double));
  for (int64_t i = 0; i < n_parameters; ++i) parameters[i] = atof(argv[first + i]);
  float* initial = next_step && argc > 3 ? read_floats(argv[3], size) : NULL; /* NULL: fails */
  float* out = malloc((size_t)(frames * size + 1) * sizeof(float));
  int status = SURGE_SURROGATE_OK;
  /* [readme] */
  if (next_step) { /* frames = steps + 1 states, initial first */
    status =
        surge_surrogate_rollout(s, initial, parameters, n_parameters, steps, out, frames * size);
  } else { /* one field per output time of the model */
    for (int64_t k = 0; k < frames && status == SURGE_SURROGATE_OK; ++k) {
      double t = 0.0;
      surge_surrogate_time(s, k, &t);
      status = surge_surrogate_predict(s, parameters, n_parameters, t, out + k * size, size);
    }
  }
  if (status != SURGE_SURROGATE_OK)
    fprintf(stderr, "surrogate_c: %s\n", surge_surrogate_last_error());
  /* [readme end] */
  if (status == SURGE_SURROGATE_OK && !write_floats(argv[2], out, frames * size)) {
    fprintf(stderr, "surrogate_c: cannot write '%s'\n", argv[2]);
    status = -1;
  }
  int64_t channels = 0;
  surge_surrogate_channel_count(s, &channels);
  for (int64_t c = 0; c < channels && status == SURGE_SURROGATE_OK; ++c) {
    const char* name = "";
    surge_surrogate_channel_name(s, c, &name);
    printf("channel %s\n", name);
  }
  free(parameters);
  free(initial);
  free(out);
  surge_surrogate_free(s);
  return status == SURGE_SURROGATE_OK ? 0 : 1;
}
