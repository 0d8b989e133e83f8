// One long-lived thread that runs accelerator calls while the calling thread computes on the
// CPU: a decode step gives the device its resident experts and the CPU the others at the same
// time. A thread per call would cost tens of microseconds per layer; this one waits on a
// condition variable. Jobs run in submission order.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace smoe::backend {

class DeviceWorker {
 public:
  DeviceWorker();
  ~DeviceWorker();  // finishes queued jobs, then joins
  DeviceWorker(const DeviceWorker&) = delete;
  DeviceWorker& operator=(const DeviceWorker&) = delete;

  // Queues `job`; the future is ready when it has run (and rethrows what it threw).
  std::future<void> submit(std::function<void()> job);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members above exist
};

}  // namespace smoe::backend
