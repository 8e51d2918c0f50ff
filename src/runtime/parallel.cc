#include "runtime/parallel.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "smx/errors.h"
#include "smx/threading.h"

namespace smx {

namespace {

int default_threads() {
  if (const char* env = std::getenv("SMX_NUM_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v > 0 && v <= 4096) return static_cast<int>(v);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_threads()};
  return n;
}

// Workers sleep on a condition variable between jobs; a job is a chunk count and a function,
// and chunks are claimed from a counter under the pool mutex (the caller claims chunks too).
class Pool {
 public:
  // The pool is never destroyed (its workers end with the process), and a forked child gets a
  // fresh one: the parent's worker threads do not exist there, so waiting for them would hang
  // (think of Python's multiprocessing).
  static Pool& instance() {
    static const bool registered = [] {
      current() = new Pool;
      ::pthread_atfork(nullptr, nullptr, [] { current() = new Pool; });
      return true;
    }();
    (void)registered;
    return *current();
  }

  void run(std::int64_t chunks, const std::function<void(std::int64_t)>& chunk_fn) {
    std::lock_guard<std::mutex> serial(run_mutex_);  // one job at a time (nested calls run inline)
    ensure_workers(static_cast<int>(std::min<std::int64_t>(chunks, 1024)) - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &chunk_fn;
      chunks_ = chunks;
      next_ = 0;
      pending_left_.store(chunks, std::memory_order_relaxed);
      pending_ = chunks;
      error_ = nullptr;
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    spin_until([&] { return pending_left_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static Pool*& current() {
    static Pool* pool = nullptr;
    return pool;
  }

  void ensure_workers(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      workers_.emplace_back([this] { worker_loop(); });
    }
  }

  // Spins for a short while (a job that follows soon is picked up without a futex wake-up,
  // which costs tens of microseconds on a VM); false if `ready` never came true.
  template <typename Ready>
  static bool spin_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    for (int i = 0;; ++i) {
      if (ready()) return true;
      if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    while (true) {
      spin_until([&] { return published_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
      }
      work();
    }
  }

  void work() {
    in_pool_ = true;
    while (true) {
      // Claim under the lock: a worker woken late for an earlier job must not take a number
      // from a counter that a new job has reset meanwhile.
      std::int64_t i = 0;
      const std::function<void(std::int64_t)>* job = nullptr;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (job_ == nullptr || next_ >= chunks_) break;
        i = next_++;
        job = job_;
      }
      try {
        (*job)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      pending_left_.store(--pending_, std::memory_order_release);
      if (pending_ == 0) done_.notify_all();
    }
    in_pool_ = false;
  }

 public:
  static thread_local bool in_pool_;

 private:
  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  const std::function<void(std::int64_t)>* job_ = nullptr;
  std::int64_t chunks_ = 0;
  std::int64_t next_ = 0;
  std::int64_t pending_ = 0;
  std::exception_ptr error_;
  std::uint64_t generation_ = 0;
  // Lock-free copies of generation_ and pending_ for the spinning waits.
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::int64_t> pending_left_{0};
};

thread_local bool Pool::in_pool_ = false;

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: expected a positive number of threads, got " + std::to_string(n));
  thread_setting().store(n);
}

int get_num_threads() { return thread_setting().load(); }

namespace detail {

namespace {
std::atomic<bool> g_chunks_wait{false};
}  // namespace

void chunks_wait_for_each_other_for_test(bool on) { g_chunks_wait.store(on); }

void parallel_for(std::int64_t n, std::int64_t max_chunks,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  const std::int64_t chunks =
      std::min({n, std::max<std::int64_t>(max_chunks, 1), static_cast<std::int64_t>(get_num_threads())});
  if (chunks <= 1 || Pool::in_pool_) {
    fn(0, n);
    return;
  }
  std::atomic<std::int64_t> started{0};
  const bool wait = g_chunks_wait.load(std::memory_order_relaxed);
  const std::function<void(std::int64_t)> chunk_fn = [&](std::int64_t c) {
    if (wait) {
      started.fetch_add(1);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (started.load() < chunks && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    }
    const std::int64_t begin = n * c / chunks;
    const std::int64_t end = n * (c + 1) / chunks;
    if (begin < end) fn(begin, end);
  };
  Pool::instance().run(chunks, chunk_fn);
}

}  // namespace detail
}  // namespace smx
