// The flags that describe a run's model, data, loss and optimizer: `gan train` and `gan trace`
// take the same ones.
#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/core/parse.h"
#include "models/config.h"
#include "models/toy.h"

#include <charconv>
#include <cmath>
#include <sstream>

namespace gan::app {

namespace {
// The value as a finite double, or an error text.
std::string finite(const std::string& text, double& v) {
  std::istringstream in(text);
  in >> v;
  if (in.fail() || !in.eof() || !std::isfinite(v)) return "expected a finite number, got '" + text + "'";
  return "";
}
}  // namespace

CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& s) {
        double v;
        std::string e = finite(s, v);
        return !e.empty() ? e : v > 0 ? std::string() : "expected a number > 0, got '" + s + "'";
      },
      "> 0", "POSITIVE");
}

CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& s) {
        double v;
        std::string e = finite(s, v);
        return !e.empty() ? e : v >= 0 ? std::string() : "expected a number >= 0, got '" + s + "'";
      },
      ">= 0", "NONNEGATIVE");
}

namespace {
// Whether `s` is all decimal digits (a '-' first when negatives are allowed) that fit in T.
template <class T>
bool whole_number(const std::string& s, T& v) {
  const std::optional<T> p = parse_integer<T>(s);
  if (p) v = *p;
  return p.has_value();
}
}  // namespace

CLI::Validator integer(int64_t lo, int64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [=](std::string& s) {
        int64_t v;
        return whole_number(s, v) && v >= lo && v <= hi ? std::string()
                                                        : "expected an integer in " + range + ", got '" + s + "'";
      },
      range, "INTEGER");
}

CLI::Validator seed_value() {
  return CLI::Validator(
      [](std::string& s) {
        uint64_t v;
        return whole_number(s, v) ? std::string()
                                  : "expected a whole number in [0, 18446744073709551615], got '" + s + "'";
      },
      "[0, 2^64-1]", "SEED");
}

CLI::Validator within(double lo, double hi, bool open_low, bool open_high) {
  std::ostringstream d;
  d << (open_low ? "(" : "[") << lo << ", " << hi << (open_high ? ")" : "]");
  const std::string range = d.str();
  return CLI::Validator(
      [=](std::string& s) {
        double v;
        std::string e = finite(s, v);
        if (!e.empty()) return e;
        const bool ok = (open_low ? v > lo : v >= lo) && (open_high ? v < hi : v <= hi);
        return ok ? std::string() : "expected a number in " + range + ", got '" + s + "'";
      },
      range, "RANGE");
}

void RunFlags::apply(models::TrainConfig& cfg) const {
  if (toy_width > 0) {
    GAN_CHECK(cfg.model.arch == "toy" || models::is_toy_data(cfg.data), "--toy-width: only for toy (2-D) models");
    cfg.model.g_hidden = cfg.model.d_hidden = {toy_width, toy_width, toy_width};
  }
  std::set<std::string> given;
  for (auto& [field, opt] : loss_dependent)
    if (opt->count()) given.insert(field);
  models::apply_defaults(cfg, given);
}

std::shared_ptr<RunFlags> add_run_flags(CLI::App& app, models::TrainConfig& c) {
  auto f = std::make_shared<RunFlags>();
  auto fixed = [&](CLI::Option* o) {
    f->options.push_back(o);
    return o;
  };
  // Options whose defaults depend on the loss and the data: config field name -> option.
  auto dep = [&](const char* field, CLI::Option* o) {
    f->loss_dependent.push_back({field, o});
    return fixed(o);
  };
  dep("model", app.add_option("--model", c.model.arch,
                              "Architecture: mlp, dcgan32, dcgan64, sngan32 (the SNGAN paper's CNN: nz 128, spectral "
                              "norm on D; use --loss hinge) or toy (2-D data; the default there)")
                   ->check(CLI::IsMember({"mlp", "dcgan32", "dcgan64", "sngan32", "toy"}))
                   ->capture_default_str());
  fixed(app.add_option("--recipe", c.recipe,
                       "The family: gan (a generator from noise: every --model, --loss, --condition, --codes) or "
                       "cyclegan (unpaired translation between --data-a and --data-b; docs/cyclegan.md)")
            ->check(CLI::IsMember({"gan", "cyclegan"}))
            ->capture_default_str());
  auto* data = fixed(app.add_option("--data", c.data,
                                    "Data set: mnist (bundled 10k digits), mnist:PATH, fashion:PATH, cifar10:PATH, "
                                    "folder:PATH, or 2-D points: gaussians8, gaussians25, swissroll")
                         ->capture_default_str());
  fixed(app.add_option("--data-a", c.data, "cyclegan: domain A, any image data set --data takes (the same as --data)")
            ->excludes(data));
  fixed(app.add_option("--data-b", c.data_b, "cyclegan: domain B, any image data set --data takes"));
  fixed(app.add_option("--lambda-cycle", c.cycle_lambda, "cyclegan: weight of each cycle-consistency L1 term")
            ->check(non_negative())
            ->capture_default_str());
  fixed(app.add_option("--lambda-identity", c.identity_lambda,
                       "cyclegan: weight of the identity L1 terms, as a share of --lambda-cycle (0: none)")
            ->check(non_negative())
            ->capture_default_str());
  fixed(app.add_option("--pool-size", c.pool_size, "cyclegan: generated images each discriminator's history keeps (0: none)")
            ->check(integer(0, 10000))
            ->capture_default_str());
  fixed(app.add_option("--res-blocks", c.model.res_blocks,
                       "cyclegan: residual blocks per generator (default: 9 from 256x256 up, else 6)")
            ->check(integer(1, 64)));
  fixed(app.add_option("--d-layers", c.model.d_layers,
                       "cyclegan: strided layers per PatchGAN (3: 70x70 patches; default: 3 from 128x128 up, else 2)")
            ->check(integer(1, 8)));
  fixed(app.add_option("--image-size", c.image_size,
                       "cyclegan: the side both domains are brought to (default: domain A's own; folders 256)")
            ->check(integer(8, 4096)));
  dep("loss", app.add_option("--loss", c.loss,
                       "Objective: bce, wgan (RMSProp 5e-5, clip 0.01, 5 critic steps), wgan-gp (Adam 1e-4 betas 0/0.9, "
                       "lambda 10, 5 critic steps; toy data: lr 3e-4 decayed linearly, betas 0.5/0.9, lambda 0.1), lsgan, hinge; each brings "
                       "these defaults unless the flags below are given (cyclegan: lsgan, the default there, or bce)")
            ->check(CLI::IsMember({"bce", "wgan", "wgan-gp", "lsgan", "hinge"}))
            ->capture_default_str());
  dep("n_critic", app.add_option("--n-critic", c.n_critic, "Critic steps per generator step (default: the loss's)")
                      ->check(integer(1, 1000)));
  dep("gp_lambda", app.add_option("--gp-lambda", c.gp_lambda, "wgan-gp penalty weight (default 10; toy data 0.1)")
                       ->check(non_negative()));
  dep("clip", app.add_option("--clip", c.clip, "wgan weight clipping bound (default 0.01)")->check(positive()));
  fixed(app.add_option("--critic-norm", c.model.critic_norm,
                       "DCGAN critic normalisation: batch (BatchNorm2d), layer (LayerNorm over C,H,W) or none; "
                       "wgan-gp needs layer or none")
            ->check(CLI::IsMember({"batch", "layer", "none"}))
            ->capture_default_str());
  dep("batch", app.add_option("--batch", c.batch, "Batch size (toy data: 256)")->check(integer(1, 1 << 20))
                   ->capture_default_str());
  dep("lr", app.add_option("--lr", c.lr, "Learning rate, both networks (default: the loss's)")->check(positive())
                ->capture_default_str());
  dep("lr_schedule", app.add_option("--lr-schedule", c.lr_schedule,
                                    "constant, or linear: lr x (1 - step/steps), reaching 0 at the last step (default: "
                                    "the loss's)")
                         ->check(CLI::IsMember({"constant", "linear"}))
                         ->capture_default_str());
  dep("lr_decay_start", app.add_option("--lr-decay-start", c.lr_decay_start,
                                       "linear schedule: the share of the steps at the constant rate before it decays "
                                       "(default 0; cyclegan 0.5)")
                            ->check(within(0.0, 1.0, false, true)));
  dep("beta1", app.add_option("--beta1", c.beta1, "Adam beta1 (SGD: momentum) (default: the loss's)")
                   ->check(within(0.0, 1.0, false, true))
                   ->capture_default_str());
  dep("beta2", app.add_option("--beta2", c.beta2, "Adam beta2 (default: the loss's)")->check(within(0.0, 1.0, false, true))
                   ->capture_default_str());
  dep("optimizer", app.add_option("--optimizer", c.optimizer, "adam, rmsprop or sgd (default: the loss's)")
                       ->check(CLI::IsMember({"adam", "rmsprop", "sgd"}))
                       ->capture_default_str());
  dep("nz", app.add_option("--nz", c.model.nz, "Latent size (toy: 2)")->check(integer(1, 1 << 16))->capture_default_str());
  dep("hidden", app.add_option("--toy-width", f->toy_width,
                               "Toy models: width of the 3 hidden layers of G and D (default 512)")
                    ->check(integer(1, 1 << 16)));
  fixed(app.add_option("--condition", c.model.condition,
                       "none, or class: a conditional GAN on the data's class labels (mnist, fashion, cifar10, or a "
                       "folder with one sub-folder per class); docs/conditional.md")
            ->check(CLI::IsMember({"none", "class"}))
            ->capture_default_str());
  fixed(app.add_option("--cond-method", c.model.cond_method,
                       "How D takes the class: projection (default), concat (label maps joined to its input) or acgan "
                       "(an auxiliary classifier head)")
            ->check(CLI::IsMember({"projection", "concat", "acgan"}))
            ->capture_default_str());
  fixed(app.add_option("--embed-dim", c.model.embed_dim, "Width of G's class embedding (default: the number of classes)")
            ->check(integer(0, 1 << 16)));
  fixed(app.add_option("--codes", c.model.codes,
                       "InfoGAN latent codes, e.g. cat10,cont2 (a 10-valued categorical code and 2 continuous ones); "
                       "docs/infogan.md"));
  fixed(app.add_option("--info-lambda", c.info_lambda, "InfoGAN: weight of the mutual-information term")
            ->check(non_negative())
            ->capture_default_str());
  fixed(app.add_option("--info-var", c.model.info_var,
                       "InfoGAN: Q's variance for continuous codes: learned (a log-variance output per code) or unit "
                       "(fixed at 1: the NLL is half the squared error, as in the InfoGAN paper)")
            ->check(CLI::IsMember({"learned", "unit"}))
            ->capture_default_str());
  fixed(app.add_flag("--info-detach", c.info_detach,
                     "InfoGAN: Q reads D's features detached in D's step (only Q learns to read the codes; D's "
                     "trunk trains on the adversarial loss alone)"));
  fixed(app.add_option("--info-q-step", c.info_q_step,
                       "InfoGAN: the step in which Q learns: critic (in D's step, D's optimizer) or generator (in "
                       "G's step, its own optimizer with G's learning rate; D's loss then has no information term)")
            ->check(CLI::IsMember({"critic", "generator"}))
            ->capture_default_str());
  fixed(app.add_option("--ngf", c.model.ngf, "DCGAN generator width")->check(integer(1, 1 << 14))->capture_default_str());
  fixed(app.add_option("--ndf", c.model.ndf, "DCGAN discriminator width")->check(integer(1, 1 << 14))
            ->capture_default_str());
  dep("spectral_norm", app.add_option("--spectral-norm", c.model.spectral_norm,
                                      "Spectral normalisation of every linear/conv layer: none, d (the discriminator), g "
                                      "or both (default none; sngan32: d)")
                           ->check(CLI::IsMember({"none", "d", "g", "both"})));
  fixed(app.add_option("--upsample", c.model.upsample,
                       "DCGAN generators: convt (ConvTranspose2d, default), nearest (Upsample + Conv2d 3x3) or "
                       "pixelshuffle (Conv2d 3x3 to 4x channels + PixelShuffle)")
            ->check(CLI::IsMember({"convt", "nearest", "pixelshuffle"}))
            ->capture_default_str());
  fixed(app.add_option("--noise", c.model.noise, "Latent distribution: normal (N(0, 1)) or uniform (U[-1, 1])")
            ->check(CLI::IsMember({"normal", "uniform"}))
            ->capture_default_str());
  fixed(app.add_option("--lr-g", c.lr_g, "Generator learning rate (two time-scale updates; default: --lr)")
            ->check(positive()));
  fixed(app.add_option("--lr-d", c.lr_d, "Discriminator (critic) learning rate (default: --lr)")->check(positive()));
  fixed(app.add_option("--weight-decay", c.weight_decay, "L2 weight decay added to every gradient (torch.optim's)")
            ->check(non_negative())
            ->capture_default_str());
  fixed(app.add_option("--grad-clip", c.grad_clip,
                       "Scale each network's gradients to a global L2 norm of at most NORM before its optimizer step "
                       "(the norm goes to metrics.csv as grad_norm_<network>; 0: off)")
            ->check(non_negative())
            ->capture_default_str());
  fixed(app.add_option("--label-smoothing", c.label_smoothing,
                       "bce: the target of real images in D's loss (one-sided smoothing, e.g. 0.9; 1: none)")
            ->check(within(0.0, 1.0, true, false))
            ->capture_default_str());
  fixed(app.add_option("--rmsprop-alpha", c.rmsprop_alpha, "RMSprop's smoothing constant alpha")
            ->check(within(0.0, 1.0, false, true))
            ->capture_default_str());
  fixed(app.add_option("--ema", c.ema,
                       "Keep an exponential moving average of G's weights with this decay (e.g. 0.999; 0: off): "
                       "checkpointed as generator_ema.*, shown under the sample grids, used by gan sample")
            ->check(within(0.0, 1.0, false, true))
            ->capture_default_str());
  fixed(app.add_option("--augment", c.augment,
                       "Augment the real images: flip (left-right, p = 1/2), translate (up to 1/8 of the side, zero "
                       "padding), comma-separated"));
  fixed(app.add_option("--diffaugment", c.diffaugment,
                       "DiffAugment: color, translation, cutout (comma-separated), applied to every batch D sees, real "
                       "and generated, differentiably"));
  fixed(app.add_flag("--sync-bn", c.sync_bn,
                     "Data parallel (mpirun -np N): batch norm statistics over the global batch instead of each "
                     "rank's share; on one process, the same computation over its batch (docs/distributed.md)"));
  f->seed = fixed(app.add_option("--seed", c.seed, "Random seed (weights, noise, shuffling)")
                             ->check(seed_value())
                             ->capture_default_str());
  return f;
}

void add_eval_flags(CLI::App& app, models::TrainConfig& c, RunFlags& run) {
  auto fixed = [&](CLI::Option* o) { run.options.push_back(o); };
  fixed(app.add_option("--eval-every", c.eval_every,
                       "Score eval-n samples every N steps and at the end against the training data (metrics.csv "
                       "columns, a curves panel, checkpoints/best.safetensors by FID; 0: never; docs/evaluation.md)")
            ->check(integer(0, kMaxCount))
            ->capture_default_str());
  fixed(app.add_option("--eval-n", c.eval_n, "Samples per evaluation")->check(integer(10, 1000000))
            ->capture_default_str());
  fixed(app.add_option("--eval-n-ref", c.eval_n_ref, "Training images the evaluation compares with (the first N)")
            ->check(integer(10, 100000000))
            ->capture_default_str());
  fixed(app.add_option("--eval-features", c.eval_features,
                       "Feature network of the evaluation: digits (committed weights), digits:PATH or inception:WEIGHTS")
            ->capture_default_str());
  fixed(app.add_option("--eval-metrics", c.eval_metrics, "Scores to compute: fid, kid, is, pr (comma-separated)")
            ->capture_default_str());
}

}  // namespace gan::app
