// gan trace: one training step recorded in full (activations, the gradients arriving at them,
// parameter gradients, losses) plus the step's autograd graph. See models/trace.h for the names.
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/trace.h"

namespace gan::app {

Runner add_trace_command(CLI::App& app) {
  auto req = std::make_shared<models::TraceRequest>();
  auto* model = app.add_option("--model", req->arch, "mlp, dcgan32 or dcgan64 (a fresh model from --seed)")
                    ->check(CLI::IsMember({"mlp", "dcgan32", "dcgan64"}));
  auto* ck = app.add_option("--checkpoint", req->checkpoint, "Trace the next step of this checkpoint's run instead")
                 ->check(CLI::ExistingFile);
  auto* seed = app.add_option("--seed", req->seed, "Seed of the fresh model, its noise and its MNIST batch");
  app.add_option("--batch", req->batch_path, "Real images as .npy, float [N, C, S, S] in [-1, 1] (default: the "
                                             "run's next batch of its data, the bundled MNIST for a fresh model)")
      ->check(CLI::ExistingFile);
  app.add_option("--noise", req->noise_path, "Noise z as .npy: [N, nz] (mlp) or [N, nz, 1, 1] (dcgan) "
                                             "(default: the run's noise stream)")
      ->check(CLI::ExistingFile);
  app.add_option("--batch-size", req->batch_size,
                 "Batch size when no --batch is given (default: the checkpoint's run's, or 64)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  app.add_option("--device", req->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--out", req->out_dir, "Output folder: trace.safetensors, graph.dot, graph.svg")->required();
  ck->excludes(model)->excludes(seed);
  return [req, model, ck, seed]() -> int {
    GAN_CHECK(ck->count() || (model->count() && seed->count()),
              "say what to trace: --model M --seed S for a fresh model, or --checkpoint FILE");
    models::TraceFiles f = models::write_trace(*req);
    const auto& st = f.trace.dot_stats;
    std::printf("%s, batch %lld: loss_d %.6f, loss_g %.6f\n", f.arch.c_str(), static_cast<long long>(f.batch),
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
