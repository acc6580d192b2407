#include "surge/core/split_worker.hpp"

namespace surge::core {

SplitWorker::SplitWorker() : thread_([this] { loop(); }) {}

SplitWorker::~SplitWorker() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void SplitWorker::run(const std::function<void(int)>& part) {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    task_ = &part;
    busy_ = true;
    error_ = nullptr;
  }
  wake_.notify_one();
  std::exception_ptr mine;
  try {
    part(0);
  } catch (...) {
    mine = std::current_exception();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [this] { return !busy_; });
  task_ = nullptr;
  if (mine) std::rethrow_exception(mine);
  if (error_) std::rethrow_exception(error_);
}

void SplitWorker::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stop_ || busy_; });
    if (busy_) {
      const std::function<void(int)>* task = task_;
      lock.unlock();
      std::exception_ptr error;
      try {
        (*task)(1);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      error_ = error;
      busy_ = false;
      done_.notify_one();
      continue;  // a stop asked meanwhile is seen on the next wait
    }
    if (stop_) return;
  }
}

}  // namespace surge::core
