// A solver of one's own joining a surge study (solver type external), in C++ on one process
// (no MPI): the physics of examples/c/advection.c,
//     du/dt + vx du/dx + vy du/dy = kappa (d2u/dx2 + d2u/dy2),  u(x, y, 0) = sin 2pi (x + 2y),
// on the periodic unit square (explicit Euler, first-order upwind advection, central
// diffusion), streaming two fields of different shapes: u on the nx x ny grid (surge's axes
// [nx, ny]: axis 0 is x, y the fastest), and its gradient grad_u = (du/dx, du/dy), a vector
// field whose components are a last axis [nx, ny, 2] (central differences).
//
// Joining the study takes three calls of the client's C API (surge/streaming/client.h):
// surge_client_init_fields_from_env with a shape per field, surge_client_send per field and
// output, surge_client_finalize.
//
// usage: example_advection_cxx nx=32 ny=32 outputs=10 output_dt=0.05 vx=0.5 vy=0.5 kappa=0.005
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "surge/streaming/client.h"

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Options {
  int nx = 32, ny = 32, outputs = 10;
  double output_dt = 0.05, vx = 0.5, vy = 0.5, kappa = 0.005;
};

// Reads key=value arguments. Throws std::invalid_argument saying what is wrong.
Options parse(int argc, char** argv) {
  Options o;
  const std::map<std::string, int*> integers = {
      {"nx", &o.nx}, {"ny", &o.ny}, {"outputs", &o.outputs}};
  const std::map<std::string, double*> reals = {
      {"output_dt", &o.output_dt}, {"vx", &o.vx}, {"vy", &o.vy}, {"kappa", &o.kappa}};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq),
                      value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (!integers.count(key) && !reals.count(key))
      throw std::invalid_argument("'" + arg + "' is not one of the key=value options");
    try {
      if (integers.count(key)) *integers.at(key) = std::stoi(value);
      if (reals.count(key)) *reals.at(key) = std::stod(value);
    } catch (const std::logic_error&) {  // std::stoi and std::stod say only their own name
      throw std::invalid_argument("'" + arg + "': the value is not a number");
    }
  }
  if (o.nx < 2 || o.ny < 2 || o.outputs < 1 || o.output_dt <= 0)
    throw std::invalid_argument("bad options (nx, ny >= 2, outputs >= 1, output_dt > 0)");
  return o;
}

// The field u on the periodic nx x ny grid, row-major: u[i * ny + j] at x = i / nx, y = j / ny.
class Advection {
 public:
  explicit Advection(const Options& o) : o_(o), u_(std::size_t(o.nx) * o.ny), next_(u_.size()) {
    for (int i = 0; i < o.nx; ++i) {
      for (int j = 0; j < o.ny; ++j)
        u_[i * o.ny + j] = std::sin(2 * kPi * (double(i) / o.nx + 2.0 * j / o.ny));
    }
    // Explicit stability: dt (|vx|/hx + |vy|/hy + 2 kappa (1/hx^2 + 1/hy^2)) <= 1, halved.
    const double rate = std::fabs(o.vx) * o.nx + std::fabs(o.vy) * o.ny +
                        2 * o.kappa * (double(o.nx) * o.nx + double(o.ny) * o.ny);
    substeps_ = static_cast<int>(std::ceil(o.output_dt * rate / 0.5));
    dt_ = o.output_dt / substeps_;
  }

  // Advances u by one output interval.
  void advance() {
    const double hx = 1.0 / o_.nx, hy = 1.0 / o_.ny;
    for (int s = 0; s < substeps_; ++s) {
      for (int i = 0; i < o_.nx; ++i) {
        for (int j = 0; j < o_.ny; ++j) {
          const double c = at(i, j), w = at(i - 1, j), e = at(i + 1, j), so = at(i, j - 1),
                       n = at(i, j + 1);
          const double adv_x = o_.vx > 0 ? o_.vx * (c - w) / hx : o_.vx * (e - c) / hx;
          const double adv_y = o_.vy > 0 ? o_.vy * (c - so) / hy : o_.vy * (n - c) / hy;
          const double diff = (w - 2 * c + e) / (hx * hx) + (so - 2 * c + n) / (hy * hy);
          next_[i * o_.ny + j] = c + dt_ * (o_.kappa * diff - adv_x - adv_y);
        }
      }
      u_.swap(next_);
    }
  }

  [[nodiscard]] const std::vector<double>& u() const { return u_; }

  // (du/dx, du/dy) by central differences, row-major [nx, ny, 2].
  [[nodiscard]] std::vector<double> gradient() const {
    std::vector<double> g(2 * u_.size());
    for (int i = 0; i < o_.nx; ++i) {
      for (int j = 0; j < o_.ny; ++j) {
        g[2 * (i * o_.ny + j)] = (at(i + 1, j) - at(i - 1, j)) * o_.nx / 2;
        g[2 * (i * o_.ny + j) + 1] = (at(i, j + 1) - at(i, j - 1)) * o_.ny / 2;
      }
    }
    return g;
  }

 private:
  [[nodiscard]] double at(int i, int j) const {
    return u_[((i + o_.nx) % o_.nx) * o_.ny + (j + o_.ny) % o_.ny];
  }

  Options o_;
  std::vector<double> u_, next_;
  int substeps_ = 1;
  double dt_ = 0;
};

// Throws std::runtime_error with the client's message when a call failed.
void check(int status, const char* what) {
  if (status != SURGE_OK)
    throw std::runtime_error(std::string(what) + ": " + surge_client_last_error());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    Advection solver(o);
    // 1. Join the study: u of shape [nx, ny] and grad_u of shape [nx, ny, 2], one rank of a
    //    member of one, the sampled parameters in the order of solver.parameters.parameters.
    const char* fields[] = {"u", "grad_u"};
    const int ndims[] = {2, 3};
    const auto ny = static_cast<std::uint64_t>(o.ny), nx = static_cast<std::uint64_t>(o.nx);
    const std::uint64_t shapes[] = {nx, ny, nx, ny, 2};
    const double parameters[] = {o.vx, o.kappa};
    surge_client* client = nullptr;
    check(surge_client_init_fields_from_env(&client, 0, 1, SURGE_FLOAT64, 2, fields, ndims, shapes,
                                            2, parameters),
          "surge_client_init_fields_from_env");
    for (int k = 0; k < o.outputs; ++k) {
      if (k > 0) solver.advance();
      // 2. Send output k (step 0 is the initial state) at t = k * output_dt, each field whole.
      const std::vector<double> gradient = solver.gradient();
      check(surge_client_send(client, "u", k, k * o.output_dt, solver.u().data(), nullptr, nullptr),
            "surge_client_send");
      check(surge_client_send(client, "grad_u", k, k * o.output_dt, gradient.data(), nullptr,
                              nullptr),
            "surge_client_send");
    }
    // 3. End the stream: without it the study counts the attempt as failed. (On an error
    //    above the stream stays unended, and the study relaunches the member.)
    check(surge_client_finalize(client), "surge_client_finalize");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_advection_cxx: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
