#pragma once
// The trainer's side of bench_surrogates and bench_operators: samples/s and the batch
// assembly's share of a step, both over the same batches after a warm-up (whose first
// allocations and page faults would otherwise weigh on the share of a short run).

#include <utility>

#include "bench_result.hpp"
#include "surge/reservoir/buffer.hpp"
#include "surge/surrogates/trainer.hpp"

namespace surge::bench {

// Trains `trainer` from `buffer` until its batch budget, which must be warm + batches, and
// returns {items per second, assembly share} over the batches after the first `warm`;
// `items` per batch.
inline std::pair<double, double> timed_training(surrogates::Trainer& trainer,
                                                reservoir::Buffer<reservoir::Sample>& buffer,
                                                int warm, int batches, int items) {
  double t_warm = 0, t_end = 0;
  surrogates::TrainerTiming at_warm;
  (void)trainer.train(buffer, {}, [&](const surrogates::TrainingRecord& r) {
    if (r.batch == warm) {
      t_warm = now_seconds();
      at_warm = trainer.timing();
    }
    t_end = now_seconds();
  });
  const surrogates::TrainerTiming& t = trainer.timing();
  const double assembly = t.assembly_seconds - at_warm.assembly_seconds;
  const double rest = t.step_seconds - at_warm.step_seconds + t.wait_seconds - at_warm.wait_seconds;
  return {static_cast<double>(batches) * items / (t_end - t_warm), assembly / (assembly + rest)};
}

}  // namespace surge::bench
