#pragma once
// What results.h5 and the closing lines say of a streamed study: the streaming layer's
// counters summed over the server ranks, and the summary (members, samples received against
// expected, refusals, metrics) rank 0 prints at the end.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "online/feeder.hpp"
#include "online/server_control.hpp"
#include "pipeline/sample_source.hpp"
#include "study/study.hpp"
#include "surge/experiments/results_writer.hpp"
#include "surge/streaming/front.hpp"
#include "surge/streaming/receiver.hpp"

namespace surge::experiments {

// The streaming layer's counters (results.h5 streaming/), summed over the server ranks on
// rank 0; collective. `front` is null on ranks other than 0.
[[nodiscard]] std::vector<std::pair<std::string, std::int64_t>> streaming_counters(
    const streaming::Front* front, const streaming::Receiver& receiver, const Feeder& feeder,
    const ServerControl& control);

// Prints the summary of a streamed study (rank 0): members, samples received against expected
// from completed members, batches, refusals, then the final metrics.
void print_study_summary(const Study& study, const RunSummary& summary, std::int64_t batches,
                         const StudyOutputs& outputs);

}  // namespace surge::experiments
