/* A plain C solver streaming through the C API: argv = front endpoint, simulation id,
 * steps. Sends a 4x6 float64 field "u" per step (value = 1000*step + index) plus a block
 * test of the error path, and exits 0 on success. */
#include <stdio.h>
#include <stdlib.h>

#include "surge/streaming/client.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s front_endpoint simulation steps\n", argv[0]);
    return 2;
  }
  const char* names[] = {"u"};
  const uint64_t shape[] = {4, 6};
  const double params[] = {0.5, 2.0};
  surge_client* client = NULL;
  int rc = surge_client_init(&client, argv[1], "c-test", strtoull(argv[2], NULL, 10), 0, 1,
                             SURGE_FLOAT64, 1, names, 2, shape, 2, params, NULL);
  if (rc != SURGE_OK) {
    fprintf(stderr, "init failed (%d): %s\n", rc, surge_client_last_error());
    return 1;
  }
  /* Error path: an unknown field is refused with a message, the client stays usable. */
  double field[24];
  if (surge_client_send(client, "nope", 0, 0.0, field, NULL, NULL) != SURGE_ERROR_PROTOCOL ||
      surge_client_last_error()[0] == '\0') {
    fprintf(stderr, "unknown field was not reported\n");
    return 1;
  }
  const int steps = atoi(argv[3]);
  for (int step = 0; step < steps; ++step) {
    for (int i = 0; i < 24; ++i) field[i] = 1000.0 * step + i;
    rc = surge_client_send(client, "u", step, 0.1 * step, field, NULL, NULL);
    if (rc != SURGE_OK) {
      fprintf(stderr, "send failed (%d): %s\n", rc, surge_client_last_error());
      return 1;
    }
  }
  rc = surge_client_finalize(client);
  if (rc != SURGE_OK) {
    fprintf(stderr, "finalize failed (%d): %s\n", rc, surge_client_last_error());
    return 1;
  }
  return 0;
}
