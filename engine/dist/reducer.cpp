#include "engine/dist/reducer.h"

#include <map>
#include <string>

#include "engine/autograd/grad_mode.h"

namespace gan::dist {

Reducer::Reducer(Communicator& world, std::vector<Tensor> params, size_t bucket_bytes)
    : world_(world), params_(std::move(params)) {
  GAN_CHECK(bucket_bytes > 0, "Reducer: a bucket of 0 bytes");
  // Per (device, dtype), the parameters from the last to the first, cut at bucket_bytes.
  std::map<std::pair<std::string, int>, size_t> open;  // -> index of its bucket being filled
  for (size_t k = params_.size(); k-- > 0;) {
    const Tensor& p = params_[k];
    GAN_CHECK(p.defined(), "Reducer: parameter " << k << " is undefined");
    const auto key = std::make_pair(p.device().str(), static_cast<int>(p.dtype()));
    auto it = open.find(key);
    if (it == open.end() || buckets_[it->second].bytes + p.nbytes() > bucket_bytes) {
      buckets_.emplace_back();
      it = open.insert_or_assign(key, buckets_.size() - 1).first;
    }
    buckets_[it->second].params.push_back(k);
    buckets_[it->second].bytes += p.nbytes();
    bucket_of_[p.impl_ptr().get()] = it->second;
  }
  for (Bucket& b : buckets_) b.waiting = b.params.size();
}

void Reducer::start(Bucket& b) {
  std::vector<Tensor> grads;
  for (size_t k : b.params)
    if (Tensor g = params_[k].grad(); g.defined()) {
      grads.push_back(g);
      b.sent.push_back(k);
    }
  if (!grads.empty()) b.pending = world_.start_all_reduce(grads, ReduceOp::Average);
}

void Reducer::ready(const Tensor& leaf) {
  GAN_CHECK(!finished_, "Reducer: a gradient reported after finish()");
  auto it = bucket_of_.find(leaf.impl_ptr().get());
  if (it == bucket_of_.end()) return;  // not one of ours (another network's leaf)
  Bucket& b = buckets_[it->second];
  GAN_CHECK(b.waiting > 0, "Reducer: a parameter reported twice in one backward pass");
  --b.waiting;
  while (next_ < buckets_.size() && buckets_[next_].waiting == 0) {
    start(buckets_[next_++]);
    ++started_early_;
  }
  for (size_t i = 0; i < next_; ++i)  // MPI moves data inside its calls: give it a chance
    if (buckets_[i].pending && !buckets_[i].pending->test()) break;
}

void Reducer::finish() {
  GAN_CHECK(!finished_, "Reducer: finish() called twice");
  finished_ = true;
  NoGradGuard no_grad;
  while (next_ < buckets_.size()) start(buckets_[next_++]);
  for (Bucket& b : buckets_) {
    if (!b.pending) continue;
    std::vector<Tensor> mean = b.pending->wait();
    for (size_t i = 0; i < b.sent.size(); ++i) params_[b.sent[i]].set_grad(mean[i]);
  }
}

}  // namespace gan::dist
