#include "models/distributed.h"

#include <map>
#include <sstream>

#include "engine/autograd/grad_mode.h"
#include "engine/nn/layers.h"
#include "engine/ops/shape_ops.h"

namespace gan::models {

namespace {

constexpr uint64_t kRankStream = 0x72616e6b00000000ULL;  // "rank": each rank's own draws

// Every leaf of a JSON value by its dotted path ("model.nz", "lr"), as text.
void leaves(const nlohmann::json& j, const std::string& path, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) leaves(it.value(), path.empty() ? it.key() : path + "." + it.key(), out);
    return;
  }
  out[path] = j.dump();
}

}  // namespace

std::shared_ptr<DataParallel> DataParallel::from_launch() {
  std::shared_ptr<dist::Communicator> w = dist::world();
  return w->size() > 1 ? std::make_shared<DataParallel>(w) : nullptr;
}

DataParallel::DataParallel(std::shared_ptr<dist::Communicator> world) : world_(std::move(world)) {
  GAN_CHECK(world_, "data parallel: no communicator");
}

std::string DataParallel::describe(const TrainConfig& cfg) const {
  std::ostringstream os;
  os << "data parallel: " << size() << " ranks, " << world_->describe() << "; global batch " << cfg.batch << " = "
     << size() << " x " << cfg.batch / size() << ", gradients averaged before every optimizer step ";
  if (cfg.bucket_mb > 0) os << "in buckets of " << cfg.bucket_mb << " MiB while the backward pass runs";
  else os << "after the backward pass (--bucket-mb 0)";
  os << "; batch norm "
     << (cfg.sync_bn ? "statistics over the global batch (--sync-bn)" : "statistics per rank (--sync-bn: global)");
  return os.str();
}

void DataParallel::agree(const std::function<void()>& step) const {
  std::string error;
  try {
    step();
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "failed without a message";
  }
  const std::vector<std::string> all = world_->all_gather(error);
  // The same message from several ranks (the same data missing everywhere) is said once.
  std::vector<std::pair<std::string, std::vector<int>>> messages;
  for (int r = 0; r < size(); ++r) {
    if (all[static_cast<size_t>(r)].empty()) continue;
    auto it = messages.begin();
    while (it != messages.end() && it->first != all[static_cast<size_t>(r)]) ++it;
    if (it == messages.end()) messages.push_back({all[static_cast<size_t>(r)], {r}});
    else it->second.push_back(r);
  }
  if (messages.empty()) return;
  std::ostringstream os;
  for (size_t m = 0; m < messages.size(); ++m) {
    const auto& ranks = messages[m].second;
    os << (m ? "; " : "") << (static_cast<int>(ranks.size()) == size() ? "every rank" : ranks.size() == 1 ? "rank " : "ranks ");
    if (static_cast<int>(ranks.size()) != size())
      for (size_t i = 0; i < ranks.size(); ++i) os << (i ? ", " : "") << ranks[i];
    os << ": " << messages[m].first;
  }
  throw dist::AgreedError(os.str());
}

void DataParallel::check_same_settings(const TrainConfig& cfg, const std::string& extra) const {
  nlohmann::json mine{{"config", to_json(cfg)}, {"run", extra}};
  const std::vector<std::string> all = world_->all_gather(mine.dump());
  std::map<std::string, std::string> root;
  leaves(nlohmann::json::parse(all[0]), "", root);
  for (int r = 1; r < size(); ++r) {
    if (all[static_cast<size_t>(r)] == all[0]) continue;
    std::map<std::string, std::string> other;
    leaves(nlohmann::json::parse(all[static_cast<size_t>(r)]), "", other);
    for (const auto& [path, v] : root) {
      auto it = other.find(path);
      const std::string theirs = it == other.end() ? "(none)" : it->second;
      if (theirs == v) continue;
      const std::string name = path.rfind("config.", 0) == 0 ? path.substr(7) : path == "run" ? "the command" : path;
      throw dist::AgreedError("the ranks were started with different settings: " + name + " is " + v +
                              " on rank 0 but " + theirs + " on rank " + std::to_string(r) +
                              " (every rank of one run must get the same flags)");
    }
    throw dist::AgreedError("the ranks were started with different settings (rank 0 and rank " + std::to_string(r) +
                            " differ; every rank of one run must get the same flags)");
  }
  if (cfg.batch % size() != 0) {
    const int64_t lo = cfg.batch / size() * size(), hi = lo + size();
    std::ostringstream os;
    os << "--batch " << cfg.batch << " does not split across " << size()
       << " ranks: the global batch must be a multiple of the number of ranks (e.g. ";
    if (lo > 0) os << lo << " or ";
    os << hi << ")";
    throw dist::AgreedError(os.str());
  }
}

Device DataParallel::device(const std::string& spec, Device resolved) const {
  if (!resolved.is_cuda()) return resolved;
  const int local = world_->local_rank(), here = world_->local_size();
  if (spec == "auto" || spec == "cuda") {
    GAN_CHECK(here <= cuda_device_count(), "--device " << spec << ": " << here << " ranks on this machine but "
                                                       << cuda_device_count()
                                                       << " GPU(s): start at most one rank per GPU");
    return Device::cuda(local);
  }
  GAN_CHECK(here == 1, "--device " << spec << ": the " << here << " ranks on this machine would share one GPU; give "
                                   << "--device cuda (each rank takes cuda:<its rank on the machine>)");
  return resolved;
}

Tensor DataParallel::shard(const Tensor& global) const {
  GAN_CHECK(global.dim() >= 1 && global.size(0) % size() == 0,
            "data parallel: a batch of " << global.str() << " does not split into " << size() << " equal shares");
  const int64_t n = global.size(0) / size();
  NoGradGuard no_grad;  // inputs: nothing upstream of them to differentiate
  return slice(global, 0, rank() * n, (rank() + 1) * n);
}

void DataParallel::keep_shard(Batch& batch) const {
  batch.real = shard(batch.real);
  if (batch.labels.defined()) batch.labels = shard(batch.labels);
  if (batch.real_b.defined()) batch.real_b = shard(batch.real_b);  // cyclegan's second domain
}

Shape DataParallel::global_shape(const Shape& local) const {
  GAN_CHECK(!local.empty(), "data parallel: a draw without a batch dim");
  Shape s = local;
  s[0] *= size();
  return s;
}

Generator DataParallel::rank_stream(uint64_t seed, int64_t step) const {
  Generator g(seed ^ kRankStream ^ (static_cast<uint64_t>(rank()) + 1) * 0x9e3779b97f4a7c15ULL);
  g.set_state(g.seed(), static_cast<uint64_t>(step) << 32);  // far more draws a step than any recipe takes
  return g;
}

void DataParallel::average_gradients(const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  std::vector<size_t> which;
  for (size_t i = 0; i < params.size(); ++i)
    if (Tensor g = params[i].grad(); g.defined()) {
      grads.push_back(g);
      which.push_back(i);
    }
  world_->all_reduce(grads, dist::ReduceOp::Average);
  for (size_t k = 0; k < which.size(); ++k) {
    Tensor p = params[which[k]];
    p.set_grad(grads[k]);
  }
}

void DataParallel::average(StepScalars& scalars) {
  std::vector<Tensor> values;
  for (auto& [name, v] : scalars.values) values.push_back(v);
  world_->all_reduce(values, dist::ReduceOp::Average);
  for (size_t i = 0; i < values.size(); ++i) scalars.values[i].second = values[i];
}

void DataParallel::copy_from_root(const std::vector<nn::Module*>& nets, bool params) {
  std::vector<Tensor> state;
  for (nn::Module* m : nets) {
    if (params)
      for (auto& [n, p] : m->named_parameters()) state.push_back(p);
    for (auto& [n, b] : m->named_buffers())
      if (b.dtype() == DType::Float32 || b.dtype() == DType::Float64) state.push_back(b);
  }
  world_->broadcast(state, 0);
}

void DataParallel::synchronise_batch_norm(nn::Module& net) {
  std::shared_ptr<dist::Communicator> w = world_;
  nn::set_batch_norm_sum(net, [w](std::vector<Tensor>& t) { w->all_reduce(t, dist::ReduceOp::Sum); });
}

bool DataParallel::any(bool flag) {
  for (const std::string& f : world_->all_gather(flag ? "1" : "0"))
    if (f == "1") return true;
  return false;
}

}  // namespace gan::models
