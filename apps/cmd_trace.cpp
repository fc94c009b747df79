// gan trace: one training step recorded in full (activations, the gradients arriving at them,
// parameter gradients, losses) plus the step's autograd graph. See models/trace.h for the names.
// A fresh model takes the same flags as `gan train` (--model, --loss, --critic-norm, --seed, ...).
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/trace.h"

namespace gan::app {

Runner add_trace_command(CLI::App& app) {
  auto req = std::make_shared<models::TraceRequest>();
  auto run = add_run_flags(app, req->cfg);
  auto* ck = app.add_option("--checkpoint", req->checkpoint, "Trace the next step of this checkpoint's run instead")
                 ->check(CLI::ExistingFile);
  app.add_option("--batch-file", req->batch_path, "Real images as .npy, float [N, C, S, S] in [-1, 1] (default: the "
                                                  "run's next batch of its data)")
      ->check(CLI::ExistingFile);
  app.add_option("--noise-file", req->noise_path, "Noise z as .npy: [N, nz] (mlp, toy) or [N, nz, 1, 1] (dcgan), used for "
                                             "every noise draw of the step (default: the run's noise stream)")
      ->check(CLI::ExistingFile);
  app.add_option("--device", req->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--out", req->out_dir, "Output folder: trace.safetensors, graph.dot, graph.svg")->required();
  for (CLI::Option* o : run->options) ck->excludes(o);
  return [req, run, ck]() -> int {
    GAN_CHECK(ck->count() || run->seed->count(),
              "say what to trace: a fresh model (--model M --seed S, and any `gan train` flag) or --checkpoint FILE");
    if (!ck->count()) run->apply(req->cfg);
    models::TraceFiles f = models::write_trace(*req);
    const auto& st = f.trace.dot_stats;
    std::printf("%s %s, batch %lld, %d critic step(s): loss_d %.6f, loss_g %.6f\n", f.cfg.model.arch.c_str(),
                f.cfg.loss.c_str(), static_cast<long long>(f.cfg.batch), static_cast<int>(f.cfg.n_critic),
                f.trace.loss_d.item(), f.trace.loss_g.item());
    std::printf("wrote %s (%zu tensors)\n", f.safetensors.c_str(), f.trace.tensors.size());
    std::printf("wrote %s (%lld ops, %lld leaves, %lld edges)\n", f.dot.c_str(), static_cast<long long>(st.ops),
                static_cast<long long>(st.leaves), static_cast<long long>(st.edges));
    if (!f.svg.empty()) std::printf("wrote %s\n", f.svg.c_str());
    else std::printf("graph.svg not written: Graphviz `dot` is not installed (dot -Tsvg %s)\n", f.dot.c_str());
    return 0;
  };
}

}  // namespace gan::app
