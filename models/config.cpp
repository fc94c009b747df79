#include "models/config.h"

#include <algorithm>

#include "engine/core/error.h"
#include "models/defaults.h"
#include "models/toy.h"

namespace gan::models {

using nlohmann::json;

void ModelConfig::validate() const {
  GAN_CHECK(arch == "mlp" || arch == "dcgan32" || arch == "dcgan64" || arch == "toy",
            "model: unknown architecture '" << arch << "' (expected mlp, dcgan32, dcgan64 or toy)");
  GAN_CHECK(critic_norm == "batch" || critic_norm == "layer" || critic_norm == "none",
            "model: unknown critic norm '" << critic_norm << "' (expected batch, layer or none)");
  GAN_CHECK(critic_norm == "batch" || arch == "dcgan32" || arch == "dcgan64",
            "model: --critic-norm " << critic_norm << " applies to the DCGAN critics only (" << arch
                                    << " has no normalisation)");
  GAN_CHECK(nz > 0, "model: nz must be positive, got " << nz);
  GAN_CHECK(channels == 1 || channels == 3, "model: channels must be 1 or 3, got " << channels);
  GAN_CHECK(image_size > 0, "model: image size must be positive, got " << image_size);
  if (arch == "dcgan32") GAN_CHECK(image_size == 32, "model: dcgan32 makes 32x32 images, not " << image_size);
  if (arch == "dcgan64") GAN_CHECK(image_size == 64, "model: dcgan64 makes 64x64 images, not " << image_size);
  GAN_CHECK(ngf > 0 && ndf > 0, "model: ngf and ndf must be positive, got " << ngf << " and " << ndf);
  GAN_CHECK(!g_hidden.empty() && !d_hidden.empty(), "model: the MLP needs at least one hidden layer each");
  for (int64_t w : g_hidden) GAN_CHECK(w > 0, "model: generator hidden width " << w << " must be positive");
  for (int64_t w : d_hidden) GAN_CHECK(w > 0, "model: discriminator hidden width " << w << " must be positive");
  GAN_CHECK(leaky_slope >= 0 && leaky_slope < 1, "model: leaky slope " << leaky_slope << " outside [0, 1)");
}

void TrainConfig::validate() const {
  model.validate();
  loss_defaults(loss, false);  // throws naming an unknown loss and the known ones
  GAN_CHECK(n_critic >= 1 && n_critic <= 1000, "train: --n-critic must lie in [1, 1000], got " << n_critic);
  GAN_CHECK(gp_lambda >= 0, "train: --gp-lambda must not be negative, got " << gp_lambda);
  GAN_CHECK(clip > 0, "train: --clip must be positive, got " << clip);
  GAN_CHECK(is_toy_data(data) == (model.arch == "toy"),
            "train: " << (model.arch == "toy" ? "--model toy needs 2-D data (--data gaussians8, gaussians25 or swissroll), not "
                                              : "2-D data needs --model toy, not ")
                      << (model.arch == "toy" ? data : model.arch));
  GAN_CHECK(!is_toy_data(data) || steps > 0, "train: toy data has no epochs; give --steps");
  GAN_CHECK(optimizer == "adam" || optimizer == "rmsprop" || optimizer == "sgd",
            "train: unknown optimizer '" << optimizer << "' (expected adam, rmsprop or sgd)");
  GAN_CHECK(lr > 0, "train: learning rate must be positive, got " << lr);
  GAN_CHECK(lr_schedule == "constant" || lr_schedule == "linear",
            "train: unknown learning-rate schedule '" << lr_schedule << "' (expected constant or linear)");
  GAN_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1,
            "train: betas must lie in [0, 1), got " << beta1 << ", " << beta2);
  GAN_CHECK(batch > 0, "train: batch size must be positive, got " << batch);
  GAN_CHECK(steps >= 0 && epochs >= 0, "train: steps and epochs must not be negative");
  GAN_CHECK(steps > 0 || epochs > 0, "train: give a number of steps or of epochs");
  GAN_CHECK(sample_every >= 0 && checkpoint_every >= 0 && log_every > 0,
            "train: sample/checkpoint intervals must be >= 0 and the log interval > 0");
  GAN_CHECK(kernels.empty() || kernels == "hand" || kernels == "cudnn" || kernels.find('=') != std::string::npos,
            "train: kernels must be hand or cudnn, got '" << kernels << "'");
  GAN_CHECK(n_samples > 0, "train: the sample grid needs at least one image");
}

double TrainConfig::lr_at(int64_t step, int64_t total) const {
  if (lr_schedule == "constant" || total <= 0) return lr;
  return lr * std::max(0.0, 1.0 - static_cast<double>(step) / static_cast<double>(total));
}

json to_json(const ModelConfig& c) {
  return {{"arch", c.arch},       {"nz", c.nz},       {"channels", c.channels}, {"image_size", c.image_size},
          {"ngf", c.ngf},         {"ndf", c.ndf},     {"g_hidden", c.g_hidden}, {"d_hidden", c.d_hidden},
          {"leaky_slope", c.leaky_slope}, {"critic_norm", c.critic_norm}};
}

// Reads field `key` into `out` when present; a value of the wrong type names the field.
template <class T>
static void read(const json& j, const char* key, T& out, const std::string& src) {
  if (!j.contains(key)) return;
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception&) {
    GAN_FAIL(src << ": config field '" << key << "' has the wrong type: " << j.at(key).dump());
  }
}

ModelConfig model_config_from_json(const json& j, const std::string& src) {
  GAN_CHECK(j.is_object(), src << ": model config is not a JSON object");
  ModelConfig c;
  read(j, "arch", c.arch, src);
  read(j, "nz", c.nz, src);
  read(j, "channels", c.channels, src);
  read(j, "image_size", c.image_size, src);
  read(j, "ngf", c.ngf, src);
  read(j, "ndf", c.ndf, src);
  read(j, "g_hidden", c.g_hidden, src);
  read(j, "d_hidden", c.d_hidden, src);
  read(j, "leaky_slope", c.leaky_slope, src);
  read(j, "critic_norm", c.critic_norm, src);
  try {
    c.validate();
  } catch (const Error& e) {
    GAN_FAIL(src << ": " << e.what());
  }
  return c;
}

json to_json(const TrainConfig& c) {
  return {{"model", to_json(c.model)},
          {"data", c.data},
          {"loss", c.loss},
          {"n_critic", c.n_critic},
          {"gp_lambda", c.gp_lambda},
          {"clip", c.clip},
          {"optimizer", c.optimizer},
          {"lr", c.lr},
          {"lr_schedule", c.lr_schedule},
          {"beta1", c.beta1},
          {"beta2", c.beta2},
          {"batch", c.batch},
          {"steps", c.steps},
          {"epochs", c.epochs},
          {"seed", c.seed},
          {"device", c.device},
          {"kernels", c.kernels},
          {"tf32", c.tf32},
          {"sample_every", c.sample_every},
          {"checkpoint_every", c.checkpoint_every},
          {"log_every", c.log_every},
          {"n_samples", c.n_samples}};
}

TrainConfig train_config_from_json(const json& j, const std::string& src) {
  GAN_CHECK(j.is_object(), src << ": run config is not a JSON object");
  TrainConfig c;
  if (j.contains("model")) c.model = model_config_from_json(j.at("model"), src);
  read(j, "data", c.data, src);
  read(j, "loss", c.loss, src);
  read(j, "n_critic", c.n_critic, src);
  read(j, "gp_lambda", c.gp_lambda, src);
  read(j, "clip", c.clip, src);
  read(j, "optimizer", c.optimizer, src);
  read(j, "lr", c.lr, src);
  read(j, "lr_schedule", c.lr_schedule, src);  // absent in older runs: constant
  read(j, "beta1", c.beta1, src);
  read(j, "beta2", c.beta2, src);
  read(j, "batch", c.batch, src);
  read(j, "steps", c.steps, src);
  read(j, "epochs", c.epochs, src);
  read(j, "seed", c.seed, src);
  read(j, "device", c.device, src);
  read(j, "kernels", c.kernels, src);
  read(j, "tf32", c.tf32, src);
  read(j, "sample_every", c.sample_every, src);
  read(j, "checkpoint_every", c.checkpoint_every, src);
  read(j, "log_every", c.log_every, src);
  read(j, "n_samples", c.n_samples, src);
  try {
    c.validate();
  } catch (const Error& e) {
    GAN_FAIL(src << ": " << e.what());
  }
  return c;
}

}  // namespace gan::models
