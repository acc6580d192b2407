#pragma once
// A thread-safe training buffer between the stream and the trainer: receiver threads put
// samples, trainer threads take batches, and a policy (fifo, firo, reservoir, trajectory;
// see registry.hpp) decides what is kept, what is replaced and what is served.
//
// The whole interface:
//   bool put(T&&)                   producer; blocks while the policy has no room for it
//   bool wait_for_room(bytes)       producer; blocks as put() would, stores nothing
//   std::optional<Batch<T>> next_batch()
//                                   consumer; blocks below the watermark; an empty optional
//                                   means exhausted (after end_of_reception) or closed
//   void end_of_reception()         the receiver: no more samples will come
//   void close()                    shutdown: every blocked put/next_batch returns now
//   statistics(), contents(), size(), bytes(), blocked_producers(), waiting_consumers()
//   save(group), load(group)        HDF5 checkpoint of contents, seen counts and statistics
//
// Readiness rule: before the end of reception a batch of batch_size items is served once at
// least `watermark` samples and batch_size items are held; when a producer is blocked (the
// buffer is full, possibly by bytes) a smaller batch may be served so that the buffer can
// move. After the end of reception the last batches may be smaller than batch_size.

#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "surge/core/error.hpp"
#include "surge/core/hdf5.hpp"
#include "surge/reservoir/batch.hpp"
#include "surge/reservoir/parameters.hpp"
#include "surge/reservoir/sample.hpp"
#include "surge/reservoir/statistics.hpp"

namespace surge::reservoir {

// A held sample and how many times it has been served, as contents() reports it.
template <class T>
struct Held {
  std::shared_ptr<const T> sample;
  std::int64_t seen = 0;
};

namespace detail {
// One buffered sample. `tag` is the policy's own bookkeeping (position in an index list).
template <class T>
struct Slot {
  std::shared_ptr<const T> sample;
  std::int64_t bytes = 0;
  std::int64_t seen = 0;
  std::int64_t arrival = 0;
  std::int64_t tag = -1;
};
// Format of the checkpoint group written by Buffer::save.
inline constexpr std::int64_t kCheckpointVersion = 1;
// Pointers to the slots of a container (deque, vector) in its order: what ordered() returns.
template <class Slots>
auto slot_pointers(const Slots& slots) {
  std::vector<const typename Slots::value_type*> out;
  out.reserve(slots.size());
  for (const auto& slot : slots) out.push_back(&slot);
  return out;
}
}  // namespace detail

template <class T>
class Buffer {
 public:
  using SampleType = T;

  virtual ~Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Stores the sample, blocking while the policy has no room (fifo/firo: full; reservoir:
  // full and no sample seen yet). Returns true when stored, false when refused because
  // end_of_reception() was called before this put began or close() was called (the sample
  // is then dropped and counted in rejected_puts). Throws core::ConfigError if the sample
  // alone is larger than capacity_bytes.
  [[nodiscard]] bool put(T&& sample) {
    const std::int64_t nbytes = SampleTraits<T>::bytes(sample);
    SURGE_REQUIRE(nbytes <= params_.capacity_bytes, ConfigError,
                  "a " << policy_ << " buffer with capacity_bytes = " << params_.capacity_bytes
                       << " cannot hold a sample of " << nbytes << " bytes");
    auto shared = std::make_shared<const T>(std::move(sample));  // allocate outside the lock
    std::unique_lock<std::mutex> lock(mutex_);
    if (closed_ || ended_ || !wait_for_room_locked(lock, nbytes)) {
      ++stats_.rejected_puts;
      return false;
    }
    detail::Slot<T> slot;
    slot.sample = std::move(shared);
    slot.bytes = nbytes;
    slot.arrival = next_arrival_++;
    population_ += 1;
    bytes_ += nbytes;
    ++stats_.puts;
    insert(std::move(slot));
    record_occupancy();
    // Consumers are woken once they can be served: below the readiness rule a waiting
    // consumer would wake, find too few samples and wait again (a futex wake and two context
    // switches per sample, measured as most of bench_offline_reader's gap to its bound).
    const bool wake = ready();
    lock.unlock();
    if (wake) ready_.notify_all();
    return true;
  }

  // Blocks, as put() would, until the policy has room for a sample of `nbytes`, without
  // storing anything; false if the buffer is closed or reception has ended. With a single
  // producer, a put() of that sample right after it returns true does not block: a caller
  // can then put under a lock of its own that must never be held while blocked (a study
  // checkpoint pauses the producer that way).
  [[nodiscard]] bool wait_for_room(std::int64_t nbytes) {
    std::unique_lock<std::mutex> lock(mutex_);
    return !closed_ && !ended_ && wait_for_room_locked(lock, nbytes);
  }

  // Returns the next batch, blocking until the readiness rule above holds. Returns an empty
  // optional when the buffer is closed, or after end_of_reception() once it is exhausted
  // (fifo/firo: empty; reservoir/trajectory: extra_passes and min_seen fulfilled). Never
  // returns an empty batch. Throws nothing of its own.
  [[nodiscard]] std::optional<Batch<T>> next_batch() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!closed_ && !ready()) {
      const auto t0 = Clock::now();
      ++consumers_waiting_;
      while (!closed_ && !ready()) ready_.wait(lock);
      --consumers_waiting_;
      stats_.consumer_wait_seconds += seconds_since(t0);
    }
    if (closed_) return std::nullopt;
    const std::int64_t available = servable();
    if (ended_ && (available == 0 || exhausted())) return std::nullopt;
    Batch<T> batch;
    batch.window = window();
    const std::int64_t items = std::min(params_.batch_size, available);
    batch.samples.reserve(static_cast<std::size_t>(items * batch.window));
    select(items, batch);
    ++stats_.batches;
    if (ended_) served_since_end_ += items;
    record_occupancy();
    lock.unlock();
    not_full_.notify_all();
    return batch;
  }

  // No more samples will come: puts that begin later are refused, consumers drain (fifo,
  // firo) or replay (reservoir, trajectory) and then get an empty optional. Puts already
  // blocked complete normally once there is room. Throws nothing.
  void end_of_reception() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ended_ = true;
    }
    ready_.notify_all();
    not_full_.notify_all();
  }

  // Shutdown: blocked and later put() return false, next_batch() an empty optional.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
    not_full_.notify_all();
  }

  // Samples held now.
  [[nodiscard]] std::int64_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return population_;
  }
  // Bytes held now (SampleTraits<T>::bytes summed); never more than capacity_bytes.
  [[nodiscard]] std::int64_t bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }
  [[nodiscard]] bool reception_ended() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ended_;
  }
  // Producer threads blocked in put() now, and consumer threads waiting in next_batch() now.
  [[nodiscard]] std::int64_t blocked_producers() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return producers_blocked_;
  }
  [[nodiscard]] std::int64_t waiting_consumers() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return consumers_waiting_;
  }
  // The policy's registry name ("fifo", ...).
  [[nodiscard]] const std::string& policy() const noexcept { return policy_; }
  // Samples per served item: k for the trajectory policy, 1 otherwise.
  [[nodiscard]] std::int64_t window_length() const { return window(); }
  [[nodiscard]] const BufferParameters& parameters() const noexcept { return params_; }

  // A snapshot of the statistics, with seen_held filled from the current contents.
  [[nodiscard]] Statistics statistics() const {
    std::lock_guard<std::mutex> lock(mutex_);
    Statistics s = stats_;
    s.seen_held.clear();
    for (const detail::Slot<T>* slot : ordered()) Statistics::count_seen(s.seen_held, slot->seen);
    return s;
  }

  // The samples held now with their seen counts, in the policy's order (fifo: arrival;
  // trajectory: by simulation id, then step; others: storage order).
  [[nodiscard]] std::vector<Held<T>> contents() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Held<T>> out;
    for (const detail::Slot<T>* slot : ordered()) out.push_back({slot->sample, slot->seen});
    return out;
  }

  // Writes contents (through SampleCodec<T>), seen counts, the reception state, the random
  // engine and the statistics into `group` (serial file). Throws core::IoError.
  void save(hid_t group) const {
    std::lock_guard<std::mutex> lock(mutex_);
    namespace h5 = core::h5;
    h5::write_attribute(group, "format_version", detail::kCheckpointVersion);
    h5::write_attribute(group, "policy", policy_);
    h5::write_attribute(group, "reception_ended", ended_);
    h5::write_attribute(group, "served_since_end", served_since_end_);
    h5::write_attribute(group, "next_arrival", next_arrival_);
    h5::write_attribute(group, "elapsed_seconds", seconds_since(start_));
    std::ostringstream engine;
    engine << rng_;
    h5::write_attribute(group, "random_engine", engine.str());
    const std::vector<const detail::Slot<T>*> slots = ordered();
    std::vector<const T*> samples;
    std::vector<std::int64_t> seen, arrival, tag;
    for (const detail::Slot<T>* slot : slots) {
      samples.push_back(slot->sample.get());
      seen.push_back(slot->seen);
      arrival.push_back(slot->arrival);
      tag.push_back(slot->tag);
    }
    h5::Group contents = h5::create_group(group, "samples");
    SampleCodec<T>::write(contents, samples);
    h5::write_dataset(group, "seen", seen);
    h5::write_dataset(group, "arrival", arrival);
    h5::write_dataset(group, "policy_tag", tag);
    h5::Group stats = h5::create_group(group, "statistics");
    Statistics s = stats_;
    for (const detail::Slot<T>* slot : slots) Statistics::count_seen(s.seen_held, slot->seen);
    write_statistics(stats, s);
  }

  // Restores what save() wrote into this buffer, which must be fresh (nothing put yet).
  // Throws core::ConfigError if the checkpoint is of another policy or does not fit this
  // buffer's capacity, core::IoError if it is unreadable or inconsistent, core::Error if the
  // buffer is not fresh.
  void load(hid_t group) {
    namespace h5 = core::h5;
    std::lock_guard<std::mutex> lock(mutex_);
    SURGE_REQUIRE(stats_.puts == 0 && population_ == 0, Error,
                  "a checkpoint can only be loaded into a fresh buffer");
    const std::int64_t version = h5::read_attribute_int(group, "format_version");
    SURGE_REQUIRE(version == detail::kCheckpointVersion, IoError,
                  "buffer checkpoint format " << version << " is not the supported "
                                              << detail::kCheckpointVersion);
    const std::string saved_policy = h5::read_attribute_string(group, "policy");
    SURGE_REQUIRE(saved_policy == policy_, ConfigError,
                  "the checkpoint holds a '" << saved_policy << "' buffer, this buffer is '"
                                             << policy_ << "'");
    std::vector<T> samples;
    {
      h5::Group contents = h5::open_group(group, "samples");
      samples = SampleCodec<T>::read(contents);
    }
    const auto seen = h5::read_dataset<std::int64_t>(group, "seen");
    const auto arrival = h5::read_dataset<std::int64_t>(group, "arrival");
    const auto tag = h5::read_dataset<std::int64_t>(group, "policy_tag");
    SURGE_REQUIRE(seen.size() == samples.size() && arrival.size() == samples.size() &&
                      tag.size() == samples.size(),
                  IoError,
                  "buffer checkpoint holds " << samples.size() << " samples but " << seen.size()
                                             << " seen counts, " << arrival.size()
                                             << " arrival numbers and " << tag.size() << " tags");
    std::int64_t total_bytes = 0;
    for (const T& s : samples) total_bytes += SampleTraits<T>::bytes(s);
    SURGE_REQUIRE(static_cast<std::int64_t>(samples.size()) <= params_.capacity, ConfigError,
                  "the checkpoint holds " << samples.size()
                                          << " samples, more than capacity = " << params_.capacity);
    SURGE_REQUIRE(total_bytes <= params_.capacity_bytes, ConfigError,
                  "the checkpoint holds " << total_bytes << " bytes, more than capacity_bytes = "
                                          << params_.capacity_bytes);
    {
      h5::Group stats = h5::open_group(group, "statistics");
      stats_ = read_statistics(stats);
      stats_.seen_held.clear();
    }
    ended_ = h5::read_attribute_bool(group, "reception_ended");
    served_since_end_ = h5::read_attribute_int(group, "served_since_end");
    next_arrival_ = h5::read_attribute_int(group, "next_arrival");
    start_ =
        Clock::now() - std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                           h5::read_attribute_double(group, "elapsed_seconds")));
    std::istringstream engine(h5::read_attribute_string(group, "random_engine"));
    engine >> rng_;
    SURGE_REQUIRE(!engine.fail(), IoError, "buffer checkpoint: unreadable random engine state");
    for (std::size_t i = 0; i < samples.size(); ++i) {
      detail::Slot<T> slot;
      slot.bytes = SampleTraits<T>::bytes(samples[i]);
      slot.sample = std::make_shared<const T>(std::move(samples[i]));
      slot.seen = seen[i];
      slot.arrival = arrival[i];
      slot.tag = tag[i];
      population_ += 1;
      bytes_ += slot.bytes;
      insert(std::move(slot));
    }
  }

 protected:
  using Clock = std::chrono::steady_clock;

  Buffer(std::string policy, const BufferParameters& params)
      : policy_(std::move(policy)),
        params_(params),
        rng_(static_cast<std::uint64_t>(params.seed)),
        start_(Clock::now()) {}

  // ---- Policy hooks, all called with the mutex held. ----
  // Evicts what the policy allows until a sample of `nbytes` fits; returns whether it fits.
  virtual bool make_room(std::int64_t nbytes) = 0;
  // make_room(), waiting for the consumers while there is none; false if closed meanwhile.
  bool wait_for_room_locked(std::unique_lock<std::mutex>& lock, std::int64_t nbytes) {
    if (make_room(nbytes)) return true;
    ++producers_blocked_;
    ready_.notify_all();  // a blocked producer lets consumers serve a partial batch
    const auto t0 = Clock::now();
    while (!closed_ && !make_room(nbytes)) not_full_.wait(lock);
    stats_.producer_blocked_seconds += seconds_since(t0);
    --producers_blocked_;
    return !closed_;
  }
  // Stores a slot (seen may be > 0 when restoring a checkpoint). population_ and bytes_
  // are already counted.
  virtual void insert(detail::Slot<T>&& slot) = 0;
  // Items a batch could be drawn from now (samples; windows for trajectory).
  virtual std::int64_t servable() const = 0;
  // Appends `items` distinct items to `batch`, calling served() on each sample.
  virtual void select(std::int64_t items, Batch<T>& batch) = 0;
  // After end of reception, with servable() > 0: whether to report exhaustion now.
  virtual bool exhausted() const = 0;
  // Every held slot, in the policy's order.
  virtual std::vector<const detail::Slot<T>*> ordered() const = 0;
  // Samples per item.
  virtual std::int64_t window() const { return 1; }

  // ---- Helpers for the policies. ----
  [[nodiscard]] bool fits(std::int64_t nbytes) const {
    return population_ < params_.capacity && bytes_ + nbytes <= params_.capacity_bytes;
  }
  // Counts one more serving of the slot.
  void served(detail::Slot<T>& slot) {
    ++slot.seen;
    ++stats_.gets;
  }
  // Books a slot leaving the buffer; `evicted`: replaced to make room (not served and removed).
  void removed(const detail::Slot<T>& slot, bool evicted) {
    population_ -= 1;
    bytes_ -= slot.bytes;
    if (evicted) ++stats_.evictions;
    Statistics::count_seen(stats_.seen_at_removal, slot.seen);
    stats_.seen_removed_sum += slot.seen;
  }
  // Whether the replay after end of reception is over: extra_passes * servable() items
  // served since the end, and every slot that held_slots() returns seen min_seen times.
  template <class HeldSlots>
  [[nodiscard]] bool replay_done(const ReplayParameters& replay, HeldSlots&& held_slots) const {
    if (static_cast<double>(served_since_end_) <
        replay.extra_passes * static_cast<double>(servable()))
      return false;
    if (replay.min_seen == 0) return true;
    const std::vector<const detail::Slot<T>*> slots = held_slots();
    return std::all_of(slots.begin(), slots.end(),
                       [&](const detail::Slot<T>* s) { return s->seen >= replay.min_seen; });
  }
  // A uniform integer in [0, n).
  [[nodiscard]] std::int64_t uniform(std::int64_t n) {
    return std::uniform_int_distribution<std::int64_t>(0, n - 1)(rng_);
  }
  std::mt19937_64& rng() noexcept { return rng_; }
  [[nodiscard]] std::int64_t population() const noexcept { return population_; }

  Statistics stats_;

 private:
  [[nodiscard]] bool ready() const {
    if (ended_) return true;
    const std::int64_t available = servable();
    if (available == 0) return false;
    return (population_ >= params_.watermark && available >= params_.batch_size) ||
           producers_blocked_ > 0;
  }
  [[nodiscard]] double seconds_since(Clock::time_point t0) const {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }
  void record_occupancy() {
    const double now = seconds_since(start_);
    if (!stats_.occupancy.empty() &&
        now - stats_.occupancy.back().seconds < params_.occupancy_interval)
      return;
    stats_.occupancy.push_back({now, population_, bytes_});
  }

  const std::string policy_;
  const BufferParameters params_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;     // consumers wait here
  std::condition_variable not_full_;  // producers wait here
  std::mt19937_64 rng_;
  Clock::time_point start_;
  std::int64_t population_ = 0;
  std::int64_t bytes_ = 0;
  std::int64_t next_arrival_ = 0;
  std::int64_t served_since_end_ = 0;  // items
  std::int64_t producers_blocked_ = 0;
  std::int64_t consumers_waiting_ = 0;
  bool ended_ = false;
  bool closed_ = false;
};

}  // namespace surge::reservoir
