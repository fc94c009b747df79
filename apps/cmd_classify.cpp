// gan classifier: trains the digits classifier (models/classifier.h) on a labelled data set, or
// with --arch digits the digits feature network of `gan eval` (models/eval/digits_net.h).
// gan classify: reads a class-conditional or InfoGAN generator's samples (or an .npy of images)
// with it: per class asked, the share classified as that class; per InfoGAN code value, its most
// frequent class and that share.
#include <algorithm>
#include <cstdio>
#include <set>
#include <memory>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/io/npy.h"
#include "models/classifier.h"
#include "models/data.h"
#include "models/eval/digits_net.h"
#include "models/run.h"
#include "models/sampling.h"

namespace gan::app {

Runner add_classifier_command(CLI::App& app) {
  struct Flags {
    std::string data = "mnist", out, device = "auto", arch = "classifier";
    models::ClassifierTraining t;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--arch", f->arch,
                 "classifier (the judge of conditional samples, any image size) or digits (the 28x28 feature "
                 "network of gan eval, models/eval/digits_net.h)")
      ->check(CLI::IsMember({"classifier", "digits"}))
      ->capture_default_str();
  app.add_option("--data", f->data, "Labelled images: mnist, mnist:PATH, fashion:PATH, cifar10:PATH, folder:PATH")
      ->capture_default_str();
  app.add_option("--out", f->out, "The classifier's file (.safetensors)")->required();
  app.add_option("--steps", f->t.steps, "Training steps")->check(integer(1, kMaxCount))->capture_default_str();
  app.add_option("--held-out", f->t.held_out, "Last images kept out of training to measure accuracy")
      ->check(integer(0, kMaxCount))
      ->capture_default_str();
  auto* size = app.add_option("--image-size", f->t.image_size,
                               "Side the images are fitted to (the generator's: 32 for dcgan32; --arch digits: 28)")
                   ->check(integer(1, 4096))
                   ->capture_default_str();
  app.add_option("--seed", f->t.seed, "Seed of the weights and the shuffling")->check(seed_value())->capture_default_str();
  app.add_option("--device", f->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  return [f, size]() -> int {
    if (f->arch == "digits" && !size->count()) f->t.image_size = models::eval::kDigitsSide;
    io::ImageDataset data = models::load_dataset(f->data, f->t.image_size);
    f->t.on_log = [](int64_t step, double loss) { std::fprintf(stderr, "step %lld loss %.4f\n", static_cast<long long>(step), loss); };
    if (f->arch == "digits") {
      models::eval::DigitsNetResult r = models::eval::train_digits_net(data, f->t, models::resolve_device(f->device));
      models::eval::save_digits_net(r, f->t, f->out);
      std::printf("wrote %s: digits feature network, held-out accuracy %.2f%% on the last %lld images of %s\n",
                  f->out.c_str(), 100 * r.held_out_accuracy, static_cast<long long>(r.held_out), data.source.c_str());
      return 0;
    }
    models::ClassifierResult r = models::train_classifier(data, f->t, models::resolve_device(f->device));
    models::save_classifier(r, f->out);
    std::printf("wrote %s: %lld classes, held-out accuracy %.2f%% on the last %lld images of %s\n", f->out.c_str(),
                static_cast<long long>(r.classifier->classes), 100 * r.held_out_accuracy,
                static_cast<long long>(r.held_out), data.source.c_str());
    return 0;
  };
}

Runner add_classify_command(CLI::App& app) {
  struct Flags {
    std::string classifier, checkpoint, images, device = "auto";
    int64_t n = 100;
    uint64_t seed = 0;
    bool no_ema = false;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--classifier", f->classifier, "A classifier written by gan classifier")->required()->check(CLI::ExistingFile);
  auto* ck = app.add_option("--checkpoint", f->checkpoint, "A class-conditional or InfoGAN checkpoint to read samples of")
                 ->check(CLI::ExistingFile);
  auto* im = app.add_option("--images", f->images, "Or images as .npy [N, C, S, S] in [-1, 1]")->check(CLI::ExistingFile);
  ck->excludes(im);
  app.add_option("--n", f->n, "Samples per class or code value")->check(integer(1, 1000000))->capture_default_str();
  app.add_option("--seed", f->seed, "Noise seed")->check(seed_value())->capture_default_str();
  app.add_flag("--no-ema", f->no_ema, "A --ema run's checkpoint: read the raw generator's samples, not its moving average's");
  app.add_option("--device", f->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  return [f, ck, im]() -> int {
    GAN_CHECK(ck->count() || im->count(), "say what to classify: --checkpoint FILE or --images FILE.npy");
    Device device = models::resolve_device(f->device);
    auto c = models::load_classifier(f->classifier, device);
    if (im->count()) {
      std::vector<int64_t> pred = c->predict(io::load_npy(f->images).to(DType::Float32));
      std::vector<int64_t> hist(static_cast<size_t>(c->classes), 0);
      for (int64_t p : pred) ++hist[static_cast<size_t>(p)];
      std::printf("%zu images; per class:", pred.size());
      for (size_t k = 0; k < hist.size(); ++k) std::printf(" %zu:%lld", k, static_cast<long long>(hist[k]));
      std::printf("\n");
      return 0;
    }
    models::LoadedGenerator g = models::load_generator(f->checkpoint, device, std::nullopt, !f->no_ema);
    std::printf("%s: %s\n", f->checkpoint.c_str(), g.ema ? "the generator's moving average (generator_ema.*; --no-ema: the raw generator)" : "the generator");
    models::SampleReading r = models::read_samples(*c, g, f->n, f->seed);
    std::set<int64_t> tops;
    double worst = 1;
    for (size_t v = 0; v < r.counts.size(); ++v) {
      tops.insert(r.top_class(v));
      worst = std::min(worst, r.share(v));
      if (r.infogan) std::printf("code cat=%zu: %.1f%% classified as %lld\n", v, 100 * r.share(v), static_cast<long long>(r.top_class(v)));
      else std::printf("class %zu: %.1f%% classified as %zu\n", v, 100 * r.share(v), v);
    }
    if (r.infogan)
      std::printf("%zu code values map to %zu distinct classes; lowest share %.1f%%\n", r.counts.size(), tops.size(), 100 * worst);
    else
      std::printf("lowest per-class accuracy %.1f%% (%lld samples per class)\n", 100 * worst, static_cast<long long>(f->n));
    return 0;
  };
}

}  // namespace gan::app
