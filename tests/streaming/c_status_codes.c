/* Every status code client.h documents, from C: each case calls the C API the way a solver
 * would and checks the code and that the message says why (test_c_status.cpp runs it).
 * argv: the front endpoint of a live server of experiment "c-codes" (no tickets), the front
 * endpoint of a second one that the harness stops on request, an endpoint where nothing
 * listens, and a directory for the stop request (files "connected" and "server_gone").
 * Exits 0 when every case gives its documented code, else 1 naming the first that did not. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "surge/streaming/client.h"

static int failures = 0;

/* Checks that `got` is `want` and, on error, that the message holds `text`. */
static void expect(const char* what, int got, int want, const char* text) {
  const char* message = surge_client_last_error();
  if (got != want || (want != SURGE_OK && strstr(message, text) == NULL)) {
    fprintf(stderr, "FAIL: %s: status %d, expected %d; message '%s', expected to hold '%s'\n", what,
            got, want, message, text);
    ++failures;
  } else {
    printf("ok: %s: status %d%s%s\n", what, got, want != SURGE_OK ? ": " : "",
           want != SURGE_OK ? message : "");
  }
}

static const char* const kNames[] = {"u"};
static const char* const kTwice[] = {"u", "u"};
static const uint64_t kShape[] = {4, 6};
static const double kParameters[] = {0.5};

static int init(surge_client** c, const char* endpoint, const char* experiment, int dtype,
                int fields, const char* const* names, int ndim) {
  return surge_client_init(c, endpoint, experiment, 7, 0, 1, dtype, fields, names, ndim, kShape, 1,
                           kParameters, NULL);
}

static int init_from_env(surge_client** c) {
  return surge_client_init_from_env(c, 0, 1, SURGE_FLOAT64, 1, kNames, 2, kShape, 1, kParameters);
}

/* SURGE_ERROR_ARGUMENT: NULL pointers, values out of range, an invalid identity, a malformed
 * endpoint, a missing variable, an unreadable key file. */
static void arguments(const char* live) {
  surge_client* c = NULL;
  expect("NULL client", init(NULL, live, "c-codes", SURGE_FLOAT64, 1, kNames, 2),
         SURGE_ERROR_ARGUMENT, "client is NULL");
  expect("dtype 3", init(&c, live, "c-codes", 3, 1, kNames, 2), SURGE_ERROR_ARGUMENT,
         "out of range");
  expect("ndim 0", init(&c, live, "c-codes", SURGE_FLOAT64, 1, kNames, 0), SURGE_ERROR_ARGUMENT,
         "out of range");
  expect("NULL field names", init(&c, live, "c-codes", SURGE_FLOAT64, 1, NULL, 2),
         SURGE_ERROR_ARGUMENT, "NULL");
  expect("a field named twice", init(&c, live, "c-codes", SURGE_FLOAT64, 2, kTwice, 2),
         SURGE_ERROR_ARGUMENT, "invalid identity");
  expect("a malformed endpoint", init(&c, "nowhere://x", "c-codes", SURGE_FLOAT64, 1, kNames, 2),
         SURGE_ERROR_ARGUMENT, "cannot connect to front_endpoint 'nowhere://x'");
  if (c != NULL) {
    fprintf(stderr, "FAIL: a failed init left a client\n");
    ++failures;
  }
  unsetenv("SURGE_ENDPOINT");
  expect("SURGE_ENDPOINT missing", init_from_env(&c), SURGE_ERROR_ARGUMENT, "SURGE_ENDPOINT");
  setenv("SURGE_ENDPOINT", live, 1);
  setenv("SURGE_SERVER_PUBLIC_KEY_FILE", "/nonexistent/server.key", 1);
  expect("an unreadable key file", init_from_env(&c), SURGE_ERROR_ARGUMENT,
         "/nonexistent/server.key");
  unsetenv("SURGE_SERVER_PUBLIC_KEY_FILE");
}

/* SURGE_ERROR_REFUSED and SURGE_ERROR_PROTOCOL on the handshake, and a send's codes. */
static void handshake_and_sends(const char* live, const char* dead) {
  surge_client* c = NULL;
  expect("another experiment", init(&c, live, "another", SURGE_FLOAT64, 1, kNames, 2),
         SURGE_ERROR_REFUSED, "wrong experiment");
  setenv("SURGE_ENDPOINT", dead, 1);
  expect("no server", init_from_env(&c), SURGE_ERROR_PROTOCOL, "no answer");
  expect("a live server", init(&c, live, "c-codes", SURGE_FLOAT64, 1, kNames, 2), SURGE_OK, "");
  if (c == NULL) return;
  double field[24] = {0};
  const uint64_t offset[] = {2, 0}, extent[] = {3, 6};
  expect("NULL data", surge_client_send(c, "u", 0, 0.0, NULL, NULL, NULL), SURGE_ERROR_ARGUMENT,
         "NULL");
  expect("an offset without an extent", surge_client_send(c, "u", 0, 0.0, field, offset, NULL),
         SURGE_ERROR_ARGUMENT, "block_offset/block_extent");
  expect("a field not announced", surge_client_send(c, "v", 0, 0.0, field, NULL, NULL),
         SURGE_ERROR_PROTOCOL, "'v' was not announced");
  expect("a block outside the shape", surge_client_send(c, "u", 0, 0.0, field, offset, extent),
         SURGE_ERROR_PROTOCOL, "leaves the global shape");
  expect("a whole field", surge_client_send(c, "u", 0, 0.0, field, NULL, NULL), SURGE_OK, "");
  expect("finalize", surge_client_finalize(c), SURGE_OK, "");
}

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static int exists(const char* dir, const char* name) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &st) == 0;
}

/* SURGE_ERROR_PROTOCOL once the server has been gone longer than SURGE_SERVER_TIMEOUT_S. */
static void server_lost(const char* doomed, const char* dir) {
  surge_client* c = NULL;
  char path[4096];
  setenv("SURGE_ENDPOINT", doomed, 1);
  expect("a server that will go", init_from_env(&c), SURGE_OK, "");
  if (c == NULL) return;
  snprintf(path, sizeof path, "%s/connected", dir);
  FILE* f = fopen(path, "w");
  if (f) fclose(f);
  for (int i = 0; i < 3000 && !exists(dir, "server_gone"); ++i) sleep_ms(10);
  double field[24] = {0};
  (void)surge_client_send(c, "u", 0, 0.0, field, NULL, NULL); /* may still be queued */
  sleep_ms(600);                                              /* twice the server timeout */
  expect("send, the server gone", surge_client_send(c, "u", 1, 0.1, field, NULL, NULL),
         SURGE_ERROR_PROTOCOL, "lost the server");
  expect("finalize, the server gone", surge_client_finalize(c), SURGE_ERROR_PROTOCOL,
         "lost the server");
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s live_front doomed_front dead_endpoint dir\n", argv[0]);
    return 2;
  }
  setenv("SURGE_EXPERIMENT", "c-codes", 1);
  setenv("SURGE_SIMULATION_ID", "8", 1);
  setenv("SURGE_SERVER_TIMEOUT_S", "0.3", 1);
  unsetenv("SURGE_MEMBER_TICKET");
  arguments(argv[1]);
  handshake_and_sends(argv[1], argv[3]);
  server_lost(argv[2], argv[4]);
  if (failures) fprintf(stderr, "%d case(s) failed\n", failures);
  return failures ? 1 : 0;
}
