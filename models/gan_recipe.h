// The generator/discriminator families (bce, wgan, wgan-gp, lsgan, hinge on mlp, dcgan32, dcgan64
// and the 2-D toy models) as one recipe: a GanModel and a GanLoss.
//
// Critic step, as pytorch/examples dcgan: z from the noise stream, G(z); D on the real batch and on
// G(z) detached; the loss's critic objective. With one critic step G(z) keeps its history and the
// generator step reuses it; with several, each critic step draws its own G(z) without history and
// the generator step draws a fresh one. Generator step: the loss's generator objective on D(G(z)).
// Logged: d_x and d_g_z (mean sigmoid of D on the first critic step's real and fake batch) and the
// loss's terms on the last critic step (Wasserstein estimate, gradient penalty, gradient norm).
// Passes named for the hooks: generator "", discriminator "real", "fake", "penalty", "gstep".
#pragma once
#include <memory>

#include "models/losses.h"
#include "models/model.h"
#include "models/recipe.h"

namespace gan::models {

class GanRecipe : public Recipe {
 public:
  GanRecipe(GanModel model, std::unique_ptr<GanLoss> loss);

  std::vector<std::pair<std::string, nn::Module*>> networks() const override;
  std::vector<OptimizerGroup> optimizer_groups() const override;
  int critic_steps() const override { return loss_->discriminator_steps(); }
  double weight_clip() const override { return loss_->weight_clip(); }
  std::string graph_obstacle() const override { return ""; }
  Tensor critic_loss(StepContext& ctx) override;
  Tensor generator_loss(StepContext& ctx) override;
  std::vector<ScalarSpec> scalars() const override;
  std::vector<CurvePanel> curves() const override;
  std::vector<Tensor> sample_inputs(int64_t n, Generator& gen, Device device) const override;
  Tensor generate(const std::vector<Tensor>& z) override { return model_.generator->forward(z.at(0)); }
  nn::Module* critic() override { return model_.discriminator.get(); }

 private:
  GanModel model_;
  std::unique_ptr<GanLoss> loss_;
  Tensor fake_;  // G(z) of the single critic step, reused by the generator step
};

// Shared by the adversarial recipes: after a critic loss, log D's mean sigmoid outputs on the first
// critic step's real and fake batch (d_x, d_g_z) and the loss's terms; the scalars and the curves
// panel that go with them.
void log_critic_step(StepContext& ctx, const Tensor& d_real, const Tensor& d_fake, const GanLoss& loss);
std::vector<ScalarSpec> adversarial_scalars();
CurvePanel discriminator_outputs_panel();

// The recipe a config trains: its model built from cfg.seed on the CPU, then moved to `device`,
// and its loss with the config's settings (or `loss` when given). The cyclegan recipe takes its
// sample images from `data` (required there).
std::unique_ptr<Recipe> make_recipe(const struct TrainConfig& cfg, Device device,
                                    std::unique_ptr<GanLoss> loss = nullptr, const DataSource* data = nullptr);

}  // namespace gan::models
