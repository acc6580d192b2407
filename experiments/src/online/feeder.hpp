#pragma once
// A server rank's feeder thread: receiver -> sample builder -> buffer (or the validation set).
// It records what it made of each simulation (the steps turned into samples, the ends seen),
// which is what a study checkpoint keeps of a rank's reception: after `surge resume`, fields
// of steps already made into samples are dropped as duplicates. It never lets an exception
// out: a field it cannot use is counted and dropped; anything else ends reception on this
// rank and is reported by error().

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "online/server_control.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/streaming/receiver.hpp"
#include "surge/surrogates/description.hpp"

namespace surge::experiments {

// What a rank's feeder has recorded (kept by study checkpoints).
struct ReceptionState {
  std::map<std::uint64_t, std::set<std::int64_t>> steps;  // steps made into samples, by simulation
  std::set<std::uint64_t> ended;                          // simulations whose END was seen
  // Simulations ended with every frame made into samples (steps 0 .. frames-1): only their
  // count is kept, so that a long (continuous) study holds an integer per member, not a set.
  std::map<std::uint64_t, std::int64_t> complete;
  std::int64_t received = 0;    // samples made (validation included)
  std::int64_t rejected = 0;    // fields the sample builder could not use
  std::int64_t duplicates = 0;  // fields of steps already made into samples (after a resume)
};

// Fields a feeder dropped, by why (results.h5 streaming/feeder_*); not kept by checkpoints.
struct FeederDrops {
  std::int64_t unknown_role = 0;  // a simulation no rank was told of (never launched)
  std::int64_t bad_step = 0;      // a step outside the member's frames
  std::int64_t unusable = 0;      // the sample builder or the buffer could not use it
};

struct FeederSetup {
  std::vector<surrogates::FieldLayout> layout;
  std::size_t nodes = 0;
  std::int64_t frames = 0;  // steps a member sends, 0 .. frames-1; others are rejected
  bool next_step = false;
  std::int64_t stride = 1;
  // Testing aid (SURGE_TEST_FEEDER_THROW_AT=<samples> with SURGE_TEST_FEEDER_RANK=<rank>):
  // throw once this many samples were made; < 0: never.
  std::int64_t throw_at = -1;
  std::size_t x_size = 0;  // inputs of a sample (parameters, and t); 0: not checked
  // How long a field waits for its simulation's role (rank 0 tells the others of redrawn
  // members) before it is dropped as unknown_role.
  std::chrono::milliseconds role_patience{5000};
};

class Feeder {
 public:
  Feeder(FeederSetup setup, streaming::Receiver& receiver, ServerControl& control,
         reservoir::Buffer<reservoir::Sample>& buffer, const std::atomic<int>& interrupted);
  ~Feeder() { stop(); }
  Feeder(const Feeder&) = delete;
  Feeder& operator=(const Feeder&) = delete;

  // Continues from a checkpoint's record (before start()).
  void restore(ReceptionState state);
  void start();
  // Makes the thread return soon and joins it (idempotent).
  void stop();

  // True once the thread has returned (reception over on this rank, or an error).
  [[nodiscard]] bool over() const noexcept { return over_; }
  // Why the thread stopped early, or "".
  [[nodiscard]] std::string error() const;
  [[nodiscard]] std::int64_t received() const;
  [[nodiscard]] std::int64_t rejected() const;
  [[nodiscard]] FeederDrops drops() const;
  [[nodiscard]] bool has_ended(std::uint64_t simulation) const;
  // Once a simulation's END was seen: how many of its steps were made into samples (what a
  // member that exits 0 must have delivered: every frame); nothing before.
  [[nodiscard]] std::optional<std::int64_t> delivered(std::uint64_t simulation) const;
  // delivered() of every simulation whose END was seen.
  [[nodiscard]] std::map<std::uint64_t, std::int64_t> delivered() const;
  // Samples made, by simulation.
  [[nodiscard]] std::map<std::uint64_t, std::int64_t> samples() const;
  [[nodiscard]] std::vector<reservoir::Sample> validation() const;
  // Frees what the thread holds of a simulation that was given up: its partial samples
  // (thread-safe; done by the thread before its next field). Its samples already made stay,
  // and so do its fields already queued in the receiver (the receiver rejects later ones),
  // which may still complete a sample.
  void forget(std::uint64_t simulation);
  // Simulations forgotten so far.
  [[nodiscard]] std::size_t forgotten() const;

  // Runs `f(state)` with the feeder paused between two samples: what the buffer holds and
  // what the state records agree (a study checkpoint saves both inside `f`).
  template <class F>
  void paused(F&& f) const {
    std::lock_guard<std::mutex> lock(mutex_);
    f(state_);
  }

 private:
  void run();
  void loop();
  // Keeps only the count of `simulation` once it ended with every frame (under mutex_).
  void settle(std::uint64_t simulation);
  // Samples made of `simulation` (under mutex_).
  [[nodiscard]] std::int64_t count(std::uint64_t simulation) const;

  FeederSetup setup_;
  streaming::Receiver& receiver_;
  ServerControl& control_;
  reservoir::Buffer<reservoir::Sample>& buffer_;
  const std::atomic<int>& interrupted_;
  mutable std::mutex mutex_;  // guards state_, validation_, error_; held while putting
  ReceptionState state_;
  std::vector<reservoir::Sample> validation_;
  FeederDrops drops_;
  std::set<std::uint64_t> roleless_;      // simulations whose role did not come in time
  std::vector<std::uint64_t> to_forget_;  // guarded by mutex_; emptied by the thread
  std::set<std::uint64_t> forgotten_;     // guarded by mutex_
  std::string error_;
  std::atomic<bool> over_{false}, stop_{false};
  std::thread thread_;
};

}  // namespace surge::experiments
