// Generators and discriminators with a second input: class labels (conditional GANs,
// docs/conditional.md) or InfoGAN's codes (docs/infogan.md). They keep the unconditional networks'
// layer stacks and names (main.*) and add their own tensors:
//   generator.embed.weight [K, E]        the class embedding joined to z (class conditioning)
//   generator.main.*                     G's layers, the first one wider by E (or by the codes' width)
//   discriminator.main.*                 D's layers (concat: the first one wider by K one-hot label
//                                        maps, constant over the image; MLP: K one-hot inputs)
//   discriminator.embed.weight [K, F]    projection: + <embed(y), phi(x)>, phi = D's last hidden
//                                        features summed over positions (F channels)
//   discriminator.aux.weight, .bias      acgan: class logits from D's last hidden features
//   q.main.0.weight ...                  InfoGAN: Q's layers on D's last hidden features
#pragma once
#include <memory>

#include "engine/nn/layers.h"
#include "models/config.h"

namespace gan::models {

// G(z, c): c is class ids [N] (embedded, then joined to z) or code values [N, W] (joined as they are).
class ConditionalGenerator : public nn::Module {
 public:
  ConditionalGenerator(const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& z) override;  // refuses: the condition is missing
  Tensor forward(const Tensor& z, const Tensor& c);
  std::shared_ptr<nn::Embedding> embed;      // class conditioning only
  std::shared_ptr<nn::Sequential> main;

 private:
  std::shared_ptr<nn::Module> base_;  // the unconditional generator over `main`: its checks and shapes
};

// What D computes on a batch: its logits [N], its last hidden features flattened [N, F'] (Q's and
// the auxiliary classifier's input), and class logits [N, K] (acgan).
struct CriticOutput {
  Tensor logit, features, class_logits;
};

class ConditionalDiscriminator : public nn::Module {
 public:
  ConditionalDiscriminator(const ModelConfig& cfg, Generator& gen);
  // D on x and class ids [N] (undefined when D takes none: InfoGAN).
  CriticOutput run(const Tensor& x, const Tensor& labels);
  // The logits of run(x, the labels bound by Bind): what a loss that calls D on its own inputs
  // (WGAN-GP's interpolates) sees. Refuses a class-conditional D without bound labels.
  Tensor forward(const Tensor& x) override;
  // Binds labels for forward() while it lives.
  struct Bind {
    Bind(ConditionalDiscriminator& d, const Tensor& labels) : d_(d) { d_.bound_ = labels; }
    ~Bind() { d_.bound_ = Tensor(); }
    ConditionalDiscriminator& d_;
  };
  int64_t feature_width() const { return feature_width_; }
  std::shared_ptr<nn::Sequential> main;
  std::shared_ptr<nn::Embedding> embed;  // projection
  std::shared_ptr<nn::Linear> aux;       // acgan

 private:
  ModelConfig cfg_;
  int64_t feature_width_ = 0;
  Tensor bound_;
};

// InfoGAN's Q: D's last hidden features [N, F'] -> Linear(F', 128), LeakyReLU, Linear(128, W):
// per categorical code its logits, per continuous code its mean and log-variance (in --codes order).
class InfoHead : public nn::Module {
 public:
  InfoHead(int64_t features, const ModelConfig& cfg, Generator& gen);
  Tensor forward(const Tensor& features) override;
  std::shared_ptr<nn::Sequential> main;
};

}  // namespace gan::models
