#include "models/trace.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "engine/autograd/autograd.h"
#include "engine/io/file_util.h"
#include "engine/io/npy.h"
#include "engine/ops/ops.h"
#include "models/data.h"
#include "models/run.h"

extern char** environ;

namespace gan::models {

namespace {

using Named = std::vector<std::pair<std::string, Tensor>>;

std::string prefix_of(const StepPoint& p) {
  return p.phase == Phase::Critic && p.critic_steps > 1 ? "critic" + std::to_string(p.critic_index) + "." : "";
}

// The step's hooks: record what the trainer shows, in step order.
class Recorder {
 public:
  Recorder(Trainer& t, Tensor real, Tensor z) : t_(t), real_(std::move(real)), z_(std::move(z)) {
    hooks_.on_input = [this](const StepPoint& p, const std::string& name, Tensor& v) { input(p, name, v); };
    hooks_.on_activation = [this](const StepPoint& p, const std::string& net, const std::string& pass,
                                  const std::string& path, const Tensor& out) {
      std::string where = net + (pass.empty() ? "" : "." + pass);
      keep(prefix_of(p) + where + "." + path + ".out", out, cluster_label(p, where));
    };
    hooks_.on_tensor = [this](const StepPoint& p, const std::string& name, const Tensor& v) {
      keep(prefix_of(p) + name, v, "");
    };
    hooks_.before_optimizer_step = [this](const StepPoint& p, const Tensor& loss) { before_update(p, loss); };
  }
  const StepHooks& hooks() const { return hooks_; }

  Named tensors;
  std::vector<Tensor> losses;
  std::vector<std::string> loss_names;
  std::map<const autograd::Node*, std::string> clusters;

 private:
  static std::string cluster_label(const StepPoint& p, const std::string& where) {
    if (p.phase == Phase::Generator) return "generator step: " + where;
    return p.critic_steps > 1 ? "critic step " + std::to_string(p.critic_index + 1) + ": " + where
                              : "critic step: " + where;
  }

  void input(const StepPoint& p, const std::string& name, Tensor& v) {
    const Tensor& given = name == "real" ? real_ : z_;
    if (given.defined()) {
      Shape expected = v.shape();
      if (name == "real") expected[0] = given.dim() > 0 ? given.size(0) : 0;
      GAN_CHECK(given.dtype() == DType::Float32 && given.shape() == expected,
                "trace: " << (name == "real" ? "batch " : "noise ") << given.str()
                          << " does not fit the model (expected float32 " << shape_str(expected) << ")");
      v = given.to(v.device());
    }
    tensors.emplace_back(prefix_of(p) + "input." + name, v);
  }

  void keep(const std::string& name, const Tensor& v, const std::string& cluster) {
    tensors.emplace_back(name, v);
    if (v.requires_grad()) waiting_.emplace_back(name, v);
    if (!cluster.empty() && v.grad_fn()) clusters[v.grad_fn().get()] = cluster;
  }

  // The gradients arriving at the activations this loss reaches (before the weights they were
  // computed with change), the parameter gradients the optimizers are about to use, the loss.
  void before_update(const StepPoint& p, const Tensor& loss) {
    std::vector<Tensor> inputs;
    for (auto& w : waiting_) inputs.push_back(w.second);
    std::vector<Tensor> grads =
        inputs.empty() ? std::vector<Tensor>{} : grad({loss}, inputs, {}, /*create_graph=*/false, /*allow_unused=*/true);
    Named still;
    for (size_t i = 0; i < waiting_.size(); ++i) {
      if (grads[i].defined()) tensors.emplace_back(waiting_[i].first + ".grad", grads[i]);
      else still.push_back(waiting_[i]);
    }
    waiting_ = still;
    for (const OptimizerGroup& g : t_.recipe().optimizer_groups()) {
      if (g.phase != p.phase) continue;
      for (const std::string& net : g.networks)
        for (auto& [name, w] : t_.network(net).named_parameters()) {
          GAN_CHECK(w.grad().defined(), "trace: " << net << "." << name << " received no gradient");
          tensors.emplace_back(prefix_of(p) + net + "." + name + ".grad", w.grad().clone());
        }
    }
    const bool critic = p.phase == Phase::Critic;
    tensors.emplace_back(prefix_of(p) + (critic ? "loss.d" : "loss.g"), loss.detach());
    losses.push_back(loss);
    loss_names.push_back(critic && p.critic_steps > 1 ? "loss_d " + std::to_string(p.critic_index + 1) : critic ? "loss_d" : "loss_g");
  }

  Trainer& t_;
  Tensor real_, z_;
  StepHooks hooks_;
  Named waiting_;  // tensors whose gradient no loss has reached yet
};

}  // namespace

const Tensor& StepTrace::get(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return t;
  GAN_FAIL("trace: no tensor named '" << name << "'");
}

io::SafetensorsFile StepTrace::to_safetensors(const std::map<std::string, std::string>& metadata) const {
  io::SafetensorsFile f;
  for (auto& [n, t] : tensors) {
    f.add(n, t);  // bfloat16 activations (--precision bf16) are stored as BF16
  }
  f.metadata = metadata;
  f.metadata["format"] = "gan-engine-trace";
  return f;
}

StepTrace trace_step(Trainer& trainer, Tensor real, Tensor z) {
  StepTrace tr;
  // The state before the step, under the checkpoint's names.
  for (auto& [name, st] : trainer.checkpoint().tensors)
    if (!st.is_integer()) tr.tensors.emplace_back(name, st.to_tensor());
  Recorder rec(trainer, std::move(real), std::move(z));
  trainer.train_step(&rec.hooks());
  tr.tensors.insert(tr.tensors.begin(), rec.tensors.begin(), rec.tensors.end());
  for (auto& [net, m] : trainer.recipe().networks())
    for (auto& [name, p] : m->named_parameters()) tr.tensors.emplace_back(net + "." + name + ".updated", p.clone());
  tr.loss_d = rec.losses.size() > 1 ? rec.losses[rec.losses.size() - 2].detach() : Tensor();
  tr.loss_g = rec.losses.back().detach();
  if (trainer.recipe().critic_steps() > 1) tr.tensors.emplace_back("loss.d", tr.loss_d);

  autograd::DotOptions dot;
  for (auto& [net, m] : trainer.recipe().networks())
    for (auto& [n, p] : m->named_parameters()) dot.names[p.impl_ptr().get()] = net + "." + n;
  dot.clusters = rec.clusters;
  dot.root_names = rec.loss_names;
  const TrainConfig& c = trainer.config();
  dot.title = c.model.arch + " " + c.loss + ": one training step (" + std::to_string(trainer.recipe().critic_steps()) +
              " critic step(s), then the generator step)";
  tr.dot = autograd::graph_to_dot(rec.losses, dot, &tr.dot_stats);
  return tr;
}

bool render_dot_svg(const std::string& dot_path, const std::string& svg_path) {
  std::string tmp = svg_path + ".tmp";
  std::vector<std::string> args{"dot", "-Tsvg", dot_path, "-o", tmp};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  const int rc = ::posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ);
  if (rc == ENOENT) return false;  // Graphviz is not installed
  GAN_CHECK(rc == 0, "trace: could not start Graphviz dot: " << std::strerror(rc));
  int status = 0;
  GAN_CHECK(::waitpid(pid, &status, 0) == pid, "trace: waiting for dot failed");
  GAN_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "trace: dot -Tsvg " << dot_path << " failed (exit status " << WEXITSTATUS(status) << ")");
  GAN_CHECK(std::rename(tmp.c_str(), svg_path.c_str()) == 0, "trace: could not write " << svg_path);
  return true;
}

TraceFiles write_trace(const TraceRequest& req) {
  GAN_CHECK(!req.out_dir.empty(), "trace: no output folder given");
  Tensor batch = req.batch_path.empty() ? Tensor() : io::load_npy(req.batch_path);
  Tensor noise = req.noise_path.empty() ? Tensor() : io::load_npy(req.noise_path);
  if (noise.defined()) noise = noise.to(DType::Float32);
  TraceFiles files;
  TrainConfig& cfg = files.cfg;
  io::SafetensorsFile ck;
  if (!req.checkpoint.empty()) {
    ck = io::load_safetensors(req.checkpoint);
    cfg = checkpoint_config(ck, req.checkpoint);
  } else {
    cfg = req.cfg;
    cfg.steps = 1;
    cfg.epochs = 0;
  }
  cfg.device = req.device;
  std::unique_ptr<DataSource> data;
  if (batch.defined()) {
    // The given batch stands in for the data; a fresh model is fitted to its images.
    GAN_CHECK(batch.dim() == 4 && batch.size(0) > 1,
              "--batch " << req.batch_path << ": expected images [N > 1, C, H, W] in [-1, 1], got " << batch.str());
    batch = batch.to(DType::Float32);
    cfg.batch = batch.size(0);
    if (req.checkpoint.empty()) {
      cfg.model.channels = batch.size(1);
      cfg.model.image_size = model_image_size(cfg.model.arch, std::max(batch.size(2), batch.size(3)));
    }
    GAN_CHECK(batch.size(1) == cfg.model.channels && batch.size(2) == cfg.model.image_size &&
                  batch.size(3) == cfg.model.image_size,
              "--batch " << req.batch_path << ": images " << batch.str() << " but the " << cfg.model.arch
                         << " model works on " << cfg.model.channels << "x" << cfg.model.image_size << "x"
                         << cfg.model.image_size);
    data = fixed_batch_source(batch, req.batch_path);
  }
  std::unique_ptr<Trainer> trainer =
      build_trainer(cfg, req.checkpoint.empty() ? nullptr : &ck, req.checkpoint, {}, std::move(data));
  files.trace = trace_step(*trainer, Tensor(), noise);
  io::make_directories(req.out_dir);
  files.safetensors = req.out_dir + "/trace.safetensors";
  files.dot = req.out_dir + "/graph.dot";
  std::map<std::string, std::string> meta{
      {"arch", cfg.model.arch},
      {"config", to_json(cfg).dump()},
      {"source", req.checkpoint.empty() ? "seed " + std::to_string(cfg.seed) : req.checkpoint},
      {"step", std::to_string(trainer->step())},
      {"names", "input.{real,noise}; generator.P.out[.grad]; discriminator.{real,fake,penalty,gstep}.P.out[.grad]; "
                "penalty.{xhat,input_grad}; <param>.grad; <param>.updated; checkpoint entries before the step; "
                "loss.{d,g}; critic<i>. before the names of critic step i when there are several. See models/trace.h"}};
  io::save_safetensors(files.safetensors, files.trace.to_safetensors(meta));
  io::write_file_atomic(files.dot, files.trace.dot);
  if (render_dot_svg(files.dot, req.out_dir + "/graph.svg")) files.svg = req.out_dir + "/graph.svg";
  return files;
}

}  // namespace gan::models
