// The running statistics' batch sums: the block-float kernel against sums in long double, on
// lengths that leave a tail, with a shift a float cannot hold, and with and without the copy
// made in the same pass, or the squared error summed in it; and the Normaliser's batch_sums
// through it.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model.hpp"

using namespace surge::surrogates;
using namespace surge::surrogates::detail;

namespace {

TEST(Normaliser, ShiftedSumsMatchLongDoubleSumsAndCopyExactly) {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(300.0f, 50.0f);
  for (std::int64_t n : {0, 1, 15, 16, 255, 256, 257, 4096, 100003}) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = normal(rng);
    for (double shift : {0.0, 299.123456789, -1e3 / 3.0}) {
      long double e1 = 0, e2 = 0, magnitude = 0;
      for (float x : v) {
        const long double d = static_cast<long double>(x) - shift;
        e1 += d;
        e2 += d * d;
        magnitude += std::fabs(d);
      }
      std::vector<float> copy(v.size(), -1.0f);
      for (float* out : {static_cast<float*>(nullptr), copy.data()}) {
        double s1 = 1.0, s2 = 2.0;  // the kernel adds to what is there
        add_shifted_sums(v.data(), out, n, shift, &s1, &s2);
        // Float within blocks: a few float roundings of the magnitudes summed.
        EXPECT_NEAR(s1 - 1.0, static_cast<double>(e1), 1e-6 * static_cast<double>(magnitude) + 1e-9)
            << n << " " << shift;
        EXPECT_NEAR(s2 - 2.0, static_cast<double>(e2), 1e-6 * static_cast<double>(e2) + 1e-9)
            << n << " " << shift;
      }
      EXPECT_EQ(copy, v) << n;
    }
  }
}

// The trainer's per-item errors (Impl::item_errors): sum((w - v)^2) in the same pass as the
// shifted sums of v, which stay those of add_shifted_sums bit for bit.
TEST(Normaliser, ErrorSumsMatchLongDoubleSumsAndLeaveTheShiftedSumsAsTheyWere) {
  std::mt19937_64 rng(12);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (std::int64_t n : {0, 1, 15, 16, 255, 256, 257, 4096, 100003}) {
    std::vector<float> v(static_cast<std::size_t>(n)), w(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = normal(rng);
      w[i] = v[i] + 0.01f * normal(rng);
    }
    for (double shift : {0.0, -6.0 / 7.0}) {
      long double e = 0;
      for (std::size_t i = 0; i < v.size(); ++i) {
        const long double d = static_cast<long double>(w[i]) - static_cast<long double>(v[i]);
        e += d * d;
      }
      double s1 = 1.0, s2 = 2.0, se = 3.0, r1 = 1.0, r2 = 2.0;
      add_error_sums(v.data(), w.data(), n, shift, &s1, &s2, &se);
      add_shifted_sums(v.data(), nullptr, n, shift, &r1, &r2);
      EXPECT_EQ(s1, r1) << n;
      EXPECT_EQ(s2, r2) << n;
      EXPECT_NEAR(se - 3.0, static_cast<double>(e), 1e-5 * static_cast<double>(e) + 1e-12)
          << n << " " << shift;
    }
  }
}

// Each item's MSE and relative L2 error (the trainer's per-member losses): the one-pass path
// of contiguous CPU floats and the tensor path (taken here by non-contiguous views; a GPU's
// tensors take it in training) against sums in double, and, on the one-pass path, a field
// whose target is zero in the error's units (the energy's floor).
TEST(Normaliser, ItemErrorsAgreeOnBothPathsAndWithDoubleSums) {
  torch::manual_seed(3);
  const std::int64_t items = 5, fields = 2, nodes = 37;
  const std::vector<double> shift = {0.3, -1.7};
  torch::Tensor y = torch::randn({items, fields * nodes});
  torch::Tensor out = y + 0.05 * torch::randn({items, fields * nodes});
  y[4].narrow(0, nodes, nodes).fill_(1.7f);  // item 4's second field: y + shift = 0
  const auto [mse, relative] = item_errors(out, y, shift);
  const torch::Tensor out_view = torch::cat({out, out}, 1).narrow(1, 0, fields * nodes);
  const torch::Tensor y_view = torch::cat({y, y}, 1).narrow(1, 0, fields * nodes);
  ASSERT_FALSE(out_view.is_contiguous());
  const auto [mse_t, relative_t] = item_errors(out_view, y_view, shift);
  ASSERT_EQ(mse.sizes(), (std::vector<std::int64_t>{items}));
  ASSERT_EQ(relative.sizes(), (std::vector<std::int64_t>{items}));
  const auto o = out.accessor<float, 2>();
  const auto t = y.accessor<float, 2>();
  for (std::int64_t i = 0; i < items; ++i) {
    double se_all = 0.0, rel = 0.0;
    for (std::int64_t f = 0; f < fields; ++f) {
      double se = 0.0, energy = 0.0;
      for (std::int64_t k = f * nodes; k < (f + 1) * nodes; ++k) {
        const double d = static_cast<double>(o[i][k]) - static_cast<double>(t[i][k]);
        const double u = static_cast<double>(t[i][k]) + shift[static_cast<std::size_t>(f)];
        se += d * d;
        energy += u * u;
      }
      se_all += se;
      rel += std::sqrt(se / std::max(energy, kTinyEnergy * static_cast<double>(nodes)));
    }
    const double want_mse = se_all / static_cast<double>(fields * nodes);
    const double want_rel = rel / static_cast<double>(fields);
    EXPECT_NEAR(mse[i].item<double>(), want_mse, 1e-5 * want_mse) << i;
    EXPECT_NEAR(mse_t[i].item<double>(), want_mse, 1e-5 * want_mse) << i;
    EXPECT_NEAR(relative[i].item<double>(), want_rel, 1e-4 * want_rel) << i;
    // The tensor path sums y^2 + 2 s y + s^2 term by term: where y + s is zero that cancels
    // to float noise, so item 4 is the one-pass path's alone.
    if (i < 4) {
      EXPECT_NEAR(relative_t[i].item<double>(), want_rel, 1e-4 * want_rel) << i;
    }
  }
  EXPECT_GT(relative[4].item<double>(), 1e3);  // the floor, not a division by zero
  EXPECT_TRUE(std::isfinite(relative[4].item<double>()));
}

TEST(Normaliser, BatchSumsArePerFieldAndShiftedByTheMean) {
  IoDescription io;
  io.inputs = {{"a", 0, 1}};
  io.fields = {"u", "v"};
  io.grid = {3, 5};
  Normaliser norm(io);
  // Rows of [u (15 values), v (15 values)]: u = 1 + row, v = 10 everywhere.
  auto y = torch::empty({4, 30});
  for (std::int64_t r = 0; r < 4; ++r) {
    y[r].narrow(0, 0, 15).fill_(static_cast<float>(1 + r));
    y[r].narrow(0, 15, 15).fill_(10.0f);
  }
  const std::vector<double> sums = norm.batch_sums(y);
  ASSERT_EQ(sums.size(), 5u);
  EXPECT_EQ(sums[0], 60.0);                            // values per field
  EXPECT_NEAR(sums[1], 15.0 * (1 + 2 + 3 + 4), 1e-9);  // u, shifted by mean 0
  EXPECT_NEAR(sums[2], 600.0, 1e-9);
  EXPECT_NEAR(sums[3], 15.0 * (1 + 4 + 9 + 16), 1e-9);
  EXPECT_NEAR(sums[4], 6000.0, 1e-9);
  norm.merge(sums);
  EXPECT_NEAR(norm.mean()[0], 2.5, 1e-12);
  EXPECT_NEAR(norm.std()[0], std::sqrt(1.25), 1e-12);
  EXPECT_NEAR(norm.mean()[1], 10.0, 1e-12);
  // Now shifted by the means: the sums of the same batch are centred.
  const std::vector<double> again = norm.batch_sums(y);
  EXPECT_NEAR(again[1], 0.0, 1e-9);
  EXPECT_NEAR(again[3], 60.0 * 1.25, 1e-9);
}

}  // namespace
