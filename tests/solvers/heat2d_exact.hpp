#pragma once
// Exact solutions for heat2d with equal boundary values b and uniform initial value ic,
// where v = u - b solves the heat equation with zero boundary values and v(0) = ic - b.

#include <cmath>
#include <vector>

namespace surge::test {

// Continuous problem, Fourier series on the unit square:
//   v = (ic - b) 16/pi^2 sum_{m,n odd} sin(m pi x) sin(n pi y) / (m n) exp(-alpha pi^2 (m^2+n^2) t)
inline double heat_series(double x, double y, double t, double alpha, double ic, double b,
                          int terms = 201) {
  const double pi = M_PI;
  double sum = 0.0;
  for (int m = 1; m <= terms; m += 2) {
    const double em = std::exp(-alpha * pi * pi * m * m * t);
    if (em < 1e-300) break;
    for (int n = 1; n <= terms; n += 2) {
      const double e = em * std::exp(-alpha * pi * pi * n * n * t);
      if (e < 1e-18) break;
      sum += std::sin(m * pi * x) * std::sin(n * pi * y) / (m * n) * e;
    }
  }
  return b + (ic - b) * 16.0 / (pi * pi) * sum;
}

// The discrete problem on an nx x ny node grid (boundary nodes included): the interior
// vector expands in the sine modes of the 5-point Laplacian,
//   v_ij = sum_{m,n} c_mn sin(m pi x_i) sin(n pi y_j),  lambda_mn = 4/hx^2 sin^2(m pi hx/2) + ...
// and each mode is multiplied per step by g(alpha lambda dt): 1/(1 + z) for backward Euler,
// 1 - z for FTCS, exp(-z) for the exact semi-discrete flow. Returns the full node field,
// row-major (y fastest).
template <class Gain>
std::vector<double> heat_discrete(int nx, int ny, double alpha, double ic, double b, Gain gain) {
  const double pi = M_PI;
  const int mx = nx - 1, my = ny - 1;  // number of intervals
  const double hx = 1.0 / mx, hy = 1.0 / my;
  std::vector<double> sx((mx + 1) * (mx + 1)), sy((my + 1) * (my + 1));
  for (int m = 0; m <= mx; ++m)
    for (int i = 0; i <= mx; ++i) sx[m * (mx + 1) + i] = std::sin(m * pi * i / mx);
  for (int n = 0; n <= my; ++n)
    for (int j = 0; j <= my; ++j) sy[n * (my + 1) + j] = std::sin(n * pi * j / my);
  std::vector<double> u(static_cast<std::size_t>(nx) * ny, b);
  for (int m = 1; m < mx; ++m) {
    double sum_x = 0.0;  // sum_i sin(m pi x_i) for uniform data
    for (int i = 1; i < mx; ++i) sum_x += sx[m * (mx + 1) + i];
    for (int n = 1; n < my; ++n) {
      double sum_y = 0.0;
      for (int j = 1; j < my; ++j) sum_y += sy[n * (my + 1) + j];
      // Orthogonality: sum_i sin^2(m pi i / M) = M / 2.
      const double c = (ic - b) * sum_x * sum_y * (2.0 / mx) * (2.0 / my);
      const double sm = std::sin(m * pi * hx / 2), sn = std::sin(n * pi * hy / 2);
      const double lambda = 4.0 / (hx * hx) * sm * sm + 4.0 / (hy * hy) * sn * sn;
      const double g = c * gain(alpha * lambda);
      for (int i = 1; i < mx; ++i)
        for (int j = 1; j < my; ++j)
          u[static_cast<std::size_t>(i) * ny + j] +=
              g * sx[m * (mx + 1) + i] * sy[n * (my + 1) + j];
    }
  }
  return u;
}

}  // namespace surge::test
