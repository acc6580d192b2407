#pragma once
// A second thread that runs one half of a loop while the calling thread runs the other. Made
// for the trainer's batch assembly: gathering a large batch's samples from the buffer is bound
// by one core's outstanding cache misses (each sample is its own allocation, cold after a
// training step), not by the memory bus: two threads gathered a cold 4 MB batch 1.7x faster
// alone, and cut the trainer's assembly share from 7.3-7.5 % to 6.3-6.8 % (bench_surrogates,
// 2026-12-07). The thread sleeps between calls (no spinning: the trainer's BLAS threads own the
// cores the rest of the step) and is started once, not per call.

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace surge::core {

class SplitWorker {
 public:
  SplitWorker();
  // Stops and joins the thread.
  ~SplitWorker();
  SplitWorker(const SplitWorker&) = delete;
  SplitWorker& operator=(const SplitWorker&) = delete;

  // Runs part(1) on the worker thread and part(0) on the calling thread, and returns when both
  // have returned. An exception thrown by either part is rethrown here (the calling thread's
  // first); the worker thread catches everything and lives on. Not reentrant: one caller at a time.
  void run(const std::function<void(int)>& part);

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* task_ = nullptr;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace surge::core
