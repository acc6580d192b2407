#pragma once
// Progress of long work (rate, ETA, and a caller-supplied detail such as a loss). On a
// terminal the line is redrawn in place; otherwise a plain log line is written at a fixed
// interval, so batch logs stay readable.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "surge/core/log.hpp"

namespace surge::core {

class Progress {
 public:
  // `unit` names what is counted ("steps", "samples"); `total` may be 0 if unknown.
  Progress(const Logger& logger, std::string unit, std::int64_t total,
           double plain_interval_s = 10.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Reports that `done` units are complete; prints only if the interval has passed.
  void update(std::int64_t done, std::string_view detail = {});
  // Prints the final line: the units done (the last update(), or total if none), elapsed
  // time, mean rate.
  void finish(std::string_view detail = {});
  // Prints the final line with `done` units: the count when work stopped before any update()
  // (a training that ran no batch is "done: 0 batches", not its budget).
  void finish(std::int64_t done, std::string_view detail);

 private:
  void print(std::int64_t done, std::string_view detail, bool final_line);

  const Logger& logger_;
  std::string unit_;
  std::int64_t total_;
  double interval_s_;
  bool terminal_;
  bool finished_ = false;
  bool drawn_ = false;
  std::int64_t last_done_ = -1;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace surge::core
