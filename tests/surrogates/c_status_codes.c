/* Every status code surrogate.h documents, from C: each case calls the C API as a C program
 * would and checks the code and that the one-line message names the call and says why
 * (test_c_api.cpp runs it on a field-from-parameters model of 3 parameters).
 * argv: the model directory, a directory that does not exist.
 * Exits 0 when every case gives its documented code, else 1 naming each that did not. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "surge/surrogate.h"

static int failures = 0;

/* Checks that `got` is `want` and, on error, that the message holds `text` and is one line. */
static void expect(const char* what, int got, int want, const char* text) {
  const char* message = surge_surrogate_last_error();
  if (got != want || (want != SURGE_SURROGATE_OK &&
                      (strstr(message, text) == NULL || strchr(message, '\n') != NULL))) {
    fprintf(stderr, "FAIL: %s: status %d, expected %d; message '%s', expected to hold '%s'\n", what,
            got, want, message, text);
    ++failures;
  } else {
    printf("ok: %s: status %d%s%s\n", what, got, want ? ": " : "", want ? message : "");
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s model_dir missing_dir\n", argv[0]);
    return 2;
  }
  surge_surrogate* s = NULL;
  /* SURGE_SURROGATE_ERROR_ARGUMENT and SURGE_SURROGATE_ERROR_LOAD from load. */
  expect("load, NULL handle", surge_surrogate_load(NULL, argv[1]), SURGE_SURROGATE_ERROR_ARGUMENT,
         "surge_surrogate_load: NULL");
  expect("load, NULL dir", surge_surrogate_load(&s, NULL), SURGE_SURROGATE_ERROR_ARGUMENT,
         "surge_surrogate_load: dir is NULL");
  expect("load, no directory", surge_surrogate_load(&s, argv[2]), SURGE_SURROGATE_ERROR_LOAD,
         "does not exist");
  if (s != NULL) {
    fprintf(stderr, "FAIL: a failed load left a handle\n");
    ++failures;
  }
  expect("load", surge_surrogate_load(&s, argv[1]), SURGE_SURROGATE_OK, "");
  if (s == NULL) return 1;

  /* SURGE_SURROGATE_ERROR_ARGUMENT from the metadata calls. */
  int64_t count = 0, size = 0;
  const char* name = NULL;
  expect("parameter_count", surge_surrogate_parameter_count(s, &count), SURGE_SURROGATE_OK, "");
  expect("output_size", surge_surrogate_output_size(s, &size), SURGE_SURROGATE_OK, "");
  expect("kind, NULL out", surge_surrogate_kind(s, NULL), SURGE_SURROGATE_ERROR_ARGUMENT,
         "surge_surrogate_kind: NULL");
  expect("parameter_name past the end", surge_surrogate_parameter_name(s, count, &name),
         SURGE_SURROGATE_ERROR_ARGUMENT, "parameter index 3 is outside [0, 3)");

  /* Predictions: SURGE_SURROGATE_OK, _ERROR_ARGUMENT and _ERROR_INTERNAL. */
  const double parameters[3] = {400.0, 200.0, 300.0};
  float out[1024];
  float state[1024] = {0};
  if (size < 1 || size > 1024 || count != 3) {
    fprintf(stderr, "FAIL: the model has %lld parameters and %lld outputs\n", (long long)count,
            (long long)size);
    return 1;
  }
  expect("predict", surge_surrogate_predict(s, parameters, 3, 0.05, out, size), SURGE_SURROGATE_OK,
         "");
  expect("predict, 2 parameters", surge_surrogate_predict(s, parameters, 2, 0.05, out, size),
         SURGE_SURROGATE_ERROR_ARGUMENT, "takes 3 parameters, got 2");
  expect("predict, out too small", surge_surrogate_predict(s, parameters, 3, 0.05, out, size - 1),
         SURGE_SURROGATE_ERROR_ARGUMENT, "out holds");
  expect("step on a field-from-parameters model",
         surge_surrogate_step(s, state, parameters, 3, out, size), SURGE_SURROGATE_ERROR_ARGUMENT,
         "step needs a next_step model");
  expect("predict_batch, batch 0", surge_surrogate_predict_batch(s, 0, parameters, 3, NULL, out, 0),
         SURGE_SURROGATE_ERROR_ARGUMENT, "batch must be >= 1");
  /* A batch far beyond any memory: LibTorch cannot allocate its input, before reading any of
   * the caller's arrays (only their sizes are checked first). */
  const int64_t huge = (int64_t)1 << 50; /* 16 PiB of input: past any address space */
  const double t = 0.05;
  expect("predict_batch, 2^50 cases",
         surge_surrogate_predict_batch(s, huge, parameters, 3, &t, out, huge * size),
         SURGE_SURROGATE_ERROR_INTERNAL, "surge_surrogate_predict_batch: ");
  surge_surrogate_free(s);
  if (failures) fprintf(stderr, "%d case(s) failed\n", failures);
  return failures ? 1 : 0;
}
