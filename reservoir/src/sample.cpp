#include "surge/reservoir/sample.hpp"

#include <cstring>

#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/reservoir/batch.hpp"

namespace surge::reservoir {

namespace h5 = core::h5;

void SampleCodec<Sample>::write(hid_t group, const std::vector<const Sample*>& samples) {
  std::vector<std::int64_t> ids, steps, x_sizes, y_sizes;
  std::vector<float> x, y;
  for (const Sample* s : samples) {
    ids.push_back(s->simulation_id);
    steps.push_back(s->step);
    x_sizes.push_back(static_cast<std::int64_t>(s->x.size()));
    y_sizes.push_back(static_cast<std::int64_t>(s->y.size()));
    x.insert(x.end(), s->x.begin(), s->x.end());
    y.insert(y.end(), s->y.begin(), s->y.end());
  }
  h5::write_dataset(group, "simulation_id", ids);
  h5::write_dataset(group, "step", steps);
  h5::write_dataset(group, "x_size", x_sizes);
  h5::write_dataset(group, "y_size", y_sizes);
  h5::write_dataset(group, "x", x);  // concatenated, sample after sample
  h5::write_dataset(group, "y", y);
}

std::vector<Sample> SampleCodec<Sample>::read(hid_t group) {
  const auto ids = h5::read_dataset<std::int64_t>(group, "simulation_id");
  const auto steps = h5::read_dataset<std::int64_t>(group, "step");
  const auto x_sizes = h5::read_dataset<std::int64_t>(group, "x_size");
  const auto y_sizes = h5::read_dataset<std::int64_t>(group, "y_size");
  const auto x = h5::read_dataset<float>(group, "x");
  const auto y = h5::read_dataset<float>(group, "y");
  const std::size_t n = ids.size();
  SURGE_REQUIRE(steps.size() == n && x_sizes.size() == n && y_sizes.size() == n, IoError,
                "sample checkpoint: " << n << " ids but " << steps.size() << " steps, "
                                      << x_sizes.size() << " x sizes, " << y_sizes.size()
                                      << " y sizes");
  std::vector<Sample> out(n);
  std::size_t xo = 0, yo = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto nx = static_cast<std::size_t>(x_sizes[i]);
    const auto ny = static_cast<std::size_t>(y_sizes[i]);
    SURGE_REQUIRE(x_sizes[i] >= 0 && y_sizes[i] >= 0 && xo + nx <= x.size() && yo + ny <= y.size(),
                  IoError, "sample checkpoint: sizes of sample " << i << " exceed the data");
    out[i].simulation_id = ids[i];
    out[i].step = steps[i];
    out[i].x.assign(x.begin() + static_cast<std::ptrdiff_t>(xo),
                    x.begin() + static_cast<std::ptrdiff_t>(xo + nx));
    out[i].y.assign(y.begin() + static_cast<std::ptrdiff_t>(yo),
                    y.begin() + static_cast<std::ptrdiff_t>(yo + ny));
    xo += nx;
    yo += ny;
  }
  SURGE_REQUIRE(xo == x.size() && yo == y.size(), IoError,
                "sample checkpoint: " << x.size() - xo << " x and " << y.size() - yo
                                      << " y values belong to no sample");
  return out;
}

void stack(const Batch<Sample>& batch, float* x, std::size_t x_size, float* y, std::size_t y_size) {
  const std::size_t n = batch.size();
  const std::size_t nx = n ? batch[0].x.size() : 0;
  const std::size_t ny = n ? batch[0].y.size() : 0;
  SURGE_REQUIRE(x_size == n * nx && y_size == n * ny, ProtocolError,
                "stacking a batch of " << n << " samples of " << nx << " inputs and " << ny
                                       << " targets needs " << n * nx << " and " << n * ny
                                       << " floats, got " << x_size << " and " << y_size);
  for (std::size_t i = 0; i < n; ++i) {
    const Sample& s = batch[i];
    SURGE_REQUIRE(s.x.size() == nx && s.y.size() == ny, ProtocolError,
                  "sample " << i << " of the batch (simulation " << s.simulation_id << ", step "
                            << s.step << ") has " << s.x.size() << " inputs and " << s.y.size()
                            << " targets, sample 0 has " << nx << " and " << ny);
    if (nx) std::memcpy(x + i * nx, s.x.data(), nx * sizeof(float));
    if (ny) std::memcpy(y + i * ny, s.y.data(), ny * sizeof(float));
  }
}

}  // namespace surge::reservoir
