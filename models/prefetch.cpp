#include "models/prefetch.h"

#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace gan::models {

namespace {

// Batches prepared ahead: one covers a step's whole duration; the second absorbs a slow read.
constexpr size_t kAhead = 2;

Tensor pin(const Tensor& t) {
  if (!t.defined() || !t.device().is_cpu()) return t;
  Tensor p = Tensor::empty_pinned(t.shape(), t.dtype());
  std::memcpy(p.raw_data(), t.raw_data(), t.nbytes());
  return p;
}

class PrefetchSource final : public DataSource {
 public:
  PrefetchSource(std::unique_ptr<DataSource> source, bool pinned)
      : source_(std::move(source)), pinned_(pinned), state_(source_->state()) {}
  ~PrefetchSource() override { stop(); }

  Batch next() override {
    if (!worker_.joinable()) start();
    Entry e;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return !queue_.empty(); });
      e = std::move(queue_.front());
      queue_.pop_front();
    }
    space_.notify_one();
    if (e.error) {
      stop();  // the worker has ended; the next call asks the source again from where it failed
      std::rethrow_exception(e.error);
    }
    state_ = e.after;
    return std::move(e.batch);
  }
  // Only the thread that calls next() and set_state() reads or writes state_.
  DataState state() const override { return state_; }
  void set_state(const DataState& s) override {
    stop();  // the prepared batches belong to the old position
    source_->set_state(s);
    state_ = source_->state();
  }

  // These read what the source never changes after construction (worth_prefetching's promise).
  std::string describe() const override { return source_->describe(); }
  int64_t batches_per_epoch() const override { return source_->batches_per_epoch(); }
  bool has_scores() const override { return source_->has_scores(); }
  std::optional<Coverage> score(const Tensor& samples) const override { return source_->score(samples); }
  std::vector<Tensor> examples(int64_t n) const override { return source_->examples(n); }
  io::Image picture(const Tensor& samples, nn::Module* critic, const std::string& title,
                    int64_t columns) const override {
    return source_->picture(samples, critic, title, columns);
  }
  bool worth_prefetching() const override { return false; }  // already is

 private:
  struct Entry {
    Batch batch;
    DataState after;  // the source's position once this batch is handed out
    std::exception_ptr error;
  };

  void start() {
    stopping_ = false;
    // Signals (SIGINT/SIGTERM's clean stop) go to the training thread: the worker is born with all
    // of them blocked.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    try {
      worker_ = std::thread([this] { run(); });
    } catch (...) {
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
      throw;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    space_.notify_all();
    if (worker_.joinable()) worker_.join();
    queue_.clear();
  }
  void run() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        space_.wait(lock, [this] { return stopping_ || queue_.size() < kAhead; });
        if (stopping_) return;
      }
      Entry e;
      try {
        e.batch = source_->next();
        if (pinned_) e.batch = {pin(e.batch.real), pin(e.batch.labels), pin(e.batch.real_b)};
        e.after = source_->state();
      } catch (...) {
        e.error = std::current_exception();
      }
      const bool failed = e.error != nullptr;
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(e));
      }
      ready_.notify_one();
      if (failed) return;
    }
  }

  std::unique_ptr<DataSource> source_;
  const bool pinned_;
  DataState state_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Entry> queue_;
  bool stopping_ = false;
};

}  // namespace

std::unique_ptr<DataSource> prefetched(std::unique_ptr<DataSource> source, bool pinned) {
  if (!source || !source->worth_prefetching()) return source;
  return std::make_unique<PrefetchSource>(std::move(source), pinned);
}

}  // namespace gan::models
