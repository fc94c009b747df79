// gan translate: a CycleGAN checkpoint's generator over a folder of images or an .npy array.
// gan unpaired-digits: writes the bundled unpaired task (models/unpaired_digits.h) and scores a
// CycleGAN trained on it.
#include <cstdio>
#include <memory>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "models/data.h"
#include "models/eval/digits_net.h"
#include "models/run.h"
#include "models/sampling.h"
#include "models/translate.h"
#include "models/unpaired_digits.h"

namespace gan::app {

Runner add_translate_command(CLI::App& app) {
  struct Flags {
    std::string checkpoint, direction, in, out, device = "auto";
    int64_t batch = 16;
  };
  auto f = std::make_shared<Flags>();
  app.add_option("--checkpoint", f->checkpoint, "A cyclegan run's checkpoint (.safetensors)")->required();
  app.add_option("--direction", f->direction, "a2b (g_ab: domain A to B) or b2a (g_ba)")
      ->required()
      ->check(CLI::IsMember({"a2b", "b2a"}));
  app.add_option("--in", f->in,
                 "Images to translate: a folder (each image centre-cropped and resized to the model's size) or an "
                 ".npy array [N, C, H, W] in [-1, 1] (H and W multiples of 4)")
      ->required();
  app.add_option("--out", f->out, "Where the translations go: NAME.npy (one array), else a folder of PNGs named as the inputs")
      ->required();
  app.add_option("--batch", f->batch, "Images per forward pass")->check(integer(1, 4096))->capture_default_str();
  app.add_option("--device", f->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  return [f]() -> int {
    models::LoadedTranslator t =
        models::load_translator(f->checkpoint, f->direction, models::resolve_device(f->device));
    models::ImageSet set = models::read_image_set(f->in, t.config.model.channels, t.config.model.image_size);
    set.images = models::translate_images(t, set.images, f->batch);
    std::printf("%s: %s\n", f->direction.c_str(), models::write_image_set(f->out, set).c_str());
    return 0;
  };
}

Runner add_unpaired_digits_command(CLI::App& app) {
  struct Flags {
    std::string out, data = "mnist", checkpoint, task, classifier, grid, device = "auto";
  };
  auto f = std::make_shared<Flags>();
  app.require_subcommand(1);
  CLI::App* write = app.add_subcommand("write", "Write the task's IDX files: a/, b/ (thickened), a-test/, b-test/");
  write->add_option("--out", f->out, "The task's folder")->required();
  write->add_option("--data", f->data, "The digits it is made of: mnist (the bundled 10k) or mnist:PATH")
      ->capture_default_str();
  CLI::App* score = app.add_subcommand("score", "Score a CycleGAN trained on the task on its held-out digits");
  score->add_option("--checkpoint", f->checkpoint, "The cyclegan run's checkpoint")->required();
  score->add_option("--task", f->task, "The task's folder (gan unpaired-digits write)")->required();
  score->add_option("--classifier", f->classifier, "Digits classifier weights (default: the committed ones)");
  score->add_option("--device", f->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  score->add_option("--grid", f->grid, "Also write a PNG of 10 held-out digits: rows a, g_ab(a), the thickened a, g_ba(g_ab(a))");
  return [f, write]() -> int {
    if (write->parsed()) {
      io::ImageDataset mnist = models::load_dataset(f->data, 28);
      std::printf("wrote %s\n", models::write_unpaired_digits(mnist, f->out).c_str());
      return 0;
    }
    const Device d = models::resolve_device(f->device);
    models::TranslationScore s = models::score_unpaired_digits(
        models::load_translator(f->checkpoint, "a2b", d), models::load_translator(f->checkpoint, "b2a", d), f->task,
        f->classifier.empty() ? models::eval::bundled_digits_weights() : f->classifier);
    std::printf("held-out digits: %lld (%s/a-test)\n", static_cast<long long>(s.images), f->task.c_str());
    std::printf("  mean |g_ab(a) - T(a)|        %.4f\n", s.mae_translated);
    std::printf("  mean |a - T(a)|              %.4f   (translated / untranslated: %.3f)\n", s.mae_untranslated,
                s.mae_translated / s.mae_untranslated);
    std::printf("  mean |g_ba(T(a)) - a|        %.4f   (against |T(a) - a| %.4f: %.3f)\n", s.mae_back,
                s.mae_untranslated, s.mae_back / s.mae_untranslated);
    std::printf("  g_ba(g_ab(a)) read as a's digit: %.1f%%   (a itself: %.1f%%)\n", 100 * s.cycle_accuracy,
                100 * s.input_accuracy);
    if (!f->grid.empty()) {
      models::write_images(s.rows, f->grid, s.rows.size(0) / 4);
      std::printf("  grid: %s\n", f->grid.c_str());
    }
    return 0;
  };
}

}  // namespace gan::app
