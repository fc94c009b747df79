// CycleGAN (Zhu et al. 2017) as a recipe: unpaired translation between domain A (the batch's
// `real`) and domain B (`real_b`), exactly the reference implementation's objective
// (pytorch-CycleGAN-and-pix2pix, models/cycle_gan_model.py) with its defaults.
//
// Networks, in checkpoint order: g_ab (A -> B, the reference's netG_A), g_ba (B -> A, netG_B),
// d_a (judges domain A, the reference's netD_B), d_b (judges B, netD_A), and the two history pools
// pool_a, pool_b (models/cyclegan.h). One Adam over both generators, one over both discriminators.
//
// Critic step (the generators held without history, their outputs through the pools):
//   L_D = 0.5 [c(d_b(b), 1) + c(d_b(pool_b(g_ab(a))), 0)] + 0.5 [c(d_a(a), 1) + c(d_a(pool_a(g_ba(b))), 0)]
// Generator step (lambda = --lambda-cycle, lambda_id = --lambda-identity x lambda):
//   L_G = c(d_b(g_ab(a)), 1) + c(d_a(g_ba(b)), 1)                                  adversarial
//       + lambda (|g_ba(g_ab(a)) - a|_1 + |g_ab(g_ba(b)) - b|_1)                   cycle consistency
//       + lambda_id (|g_ab(b) - b|_1 + |g_ba(a) - a|_1)                             identity
// c is the adversarial criterion: MSE to the target (lsgan, the paper's) or BCE on logits (bce);
// |.|_1 the mean absolute error. The discriminators' two terms touch disjoint weights, so their sum
// gives each the gradient the reference's separate backward passes give it.
//
// The reference updates G before D within an iteration; here, as in every recipe, the critics step
// first, on fakes from the generators as they stand, and G then steps against the updated critics.
// Logged: each term above (loss_d_a, loss_d_b, adv_ab, adv_ba, cycle_a, cycle_b, idt_a, idt_b).
// Passes named for the hooks: generators "fake" (critic step), "gstep", "cycle", "identity";
// discriminators "real", "fake", "gstep".
#pragma once
#include <memory>

#include "models/config.h"
#include "models/cyclegan.h"
#include "models/data.h"
#include "models/recipe.h"

namespace gan::models {

class CycleGanRecipe : public Recipe {
 public:
  // `examples` are fixed images of each domain for the sample grids (DataSource::examples).
  CycleGanRecipe(const TrainConfig& cfg, Device device, std::vector<Tensor> examples);

  std::vector<std::pair<std::string, nn::Module*>> networks() const override;
  std::vector<OptimizerGroup> optimizer_groups() const override;
  std::string graph_obstacle() const override { return "cyclegan's image pools choose on the host which fakes the critics see"; }
  Tensor critic_loss(StepContext& ctx) override;
  Tensor generator_loss(StepContext& ctx) override;
  std::vector<ScalarSpec> scalars() const override;
  std::vector<CurvePanel> curves() const override;
  // {a, b}: up to n fixed images of each domain. generate() gives rows of sample_columns():
  // a | g_ab(a) | g_ba(g_ab(a)), then b | g_ba(b) | g_ab(g_ba(b)).
  std::vector<Tensor> sample_inputs(int64_t n, Generator& gen, Device device) const override;
  Tensor generate(const std::vector<Tensor>& inputs) override;
  int64_t sample_columns() const override { return columns_; }

 private:
  Tensor criterion(const Tensor& pred, bool real) const;

  ModelConfig model_;
  std::string loss_;
  double cycle_lambda_, identity_lambda_;
  std::shared_ptr<ResnetGenerator> g_ab_, g_ba_;
  std::shared_ptr<PatchDiscriminator> d_a_, d_b_;
  std::shared_ptr<ImagePool> pool_a_, pool_b_;
  std::vector<Tensor> examples_;
  int64_t columns_ = 8;
};

// The recipe of a cyclegan config, its networks built from cfg.seed on the CPU, then moved to `device`.
std::unique_ptr<Recipe> make_cyclegan_recipe(const TrainConfig& cfg, Device device, const DataSource& data);

// One translation network of a cyclegan config ("g_ab" or "g_ba"), freshly initialised (gan translate).
std::shared_ptr<ResnetGenerator> build_translator(const ModelConfig& model);

}  // namespace gan::models
