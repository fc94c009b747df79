// The conditional families as one recipe (docs/conditional.md, docs/infogan.md): a GAN whose
// generator and discriminator take a second input, with any of the losses of models/losses.h.
//
//   --condition class   G(z, y) and D(x, y), y the real batch's class ids (the fakes of a step are
//                       drawn for the same labels, so WGAN-GP's interpolates share them too). D by
//                       --cond-method: projection or concat; acgan adds to D's loss the
//                       cross-entropy of its class logits on the real and the fake batch, and to G's
//                       the cross-entropy on its fakes (logged: class_loss, D's on real and fake)
//   --codes cat10,...   InfoGAN: G(z, c) with codes c drawn each step (categorical uniform over its
//                       values, continuous uniform in [-1, 1]); Q reads D's last hidden features of
//                       G(z, c), and info_lambda x L_info (cross-entropy of the categorical codes +
//                       Gaussian negative log-likelihood of the continuous ones: minus the
//                       variational lower bound of the mutual information I(c; G(z, c)) up to a
//                       constant) joins D's loss (on the detached fakes: Q and D's shared trunk learn
//                       to read the codes; optimizer group "discriminator": discriminator, q) and
//                       G's (through D and Q frozen: G learns to make its codes readable). Logged:
//                       info_loss, the latest of the two. info_detach: D's step gives Q its
//                       features detached (only Q learns there; D's trunk on the adversarial loss).
//                       info_q_step "generator": Q learns in G's step instead (optimizer group "q",
//                       generator phase) from G's own term; D's loss has no information term.
// Passes named for the hooks as the GAN recipe's, plus Q's "fake" (critic step) and "gstep" passes.
#pragma once
#include <memory>

#include "models/conditional.h"
#include "models/config.h"
#include "models/losses.h"
#include "models/recipe.h"

namespace gan::models {

class ConditionalRecipe : public Recipe {
 public:
  ConditionalRecipe(const TrainConfig& cfg, Device device, std::unique_ptr<GanLoss> loss);

  std::vector<std::pair<std::string, nn::Module*>> networks() const override;
  std::vector<OptimizerGroup> optimizer_groups() const override;
  int critic_steps() const override { return loss_->discriminator_steps(); }
  double weight_clip() const override { return loss_->weight_clip(); }
  std::string graph_obstacle() const override { return "conditional and InfoGAN steps draw the fakes' class ids and codes on the host"; }
  Tensor critic_loss(StepContext& ctx) override;
  Tensor generator_loss(StepContext& ctx) override;
  std::vector<ScalarSpec> scalars() const override;
  std::vector<CurvePanel> curves() const override;
  // Class conditioning: one row per class; InfoGAN: one row per value of the first categorical
  // code (the other codes and z drawn once per column).
  std::vector<Tensor> sample_inputs(int64_t n, Generator& gen, Device device) const override;
  Tensor generate(const std::vector<Tensor>& inputs) override { return g_->forward(inputs.at(0), inputs.at(1)); }
  int64_t sample_columns() const override;

 private:
  // This step's second input: the batch's labels, or fresh codes (ids of each categorical code in
  // `ids`, the generator's code vector returned).
  Tensor condition(StepContext& ctx, int64_t n, std::vector<Tensor>* ids);
  Tensor fake(StepContext& ctx, bool with_history);
  Tensor info_loss(const Tensor& q_out, const std::vector<Tensor>& ids, const Tensor& codes) const;
  // Q on D's features of this draw's fakes; the information loss, logged.
  Tensor info_term(StepContext& ctx, const Tensor& features, const char* pass);
  int64_t grid_rows() const;

  ModelConfig model_;
  int64_t n_samples_;
  double info_lambda_;
  bool info_detach_;
  bool q_in_generator_step_;  // TrainConfig::info_q_step == "generator"
  bool learned_variance_;  // ModelConfig::info_var
  std::vector<LatentCode> codes_;
  std::shared_ptr<ConditionalGenerator> g_;
  std::shared_ptr<ConditionalDiscriminator> d_;
  std::shared_ptr<InfoHead> q_;  // InfoGAN only
  std::unique_ptr<GanLoss> loss_;
  Tensor fake_, cond_;          // G(z, c) and c of the step's last draw
  std::vector<Tensor> cat_ids_;  // InfoGAN: that draw's categorical ids
};

// Draws InfoGAN codes: per categorical code its ids [n] (appended to `ids`) and one-hot block,
// per continuous code values in [-1, 1]; returns the generator's code vector [n, W].
Tensor draw_codes(const std::vector<LatentCode>& codes, int64_t n, Generator& gen, Device device,
                  std::vector<Tensor>* ids);

}  // namespace gan::models
