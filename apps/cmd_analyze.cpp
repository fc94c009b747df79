// gan analyze: flags -> AnalyzeRequest, progress on stderr, the files written listed at the end.
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/eval/analyze.h"
#include "models/eval/feature_net.h"
#include "models/run.h"

namespace gan::app {

namespace {

struct AnalyzeFlags {
  models::eval::AnalyzeRequest req;
  std::string features;
};

int run_analyze(AnalyzeFlags& f) {
  f.req.on_info = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
  if (!f.features.empty()) {
    f.req.features = models::eval::make_feature_net(f.features, models::resolve_device(f.req.device));
  }
  models::eval::AnalyzeOutputs out = models::eval::analyze(f.req);
  std::printf("analysis in %s/\n", out.out_dir.c_str());
  for (const auto& [what, path] : out.files) std::printf("  %-44s %s\n", (what + ":").c_str(), path.c_str());
  for (const auto& n : out.notes) std::printf("  note: %s\n", n.c_str());
  return 0;
}

}  // namespace

Runner add_analyze_command(CLI::App& app) {
  auto f = std::make_shared<AnalyzeFlags>();
  models::eval::AnalyzeRequest& r = f->req;
  app.add_option("--run", r.run_dir, "A gan train output folder (its last checkpoint, gradients.csv, ...)");
  app.add_option("--checkpoint", r.checkpoint, "Analyze this checkpoint (default: RUN/checkpoints/last.safetensors)");
  app.add_option("--out", r.out_dir, "Output folder (default RUN/analysis)");
  app.add_option("--features", f->features,
                 "Also embed the features of this network: digits, digits:PATH or inception:PATH (its classes label "
                 "the generated images)");
  app.add_option("--classifier", r.classifier,
                 "A gan classifier file whose predictions label the generated images (unconditional generators)");
  app.add_option("--n", r.n, "Real and as many generated images in the PCA/t-SNE views")
      ->check(integer(8, 5000))
      ->capture_default_str();
  app.add_option("--perplexity", r.tsne.perplexity, "t-SNE perplexity")->check(positive())->capture_default_str();
  app.add_option("--tsne-iterations", r.tsne.iterations, "t-SNE gradient-descent iterations")
      ->check(integer(1, 100000))
      ->capture_default_str();
  app.add_option("--sensitivity-samples", r.sensitivity_samples, "Latents averaged over for the latent sensitivity")
      ->check(integer(1, 100000))
      ->capture_default_str();
  app.add_option("--eps", r.eps, "Latent step of the sensitivity's central difference")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--saliency-images", r.saliency_images, "Real and generated images in the saliency picture")
      ->check(integer(1, 64))
      ->capture_default_str();
  app.add_option("--seed", r.seed, "Seed of the images drawn and of t-SNE")->check(seed_value())->capture_default_str();
  app.add_option("--device", r.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  return [f]() -> int { return run_analyze(*f); };
}

}  // namespace gan::app
