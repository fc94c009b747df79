// The settings of a model and of a training run, with their JSON form (config.json and the
// checkpoint's metadata carry it, so a run can be resumed or sampled from its files alone), and
// every default a run takes from its loss and its data: the one place defaults live.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace gan::models {

struct ModelConfig {
  // mlp | dcgan32 | dcgan64 | sngan32 (models/sngan.h) | toy (2-D points, models/toy.h) | cyclegan
  // (ResNet generators and PatchGAN discriminators, models/cyclegan.h; the cyclegan recipe's own)
  std::string arch = "mlp";
  int64_t nz = 100;          // latent size
  int64_t channels = 1;      // image channels (1 or 3)
  int64_t image_size = 28;   // side of the square images (fixed by the DCGAN archs: 32 or 64)
  int64_t ngf = 64, ndf = 64;                       // DCGAN widths
  std::vector<int64_t> g_hidden{256, 512, 1024};    // MLP generator hidden widths
  std::vector<int64_t> d_hidden{512, 256};          // MLP discriminator hidden widths
  double leaky_slope = 0.2;
  // DCGAN critics' normalisation: batch (BatchNorm2d, as pytorch/examples), layer (LayerNorm over
  // (C, H, W) at the same positions, so state_dict names keep their indices: main.3.weight is
  // then [C, H, W]) or none (an Identity in that position: no tensors). Other archs: batch
  // (the default; they have no normalisation).
  std::string critic_norm = "batch";
  // Conditioning on class labels (docs/conditional.md): none, or class. The generator joins a
  // learned class embedding of `embed_dim` values (0: num_classes) to z; the discriminator
  // conditions by `cond_method`: projection (Miyato & Koyama 2018; the default), concat (one-hot
  // label maps joined to its input) or acgan (an auxiliary classifier head, Odena et al. 2017).
  std::string condition = "none";
  std::string cond_method = "projection";
  int64_t num_classes = 0;  // from the data set's labels
  int64_t embed_dim = 0;
  // InfoGAN's latent codes (docs/infogan.md): comma-separated catK (one categorical code of K
  // values) and contN (N continuous codes, uniform in [-1, 1]), e.g. "cat10,cont2"; "" for none.
  std::string codes;
  // How Q models a continuous code: learned (a mean and a log-variance per code, the Gaussian NLL
  // with its own variance) or unit (a mean only, variance fixed at 1: the NLL is half the squared
  // error, as in the InfoGAN paper's experiments). Sets Q's output width, so it is part of the model.
  std::string info_var = "learned";
  // The latent distribution: normal (N(0, 1), the default) or uniform (U[-1, 1], as in the
  // original GAN and DCGAN papers). Sampling from a checkpoint draws from the same one.
  std::string noise = "normal";
  // Spectral normalisation (Miyato et al. 2018) of every Linear/Conv layer of the discriminator
  // (d), the generator (g), both, or none; sngan32 defaults to d. The layers' weights are then
  // stored as weight_orig, weight_u, weight_v, as PyTorch's spectral_norm stores them.
  std::string spectral_norm = "none";
  // How the DCGAN generators double the side: convt (ConvTranspose2d(4, 2, 1), the paper's),
  // nearest (Upsample(2) then Conv2d(3, 1, 1): no checkerboard artefacts, Odena et al. 2016) or
  // pixelshuffle (Conv2d(3, 1, 1) to 4x the channels, then PixelShuffle(2), Shi et al. 2016).
  std::string upsample = "convt";
  // CycleGAN: residual blocks of each ResNet generator, strided layers of each PatchGAN
  // discriminator; 0 until the data are known, then the paper's for the image size
  // (cyclegan_defaults: 9 blocks from 256 up, else 6; 3 layers, 70x70 patches, from 128 up, else 2).
  int64_t res_blocks = 0, d_layers = 0;
  bool spectral_norm_on(bool generator) const {
    return spectral_norm == "both" || spectral_norm == (generator ? "g" : "d");
  }

  // Throws naming the bad field.
  void validate() const;
  bool conditional() const { return condition == "class"; }
  bool cyclegan() const { return arch == "cyclegan"; }
};

// One InfoGAN code: a categorical code of `size` values, or `size` continuous ones.
struct LatentCode {
  bool categorical;
  int64_t size;
};
// The codes of a --codes spec (throws naming a malformed one); their total width in the
// generator's input (categorical codes one-hot) and in Q's output (continuous: a mean, and a
// log-variance unless the variance is fixed: ModelConfig::info_var "unit").
std::vector<LatentCode> parse_codes(const std::string& spec);
int64_t code_input_width(const std::vector<LatentCode>& codes);
int64_t code_output_width(const std::vector<LatentCode>& codes, bool learned_variance = true);

struct TrainConfig {
  ModelConfig model;
  // The family's recipe: gan (every generator-from-noise family: mlp, dcgan, sngan, the WGANs,
  // conditional, InfoGAN; models/gan_recipe.h) or cyclegan (unpaired image-to-image translation
  // between `data` (domain A) and `data_b`; models/cyclegan_recipe.h, docs/cyclegan.md).
  std::string recipe = "gan";
  std::string data_b;
  // CycleGAN's loss weights (Zhu et al. 2017): the cycle-consistency L1 term of each direction
  // (lambda_A = lambda_B), the identity term as a share of it (0.5: weight 5), and the images each
  // discriminator's history pool keeps (0: none, D sees only the newest fakes).
  double cycle_lambda = 10.0, identity_lambda = 0.5;
  int64_t pool_size = 50;
  // The side images are brought to (cyclegan); 0: the data's own side (256 for folders).
  int64_t image_size = 0;
  // mnist | mnist:PATH | fashion:PATH | cifar10:PATH | folder:PATH | gaussians8 | gaussians25 | swissroll
  std::string data = "mnist";
  std::string loss = "bce";      // bce | wgan | wgan-gp | lsgan | hinge (models/losses.h)
  int64_t n_critic = 1;         // discriminator steps per generator step
  double gp_lambda = 10.0;      // wgan-gp penalty weight
  double clip = 0.01;           // wgan weight clipping bound
  std::string optimizer = "adam";  // adam | rmsprop | sgd
  double lr = 2e-4, beta1 = 0.5, beta2 = 0.999;
  // constant | linear: lr x (1 - step / total steps) for both networks, reaching 0 at the end (the
  // WGAN-GP experiments' decay). It damps the late oscillation of the generator around the data.
  std::string lr_schedule = "constant";
  // linear: the share of the steps at the constant rate before the decay starts (CycleGAN: 0.5,
  // its 100 epochs constant then 100 decaying).
  double lr_decay_start = 0;
  double info_lambda = 1.0;  // InfoGAN: weight of the mutual-information term in G's (and Q's) loss
  // InfoGAN: in D's step Q reads D's features detached, so only Q learns to read the codes and D's
  // trunk trains on the adversarial loss alone; G must then write its codes into what D already
  // sees (docs/infogan.md). false: Q and the trunk learn to read them together.
  bool info_detach = false;
  // InfoGAN: the step in which Q learns. "critic": in D's step, in D's optimizer group (with D's
  // learning rate). "generator": in G's step, its own optimizer group "q" with G's learning rate and
  // the same fakes as G's term (D's step then has no information term; the arrangement of
  // implementations that give Q to G's optimizer). docs/infogan.md.
  std::string info_q_step = "critic";
  // Stabilisation knobs (docs/training.md). lr_g / lr_d: each phase's learning rate (two time-scale
  // updates, Heusel et al. 2017); 0 means lr. weight_decay: L2 added to every gradient (torch.optim's).
  // grad_clip: before each optimizer step, its group's gradients are scaled to a global L2 norm of
  // at most this (0: off); the norm before clipping is logged as grad_norm_<group>.
  // label_smoothing: bce only, the target for real images in D's loss (one-sided, Salimans et al.
  // 2016: 0.9); 1 is none. rmsprop_alpha: RMSprop's smoothing constant. ema: the decay of an
  // exponential moving average of the generator's weights (0: none), sampled alongside G.
  double lr_g = 0, lr_d = 0, weight_decay = 0, grad_clip = 0, label_smoothing = 1.0, rmsprop_alpha = 0.99, ema = 0;
  // Augmentation (models/augment.h): of the real images (flip,translate), and DiffAugment's
  // differentiable transforms of everything the critic sees (color,translation,cutout); "" for none.
  std::string augment, diffaugment;
  int64_t batch = 64;  // the global batch: a data-parallel run splits it across its ranks
  // Data parallel (models/distributed.h): batch norm statistics over the global batch rather than
  // each rank's share (the default, as PyTorch DDP). One process: the same statistics, computed as
  // the ranks compute them (batch_norm_across), so that the two runs can be compared.
  bool sync_bn = false;
  // Data parallel: gradients are averaged in buckets of about this many MiB, each starting while the
  // backward pass computes the layers before it (dist::Reducer); 0: one all-reduce after the pass.
  double bucket_mb = 4;
  int64_t steps = 0;   // total generator steps; 0: use epochs
  int64_t epochs = 0;  // passes over the data when steps is 0
  uint64_t seed = 0;
  std::string device = "auto";   // auto | cpu | cuda | cuda:N
  std::string kernels;    // CUDA kernels: "" (GAN_KERNELS or the engine's default), hand, cudnn,
                          // or GAN_KERNELS' per-family syntax (conv=cudnn,batchnorm=hand)
  bool tf32 = false;      // TF32 tensor-core math for float32 matmuls/convolutions on CUDA
  // fp32; tf32 (as --tf32); bf16: the networks run on bfloat16 activations and weight copies, with
  // float32 master weights, optimizer state, normalisations and losses (engine/nn/precision.h).
  std::string precision = "fp32";
  // on: after two warm-up steps the training step is recorded as a CUDA graph and replayed
  // (engine/capture/step_graph.h; the same numbers as off); off: every step runs uncaptured.
  std::string cuda_graph = "off";
  int64_t sample_every = 500, checkpoint_every = 1000, log_every = 10;
  int64_t n_samples = 64;  // images in each sample grid (fixed noise)
  // Steps at which every parameter's gradient histogram is recorded (gradients-hist.csv).
  std::vector<int64_t> grad_hist_steps;
  // Evaluation during training (docs/evaluation.md): every eval_every steps (0: never) the
  // eval_metrics (fid, kid, is, pr) of eval_n samples, read by the eval_features network
  // (digits, digits:PATH, inception:PATH), against the first eval_n_ref images of the training data.
  int64_t eval_every = 0, eval_n = 2000, eval_n_ref = 10000;
  std::string eval_features = "digits", eval_metrics = "fid,kid,is";

  void validate() const;
  bool tf32_math() const { return tf32 || precision == "tf32"; }
  // The learning rate of the generator's (or the critics') optimizers for generator step `step`
  // (0-based) of `total`, after the schedule.
  double lr_at(int64_t step, int64_t total, bool generator = true) const;
  // The moving average's decay at generator step `step` (0-based): min(ema, (1 + step) / (10 +
  // step)), the warm-up of TensorFlow's ExponentialMovingAverage(num_updates). Without it the
  // average of a short run keeps a large share of the untrained weights (0.999^1500 = 22%).
  double ema_decay_at(int64_t step) const;
};

nlohmann::json to_json(const ModelConfig& c);
ModelConfig model_config_from_json(const nlohmann::json& j, const std::string& source);
nlohmann::json to_json(const TrainConfig& c);
TrainConfig train_config_from_json(const nlohmann::json& j, const std::string& source);
// A run's config from JSON text (config.json, a checkpoint's "config" metadata): malformed JSON
// throws gan::Error naming `source` and where the parser stopped.
TrainConfig parse_train_config(const std::string& text, const std::string& source);

// ---- Defaults: every default a run takes from its loss and its data, in one place ----

// The settings a loss brings, for image models or for the 2-D toy models.
struct LossDefaults {
  std::string optimizer;
  double lr, beta1, beta2;
  int64_t n_critic;
  double gp_lambda, clip;
  std::string lr_schedule = "constant";
};
// Throws naming an unknown loss and the known ones.
LossDefaults loss_defaults(const std::string& loss, bool toy);

// Fills the settings the user did not give (`given` holds their TrainConfig field names:
// "optimizer", "lr", "lr_schedule", "beta1", "beta2", "n_critic", "gp_lambda", "clip", "batch",
// "nz", "n_samples", "hidden", "loss", "lr_decay_start") from the loss's defaults; for the
// cyclegan recipe from the paper (lsgan, batch 1, linear decay from half-way); for toy data from the WGAN-GP toy
// experiments (batch 256, nz 2, hidden 512 x 3, 2500 plotted points); also picks --model toy for
// toy data when the model was not given ("model").
void apply_defaults(TrainConfig& cfg, const std::set<std::string>& given);

// Generator steps of a run given no --steps or --epochs: on a CPU what finishes in minutes on 2
// cores and already shows digits on MNIST; a GPU trains longer in less time. Toy runs: 10000
// either way, the length the toy defaults were measured to converge at (docs/wgan.md).
int64_t default_steps(const std::string& arch, bool gpu);

// A CycleGAN model's sizes once its image size is known: res_blocks and d_layers left at 0 become
// the paper's (see ModelConfig); the image size must survive both networks (a multiple of 4, and
// at least one PatchGAN output per side), else this throws naming it.
void cyclegan_defaults(ModelConfig& m);

}  // namespace gan::models
