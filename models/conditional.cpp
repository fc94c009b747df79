#include "models/conditional.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/ops/ops.h"
#include "models/dcgan.h"
#include "models/mlp_gan.h"
#include "models/model.h"

namespace gan::models {

namespace {

// What G's input gains beside z: the class embedding's width or the codes' width.
int64_t condition_width(const ModelConfig& cfg) {
  if (cfg.conditional()) return cfg.embed_dim > 0 ? cfg.embed_dim : cfg.num_classes;
  return code_input_width(parse_codes(cfg.codes));
}

std::shared_ptr<nn::Module> unconditional_generator(ModelConfig cfg, Generator& gen) {
  cfg.nz += condition_width(cfg);
  if (cfg.arch == "mlp") return std::make_shared<MlpGenerator>(cfg, gen);
  if (cfg.arch == "dcgan32") return std::make_shared<Dcgan32Generator>(cfg, gen);
  return std::make_shared<Dcgan64Generator>(cfg, gen);
}

std::shared_ptr<nn::Sequential> main_of(nn::Module& m) {
  return std::static_pointer_cast<nn::Sequential>(m.children().front().second);
}

}  // namespace

ConditionalGenerator::ConditionalGenerator(const ModelConfig& cfg, Generator& gen) : nn::Module("Generator") {
  GAN_CHECK(cfg.arch != "toy", "ConditionalGenerator: needs an image model, not " << cfg.arch);
  if (cfg.conditional()) embed = register_module("embed", std::make_shared<nn::Embedding>(cfg.num_classes, condition_width(cfg), &gen));
  base_ = unconditional_generator(cfg, gen);
  main = register_module("main", main_of(*base_));
}

Tensor ConditionalGenerator::forward(const Tensor&) {
  GAN_FAIL("ConditionalGenerator: needs its condition (class labels or codes) beside z");
}

Tensor ConditionalGenerator::forward(const Tensor& z, const Tensor& c) {
  GAN_CHECK(z.dim() >= 2 && c.defined() && c.size(0) == z.size(0),
            "ConditionalGenerator: noise " << z.str() << " and condition " << c.str() << " should share the batch");
  Tensor e = embed ? (*embed)(c) : c;
  Shape s{z.size(0), e.numel() / z.size(0)};
  for (int64_t d = 2; d < z.dim(); ++d) s.push_back(1);  // DCGAN noise [N, nz, 1, 1]
  Tensor in = cat({z, e.reshape(s)}, 1);
  // --precision bf16 (nn::Module::set_compute_dtype): the joined input cast once, the images back.
  if (compute_dtype() != DType::BFloat16 || in.dtype() != DType::Float32) return base_->forward(in);
  return base_->forward(in.to(DType::BFloat16)).to(DType::Float32);
}

ConditionalDiscriminator::ConditionalDiscriminator(const ModelConfig& cfg, Generator& gen)
    : nn::Module("Discriminator"), cfg_(cfg) {
  GAN_CHECK(cfg.arch != "toy", "ConditionalDiscriminator: needs an image model, not " << cfg.arch);
  const bool concat = cfg.conditional() && cfg.cond_method == "concat";
  const int64_t k = concat ? cfg.num_classes : 0, pixels = cfg.channels * cfg.image_size * cfg.image_size;
  if (cfg.arch == "mlp") {
    main = register_module("main", linear_stack(pixels + k, cfg.d_hidden, 1, [s = cfg.leaky_slope] {
                             return std::make_shared<nn::LeakyReLU>(s);
                           }, gen));
    feature_width_ = cfg.d_hidden.back();
  } else {
    ModelConfig wide = cfg;
    wide.channels += k;
    std::shared_ptr<nn::Module> base = cfg.arch == "dcgan32" ? std::shared_ptr<nn::Module>(std::make_shared<Dcgan32Discriminator>(wide, gen))
                                                             : std::make_shared<Dcgan64Discriminator>(wide, gen);
    main = register_module("main", main_of(*base));
    feature_width_ = cfg.ndf * 8 * 4 * 4;  // (ndf*8) x 4 x 4 before the last conv
  }
  if (cfg.conditional() && cfg.cond_method == "projection") {
    const int64_t channels = cfg.arch == "mlp" ? feature_width_ : cfg.ndf * 8;
    embed = register_module("embed", std::make_shared<nn::Embedding>(cfg.num_classes, channels, &gen));
    // Glorot-scaled (as SNGAN's projection discriminator): the class term starts as large as the
    // unconditional logit's gradient can steer.
    nn::init::normal_(embed->weight, 0.0, std::sqrt(2.0 / static_cast<double>(cfg.num_classes + channels)), gen);
  }
  if (cfg.conditional() && cfg.cond_method == "acgan")
    aux = register_module("aux", std::make_shared<nn::Linear>(feature_width_, cfg.num_classes, true, &gen));
}

CriticOutput ConditionalDiscriminator::run(const Tensor& x, const Tensor& labels) {
  const int64_t n = x.size(0), s = cfg_.image_size;
  GAN_CHECK(x.dim() == 4 && x.size(1) == cfg_.channels && x.size(2) == s && x.size(3) == s,
            "ConditionalDiscriminator: input " << x.str() << " should be [N, " << cfg_.channels << ", " << s << ", " << s << "]");
  GAN_CHECK(!cfg_.conditional() || (labels.defined() && labels.shape() == Shape{n}),
            "ConditionalDiscriminator: needs class labels [" << n << "], got " << labels.str());
  Tensor h = cfg_.arch == "mlp" ? x.flatten(1) : x;
  if (cfg_.conditional() && cfg_.cond_method == "concat") {  // one-hot labels: extra inputs or constant maps
    const int64_t k = cfg_.num_classes;
    Tensor y = one_hot(labels, k).to(h.dtype());
    h = cat({h, cfg_.arch == "mlp" ? y : broadcast_to(y.reshape({n, k, 1, 1}), {n, k, s, s})}, 1);
  }
  // --precision bf16: the trunk on bfloat16 activations; the logit, the features and what is built
  // on them (projection, auxiliary classifier, Q) in float32. x may come cast already (forward).
  const bool bf16 = compute_dtype() == DType::BFloat16;
  if (bf16) h = h.to(DType::BFloat16);
  const auto& layers = main->children();
  for (size_t i = 0; i + 1 < layers.size(); ++i) h = (*layers[i].second)(h);
  CriticOutput out;
  out.logit = (*layers.back().second)(h).reshape({n});
  if (bf16) {
    out.logit = out.logit.to(DType::Float32);
    h = h.to(DType::Float32);
  }
  out.features = h.flatten(1);
  if (embed) {
    Tensor phi = cfg_.arch == "mlp" ? h : sum(h, {2, 3});
    out.logit = add(out.logit, sum(mul((*embed)(labels), phi), {1}));
  }
  if (aux) out.class_logits = (*aux)(out.features);
  return out;
}

Tensor ConditionalDiscriminator::forward(const Tensor& x) {
  GAN_CHECK(!cfg_.conditional() || bound_.defined(), "ConditionalDiscriminator: called without class labels");
  return run(x, bound_).logit;
}

InfoHead::InfoHead(int64_t features, const ModelConfig& cfg, Generator& gen) : nn::Module("Q") {
  main = register_module("main", linear_stack(features, {128}, code_output_width(parse_codes(cfg.codes), cfg.info_var == "learned"),
                                              [s = cfg.leaky_slope] { return std::make_shared<nn::LeakyReLU>(s); }, gen));
}

Tensor InfoHead::forward(const Tensor& features) { return main->forward(features); }

}  // namespace gan::models
