// HDF5 helpers under MPI: attributes of every type round-trip, and a distributed 2D field
// written collectively (each rank its own hyperslab) reads back whole and in place.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/core/mpi.hpp"

namespace h5 = surge::core::h5;

TEST(Hdf5, AttributesRoundTrip) {
  const int rank = surge::core::comm_rank(MPI_COMM_WORLD);
  const std::string path =
      std::string(SURGE_BINARY_DIR) + "/attrs_rank" + std::to_string(rank) + ".h5";
  {
    h5::File f = h5::create_file(path);
    h5::write_attribute(f, "pi", 3.25);
    h5::write_attribute(f, "n", std::int64_t{-7});
    h5::write_attribute(f, "flag", true);
    h5::write_attribute(f, "name", "heat2d");
    h5::write_attribute(f, "names", std::vector<std::string>{"ic", "b1", ""});
    h5::write_attribute(f, "values", std::vector<double>{1.5, -2.0});
    h5::write_attribute(f, "empty", std::vector<std::string>{});
    h5::write_attribute(f, "pi", 6.5);  // replacing keeps one attribute
    h5::Group g = h5::create_group(f, "a");
    h5::Group g2 = h5::create_group(g, "b");
    h5::write_dataset(g2, "v", std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
    f.close();
  }
  h5::File f = h5::open_file(path);
  EXPECT_EQ(h5::read_attribute_double(f, "pi"), 6.5);
  EXPECT_EQ(h5::read_attribute_int(f, "n"), -7);
  EXPECT_TRUE(h5::read_attribute_bool(f, "flag"));
  EXPECT_EQ(h5::read_attribute_string(f, "name"), "heat2d");
  EXPECT_EQ(h5::read_attribute_strings(f, "names"), (std::vector<std::string>{"ic", "b1", ""}));
  EXPECT_EQ(h5::read_attribute_doubles(f, "values"), (std::vector<double>{1.5, -2.0}));
  EXPECT_TRUE(h5::read_attribute_strings(f, "empty").empty());
  EXPECT_TRUE(h5::exists(f, "a/b/v"));
  EXPECT_FALSE(h5::exists(f, "a/c/v"));
  std::vector<hsize_t> dims;
  EXPECT_EQ(h5::read_dataset<double>(f, "a/b/v", &dims), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(dims, (std::vector<hsize_t>{2, 3}));
  EXPECT_THROW((void)h5::read_attribute_double(f, "missing"), surge::core::IoError);
  f.close();
  std::remove(path.c_str());
}

TEST(Hdf5, CollectiveWriteOfDistributedField) {
  const int rank = surge::core::comm_rank(MPI_COMM_WORLD);
  const int size = surge::core::comm_size(MPI_COMM_WORLD);
  const std::string path = std::string(SURGE_BINARY_DIR) + "/distributed.h5";
  // Global 7 x 5 field split in uneven 2D blocks, as the solvers split theirs; value 100 x + y.
  const hsize_t nx = 7, ny = 5;
  int dims[2] = {0, 0};
  SURGE_MPI_CHECK(MPI_Dims_create(size, 2, dims));
  const int cx = rank / dims[1], cy = rank % dims[1];
  const hsize_t x0 = nx * cx / dims[0], x1 = nx * (cx + 1) / dims[0];
  const hsize_t y0 = ny * cy / dims[1], y1 = ny * (cy + 1) / dims[1];
  std::vector<float> block;
  for (hsize_t i = x0; i < x1; ++i)
    for (hsize_t j = y0; j < y1; ++j) block.push_back(static_cast<float>(100 * i + j));
  {
    h5::File f = h5::create_file(path, MPI_COMM_WORLD);
    h5::write_attribute(f, "ranks", static_cast<std::int64_t>(size));
    h5::Dataset d = h5::create_dataset(f, "field", H5T_NATIVE_FLOAT, {2, nx, ny});
    // Frame 1 holds the field; frame 0 is never written.
    h5::write_block(d, {1, x0, y0}, {1, x1 - x0, y1 - y0}, block.data());
    h5::write_dataset(f, "small", std::vector<double>{4.0, 5.0});
    d.close();
    f.close();
  }
  SURGE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
  if (rank == 0) {
    h5::File f = h5::open_file(path);
    EXPECT_EQ(h5::read_attribute_int(f, "ranks"), size);
    std::vector<hsize_t> dims;
    const auto all = h5::read_dataset<float>(f, "field", &dims);
    ASSERT_EQ(dims, (std::vector<hsize_t>{2, nx, ny}));
    for (hsize_t i = 0; i < nx; ++i)
      for (hsize_t j = 0; j < ny; ++j)
        EXPECT_EQ(all[nx * ny + i * ny + j], static_cast<float>(100 * i + j)) << i << "," << j;
    EXPECT_EQ(h5::read_dataset<double>(f, "small"), (std::vector<double>{4.0, 5.0}));
    f.close();
    std::remove(path.c_str());
  }
}
