#include "models/trace.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

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

nn::Sequential& main_of(nn::Module& net, const char* who) {
  for (auto& [name, child] : net.children())
    if (name == "main")
      if (auto* seq = dynamic_cast<nn::Sequential*>(child.get())) return *seq;
  GAN_FAIL("trace: the " << who << " has no Sequential child 'main' to trace layer by layer");
}

// Sequential::forward with each layer's output kept: the same calls in the same order, so the
// values and the recorded graph are those of the untraced forward.
Tensor run_layers(nn::Sequential& main, Tensor x, const std::string& prefix, Named& acts) {
  for (auto& [name, layer] : main.children()) {
    x = layer->forward(x);
    acts.emplace_back(prefix + "main." + name + ".out", x);
  }
  return x;
}

// G(z) as MlpGenerator / Dcgan*Generator::forward compute it.
Tensor traced_generator(GanModel& m, const Tensor& z, Named& acts) {
  Tensor y = run_layers(main_of(*m.generator, "generator"), z, "generator.", acts);
  if (m.config.arch == "mlp") y = y.reshape({z.size(0), m.config.channels, m.config.image_size, m.config.image_size});
  return y;
}

// D(x) as MlpDiscriminator / Dcgan*Discriminator::forward compute it.
Tensor traced_discriminator(GanModel& m, const Tensor& x, const std::string& pass, Named& acts) {
  Tensor in = m.config.arch == "mlp" ? x.flatten(1) : x;
  Tensor y = run_layers(main_of(*m.discriminator, "discriminator"), in, "discriminator." + pass + ".", acts);
  return y.reshape({x.size(0)});
}

// Appends "<name>.grad" for each activation: d root / d activation.
void add_activation_grads(const Tensor& root, const Named& acts, Named& out) {
  std::vector<Tensor> inputs;
  for (auto& a : acts) inputs.push_back(a.second);
  std::vector<Tensor> grads = grad({root}, inputs);
  for (size_t i = 0; i < acts.size(); ++i) {
    out.push_back(acts[i]);
    out.emplace_back(acts[i].first + ".grad", grads[i]);
  }
}

void add_param_grads(const std::string& prefix, nn::Module& net, Named& out) {
  for (auto& [name, p] : net.named_parameters()) {
    GAN_CHECK(p.grad().defined(), "trace: " << prefix << name << " received no gradient");
    out.emplace_back(prefix + name + ".grad", p.grad().clone());
  }
}

void add_updated(const std::string& prefix, nn::Module& net, Named& out) {
  for (auto& [name, p] : net.named_parameters()) out.emplace_back(prefix + name + ".updated", p.clone());
}

void check_input(const Tensor& t, const Shape& expected, const char* what) {
  GAN_CHECK(t.dtype() == DType::Float32 && t.shape() == expected,
            "trace: " << what << " " << t.str() << " does not fit the model (expected float32 " << shape_str(expected)
                      << ")");
}

}  // namespace

const Tensor& StepTrace::get(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return t;
  GAN_FAIL("trace: no tensor named '" << name << "'");
}

io::SafetensorsFile StepTrace::to_safetensors(const std::map<std::string, std::string>& metadata) const {
  io::SafetensorsFile f;
  for (auto& [n, t] : tensors) {
    if (t.dtype() == DType::Float32 || t.dtype() == DType::Float64) f.add(n, t);
  }
  f.metadata = metadata;
  f.metadata["format"] = "gan-engine-trace";
  return f;
}

StepTrace trace_step(Trainer& trainer, Tensor real, Tensor z) {
  GanModel& model = trainer.model();
  GanLoss& loss = trainer.loss();
  GAN_CHECK(loss.discriminator_steps() == 1, "trace: the " << loss.name() << " loss takes " << loss.discriminator_steps()
                                                           << " discriminator steps per generator step; trace "
                                                              "records the one-step (bce) training step");
  const Device dev = trainer.device();
  nn::Module& G = *model.generator;
  nn::Module& D = *model.discriminator;
  StepTrace tr;
  Named& out = tr.tensors;

  // The state before the step, under the checkpoint's names; its metadata also carries the noise
  // stream's position, which is where train_step would draw z from.
  io::SafetensorsFile before = trainer.checkpoint();
  const int64_t B = real.defined() ? real.size(0) : trainer.config().batch;
  const int64_t S = model.config.image_size, C = model.config.channels;
  if (real.defined()) check_input(real, {B, C, S, S}, "batch");
  else real = trainer.loader().next();
  real = real.to(dev);
  if (z.defined()) {
    check_input(z, model.noise_shape(B), "noise");
    z = z.to(dev);
  } else {
    auto rng = nlohmann::json::parse(before.metadata.at("rng"));
    Generator noise_gen(rng.at("noise_seed").get<uint64_t>());
    noise_gen.set_state(rng.at("noise_seed").get<uint64_t>(), rng.at("noise_draws").get<uint64_t>());
    z = model.noise(B, noise_gen, dev);
  }
  out.emplace_back("input.real", real);
  out.emplace_back("input.noise", z);

  // ---- discriminator step (Trainer::train_step with one critic step) ----
  Named g_acts, real_acts, fake_acts, gstep_acts;
  Tensor fake = traced_generator(model, z, g_acts);
  Tensor fake_in = fake.detach();
  Tensor d_real = traced_discriminator(model, real, "real", real_acts);
  Tensor d_fake = traced_discriminator(model, fake_in, "fake", fake_acts);
  Tensor loss_d = loss.discriminator_loss({D, real, fake_in, d_real, d_fake});
  trainer.d_optimizer().zero_grad();
  loss_d.backward();
  Named d_step;
  add_activation_grads(loss_d, real_acts, d_step);  // before D's weights change under the graph
  add_activation_grads(loss_d, fake_acts, d_step);
  add_param_grads("discriminator.", D, d_step);
  trainer.d_optimizer().step();

  // ---- generator step ----
  Tensor loss_g;
  D.set_requires_grad(false);
  try {
    Tensor d_gen = traced_discriminator(model, fake, "gstep", gstep_acts);
    loss_g = loss.generator_loss(d_gen);
    trainer.g_optimizer().zero_grad();
    loss_g.backward();
  } catch (...) {
    D.set_requires_grad(true);
    throw;
  }
  D.set_requires_grad(true);
  Named g_step;
  add_activation_grads(loss_g, g_acts, g_step);
  add_activation_grads(loss_g, gstep_acts, g_step);
  add_param_grads("generator.", G, g_step);
  trainer.g_optimizer().step();

  // ---- the file, in the order a reader follows the step ----
  for (auto& e : g_step)
    if (e.first.rfind("generator.main.", 0) == 0) out.push_back(e);
  out.insert(out.end(), d_step.begin(), d_step.end());
  for (auto& e : g_step)
    if (e.first.rfind("generator.main.", 0) != 0) out.push_back(e);
  for (auto& [name, st] : before.tensors)
    if (!st.is_integer()) out.emplace_back(name, st.to_tensor());
  add_updated("generator.", G, out);
  add_updated("discriminator.", D, out);
  out.emplace_back("loss.d", loss_d.detach());
  out.emplace_back("loss.g", loss_g.detach());
  tr.loss_d = loss_d.detach();
  tr.loss_g = loss_g.detach();

  autograd::DotOptions dot;
  for (auto& [n, p] : G.named_parameters()) dot.names[p.impl_ptr().get()] = "generator." + n;
  for (auto& [n, p] : D.named_parameters()) dot.names[p.impl_ptr().get()] = "discriminator." + n;
  auto cluster = [&](const Named& acts, const std::string& label) {
    for (auto& a : acts)
      if (a.second.grad_fn()) dot.clusters[a.second.grad_fn().get()] = label;
  };
  cluster(g_acts, "G(z)");
  cluster(real_acts, "D step: D(x), real batch");
  cluster(fake_acts, "D step: D(G(z).detach())");
  cluster(gstep_acts, "G step: D(G(z)), D frozen");
  dot.root_names = {"loss_d", "loss_g"};
  dot.title = model.config.arch + ": one training step (D step on real + G(z).detach(), then G step)";
  tr.dot = autograd::graph_to_dot({loss_d, loss_g}, dot, &tr.dot_stats);
  return tr;
}

bool render_dot_svg(const std::string& dot_path, const std::string& svg_path) {
  const char* path_env = std::getenv("PATH");
  std::string exe;
  std::string paths = path_env ? path_env : "/usr/bin:/bin";
  for (size_t start = 0; start <= paths.size();) {
    size_t end = paths.find(':', start);
    if (end == std::string::npos) end = paths.size();
    std::string cand = paths.substr(start, end - start) + "/dot";
    if (end > start && ::access(cand.c_str(), X_OK) == 0) {
      exe = cand;
      break;
    }
    start = end + 1;
  }
  if (exe.empty()) return false;
  std::string tmp = svg_path + ".tmp";
  std::vector<std::string> args{exe, "-Tsvg", dot_path, "-o", tmp};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  GAN_CHECK(::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), environ) == 0,
            "trace: could not start " << exe);
  int status = 0;
  GAN_CHECK(::waitpid(pid, &status, 0) == pid, "trace: waiting for " << exe << " failed");
  GAN_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "trace: " << exe << " -Tsvg " << dot_path << " failed (exit status " << WEXITSTATUS(status) << ")");
  GAN_CHECK(std::rename(tmp.c_str(), svg_path.c_str()) == 0, "trace: could not write " << svg_path);
  return true;
}

TraceFiles write_trace(const TraceRequest& req) {
  GAN_CHECK(!req.out_dir.empty(), "trace: no output folder given");
  Device device = resolve_device(req.device);
  Tensor batch = req.batch_path.empty() ? Tensor() : io::load_npy(req.batch_path);
  Tensor noise = req.noise_path.empty() ? Tensor() : io::load_npy(req.noise_path);
  if (batch.defined()) {
    GAN_CHECK(batch.dim() == 4 && batch.size(0) > 1,
              "--batch " << req.batch_path << ": expected images [N > 1, C, H, W] in [-1, 1], got " << batch.str());
    batch = batch.to(DType::Float32);
  }
  if (noise.defined()) noise = noise.to(DType::Float32);

  TrainConfig cfg;
  io::SafetensorsFile ck;
  if (!req.checkpoint.empty()) {
    ck = io::load_safetensors(req.checkpoint);
    cfg = checkpoint_config(ck, req.checkpoint);
  } else {
    cfg.model.arch = req.arch;
    cfg.seed = req.seed;
    cfg.batch = req.batch_size > 0 ? req.batch_size : 64;
    cfg.steps = 1;
  }
  cfg.device = req.device;
  if (batch.defined()) cfg.batch = batch.size(0);
  else if (req.batch_size > 0) cfg.batch = req.batch_size;

  // The trainer needs a data set for its loader. A given batch stands in for it (its images are
  // only used when no batch is given, which here they are not).
  io::ImageDataset data;
  if (batch.defined()) {
    data.count = batch.size(0);
    data.channels = batch.size(1);
    data.height = batch.size(2);
    data.width = batch.size(3);
    data.pixels.assign(static_cast<size_t>(batch.numel()), 0);
    data.source = req.batch_path;
  } else {
    data = load_dataset(cfg.data, model_image_size(cfg.model.arch, 32));
  }
  if (req.checkpoint.empty()) {
    fit_model_to_data(cfg, data);
  } else {
    GAN_CHECK(data.channels == cfg.model.channels,
              req.checkpoint << ": the model expects " << cfg.model.channels << " channel(s), the data ("
                             << data.source << ") has " << data.channels);
  }
  if (batch.defined())
    GAN_CHECK(batch.size(2) == cfg.model.image_size && batch.size(3) == cfg.model.image_size,
              "--batch " << req.batch_path << ": images " << batch.str() << " but the " << cfg.model.arch
                         << " model works on " << cfg.model.image_size << "x" << cfg.model.image_size);
  Trainer trainer(cfg, data, device);
  if (!req.checkpoint.empty()) trainer.restore(ck, req.checkpoint);

  TraceFiles files;
  files.arch = cfg.model.arch;
  files.batch = cfg.batch;
  files.trace = trace_step(trainer, batch, noise);
  io::make_directories(req.out_dir);
  files.safetensors = req.out_dir + "/trace.safetensors";
  files.dot = req.out_dir + "/graph.dot";
  std::map<std::string, std::string> meta{
      {"arch", cfg.model.arch},
      {"config", to_json(cfg).dump()},
      {"source", req.checkpoint.empty() ? "seed " + std::to_string(req.seed) : req.checkpoint},
      {"step", std::to_string(trainer.step() + 1)},
      {"names",
       "input.{real,noise}; generator.P.out[.grad]; discriminator.{real,fake,gstep}.P.out[.grad]; "
       "<param>.grad; <param>.updated; checkpoint entries before the step; loss.{d,g}. See models/trace.h"}};
  io::save_safetensors(files.safetensors, files.trace.to_safetensors(meta));
  io::write_file_atomic(files.dot, files.trace.dot);
  if (render_dot_svg(files.dot, req.out_dir + "/graph.svg")) files.svg = req.out_dir + "/graph.svg";
  return files;
}

}  // namespace gan::models
