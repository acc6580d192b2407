// The C API's shape per field (surge_client_init_fields_from_env) over loopback: members of a
// scalar and a vector field on one grid send each whole and in blocks of its own number of
// axes, and both arrive with their shapes and values; ill-formed shapes are refused with a
// message, before the environment is read or while the fields are made; the Fortran module
// does the same in Fortran order.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "surge/streaming/client.h"
#include "surge/streaming/front.hpp"
#include "surge/streaming/member_environment.hpp"
#include "surge/streaming/receiver.hpp"
#include "test_util.hpp"

using namespace surge::streaming;

namespace {

// Points the member variables at `front` (no CURVE, no ticket).
void join_from_environment(const Front& front, std::uint64_t simulation) {
  MemberEnvironment env;
  env.endpoint = front.endpoint();
  env.experiment = "shapes";
  env.simulation = simulation;
  env.server_timeout_s = 30;
  for (const char* name : {kPublicKeyFileVariable, kMemberTicketVariable}) unsetenv(name);
  for (const auto& entry : to_environment(env)) {
    const auto eq = entry.find('=');
    setenv(entry.substr(0, eq).c_str(), entry.substr(eq + 1).c_str(), 1);
  }
}

// A front and a receiver on loopback that keep every field delivered; with `expected`, the
// front admits only members that match it.
struct Server {
  explicit Server(std::optional<MemberExpectations> expected = std::nullopt)
      : config([&] {
          ReceiverConfig c;
          c.experiment = "shapes";
          c.expected = std::move(expected);
          return c;
        }()) {}
  ReceiverConfig config;  // before the receiver and the front, which copy it
  std::uint64_t key = make_admission_key();
  std::mutex mutex;
  std::vector<Field> fields;
  int ends = 0;
  Receiver receiver{config, key, 0, [this](Delivery&& d) {
                      std::lock_guard<std::mutex> lock(mutex);
                      if (d.kind == DeliveryKind::simulation_end) {
                        ++ends;
                      } else {
                        fields.push_back(std::move(d.field));
                      }
                    }};
  Front front{config, key, {receiver.endpoint()}};

  // Once `members` simulations have ended: `count` fields arrived, each u of shape [4, 6]
  // equal to `u` and each grad of shape [4, 6, 2] equal to `grad`, with the parameters
  // {0.25, 3.0}.
  void expect_delivered(int members, std::size_t count, const std::vector<double>& u,
                        const std::vector<double>& grad) {
    ASSERT_TRUE(test::eventually([&] {
      std::lock_guard<std::mutex> lock(mutex);
      return ends == members;
    }));
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(fields.size(), count);
    for (const Field& f : fields) {
      const bool scalar = f.name == "u";
      EXPECT_EQ(f.shape, scalar ? (std::vector<std::uint64_t>{4, 6})
                                : (std::vector<std::uint64_t>{4, 6, 2}));
      const auto v = f.data.view<double>();
      EXPECT_EQ(std::vector<double>(v.begin(), v.end()), scalar ? u : grad)
          << f.name << " of simulation " << f.simulation;
      EXPECT_EQ(f.parameters, (std::vector<double>{0.25, 3.0}));
    }
  }
};

}  // namespace

TEST(CApiShapes, EachFieldHasItsOwnShape) {
  Server server;
  Front& front = server.front;
  // u: [4, 6]; grad: [4, 6, 2], the components of a vector field as a last axis.
  const char* names[] = {"u", "grad"};
  const int ndims[] = {2, 3};
  const uint64_t shapes[] = {4, 6, 4, 6, 2};
  const double parameters[] = {0.25, 3.0};
  auto join = [&](std::uint64_t simulation, int rank, int size) {
    join_from_environment(front, simulation);
    surge_client* client = nullptr;
    EXPECT_EQ(surge_client_init_fields_from_env(&client, rank, size, SURGE_FLOAT64, 2, names, ndims,
                                                shapes, 2, parameters),
              SURGE_OK)
        << surge_client_last_error();
    return client;
  };
  const std::vector<double> u = test::global_field(5, 0, 0, 4, 6);
  const std::vector<double> grad = test::global_field(5, 0, 1, 4, 12);
  // Simulation 5, two ranks: each sends its two rows of both fields, offsets and extents of
  // the field's own axes.
  for (const int rank : {0, 1}) {
    surge_client* client = join(5, rank, 2);
    ASSERT_NE(client, nullptr);
    const uint64_t row0 = 2 * rank;
    const uint64_t u_offset[] = {row0, 0}, u_extent[] = {2, 6};
    const uint64_t g_offset[] = {row0, 0, 0}, g_extent[] = {2, 6, 2};
    ASSERT_EQ(surge_client_send(client, "u", 0, 0.0, u.data() + row0 * 6, u_offset, u_extent),
              SURGE_OK)
        << surge_client_last_error();
    ASSERT_EQ(
        surge_client_send(client, "grad", 0, 0.0, grad.data() + row0 * 12, g_offset, g_extent),
        SURGE_OK)
        << surge_client_last_error();
    ASSERT_EQ(surge_client_finalize(client), SURGE_OK) << surge_client_last_error();
  }
  // Simulation 6, one rank: whole fields (no offset and extent), each of its own size.
  surge_client* client = join(6, 0, 1);
  ASSERT_NE(client, nullptr);
  ASSERT_EQ(surge_client_send(client, "u", 0, 0.0, u.data(), nullptr, nullptr), SURGE_OK)
      << surge_client_last_error();
  ASSERT_EQ(surge_client_send(client, "grad", 0, 0.0, grad.data(), nullptr, nullptr), SURGE_OK)
      << surge_client_last_error();
  // The vector field's block is checked against its own shape.
  const uint64_t wrong_offset[] = {0, 0, 0}, wrong_extent[] = {4, 6, 3};
  EXPECT_EQ(surge_client_send(client, "grad", 1, 1.0, grad.data(), wrong_offset, wrong_extent),
            SURGE_ERROR_PROTOCOL);
  EXPECT_NE(std::string(surge_client_last_error()).find("leaves the global shape in dimension 2"),
            std::string::npos)
      << surge_client_last_error();
  EXPECT_EQ(surge_client_send(client, "p", 1, 1.0, u.data(), nullptr, nullptr),
            SURGE_ERROR_PROTOCOL);
  EXPECT_NE(std::string(surge_client_last_error()).find("field 'p' was not announced"),
            std::string::npos)
      << surge_client_last_error();
  ASSERT_EQ(surge_client_finalize(client), SURGE_OK) << surge_client_last_error();

  server.expect_delivered(2, 4, u, grad);
}

TEST(CApiShapes, IllFormedShapesAreRefusedWithAMessage) {
  const char* names[] = {"u", "grad"};
  const uint64_t shapes[] = {4, 6, 4, 6, 2, 1, 1};
  surge_client* client = reinterpret_cast<surge_client*>(1);
  // Missing arrays: before the environment is read.
  unsetenv(kEndpointVariable);
  EXPECT_EQ(surge_client_init_fields_from_env(&client, 0, 1, SURGE_FLOAT64, 2, names, nullptr,
                                              shapes, 0, nullptr),
            SURGE_ERROR_ARGUMENT);
  EXPECT_EQ(client, nullptr);
  EXPECT_EQ(std::string(surge_client_last_error()),
            "surge_client_init_fields_from_env: NULL ndims or shapes");
  // A field of 5 axes, named.
  setenv(kEndpointVariable, "tcp://127.0.0.1:1", 1);
  setenv(kExperimentVariable, "shapes", 1);
  setenv(kSimulationIdVariable, "1", 1);
  const int too_many[] = {2, 5};
  EXPECT_EQ(surge_client_init_fields_from_env(&client, 0, 1, SURGE_FLOAT64, 2, names, too_many,
                                              shapes, 0, nullptr),
            SURGE_ERROR_ARGUMENT);
  EXPECT_EQ(client, nullptr);
  EXPECT_EQ(std::string(surge_client_last_error()), "field 'grad': ndims 5 is not in 1..4");
}

// The Fortran module takes each field's shape in Fortran order: u(6, 4) and grad(2, 6, 4)
// arrive as the row-major [4, 6] and [4, 6, 2], their values in memory order.
TEST(CApiShapes, TheFortranModuleReversesEachFieldsShape) {
#ifndef SURGE_FORTRAN_FIELDS_CLIENT
  GTEST_SKIP() << "surge was built without a Fortran compiler";
#else
  // Issue 32: the member names its parameters; a first call in another order than the
  // study's is refused (the program checks the message), the second is admitted.
  MemberExpectations e;
  e.fields = {{"u", {4, 6}}, {"grad", {4, 6, 2}}};
  e.dtype = DType::float64;
  e.parameter_count = 2;
  e.parameter_names = {"amp", "tb"};
  Server server(e);
  join_from_environment(server.front, 9);
  ASSERT_EQ(std::system(SURGE_FORTRAN_FIELDS_CLIENT), 0) << SURGE_FORTRAN_FIELDS_CLIENT;
  EXPECT_EQ(server.front.stats().refused_of(RefusalReason::wrong_announcement), 1u);
  EXPECT_EQ(server.front.stats().accepted, 1u);
  std::vector<double> u(24), grad(48);
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = static_cast<double>(i);
  for (std::size_t i = 0; i < grad.size(); ++i) grad[i] = 1000.0 + static_cast<double>(i);
  server.expect_delivered(1, 2, u, grad);
#endif
}
