#include "online/feeder.hpp"

#include <chrono>
#include <optional>

#include "surge/core/error.hpp"
#include "surge/core/log.hpp"
#include "surge/experiments/sample_builder.hpp"

namespace surge::experiments {

Feeder::Feeder(FeederSetup setup, streaming::Receiver& receiver, ServerControl& control,
               reservoir::Buffer<reservoir::Sample>& buffer, const std::atomic<int>& interrupted)
    : setup_(std::move(setup)),
      receiver_(receiver),
      control_(control),
      buffer_(buffer),
      interrupted_(interrupted) {}

void Feeder::start() {
  thread_ = std::thread([this] { run(); });
}

void Feeder::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Feeder::forget(std::uint64_t simulation) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (forgotten_.insert(simulation).second) to_forget_.push_back(simulation);
}
std::size_t Feeder::forgotten() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return forgotten_.size();
}

std::string Feeder::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}
std::int64_t Feeder::received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_.received;
}
std::int64_t Feeder::rejected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_.rejected;
}
FeederDrops Feeder::drops() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return drops_;
}
bool Feeder::has_ended(std::uint64_t simulation) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_.ended.count(simulation) > 0;
}
void Feeder::restore(ReceptionState state) {
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = std::move(state);
  for (const auto sim : state_.ended) settle(sim);
}

void Feeder::settle(std::uint64_t simulation) {
  const auto it = state_.steps.find(simulation);
  if (setup_.frames <= 0 || it == state_.steps.end() || !state_.ended.count(simulation) ||
      static_cast<std::int64_t>(it->second.size()) != setup_.frames) {
    return;
  }
  state_.complete[simulation] = setup_.frames;
  state_.steps.erase(it);
}

std::int64_t Feeder::count(std::uint64_t simulation) const {
  const auto done = state_.complete.find(simulation);
  if (done != state_.complete.end()) return done->second;
  const auto it = state_.steps.find(simulation);
  return it == state_.steps.end() ? 0 : static_cast<std::int64_t>(it->second.size());
}

std::optional<std::int64_t> Feeder::delivered(std::uint64_t simulation) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!state_.ended.count(simulation)) return std::nullopt;
  return count(simulation);
}
std::map<std::uint64_t, std::int64_t> Feeder::delivered() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::uint64_t, std::int64_t> out;
  for (const auto sim : state_.ended) out[sim] = count(sim);
  return out;
}
std::map<std::uint64_t, std::int64_t> Feeder::samples() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::uint64_t, std::int64_t> out = state_.complete;
  for (const auto& [sim, steps] : state_.steps) out[sim] = static_cast<std::int64_t>(steps.size());
  return out;
}
std::vector<reservoir::Sample> Feeder::validation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return validation_;
}

void Feeder::run() {
  try {
    loop();
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::string("the feeder thread failed: ") + e.what();
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = "the feeder thread failed: unknown exception";
  }
  over_ = true;
  // A rank whose feeder failed must not wait for samples: its trainer replica goes on with
  // empty batches until every rank agrees to stop (see the study's run loop).
  if (!error().empty()) {
    buffer_.close();
  } else {
    buffer_.end_of_reception();
  }
}

void Feeder::loop() {
  SampleBuilder train_builder(setup_.layout, setup_.nodes, !setup_.next_step);
  SampleBuilder validation_builder(setup_.layout, setup_.nodes, !setup_.next_step);
  core::Logger log("feeder");
  auto last_warning = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  auto reception_over = [&] {
    if (receiver_.queued() > 0) return false;
    const auto expected = control_.expected_ends();
    if (!expected) return false;
    // Every member of this rank that exited cleanly sent END after its fields.
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto id : *expected) {
      if (!state_.ended.count(id)) return false;
    }
    return true;
  };
  while (!reception_over()) {
    if (interrupted_ || stop_) break;
    std::vector<std::uint64_t> to_forget;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      to_forget.swap(to_forget_);
    }
    for (const auto id : to_forget) {
      train_builder.forget(id);
      validation_builder.forget(id);
    }
    auto d = receiver_.pop(std::chrono::milliseconds(50));
    if (!d) continue;
    if (d->kind == streaming::DeliveryKind::simulation_end) {
      train_builder.forget(d->simulation);
      validation_builder.forget(d->simulation);
      std::lock_guard<std::mutex> lock(mutex_);
      state_.ended.insert(d->simulation);
      settle(d->simulation);
      continue;
    }
    const std::int64_t step = d->field.step;
    // Nothing a member sends may stop or hold this thread: a field that cannot be used is
    // dropped, counted by why, and logged at most once a second.
    auto drop = [&](std::int64_t FeederDrops::*kind, const std::string& why) {
      std::int64_t rejected = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        rejected = ++state_.rejected;
        ++(drops_.*kind);
      }
      const auto now = std::chrono::steady_clock::now();
      if (now - last_warning > std::chrono::seconds(1)) {
        last_warning = now;
        SURGE_LOG(log, warn,
                  "dropped a field of simulation " << d->simulation << ": " << why << " ("
                                                   << rejected << " dropped so far)");
      }
    };
    {
      // A relaunched member (after `surge resume`) sends again what was already made into
      // samples before the checkpoint.
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = state_.steps.find(d->simulation);
      if (state_.complete.count(d->simulation) ||
          (it != state_.steps.end() && it->second.count(step))) {
        ++state_.duplicates;
        continue;
      }
    }
    // A step past the member's frames would make its count look complete.
    if (setup_.frames > 0 && (step < 0 || step >= setup_.frames)) {
      drop(&FeederDrops::bad_step, "step " + std::to_string(step) + " is outside the " +
                                       std::to_string(setup_.frames) + " steps of a member");
      continue;
    }
    // A simulation that already waited in vain is not waited for again.
    const auto role = control_.role_of(
        d->simulation, stop_,
        roleless_.count(d->simulation) ? std::chrono::milliseconds(0) : setup_.role_patience);
    if (stop_ || interrupted_) break;
    if (!role) {
      roleless_.insert(d->simulation);
      drop(&FeederDrops::unknown_role, "no server rank knows this simulation");
      continue;
    }
    roleless_.erase(d->simulation);
    const bool is_validation = *role == MemberRole::validation;
    std::optional<reservoir::Sample> sample;
    try {
      sample = (is_validation ? validation_builder : train_builder).add(d->field);
      SURGE_REQUIRE(
          !sample || setup_.x_size == 0 || sample->x.size() == setup_.x_size, ProtocolError,
          "it carries " << sample->x.size() << " inputs, the model takes " << setup_.x_size);
    } catch (const core::Error& e) {
      drop(&FeederDrops::unusable, e.message());
      continue;
    }
    if (!sample) continue;
    if (setup_.throw_at >= 0 && received() >= setup_.throw_at) {
      SURGE_THROW(Error, "injected failure after " << setup_.throw_at
                                                   << " samples (SURGE_TEST_FEEDER_THROW_AT)");
    }
    if (is_validation) {
      std::lock_guard<std::mutex> lock(mutex_);
      validation_.push_back(*sample);
      state_.steps[d->simulation].insert(step);
      ++state_.received;
      continue;
    }
    if (setup_.next_step) stride_key(*sample, setup_.stride);
    // Blocks while the buffer is full of unseen samples (back-pressure to the members), with
    // nothing held; then the put cannot block (this thread is the buffer's only producer) and
    // happens with the record, under the lock a checkpoint takes. Once training has stopped
    // the buffer is closed: samples are still received and counted (members must finish
    // cleanly), the buffer counts them as rejected.
    try {
      (void)buffer_.wait_for_room(reservoir::SampleTraits<reservoir::Sample>::bytes(*sample));
    } catch (const core::Error& e) {  // a sample larger than the whole buffer
      drop(&FeederDrops::unusable, e.message());
      continue;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    (void)buffer_.put(std::move(*sample));
    state_.steps[d->simulation].insert(step);
    ++state_.received;
  }
}

}  // namespace surge::experiments
