/* A solver of one's own joining a surge study (solver type external), in C with MPI.
 *
 * 2D advection-diffusion on the periodic unit square,
 *     du/dt + vx du/dx + vy du/dy = kappa (d2u/dx2 + d2u/dy2),  u(x, y, 0) = sin 2pi (x + 2y),
 * explicit Euler, first-order upwind advection (its numerical diffusion, about |v| h / 2, adds
 * to kappa) and central diffusion. The field is u[i * ny + j] = u(x_i, y_j), surge's axes
 * [nx, ny] (axis 0 is x, y the fastest); the grid is split in bands of x over the MPI ranks,
 * each with one halo row (ny values) on either side.
 *
 * Joining the study takes three calls of the client (surge/streaming/client.h): init from the
 * environment `surge run` gives every member, send this rank's block of u per output, finalize.
 *
 * usage: example_advection_c nx=32 ny=32 outputs=10 output_dt=0.05 vx=0.5 vy=0.5 kappa=0.005
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surge/streaming/client.h"

static const double kPi = 3.14159265358979323846;

typedef struct {
  int nx, ny, outputs;
  double output_dt, vx, vy, kappa;
} Options;

/* Reads key=value arguments; returns 0, or 1 after printing what is wrong. */
static int parse(int argc, char** argv, Options* o) {
  *o = (Options){32, 32, 10, 0.05, 0.5, 0.5, 0.005};
  for (int i = 1; i < argc; ++i) {
    const char* eq = strchr(argv[i], '=');
    if (!eq) {
      fprintf(stderr, "example_advection_c: error: '%s' is not key=value\n", argv[i]);
      return 1;
    }
    const size_t n = (size_t)(eq - argv[i]);
    const char* v = eq + 1;
    if (n == 2 && !strncmp(argv[i], "nx", n)) {
      o->nx = atoi(v);
    } else if (n == 2 && !strncmp(argv[i], "ny", n)) {
      o->ny = atoi(v);
    } else if (n == 7 && !strncmp(argv[i], "outputs", n)) {
      o->outputs = atoi(v);
    } else if (n == 9 && !strncmp(argv[i], "output_dt", n)) {
      o->output_dt = atof(v);
    } else if (n == 2 && !strncmp(argv[i], "vx", n)) {
      o->vx = atof(v);
    } else if (n == 2 && !strncmp(argv[i], "vy", n)) {
      o->vy = atof(v);
    } else if (n == 5 && !strncmp(argv[i], "kappa", n)) {
      o->kappa = atof(v);
    } else {
      fprintf(stderr, "example_advection_c: error: unknown key in '%s'\n", argv[i]);
      return 1;
    }
  }
  return 0;
}

/* One explicit step of rows 1..m of u (m + 2 rows of ny, halos filled) into next. */
static void step(const Options* o, int m, double dt, const double* u, double* next) {
  const int ny = o->ny;
  const double hx = 1.0 / o->nx, hy = 1.0 / o->ny;
  for (int i = 1; i <= m; ++i) {
    for (int j = 0; j < ny; ++j) {
      const double c = u[i * ny + j];
      const double w = u[(i - 1) * ny + j], e = u[(i + 1) * ny + j];
      const double s = u[i * ny + (j + ny - 1) % ny], n = u[i * ny + (j + 1) % ny];
      const double adv_x = o->vx > 0 ? o->vx * (c - w) / hx : o->vx * (e - c) / hx;
      const double adv_y = o->vy > 0 ? o->vy * (c - s) / hy : o->vy * (n - c) / hy;
      const double diff = (w - 2 * c + e) / (hx * hx) + (s - 2 * c + n) / (hy * hy);
      next[i * ny + j] = c + dt * (o->kappa * diff - adv_x - adv_y);
    }
  }
}

/* Periodic halo rows: row 0 from the rank below, row m + 1 from the rank above. */
static void exchange_halos(int ny, int m, double* u, int below, int above) {
  MPI_Sendrecv(u + m * ny, ny, MPI_DOUBLE, above, 0, u, ny, MPI_DOUBLE, below, 0, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
  MPI_Sendrecv(u + ny, ny, MPI_DOUBLE, below, 1, u + (m + 1) * ny, ny, MPI_DOUBLE, above, 1,
               MPI_COMM_WORLD, MPI_STATUS_IGNORE);
}

/* Stops every rank of the member after a failed client call. */
static void fail(const char* what) {
  fprintf(stderr, "example_advection_c: error: %s: %s\n", what, surge_client_last_error());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Options o;
  if (parse(argc, argv, &o) || o.ny < 2 || o.nx < size || o.outputs < 1 || o.output_dt <= 0) {
    if (rank == 0) fprintf(stderr, "example_advection_c: error: bad options (nx >= ranks)\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  /* This rank's band of x [x0, x0 + m): rows of ny values. */
  const int x0 = rank * o.nx / size, m = (rank + 1) * o.nx / size - x0;
  const int below = (rank + size - 1) % size, above = (rank + 1) % size;
  double* u = calloc((size_t)(m + 2) * o.ny, sizeof(double));
  double* next = calloc((size_t)(m + 2) * o.ny, sizeof(double));
  for (int i = 1; i <= m; ++i) {
    for (int j = 0; j < o.ny; ++j) {
      u[i * o.ny + j] = sin(2 * kPi * ((double)(x0 + i - 1) / o.nx + 2.0 * j / o.ny));
    }
  }
  /* Explicit stability: dt (|vx|/hx + |vy|/hy + 2 kappa (1/hx^2 + 1/hy^2)) <= 1, halved. */
  const double rate = fabs(o.vx) * o.nx + fabs(o.vy) * o.ny +
                      2 * o.kappa * ((double)o.nx * o.nx + (double)o.ny * o.ny);
  const int substeps = (int)ceil(o.output_dt * rate / 0.5);
  const double dt = o.output_dt / substeps;

  /* 1. Join the study: the field u of global shape [nx, ny], the sampled parameters in the
   *    order of the experiment's solver.parameters.parameters. */
  surge_client* client = NULL;
  const char* fields[] = {"u"};
  const uint64_t shape[] = {(uint64_t)o.nx, (uint64_t)o.ny};
  const double parameters[] = {o.vx, o.kappa};
  if (surge_client_init_from_env(&client, rank, size, SURGE_FLOAT64, 1, fields, 2, shape, 2,
                                 parameters) != SURGE_OK) {
    fail("surge_client_init_from_env");
  }
  /* This rank's block: rows x0 .. x0 + m - 1, every y. */
  const uint64_t offset[] = {(uint64_t)x0, 0}, extent[] = {(uint64_t)m, (uint64_t)o.ny};
  for (int k = 0; k < o.outputs; ++k) {
    if (k > 0) {
      for (int s = 0; s < substeps; ++s) {
        exchange_halos(o.ny, m, u, below, above);
        step(&o, m, dt, u, next);
        double* t = u;
        u = next;
        next = t;
      }
    }
    /* 2. Send output k (step 0 is the initial state) at t = k * output_dt. */
    if (surge_client_send(client, "u", k, k * o.output_dt, u + o.ny, offset, extent) != SURGE_OK)
      fail("surge_client_send");
  }
  /* 3. End the stream: without it the study counts the attempt as failed. */
  if (surge_client_finalize(client) != SURGE_OK) fail("surge_client_finalize");
  free(u);
  free(next);
  MPI_Finalize();
  return 0;
}
