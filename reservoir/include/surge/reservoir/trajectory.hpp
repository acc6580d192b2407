#pragma once
// The `trajectory` policy: samples are kept grouped by simulation in step order, and each
// item of a batch is a window of k consecutive held steps of one simulation (k = 2: next-step
// pairs; larger k: multi-step rollouts). Batches prefer the least used simulations (lowest
// mean seen count per held step), and within one the least used window start, so coverage
// is even.
// Samples are not removed when served; when full, the oldest held step of the most used
// simulation whose oldest step has been served is evicted (evicting only from the front keeps
// every simulation's held steps consecutive); if none is evictable put() blocks. "Consecutive"
// means consecutive among the held steps: gaps in what was streamed are not detected.

#include <deque>
#include <map>
#include <vector>

#include "surge/reservoir/buffer.hpp"

namespace surge::reservoir {

template <class T>
class TrajectoryBuffer final : public Buffer<T> {
  static_assert(has_trajectory_key_v<T>,
                "the trajectory policy needs SampleTraits<T>::simulation_id and ::step");

 public:
  // Throws nothing; the parameters are validated by make_buffer.
  explicit TrajectoryBuffer(const TrajectoryParameters& params)
      : Buffer<T>("trajectory", params), replay_(params), k_(params.window) {}

 private:
  using Traits = SampleTraits<T>;
  struct Track {
    std::deque<detail::Slot<T>> steps;  // sorted by step
    std::int64_t seen_total = 0;        // sum of the steps' seen counts
  };
  using TrackMap = std::map<std::int64_t, Track>;

  [[nodiscard]] std::int64_t windows_of(std::size_t n) const {
    return std::max<std::int64_t>(0, static_cast<std::int64_t>(n) - k_ + 1);
  }
  // a is used less than b: seen_total / size compared without rounding.
  static bool less_used(const Track& a, const Track& b) {
    return a.seen_total * static_cast<std::int64_t>(b.steps.size()) <
           b.seen_total * static_cast<std::int64_t>(a.steps.size());
  }

  bool make_room(std::int64_t nbytes) override {
    while (!this->fits(nbytes)) {
      auto victim = tracks_.end();
      for (auto it = tracks_.begin(); it != tracks_.end(); ++it) {
        if (it->second.steps.front().seen == 0) continue;
        if (victim == tracks_.end() || less_used(victim->second, it->second)) victim = it;
      }
      if (victim == tracks_.end()) {
        // Nothing served can go. While some window exists, serving it will free a front
        // eventually; with none (every simulation shorter than k) nothing ever would, so the
        // oldest front goes unseen rather than deadlock producers and consumers.
        if (windows_ > 0 || tracks_.empty()) break;
        for (auto it = tracks_.begin(); it != tracks_.end(); ++it) {
          if (victim == tracks_.end() ||
              it->second.steps.front().arrival < victim->second.steps.front().arrival)
            victim = it;
        }
        ++this->stats_.forced_evictions;
      }
      pop_front(victim);
    }
    return this->fits(nbytes);
  }

  void pop_front(typename TrackMap::iterator it) {
    Track& track = it->second;
    const std::size_t n = track.steps.size();
    windows_ -= windows_of(n) - windows_of(n - 1);
    track.seen_total -= track.steps.front().seen;
    this->removed(track.steps.front(), true);
    track.steps.pop_front();
    if (track.steps.empty()) tracks_.erase(it);
  }

  void insert(detail::Slot<T>&& slot) override {
    Track& track = tracks_[Traits::simulation_id(*slot.sample)];
    const std::int64_t step = Traits::step(*slot.sample);
    // Steps usually arrive in order: search from the back.
    auto pos = track.steps.end();
    while (pos != track.steps.begin() && Traits::step(*std::prev(pos)->sample) > step) --pos;
    const std::size_t n = track.steps.size();
    windows_ += windows_of(n + 1) - windows_of(n);
    track.seen_total += slot.seen;
    if (slot.tag < 0) slot.tag = 0;  // windows served from this start (kept by checkpoints)
    track.steps.insert(pos, std::move(slot));
  }

  std::int64_t servable() const override { return windows_; }
  std::int64_t window() const override { return k_; }

  void select(std::int64_t items, Batch<T>& batch) override {
    struct Candidate {
      Track* track;
      std::vector<char> used;  // window starts already in this batch
      std::int64_t left;
    };
    std::vector<Candidate> candidates;
    for (auto& [id, track] : tracks_) {
      const std::int64_t w = windows_of(track.steps.size());
      if (w > 0)
        candidates.push_back({&track, std::vector<char>(static_cast<std::size_t>(w), 0), w});
    }
    std::shuffle(candidates.begin(), candidates.end(), this->rng());  // random tie-breaks
    for (std::int64_t item = 0; item < items; ++item) {
      Candidate* best = nullptr;
      for (Candidate& c : candidates) {
        if (c.left > 0 && (best == nullptr || less_used(*c.track, *best->track))) best = &c;
      }
      Track& track = *best->track;
      // The least used unused window start (slot.tag counts the windows served from it);
      // ties broken uniformly (reservoir sampling of the ties).
      std::int64_t start = -1, ties = 0;
      for (std::size_t s = 0; s < best->used.size(); ++s) {
        if (best->used[s]) continue;
        const std::int64_t uses = track.steps[s].tag;
        if (start < 0 || uses < track.steps[static_cast<std::size_t>(start)].tag) {
          start = static_cast<std::int64_t>(s);
          ties = 1;
        } else if (uses == track.steps[static_cast<std::size_t>(start)].tag &&
                   this->uniform(++ties) == 0) {
          start = static_cast<std::int64_t>(s);
        }
      }
      best->used[static_cast<std::size_t>(start)] = 1;
      ++track.steps[static_cast<std::size_t>(start)].tag;
      --best->left;
      for (std::int64_t j = start; j < start + k_; ++j) {
        detail::Slot<T>& slot = track.steps[static_cast<std::size_t>(j)];
        this->served(slot);
        ++track.seen_total;
        batch.samples.push_back(slot.sample);
      }
    }
  }

  bool exhausted() const override {
    // min_seen applies to the samples that belong to some window.
    return this->replay_done(replay_, [this] {
      std::vector<const detail::Slot<T>*> out;
      for (const auto& [id, track] : tracks_) {
        if (windows_of(track.steps.size()) == 0) continue;
        for (const auto& slot : track.steps) out.push_back(&slot);
      }
      return out;
    });
  }

  std::vector<const detail::Slot<T>*> ordered() const override {
    std::vector<const detail::Slot<T>*> out;
    for (const auto& [id, track] : tracks_) {
      for (const auto& slot : track.steps) out.push_back(&slot);
    }
    return out;
  }

  const ReplayParameters replay_;
  const std::int64_t k_;
  TrackMap tracks_;
  std::int64_t windows_ = 0;  // sum over simulations of max(0, held steps - k + 1)
};

}  // namespace surge::reservoir
