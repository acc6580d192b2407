// The C API (surrogate.h) over surge::Surrogate: exceptions become status codes and a
// per-thread message. Predictions give surge::Surrogate the tensors `surge predict` gives it,
// so that both produce the same floats.
#include "surge/surrogate.h"

#include <cstring>
#include <string>
#include <vector>

#include "model.hpp"
#include "surge/core/c_api.hpp"
#include "surge/core/error.hpp"
#include "surge/surrogate.hpp"

struct surge_surrogate {
  surge::Surrogate model;
  std::vector<std::string> parameter_names;
  std::int64_t output_size = 0;
};

namespace {

thread_local std::string last_error;

int fail(int code, const std::string& message) {
  last_error = message;
  return code;
}

// The status of each kind of failure (surge/core/c_api.hpp), as surrogate.h documents it.
int status_of(surge::core::c_api::CallFailure kind) {
  using surge::core::c_api::CallFailure;
  switch (kind) {
    case CallFailure::argument:
      return SURGE_SURROGATE_ERROR_ARGUMENT;
    case CallFailure::io:  // only load reads files
      return SURGE_SURROGATE_ERROR_LOAD;
    case CallFailure::protocol:
    case CallFailure::out_of_memory:
    case CallFailure::internal:
      break;
  }
  return SURGE_SURROGATE_ERROR_INTERNAL;
}

// Runs `body`, mapping exceptions to status codes; the message names the call.
template <class F>
int guarded(const char* call, F&& body) {
  try {
    body();
    last_error.clear();
    return SURGE_SURROGATE_OK;
  } catch (...) {
    const surge::core::c_api::Failure failure = surge::core::c_api::current_failure();
    return fail(status_of(failure.kind), std::string(call) + ": " + failure.message);
  }
}

// Checks a handle and an output pointer, then runs `body` under guarded().
template <class F>
int query(const char* call, const surge_surrogate* s, const void* out, F&& body) {
  if (!s || !out)
    return fail(SURGE_SURROGATE_ERROR_ARGUMENT, std::string(call) + ": NULL argument");
  return guarded(call, std::forward<F>(body));
}

// An index into `n` things.
void check_index(std::int64_t index, std::size_t n, const char* what) {
  SURGE_REQUIRE(index >= 0 && index < static_cast<std::int64_t>(n), ConfigError,
                what << " index " << index << " is outside [0, " << n << ")");
}

// The parameters as the C++ API takes them, after checking their number.
std::vector<double> parameters_of(const surge_surrogate* s, const double* parameters,
                                  std::int64_t count) {
  const auto expected = static_cast<std::int64_t>(s->parameter_names.size());
  SURGE_REQUIRE(count == expected, ConfigError,
                "the surrogate takes " << expected << " parameters, got " << count);
  SURGE_REQUIRE(count == 0 || parameters, ConfigError, "parameters is NULL");
  return std::vector<double>(parameters, parameters + count);
}

void check_size(std::int64_t size, std::int64_t expected, const char* what) {
  SURGE_REQUIRE(size == expected, ConfigError,
                what << " holds " << size << " floats; the surrogate needs " << expected);
}

// A float CPU tensor of `shape` holding a copy of `data` (torch's own allocation, so that a
// caller's array gives the numbers an array of surge's own gives).
torch::Tensor copy_in(const float* data, std::vector<std::int64_t> shape) {
  SURGE_REQUIRE(data, ConfigError, "the state is NULL");
  torch::Tensor t = torch::empty(shape, torch::kFloat);
  std::memcpy(t.data_ptr<float>(), data, static_cast<std::size_t>(t.numel()) * sizeof(float));
  return t;
}

void copy_out(const torch::Tensor& t, float* out) {
  const torch::Tensor c = t.contiguous();
  std::memcpy(out, c.data_ptr<float>(), static_cast<std::size_t>(c.numel()) * sizeof(float));
}

void check_field_model(const surge_surrogate* s) {
  SURGE_REQUIRE(
      s->model.kind() == "field_from_parameters", ConfigError,
      "predict needs a field_from_parameters model, this one is '" << s->model.kind() << "'");
}

// x [batch, input_size] of a field-from-parameters model as Surrogate::predict(parameters, t)
// builds it for one case: the parameters as floats, then t if the model takes it.
torch::Tensor model_input(const surge_surrogate* s, std::int64_t batch, const double* parameters,
                          std::int64_t count, const double* t) {
  const std::int64_t n_in = s->model.input_size();
  const bool timed = n_in == count + 1;
  torch::Tensor x = torch::empty({batch, n_in}, torch::kFloat);
  float* xs = x.data_ptr<float>();
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < count; ++i)
      xs[b * n_in + i] = static_cast<float>(parameters[b * count + i]);
    if (timed) xs[b * n_in + count] = static_cast<float>(t[b]);
  }
  return x;
}

// [channels, grid...] of a next-step model.
std::vector<std::int64_t> state_shape(const surge::Surrogate& s) {
  std::vector<std::int64_t> shape{static_cast<std::int64_t>(s.channel_names().size())};
  shape.insert(shape.end(), s.grid().begin(), s.grid().end());
  return shape;
}

}  // namespace

extern "C" {

int surge_surrogate_load(surge_surrogate** surrogate, const char* dir) {
  if (!surrogate) return fail(SURGE_SURROGATE_ERROR_ARGUMENT, "surge_surrogate_load: NULL handle");
  *surrogate = nullptr;
  if (!dir) return fail(SURGE_SURROGATE_ERROR_ARGUMENT, "surge_surrogate_load: dir is NULL");
  try {
    surge::Surrogate model = surge::Surrogate::load(dir);
    const std::int64_t output_size = model.output_size();
    auto names = model.parameter_names();
    *surrogate = new surge_surrogate{std::move(model), std::move(names), output_size};
    last_error.clear();
    return SURGE_SURROGATE_OK;
  } catch (...) {
    // Whatever the kind, a failure while loading means the directory cannot be used.
    const surge::core::c_api::Failure failure = surge::core::c_api::current_failure();
    if (failure.kind == surge::core::c_api::CallFailure::out_of_memory)
      return fail(SURGE_SURROGATE_ERROR_INTERNAL, "surge_surrogate_load: out of memory");
    return fail(SURGE_SURROGATE_ERROR_LOAD, "surge_surrogate_load: " + failure.message);
  }
}

void surge_surrogate_free(surge_surrogate* surrogate) { delete surrogate; }

const char* surge_surrogate_last_error(void) { return last_error.c_str(); }

int surge_surrogate_kind(const surge_surrogate* s, int* kind) {
  return query("surge_surrogate_kind", s, kind, [&] {
    *kind = s->model.kind() == "next_step" ? SURGE_SURROGATE_NEXT_STEP
                                           : SURGE_SURROGATE_FIELD_FROM_PARAMETERS;
  });
}

int surge_surrogate_parameter_count(const surge_surrogate* s, int64_t* count) {
  return query("surge_surrogate_parameter_count", s, count,
               [&] { *count = static_cast<int64_t>(s->parameter_names.size()); });
}

int surge_surrogate_parameter_name(const surge_surrogate* s, int64_t index, const char** name) {
  return query("surge_surrogate_parameter_name", s, name, [&] {
    check_index(index, s->parameter_names.size(), "parameter");
    *name = s->parameter_names[static_cast<std::size_t>(index)].c_str();
  });
}

int surge_surrogate_parameter_range(const surge_surrogate* s, int64_t index, double* min,
                                    double* max) {
  if (!min) return fail(SURGE_SURROGATE_ERROR_ARGUMENT, "surge_surrogate_parameter_range: NULL");
  return query("surge_surrogate_parameter_range", s, max, [&] {
    check_index(index, s->parameter_names.size(), "parameter");
    const auto range = s->model.input_ranges()[static_cast<std::size_t>(index)];
    *min = range.first;
    *max = range.second;
  });
}

int surge_surrogate_channel_count(const surge_surrogate* s, int64_t* count) {
  return query("surge_surrogate_channel_count", s, count,
               [&] { *count = static_cast<int64_t>(s->model.channel_names().size()); });
}

int surge_surrogate_channel_name(const surge_surrogate* s, int64_t index, const char** name) {
  return query("surge_surrogate_channel_name", s, name, [&] {
    check_index(index, s->model.channel_names().size(), "channel");
    *name = s->model.channel_names()[static_cast<std::size_t>(index)].c_str();
  });
}

int surge_surrogate_grid_rank(const surge_surrogate* s, int64_t* rank) {
  return query("surge_surrogate_grid_rank", s, rank,
               [&] { *rank = static_cast<int64_t>(s->model.grid().size()); });
}

int surge_surrogate_grid_extent(const surge_surrogate* s, int64_t axis, int64_t* extent) {
  return query("surge_surrogate_grid_extent", s, extent, [&] {
    check_index(axis, s->model.grid().size(), "grid axis");
    *extent = s->model.grid()[static_cast<std::size_t>(axis)];
  });
}

int surge_surrogate_output_size(const surge_surrogate* s, int64_t* size) {
  return query("surge_surrogate_output_size", s, size, [&] { *size = s->output_size; });
}

int surge_surrogate_time_count(const surge_surrogate* s, int64_t* count) {
  return query("surge_surrogate_time_count", s, count,
               [&] { *count = static_cast<int64_t>(s->model.times().size()); });
}

int surge_surrogate_time(const surge_surrogate* s, int64_t index, double* t) {
  return query("surge_surrogate_time", s, t, [&] {
    check_index(index, s->model.times().size(), "time");
    *t = s->model.times()[static_cast<std::size_t>(index)];
  });
}

int surge_surrogate_dt(const surge_surrogate* s, double* dt) {
  return query("surge_surrogate_dt", s, dt, [&] { *dt = s->model.dt(); });
}

int surge_surrogate_predict(const surge_surrogate* s, const double* parameters,
                            int64_t parameter_count, double t, float* out, int64_t out_size) {
  return query("surge_surrogate_predict", s, out, [&] {
    check_field_model(s);
    (void)parameters_of(s, parameters, parameter_count);
    check_size(out_size, s->output_size, "out");
    torch::Tensor o = torch::from_blob(out, {1, s->output_size}, torch::kFloat);
    s->model.predict_into(model_input(s, 1, parameters, parameter_count, &t), o);
  });
}

int surge_surrogate_predict_batch(const surge_surrogate* s, int64_t batch, const double* parameters,
                                  int64_t parameter_count, const double* t, float* out,
                                  int64_t out_size) {
  return query("surge_surrogate_predict_batch", s, out, [&] {
    SURGE_REQUIRE(batch >= 1, ConfigError, "batch must be >= 1, got " << batch);
    check_field_model(s);
    (void)parameters_of(s, parameters, parameter_count);
    SURGE_REQUIRE(t, ConfigError, "t is NULL");
    check_size(out_size, batch * s->output_size, "out");
    torch::Tensor o = torch::from_blob(out, {batch, s->output_size}, torch::kFloat);
    s->model.predict_into(model_input(s, batch, parameters, parameter_count, t), o);
  });
}

int surge_surrogate_step(const surge_surrogate* s, const float* state, const double* parameters,
                         int64_t parameter_count, float* next, int64_t size) {
  return query("surge_surrogate_step", s, next, [&] {
    SURGE_REQUIRE(s->model.kind() == "next_step", ConfigError,
                  "step needs a next_step model; this one is " << s->model.kind());
    const auto p = parameters_of(s, parameters, parameter_count);
    check_size(size, s->output_size, "the state");
    copy_out(s->model.step(copy_in(state, state_shape(s->model)), p), next);
  });
}

int surge_surrogate_rollout(const surge_surrogate* s, const float* initial,
                            const double* parameters, int64_t parameter_count, int64_t steps,
                            float* out, int64_t out_size) {
  return query("surge_surrogate_rollout", s, out, [&] {
    SURGE_REQUIRE(s->model.kind() == "next_step", ConfigError,
                  "rollout needs a next_step model; this one is " << s->model.kind());
    SURGE_REQUIRE(steps >= 0, ConfigError, "steps must be >= 0, got " << steps);
    const auto p = parameters_of(s, parameters, parameter_count);
    check_size(out_size, (steps + 1) * s->output_size, "out");
    copy_out(s->model.rollout(copy_in(initial, state_shape(s->model)), p, steps), out);
  });
}

}  // extern "C"
