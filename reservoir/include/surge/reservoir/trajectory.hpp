#pragma once
// The `trajectory` policy: samples are kept grouped by simulation in step order, and each
// item of a batch is a window of k consecutive held steps of one simulation (k = 2: next-step
// pairs; larger k: multi-step rollouts). Batches prefer the least used simulations (lowest
// mean seen count per held step), and within one the least used window start, so coverage
// is even.
// Samples are not removed when served; when full, the oldest held step of the most used
// simulation whose oldest step has been served is evicted (evicting only from the front keeps
// every simulation's held steps consecutive); if none is evictable put() blocks. A window is
// k steps whose numbers follow each other (s, s + 1, ..., s + k - 1): a window never spans a
// gap in what was received or held.

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
    std::int64_t windows = 0;           // window starts (see window_starts)
    std::int64_t first_start = -1;      // position of the first window start (-1: none)
  };
  using TrackMap = std::map<std::int64_t, Track>;

  // Positions s whose k held steps s .. s + k - 1 have consecutive step numbers.
  [[nodiscard]] std::vector<std::size_t> window_starts(const Track& track) const {
    std::vector<std::size_t> out;
    const std::size_t n = track.steps.size(), k = static_cast<std::size_t>(k_);
    std::size_t run = 0;  // length of the run of consecutive steps ending at i
    for (std::size_t i = 0; i < n; ++i) {
      const bool follows = i > 0 && Traits::step(*track.steps[i].sample) ==
                                        Traits::step(*track.steps[i - 1].sample) + 1;
      run = follows ? run + 1 : 1;
      if (run >= k) out.push_back(i + 1 - k);
    }
    return out;
  }
  // Recounts a track's windows after a change, keeping windows_ the sum over tracks.
  void recount(Track& track) {
    const std::vector<std::size_t> starts = window_starts(track);
    windows_ -= track.windows;
    track.windows = static_cast<std::int64_t>(starts.size());
    track.first_start = starts.empty() ? -1 : static_cast<std::int64_t>(starts.front());
    windows_ += track.windows;
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
        // An unserved front can go when a gap after it keeps it out of every window while
        // later steps have windows: it would never be served.
        const Track& t = it->second;
        if (t.steps.front().seen == 0 && (t.windows == 0 || t.first_start == 0)) continue;
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
    track.seen_total -= track.steps.front().seen;
    this->removed(track.steps.front(), true);
    track.steps.pop_front();
    recount(track);
    if (track.steps.empty()) tracks_.erase(it);
  }

  void insert(detail::Slot<T>&& slot) override {
    Track& track = tracks_[Traits::simulation_id(*slot.sample)];
    const std::int64_t step = Traits::step(*slot.sample);
    // Steps usually arrive in order: search from the back.
    auto pos = track.steps.end();
    while (pos != track.steps.begin() && Traits::step(*std::prev(pos)->sample) > step) --pos;
    track.seen_total += slot.seen;
    if (slot.tag < 0) slot.tag = 0;  // windows served from this start (kept by checkpoints)
    track.steps.insert(pos, std::move(slot));
    recount(track);
  }

  std::int64_t servable() const override { return windows_; }
  std::int64_t window() const override { return k_; }

  void select(std::int64_t items, Batch<T>& batch) override {
    struct Candidate {
      Track* track;
      std::vector<std::size_t> starts;  // window starts
      std::vector<char> used;           // starts already in this batch
      std::int64_t left;
    };
    std::vector<Candidate> candidates;
    for (auto& [id, track] : tracks_) {
      if (track.windows == 0) continue;
      std::vector<std::size_t> starts = window_starts(track);
      const std::size_t w = starts.size();
      candidates.push_back(
          {&track, std::move(starts), std::vector<char>(w, 0), static_cast<std::int64_t>(w)});
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
      std::int64_t pick = -1, ties = 0;  // index into best->starts
      auto uses = [&](std::size_t i) { return track.steps[best->starts[i]].tag; };
      for (std::size_t i = 0; i < best->starts.size(); ++i) {
        if (best->used[i]) continue;
        if (pick < 0 || uses(i) < uses(static_cast<std::size_t>(pick))) {
          pick = static_cast<std::int64_t>(i);
          ties = 1;
        } else if (uses(i) == uses(static_cast<std::size_t>(pick)) && this->uniform(++ties) == 0) {
          pick = static_cast<std::int64_t>(i);
        }
      }
      best->used[static_cast<std::size_t>(pick)] = 1;
      const auto start = static_cast<std::int64_t>(best->starts[static_cast<std::size_t>(pick)]);
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
        if (track.windows == 0) continue;
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
  std::int64_t windows_ = 0;  // sum over simulations of their window starts
};

}  // namespace surge::reservoir
