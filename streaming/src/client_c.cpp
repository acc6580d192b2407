// The C API (client.h) over streaming::Client: exceptions become status codes and a
// per-thread message.
#include "surge/streaming/client.h"

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "surge/core/c_api.hpp"
#include "surge/core/error.hpp"
#include "surge/streaming/client.hpp"
#include "surge/streaming/member_environment.hpp"

struct surge_client {
  std::unique_ptr<surge::streaming::Client> client;
};

namespace {
thread_local std::string last_error;

int fail(int code, const std::string& message) {
  last_error = message;
  return code;
}

// The status of each kind of failure (surge/core/c_api.hpp), as client.h documents it.
int status_of(surge::core::c_api::CallFailure kind) {
  using surge::core::c_api::CallFailure;
  switch (kind) {
    case CallFailure::argument:
    case CallFailure::io:  // a CURVE key file named by the caller or the environment
      return SURGE_ERROR_ARGUMENT;
    case CallFailure::protocol:
      return SURGE_ERROR_PROTOCOL;
    case CallFailure::out_of_memory:
    case CallFailure::internal:
      break;
  }
  return SURGE_ERROR_INTERNAL;
}

// Runs `body`, mapping exceptions to status codes: a refused handshake is the client's own
// kind; every other exception means what it means in every surge C API.
template <class F>
int guarded(F&& body) {
  try {
    body();
    last_error.clear();
    return SURGE_OK;
  } catch (const surge::streaming::HandshakeRefused& e) {
    return fail(SURGE_ERROR_REFUSED, e.message());
  } catch (...) {
    const surge::core::c_api::Failure failure = surge::core::c_api::current_failure();
    return fail(status_of(failure.kind), failure.message);
  }
}

// The arguments every init function shares, checked; "" when they are fine.
const char* check_identity(int member_rank, int member_size, int dtype, int field_count,
                           const char* const* field_names, int parameter_count,
                           const double* parameters) {
  if (!field_names || field_count < 1 || member_rank < 0 || member_size < 1 ||
      (dtype != SURGE_FLOAT32 && dtype != SURGE_FLOAT64) || parameter_count < 0 ||
      (parameter_count > 0 && !parameters)) {
    return "NULL pointer or value out of range (field_count >= 1, member_rank >= 0, "
           "member_size >= 1, dtype SURGE_FLOAT32/64)";
  }
  return "";
}

// One shape for every field: global_shape[0..ndim); "" when it is fine.
const char* check_common_shape(int ndim, const uint64_t* global_shape) {
  using surge::streaming::kMaxDims;
  if (!global_shape || ndim < 1 || ndim > kMaxDims)
    return "NULL global_shape or ndim out of range (1..4)";
  return "";
}

// The fields' shapes: `ndims` given, field i has ndims[i] extents in `shapes` after those of
// the fields before it; without `ndims`, every field has shapes[0..ndim).
std::vector<surge::streaming::FieldSpec> field_specs(int field_count,
                                                     const char* const* field_names,
                                                     const int* ndims, int ndim,
                                                     const uint64_t* shapes) {
  using namespace surge::streaming;
  std::vector<FieldSpec> fields;
  const uint64_t* at = shapes;
  for (int i = 0; i < field_count; ++i) {
    SURGE_REQUIRE(field_names[i], ConfigError, "field name " << i << " is NULL");
    const int n = ndims ? ndims[i] : ndim;
    SURGE_REQUIRE(n >= 1 && n <= kMaxDims, ConfigError,
                  "field '" << field_names[i] << "': ndims " << n << " is not in 1.." << kMaxDims);
    fields.push_back({field_names[i], std::vector<std::uint64_t>(at, at + n)});
    if (ndims) at += n;
  }
  return fields;
}

// Makes *client from the checked arguments.
void make_client(surge_client** client, const surge::streaming::ClientConfig& config,
                 const std::string& experiment, uint64_t simulation_id, int member_rank,
                 int member_size, int dtype, std::vector<surge::streaming::FieldSpec> fields,
                 int parameter_count, const double* parameters,
                 std::vector<std::string> parameter_names = {}) {
  using namespace surge::streaming;
  MemberIdentity id;
  id.experiment = experiment;
  id.simulation = simulation_id;
  id.member_rank = static_cast<std::uint32_t>(member_rank);
  id.member_size = static_cast<std::uint32_t>(member_size);
  id.dtype = dtype == SURGE_FLOAT32 ? DType::float32 : DType::float64;
  id.fields = std::move(fields);
  id.parameters.assign(parameters, parameters + parameter_count);
  id.parameter_names = std::move(parameter_names);
  auto c = std::make_unique<surge_client>();
  c->client = std::make_unique<Client>(config, std::move(id));
  *client = c.release();
}

// Joins the study described by the environment (surge run's member variables); with
// `per_field`, field i has ndims[i] axes, else every field has shapes[0..ndim).
int init_from_env(const char* function, surge_client** client, int member_rank, int member_size,
                  int dtype, int field_count, const char* const* field_names, bool per_field,
                  const int* ndims, int ndim, const uint64_t* shapes, int parameter_count,
                  const double* parameters, const char* const* parameter_names = nullptr) {
  if (!client) return fail(SURGE_ERROR_ARGUMENT, std::string(function) + ": client is NULL");
  *client = nullptr;
  std::string bad = check_identity(member_rank, member_size, dtype, field_count, field_names,
                                   parameter_count, parameters);
  if (bad.empty()) {
    bad = !per_field            ? check_common_shape(ndim, shapes)
          : (!ndims || !shapes) ? "NULL ndims or shapes"
                                : "";
  }
  std::vector<std::string> names;
  for (int i = 0; bad.empty() && parameter_names && i < parameter_count; ++i) {
    if (!parameter_names[i]) bad = "parameter name " + std::to_string(i) + " is NULL";
    if (bad.empty()) names.emplace_back(parameter_names[i]);
  }
  if (!bad.empty()) return fail(SURGE_ERROR_ARGUMENT, std::string(function) + ": " + bad);
  return guarded([&] {
    using namespace surge::streaming;
    const MemberEnvironment env = read_member_environment();
    make_client(client, client_config(env), env.experiment, env.simulation, member_rank,
                member_size, dtype, field_specs(field_count, field_names, ndims, ndim, shapes),
                parameter_count, parameters, std::move(names));
  });
}
}  // namespace

extern "C" {

int surge_client_init(surge_client** client, const char* front_endpoint, const char* experiment,
                      uint64_t simulation_id, int member_rank, int member_size, int dtype,
                      int field_count, const char* const* field_names, int ndim,
                      const uint64_t* global_shape, int parameter_count, const double* parameters,
                      const char* server_public_key_file) {
  if (!client) return fail(SURGE_ERROR_ARGUMENT, "surge_client_init: client is NULL");
  *client = nullptr;
  std::string bad = !front_endpoint || !experiment
                        ? "NULL front endpoint or experiment"
                        : check_identity(member_rank, member_size, dtype, field_count, field_names,
                                         parameter_count, parameters);
  if (bad.empty()) bad = check_common_shape(ndim, global_shape);
  if (!bad.empty()) return fail(SURGE_ERROR_ARGUMENT, "surge_client_init: " + bad);
  return guarded([&] {
    surge::streaming::ClientConfig config;
    config.front_endpoint = front_endpoint;
    if (server_public_key_file) config.curve.server_public_key_file = server_public_key_file;
    make_client(client, config, experiment, simulation_id, member_rank, member_size, dtype,
                field_specs(field_count, field_names, nullptr, ndim, global_shape), parameter_count,
                parameters);
  });
}

int surge_client_init_from_env(surge_client** client, int member_rank, int member_size, int dtype,
                               int field_count, const char* const* field_names, int ndim,
                               const uint64_t* global_shape, int parameter_count,
                               const double* parameters) {
  return init_from_env("surge_client_init_from_env", client, member_rank, member_size, dtype,
                       field_count, field_names, false, nullptr, ndim, global_shape,
                       parameter_count, parameters);
}

int surge_client_init_fields_from_env(surge_client** client, int member_rank, int member_size,
                                      int dtype, int field_count, const char* const* field_names,
                                      const int* ndims, const uint64_t* shapes, int parameter_count,
                                      const double* parameters) {
  return init_from_env("surge_client_init_fields_from_env", client, member_rank, member_size, dtype,
                       field_count, field_names, true, ndims, 0, shapes, parameter_count,
                       parameters);
}

int surge_client_init_named_from_env(surge_client** client, int member_rank, int member_size,
                                     int dtype, int field_count, const char* const* field_names,
                                     const int* ndims, const uint64_t* shapes, int parameter_count,
                                     const char* const* parameter_names, const double* parameters) {
  return init_from_env("surge_client_init_named_from_env", client, member_rank, member_size, dtype,
                       field_count, field_names, true, ndims, 0, shapes, parameter_count,
                       parameters, parameter_names);
}

int surge_client_send(surge_client* client, const char* field_name, int64_t step, double time,
                      const void* data, const uint64_t* block_offset,
                      const uint64_t* block_extent) {
  using namespace surge::streaming;
  if (!client || !client->client || !field_name || !data ||
      (block_offset == nullptr) != (block_extent == nullptr)) {
    return fail(SURGE_ERROR_ARGUMENT,
                "surge_client_send: NULL client, field name or data, or only one of "
                "block_offset/block_extent given");
  }
  return guarded([&] {
    const MemberIdentity& id = client->client->identity();
    // The field's own shape; an unknown name sends nothing and the client says so.
    static const std::vector<std::uint64_t> kNone;
    const auto it = std::find_if(id.fields.begin(), id.fields.end(),
                                 [&](const FieldSpec& f) { return f.name == field_name; });
    const std::vector<std::uint64_t>& shape = it == id.fields.end() ? kNone : it->shape;
    Block block;
    if (block_offset) {
      block.offset.assign(block_offset, block_offset + shape.size());
      block.extent.assign(block_extent, block_extent + shape.size());
    }
    std::size_t elements = shape.empty() ? 0 : 1;
    for (std::uint64_t n : block_offset ? block.extent : shape) elements *= n;
    if (id.dtype == DType::float32) {
      client->client->send(field_name, step, time,
                           Span<const float>(static_cast<const float*>(data), elements), block);
    } else {
      client->client->send(field_name, step, time,
                           Span<const double>(static_cast<const double*>(data), elements), block);
    }
  });
}

int surge_client_finalize(surge_client* client) {
  if (!client) return SURGE_OK;
  std::unique_ptr<surge_client> owned(client);
  return guarded([&] {
    owned->client->finish();
    owned->client.reset();  // waits for queued messages (linger)
  });
}

const char* surge_client_last_error(void) { return last_error.c_str(); }

}  // extern "C"
