#pragma once
// Shared pieces of the loopback tests (test_loopback*.cpp): a collector of deliveries, the
// server and client configurations, and a member rank that streams row blocks.

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "surge/streaming/client.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"
#include "test_util.hpp"

namespace surge::streaming::test {
using Key = std::tuple<std::uint64_t, std::uint32_t, std::int64_t>;

// Collects deliveries from a handler, and lets a test wait for a number of them.
struct Collector {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<Key, Field> fields;
  std::uint64_t duplicates = 0, ends = 0;
  Receiver::Handler handler() {
    return [this](Delivery&& d) {
      std::lock_guard<std::mutex> lock(mutex);
      if (d.kind == DeliveryKind::simulation_end) {
        ++ends;
      } else {
        const Field& f = d.field;
        if (!fields.emplace(Key{f.simulation, f.field_id, f.step}, std::move(d.field)).second) {
          ++duplicates;
        }
      }
      cv.notify_all();
    };
  }
  bool wait_for_ends(std::uint64_t n) {
    std::unique_lock<std::mutex> lock(mutex);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return ends >= n; });
  }
};

inline ReceiverConfig server_config() {
  ReceiverConfig c;
  c.experiment = "loopback";
  return c;
}

inline MemberIdentity identity(std::uint64_t sim, std::uint32_t rank, std::uint32_t size,
                               std::uint64_t ny, std::uint64_t nx) {
  MemberIdentity id;
  id.experiment = "loopback";
  id.simulation = sim;
  id.member_rank = rank;
  id.member_size = size;
  id.fields = {{"u", {ny, nx}}, {"v", {ny, nx}}};
  id.parameters = {static_cast<double>(sim), 0.5};
  return id;
}

inline ClientConfig client_config(const std::string& front) {
  ClientConfig c;
  c.front_endpoint = front;
  c.heartbeat_interval_ms = 0;
  return c;
}

// One member rank streaming rows [rank*ny/size, ...) of both fields for `steps` steps.
inline void run_rank(const std::string& front, std::uint64_t sim, std::uint32_t rank,
                     std::uint32_t size, std::int64_t first, std::int64_t steps, std::uint64_t ny,
                     std::uint64_t nx, bool owned) {
  Client client(client_config(front), identity(sim, rank, size, ny, nx));
  const std::uint64_t rows = ny / size, row0 = rank * rows;
  for (std::int64_t step = first; step < first + steps; ++step) {
    for (std::uint32_t f = 0; f < 2; ++f) {
      std::vector<double> block = row_block(sim, step, f, row0, rows, nx);
      const Block b{{row0, 0}, {rows, nx}};
      const char* name = f == 0 ? "u" : "v";
      if (owned) {
        client.send_owned(name, step, 0.5 * step, std::move(block), b);
      } else {
        client.send(name, step, 0.5 * step, Span<const double>(block), b);
      }
    }
  }
  client.finish();
}
}  // namespace surge::streaming::test
