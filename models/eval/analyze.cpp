#include "models/eval/analyze.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

#include "engine/io/file_util.h"
#include "engine/io/image.h"
#include "engine/io/loader.h"
#include "engine/io/npy.h"
#include "engine/io/plot.h"
#include "engine/io/safetensors.h"
#include "engine/ops/ops.h"
#include "models/checkpoint.h"
#include "models/classifier.h"
#include "models/conditional.h"
#include "models/conditional_recipe.h"
#include "models/data.h"
#include "models/eval/diagnostics.h"
#include "models/eval/gradient_log.h"
#include "models/eval/pca.h"
#include "models/model.h"
#include "models/run.h"

namespace gan::models::eval {

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// An image k times larger, each pixel a k x k block (small images stay sharp).
io::Image upscale(const io::Image& img, int64_t k) {
  io::Image out;
  out.width = img.width * k;
  out.height = img.height * k;
  out.channels = img.channels;
  out.pixels.resize(static_cast<size_t>(out.width * out.height * out.channels));
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x)
      for (int64_t c = 0; c < img.channels; ++c)
        out.pixels[static_cast<size_t>((y * out.width + x) * out.channels + c)] = img.at(y / k, x / k, c);
  return out;
}

// `img` centred on a white image `width` wide (wider images are returned as they are).
io::Image pad_to_width(const io::Image& img, int64_t width) {
  if (img.width >= width) return img;
  io::Canvas c(width, img.height);
  c.blit(img, (width - img.width) / 2, 0);
  return c.img;
}

io::Image stack(const std::vector<io::Image>& parts) {
  int64_t w = 0;
  for (const auto& p : parts) w = std::max(w, p.width);
  std::vector<io::Image> padded;
  for (const auto& p : parts) {
    io::Image rgb = p;
    if (rgb.channels == 1) {
      io::Canvas c(p.width, p.height);
      c.blit(p, 0, 0);
      rgb = c.img;
    }
    padded.push_back(pad_to_width(rgb, w));
  }
  return io::stack_vertically(padded);
}

// One image [C, H, W] in [-1, 1] as an RGB picture.
io::Image picture_of(const Tensor& images, int64_t i) {
  io::Image g = io::make_grid(slice(images, 0, i, i + 1), 1, 0);
  io::Canvas c(g.width, g.height);
  c.blit(g, 0, 0);
  return c.img;
}

class Analysis {
 public:
  explicit Analysis(const AnalyzeRequest& req) : req_(req) {}

  AnalyzeOutputs run() {
    open();
    gradient_flow();
    if (cfg_.model.arch == "toy") {
      note("2-D toy model: the image diagnostics (embeddings, latent sweeps, saliency) are skipped");
    } else {
      draw_samples();
      embeddings();
      latent();
      saliency();
    }
    histograms();  // last: recomputing them takes a training step, which changes the weights
    return out_;
  }

 private:
  void info(const std::string& s) {
    if (req_.on_info) req_.on_info(s);
  }
  void note(const std::string& s) {
    out_.notes.push_back(s);
    info("note: " + s);
  }
  std::string path(const std::string& name) const { return out_.out_dir + "/" + name; }
  void wrote(const std::string& what, const std::string& p) { out_.files.emplace_back(what, p); }
  void write_text(const std::string& what, const std::string& name, const std::string& text) {
    io::write_file_atomic(path(name), text);
    wrote(what, path(name));
  }
  void write_png(const std::string& what, const std::string& name, const io::Image& img) {
    io::save_png(path(name), img);
    wrote(what, path(name));
  }

  // ---- the run and its networks ----
  void open() {
    GAN_CHECK(!req_.run_dir.empty() || !req_.checkpoint.empty(), "analyze: give --run DIR or --checkpoint FILE");
    run_dir_ = req_.run_dir;
    if (!run_dir_.empty())
      GAN_CHECK(io::is_directory(run_dir_), "--run " << run_dir_ << ": not a folder");
    ckpt_ = req_.checkpoint;
    if (ckpt_.empty()) {
      ckpt_ = run_dir_ + "/checkpoints/last.safetensors";
      GAN_CHECK(io::file_exists(ckpt_), "--run " << run_dir_ << ": no checkpoint at " << ckpt_
                                                 << " (is it a gan train folder? train it first, or pass --checkpoint)");
    } else {
      GAN_CHECK(io::file_exists(ckpt_), "--checkpoint " << ckpt_ << ": no such file");
      if (run_dir_.empty()) {  // RUN/checkpoints/X.safetensors: RUN holds the logs
        const std::string up = parent_dir(parent_dir(ckpt_));
        if (io::file_exists(up + "/config.json")) run_dir_ = up;
      }
    }
    out_.out_dir = !req_.out_dir.empty() ? req_.out_dir : run_dir_.empty() ? "" : run_dir_ + "/analysis";
    GAN_CHECK(!out_.out_dir.empty(), "--out: required for a --checkpoint outside a run folder");
    io::SafetensorsFile f = io::load_safetensors(ckpt_);
    GAN_CHECK(is_checkpoint(f), "--checkpoint " << ckpt_ << ": not a gan train checkpoint (a generator file alone "
                                                            "has no discriminator or run to analyze)");
    cfg_ = checkpoint_config(f, ckpt_);
    GAN_CHECK(cfg_.recipe == "gan", ckpt_ << ": a " << cfg_.recipe << " run; gan analyze reads runs with a generator "
                                          << "from noise and a discriminator (cyclegan: gan unpaired-digits score, "
                                          << "the sample grids and curves.png; docs/cyclegan.md)");
    cfg_.device = req_.device;
    RunEvents ev;
    ev.on_info = [this](const std::string& s) { info(s); };
    trainer_ = build_trainer(cfg_, &f, ckpt_, ev);
    io::make_directories(out_.out_dir);
    info("analyzing " + cfg_.model.arch + " at step " + std::to_string(trainer_->step()) + " (" + ckpt_ + ")");
    g_ = &trainer_->network("generator");
    d_ = &trainer_->network("discriminator");
    cg_ = dynamic_cast<ConditionalGenerator*>(g_);
    cd_ = dynamic_cast<ConditionalDiscriminator*>(d_);
  }

  // G on latents z and this sample's condition `c` (class ids or codes; undefined: none), eval
  // mode, no history.
  Tensor generate(const Tensor& z, const Tensor& c) {
    NoGradGuard no_grad;
    return cg_ ? cg_->forward(z, c) : g_->forward(z);
  }
  // The discriminator's logits, with the labels a class-conditional one needs.
  Tensor critic(const Tensor& x, const Tensor& labels) {
    if (!cd_) return d_->forward(x);
    ConditionalDiscriminator::Bind bind(*cd_, labels);
    return cd_->forward(x);
  }
  // G as the sample grids run it (eval mode: BatchNorm's running statistics); the critic as the
  // critic step runs it (training mode: each batch normalised by its own statistics, batches of the
  // run's size holding real or generated images only). A BatchNorm critic's running statistics mix
  // real and generated batches and describe neither: in eval mode it scores real digits as fakes.
  void set_modes() {
    for (auto& [n, m] : trainer_->recipe().networks()) m->train();
    g_->eval();
  }
  int64_t batch() const { return std::max<int64_t>(2, cfg_.batch); }
  // A network's colour in every picture: the generator blue, the discriminator orange.
  io::Rgb network_colour(const std::string& net) const {
    if (net == "generator") return io::category_colour(0);
    if (net == "discriminator") return io::category_colour(1);
    size_t i = 2;
    for (auto& [n, m] : trainer_->recipe().networks())
      if (n == net) break;
      else ++i;
    return io::category_colour(i);
  }

  // ---- 1. gradient flow ----
  void gradient_flow() {
    const std::string csv = run_dir_ + "/gradients.csv";
    if (run_dir_.empty() || !io::file_exists(csv)) {
      note("no gradients.csv in the run folder (a run trained before gradient logging, or a lone checkpoint): "
           "no gradient-flow picture");
      return;
    }
    GradientNorms g = read_gradient_norms(csv);
    if (g.networks.empty()) {
      note(csv + " holds no rows yet: no gradient-flow picture");
      return;
    }
    std::vector<io::Image> parts;
    std::vector<io::Bar> bars;
    std::vector<std::pair<std::string, io::Rgb>> legend;
    std::string table = "network,parameter,steps,mean,min,max,first,last\n";
    for (size_t ni = 0; ni < g.networks.size(); ++ni) {
      const std::string& net = g.networks[ni];
      std::vector<io::Series> series;
      size_t k = 0;
      for (const std::string& par : g.parameters[net]) {
        const auto& [steps, norms] = g.series[net][par];
        const io::Rgb c = io::category_colour(k++);
        series.push_back({par, steps, norms, c[0], c[1], c[2]});
        double sum = 0, lo = INFINITY, hi = -INFINITY;
        for (double v : norms) sum += v, lo = std::min(lo, v), hi = std::max(hi, v);
        const double mean = sum / static_cast<double>(norms.size());
        table += net + "," + par + "," + std::to_string(norms.size()) + "," + fmt("%.6g", mean) + "," + fmt("%.6g", lo) +
                 "," + fmt("%.6g", hi) + "," + fmt("%.6g", norms.front()) + "," + fmt("%.6g", norms.back()) + "\n";
        bars.push_back({par, mean, network_colour(net)});
      }
      legend.push_back({net, network_colour(net)});
      io::PlotOptions o;
      o.title = net + ": L2 norm of each parameter's gradient (log scale), every logged step";
      o.x_label = "step";
      o.width = 1000;
      o.height = 320;
      o.log_y = true;
      o.y_label = "||grad||";
      o.legend_width = 170;
      parts.push_back(io::line_plot(series, o));
    }
    io::BarOptions b;
    b.title = "mean gradient norm of each parameter over the logged steps (log scale): a bar far below the others "
              "is a vanishing gradient, far above an exploding one";
    b.y_label = "mean ||grad||";
    b.x_label = "parameter";
    b.width = 1000;
    b.height = 380;
    b.log_y = true;
    b.wrap_labels = true;
    b.label_every = 1;
    b.legend = legend;
    parts.push_back(io::bar_chart(bars, b));
    write_png("gradient flow", "gradient-flow.png", stack(parts));
    write_text("gradient flow numbers", "gradient-flow.csv", table);
  }

  // ---- the images analysed ----
  void draw_samples() {
    set_modes();
    io::ImageDataset ds = load_dataset(cfg_.data, cfg_.model.image_size);
    const int64_t n = std::min<int64_t>(req_.n, ds.count);
    GAN_CHECK(n >= 8, "--n " << req_.n << ": at least 8 images are needed (the data has " << ds.count << ")");
    has_labels_ = !ds.labels.empty();
    io::BatchLoader loader(ds, n, cfg_.model.image_size, req_.seed);
    Tensor labels;
    real_ = loader.next(has_labels_ ? &labels : nullptr).to(trainer_->device());
    if (has_labels_) {
      for (double v : labels.to_double_vector()) real_cls_.push_back(static_cast<int>(v));
      classes_ = std::max(classes_, loader.classes());
      real_labels_ = labels.to(trainer_->device());
    }
    Generator gen(req_.seed ^ 0x616e616c797a65ULL);  // "analyze"
    z_ = Tensor::randn(noise_shape(cfg_.model, n), &gen, DType::Float32, trainer_->device());
    if (cfg_.model.conditional()) {  // classes in turn: every class about equally often
      std::vector<float> ids;
      for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<float>(i % cfg_.model.num_classes));
      cond_ = Tensor::from_vector(ids, {n}, trainer_->device());
      fake_source_ = "the generator's condition";
      for (float v : ids) fake_cls_.push_back(static_cast<int>(v));
      classes_ = std::max(classes_, cfg_.model.num_classes);
    } else if (!cfg_.model.codes.empty()) {
      cond_ = draw_codes(parse_codes(cfg_.model.codes), n, gen, trainer_->device(), nullptr);
    }
    std::vector<Tensor> parts;
    for (int64_t s = 0; s < n; s += 256) {
      const int64_t e = std::min(n, s + 256);
      parts.push_back(generate(slice(z_, 0, s, e), cond_.defined() ? slice(cond_, 0, s, e) : Tensor()));
    }
    fake_ = cat(parts, 0);
    if (fake_cls_.empty() && req_.features) {
      fnet_ = req_.features->compute(fake_);
      for (auto& p : argmax_rows(fnet_.probs)) fake_cls_.push_back(p);
      fake_source_ = "the " + req_.features->name() + " network's most probable class";
      classes_ = std::max(classes_, req_.features->classes());
    }
    if (fake_cls_.empty() && !req_.classifier.empty()) {
      auto c = load_classifier(req_.classifier, trainer_->device());
      GAN_CHECK(c->channels == cfg_.model.channels && c->image_size == cfg_.model.image_size,
                "--classifier " << req_.classifier << ": judges " << c->channels << "x" << c->image_size << "x"
                                << c->image_size << " images, the generator makes " << cfg_.model.channels << "x"
                                << cfg_.model.image_size << "x" << cfg_.model.image_size);
      for (int64_t v : c->predict(fake_)) fake_cls_.push_back(static_cast<int>(v));
      fake_source_ = "the classifier " + req_.classifier;
      classes_ = std::max(classes_, c->classes);
    }
    if (fake_cls_.empty()) {
      fake_cls_.assign(static_cast<size_t>(n), -1);
      note("generated images have no class (no class condition, --features or --classifier): drawn grey");
    }
  }
  static std::vector<int> argmax_rows(const Tensor& probs) {
    const std::vector<double> v = probs.to_double_vector();
    const int64_t n = probs.size(0), k = probs.size(1);
    std::vector<int> out;
    for (int64_t i = 0; i < n; ++i)
      out.push_back(static_cast<int>(std::max_element(v.begin() + i * k, v.begin() + (i + 1) * k) - (v.begin() + i * k)));
    return out;
  }

  // ---- 3. embeddings ----
  Tensor conditional_features(const Tensor& x, const Tensor& labels) {
    NoGradGuard no_grad;
    std::vector<Tensor> parts;
    for (int64_t s = 0; s < x.size(0); s += batch()) {
      const int64_t e = std::min(x.size(0), s + batch());
      Tensor lb = labels.defined() && cfg_.model.conditional() ? slice(labels, 0, s, e) : Tensor();
      parts.push_back(cd_->run(slice(x, 0, s, e), lb).features.reshape({e - s, -1}).to(Device::cpu()).to(DType::Float64));
    }
    return cat(parts, 0);
  }

  void embeddings() {
    // A conditional D reads the class too: the real images with their labels, the generated ones
    // with their condition.
    Tensor fr = cd_ ? conditional_features(real_, real_labels_) : critic_features(*d_, real_, nullptr, batch());
    Tensor ff = cd_ ? conditional_features(fake_, cond_) : critic_features(*d_, fake_, nullptr, batch());
    embedding_view("discriminator", "the discriminator's penultimate layer", fr, ff);
    if (req_.features) {
      Features r = req_.features->compute(real_);
      if (!fnet_.features.defined()) fnet_ = req_.features->compute(fake_);
      embedding_view(req_.features->name(), "the " + req_.features->name() + " feature network", r.features,
                     fnet_.features);
    }
  }

  void embedding_view(const std::string& view, const std::string& what, const Tensor& fr, const Tensor& ff) {
    const int64_t nr = fr.size(0), nf = ff.size(0), dim = fr.size(1);
    info("embedding " + std::to_string(nr) + " real and " + std::to_string(nf) + " generated " + std::to_string(dim) +
         "-d features of " + what);
    Tensor all = cat({fr.to(DType::Float64), ff.to(DType::Float64)}, 0);
    const int64_t keep = std::min<int64_t>({50, dim, nr + nf - 1});
    Pca pca = fit_pca(all, keep);
    Tensor proj = pca.transform(all);
    TsneOptions to = req_.tsne;
    to.seed = req_.seed;
    to.perplexity = std::min(to.perplexity, static_cast<double>(nr + nf - 2) / 3);
    TsneResult ts = tsne(proj, to);
    const std::vector<double> p = proj.to_double_vector(), e = ts.embedding.to_double_vector();
    std::vector<io::ScatterPoint> pts_pca, pts_tsne;
    std::string csv = "index,kind,class,pc1,pc2,tsne1,tsne2\n";
    for (int64_t i = 0; i < nr + nf; ++i) {
      const bool real = i < nr;
      const int cls = real ? (has_labels_ ? real_cls_[static_cast<size_t>(i)] : -1) : fake_cls_[static_cast<size_t>(i - nr)];
      const int style = real ? 0 : 1;
      const double x = p[static_cast<size_t>(i * keep)], y = keep > 1 ? p[static_cast<size_t>(i * keep + 1)] : 0;
      pts_pca.push_back({x, y, cls, style});
      pts_tsne.push_back({e[static_cast<size_t>(2 * i)], e[static_cast<size_t>(2 * i + 1)], cls, style});
      csv += std::to_string(real ? i : i - nr) + "," + (real ? "real" : "generated") + "," +
             (cls >= 0 ? std::to_string(cls) : std::string()) + "," + fmt("%.6g", x) + "," + fmt("%.6g", y) + "," +
             fmt("%.6g", pts_tsne.back().x) + "," + fmt("%.6g", pts_tsne.back().y) + "\n";
    }
    // Drawn in a shuffled order so that neither kind nor any class sits on top of all the others.
    std::vector<size_t> order(pts_pca.size());
    std::iota(order.begin(), order.end(), 0);
    Generator shuffle(req_.seed + 17);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[shuffle.below(i)]);
    std::vector<io::ScatterPoint> a, b;
    for (size_t i : order) a.push_back(pts_pca[i]), b.push_back(pts_tsne[i]);
    io::ScatterOptions o;
    for (int64_t c = 0; c < classes_; ++c) o.categories.push_back("class " + std::to_string(c));
    o.styles = {"real (filled)", fake_cls_.empty() || fake_cls_[0] >= 0 ? "generated (ring)" : "generated (ring, grey: no class)"};
    o.width = 760;
    o.height = 640;
    const std::string sizes = std::to_string(nr) + " real + " + std::to_string(nf) + " generated";
    o.title = "PCA of " + what + " (" + std::to_string(dim) + "-d), " + sizes;
    o.x_label = "PC1 (" + fmt("%.1f", 100 * pca.explained(0)) + "% of the variance)";
    o.y_label = keep > 1 ? "PC2 (" + fmt("%.1f", 100 * pca.explained(1)) + "%)" : "";
    write_png("PCA of " + what, "embedding-" + view + "-pca.png", io::scatter_plot(a, o));
    o.title = "t-SNE of " + what + " (first " + std::to_string(keep) + " PCs, perplexity " + fmt("%.0f", to.perplexity) +
              "), " + sizes;
    o.x_label = "t-SNE 1";
    o.y_label = "t-SNE 2";
    write_png("t-SNE of " + what, "embedding-" + view + "-tsne.png", io::scatter_plot(b, o));
    write_text("embedding coordinates", "embedding-" + view + ".csv", csv);
    nlohmann::json j;
    j["features"] = what;
    j["feature_dim"] = dim;
    j["real"] = nr;
    j["generated"] = nf;
    j["generated_classes_from"] = fake_source_.empty() ? "none" : fake_source_;
    std::vector<double> ev;
    for (int64_t i = 0; i < std::min<int64_t>(keep, 10); ++i) ev.push_back(pca.explained(i));
    j["pca_explained_variance_ratio"] = ev;
    j["tsne"] = {{"perplexity", to.perplexity}, {"iterations", to.iterations}, {"seed", to.seed}, {"kl", ts.kl},
                 {"pca_dims", keep}};
    // How separable the two kinds are in these features: the share of each image's 10 nearest
    // neighbours (first PCs) of its own kind, real or generated. About the share of its kind
    // (0.5 here) when generated images are indistinguishable from real ones; 1 when apart.
    {
      const std::vector<double> d2 = squared_distances(proj);
      const int64_t nn = std::min<int64_t>(10, nr + nf - 1), n = nr + nf;
      double same = 0;
      for (int64_t i = 0; i < n; ++i) {
        std::vector<int64_t> idx;
        for (int64_t q = 0; q < n; ++q)
          if (q != i) idx.push_back(q);
        std::partial_sort(idx.begin(), idx.begin() + nn, idx.end(), [&](int64_t a, int64_t b) {
          return d2[static_cast<size_t>(i * n + a)] < d2[static_cast<size_t>(i * n + b)];
        });
        for (int64_t q = 0; q < nn; ++q) same += (idx[static_cast<size_t>(q)] < nr) == (i < nr);
      }
      j["knn10_same_kind_share"] = same / static_cast<double>(n * nn);
    }
    if (!fake_cls_.empty() && fake_cls_[0] >= 0) {
      std::vector<int64_t> counts(static_cast<size_t>(std::max<int64_t>(classes_, 1)), 0);
      for (int c : fake_cls_)
        if (c >= 0 && c < static_cast<int>(counts.size())) ++counts[static_cast<size_t>(c)];
      j["generated_per_class"] = counts;
    }
    write_text("embedding summary", "embedding-" + view + ".json", j.dump(2) + "\n");
  }

  // ---- 4. latent sensitivity ----
  void latent() {
    const int64_t m = std::min<int64_t>(req_.sensitivity_samples, z_.size(0));
    Tensor z = slice(z_, 0, 0, m);
    Tensor c = cond_.defined() ? slice(cond_, 0, 0, m) : Tensor();
    info("latent sensitivity over " + std::to_string(cfg_.model.nz) + " dimensions, " + std::to_string(m) + " latents");
    // Every perturbed latent keeps the condition of the sample it perturbs.
    std::vector<double> s = latent_sensitivity(
        [&](const Tensor& zb, const std::vector<int64_t>& rows) {
          if (!c.defined()) return generate(zb, c);
          std::vector<Tensor> cs;
          for (int64_t i : rows) cs.push_back(slice(c, 0, i, i + 1));
          return generate(zb, cat(cs, 0));
        },
        z, req_.eps);
    const int64_t nz = static_cast<int64_t>(s.size());
    std::vector<int64_t> order(static_cast<size_t>(nz));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[static_cast<size_t>(a)] > s[static_cast<size_t>(b)]; });
    const int64_t k = std::min<int64_t>(req_.sweep_dims, nz / 2);
    std::set<int64_t> top(order.begin(), order.begin() + k), bottom(order.end() - k, order.end());
    std::vector<io::Bar> bars;
    std::string csv = "dimension,sensitivity,rank\n";
    std::vector<int64_t> rank(static_cast<size_t>(nz));
    for (int64_t r = 0; r < nz; ++r) rank[static_cast<size_t>(order[static_cast<size_t>(r)])] = r + 1;
    for (int64_t i = 0; i < nz; ++i) {
      const io::Rgb col = top.count(i) ? io::Rgb{214, 39, 40} : bottom.count(i) ? io::Rgb{127, 127, 127} : io::Rgb{31, 119, 180};
      bars.push_back({std::to_string(i), s[static_cast<size_t>(i)], col});
      csv += std::to_string(i) + "," + fmt("%.6g", s[static_cast<size_t>(i)]) + "," + std::to_string(rank[static_cast<size_t>(i)]) + "\n";
    }
    io::BarOptions b;
    b.title = "latent sensitivity: mean |G(z + eps e_i) - G(z - eps e_i)| / 2 eps over " + std::to_string(m) +
              " latents (eps " + fmt("%.3g", req_.eps) + ")";
    b.x_label = "latent dimension i";
    b.y_label = "output change per unit of z_i (L2 over pixels)";
    b.width = 1000;
    b.height = 320;
    b.legend = {{"most sensitive", {214, 39, 40}}, {"least sensitive", {127, 127, 127}}};
    write_png("latent sensitivity", "latent-sensitivity.png", io::bar_chart(bars, b));
    write_text("latent sensitivity numbers", "latent-sensitivity.csv", csv);

    // Sweeps: one latent, one dimension varied from -3 to 3, for the most and least sensitive.
    const int64_t steps = 9, scale = 2;
    std::vector<io::Image> rows;
    rows.push_back(io::title_band("sweeps of single latent dimensions: z_i from -3 to +3 (left to right), the other "
                                  "dimensions fixed",
                                  900, 28));
    const std::vector<float> base = slice(z_, 0, 0, 1).to_float_vector();
    auto sweep = [&](int64_t dim) {
      std::vector<float> zs;
      for (int64_t t = 0; t < steps; ++t) {
        std::vector<float> v = base;
        v[static_cast<size_t>(dim)] = static_cast<float>(-3.0 + 6.0 * static_cast<double>(t) / (steps - 1));
        zs.insert(zs.end(), v.begin(), v.end());
      }
      Shape sh = z_.shape();
      sh[0] = steps;
      Tensor cz = cond_.defined() ? cat(std::vector<Tensor>(static_cast<size_t>(steps), slice(cond_, 0, 0, 1)), 0) : Tensor();
      Tensor imgs = generate(Tensor::from_vector(zs, sh, trainer_->device()), cz);
      io::Image grid = upscale(io::make_grid(imgs, steps, 2, 255), scale);
      io::Canvas row(grid.width + 170, grid.height);
      row.blit(grid, 170, 0);
      row.text(6, grid.height / 2 - 10, "z[" + std::to_string(dim) + "]", 0, 0, 0, 2);
      row.text(6, grid.height / 2 + 8, "sensitivity " + fmt("%.3g", s[static_cast<size_t>(dim)]), 60, 60, 60);
      return row.img;
    };
    rows.push_back(io::title_band("most sensitive", 900, 20));
    for (int64_t r = 0; r < k; ++r) rows.push_back(sweep(order[static_cast<size_t>(r)]));
    rows.push_back(io::title_band("least sensitive", 900, 20));
    for (int64_t r = nz - k; r < nz; ++r) rows.push_back(sweep(order[static_cast<size_t>(r)]));
    write_png("latent sweeps", "latent-sweeps.png", stack(rows));
  }

  // ---- 5. saliency ----
  void saliency() {
    // One batch of the run's size of each kind, as the critic step sees it; the first k images shown.
    const int64_t b = std::min<int64_t>(batch(), real_.size(0)), k = std::min<int64_t>(req_.saliency_images, b);
    Tensor xr = slice(real_, 0, 0, b), xf = slice(fake_, 0, 0, b);
    Tensor lr = real_labels_.defined() ? slice(real_labels_, 0, 0, b) : Tensor();
    Tensor lf = cond_.defined() && cfg_.model.conditional() ? slice(cond_, 0, 0, b) : Tensor();
    Tensor gr = input_gradient([&](const Tensor& x) { return critic(x, lr); }, xr, k);
    Tensor gf = input_gradient([&](const Tensor& x) { return critic(x, lf); }, xf, k);
    Tensor mr = saliency_maps(gr), mf = saliency_maps(gf);
    std::vector<double> dr, df;
    {
      NoGradGuard no_grad;
      dr = critic(xr, lr).to_double_vector();
      df = critic(xf, lf).to_double_vector();
    }
    const std::vector<double> vr = mr.to_double_vector(), vf = mf.to_double_vector();
    double vmax = 0;
    for (double v : vr) vmax = std::max(vmax, v);
    for (double v : vf) vmax = std::max(vmax, v);
    const int64_t h = mr.size(1), w = mr.size(2), hw = h * w, scale = 3, per_row = 4;
    std::string csv = "kind,index,d_output,saliency_mean,saliency_max\n";
    auto section = [&](const Tensor& imgs, const std::vector<double>& maps, const std::vector<double>& d,
                       const std::string& kind) {
      std::vector<io::Image> cells;
      for (int64_t i = 0; i < k; ++i) {
        std::vector<double> m(maps.begin() + i * hw, maps.begin() + (i + 1) * hw);
        io::Image pic = upscale(picture_of(imgs, i), scale);
        io::Image heat = io::heat_map(m, h, w, 0, vmax, scale);
        io::Canvas cell(pic.width + heat.width + 4 + 16, pic.height + 16);
        cell.blit(pic, 0, 0);
        cell.blit(heat, pic.width + 4, 0);
        cell.text(2, pic.height + 4, "D logit " + fmt("%.3g", d[static_cast<size_t>(i)]), 40, 40, 40);
        cells.push_back(cell.img);
        double sum = 0, mx = 0;
        for (double v : m) sum += v, mx = std::max(mx, v);
        csv += kind + "," + std::to_string(i) + "," + fmt("%.6g", d[static_cast<size_t>(i)]) + "," +
               fmt("%.6g", sum / static_cast<double>(hw)) + "," + fmt("%.6g", mx) + "\n";
      }
      std::vector<io::Image> rows;
      for (int64_t r = 0; r * per_row < k; ++r) {
        std::vector<io::Image> row(cells.begin() + r * per_row, cells.begin() + std::min(k, (r + 1) * per_row));
        rows.push_back(io::place_side_by_side(row, 8));
      }
      return stack(rows);
    };
    io::Image left = stack({io::title_band("real images: the image, then |dD(x)/dx| (max over channels)", 700, 22),
                            section(slice(xr, 0, 0, k), vr, dr, "real"),
                            io::title_band("generated images: the image, then |dD(x)/dx|", 700, 22),
                            section(slice(xf, 0, 0, k), vf, df, "generated")});
    io::Image bar = io::colour_bar(0, vmax, std::min<int64_t>(left.height - 30, 400), "|dD/dx|");
    io::Canvas fig(left.width + bar.width + 20, left.height + 30);
    fig.text(8, 8, "discriminator saliency at step " + std::to_string(trainer_->step()) +
                       ": where D's output is most sensitive to the pixels (one colour scale)",
             0, 0, 0);
    fig.blit(left, 0, 30);
    fig.blit(bar, left.width + 10, 52);
    write_png("discriminator saliency", "saliency.png", fig.img);
    write_text("saliency numbers", "saliency.csv", csv);
    io::save_npy(path("saliency.npy"), cat({mr, mf}, 0).to(DType::Float32));
    wrote("saliency maps [real k, generated k][H, W]", path("saliency.npy"));
  }

  // ---- 2. gradient histograms ----
  void histograms() {
    const std::string recorded = run_dir_.empty() ? "" : run_dir_ + "/gradients-hist.csv";
    std::vector<RecordedHistogram> hs;
    std::string source;
    if (!recorded.empty() && io::file_exists(recorded)) hs = read_gradient_histograms(recorded);
    if (!hs.empty()) {
      source = "recorded during training (--grad-hist-steps)";
      const std::vector<uint8_t> bytes = io::read_file(recorded);
      io::write_file_atomic(path("gradient-histograms.csv"), bytes.data(), bytes.size());
    } else {
      // No steps were recorded: the gradients of the step after the checkpoint, computed by the
      // trainer's own step on its next real batch and noise (what training would have used next);
      // the step's weight update is thrown away with this process.
      for (auto& [n, m] : trainer_->recipe().networks()) m->train();
      const int64_t step = trainer_->step() + 1;
      std::string rows = gradient_histogram_header() + "\n";
      StepHooks hooks;
      hooks.before_optimizer_step = [&](const StepPoint& at, const Tensor&) {
        if (at.phase == Phase::Critic && at.critic_index != at.critic_steps - 1) return;
        for (const auto& p : phase_parameters(*trainer_, at.phase))
          if (p.param.grad().defined()) {
            io::Histogram h = gradient_histogram(p.param.grad());
            hs.push_back({step, p.network, p.name, h});
            rows += gradient_histogram_rows(step, p.network, p.name, h);
          }
      };
      trainer_->train_step(&hooks);
      source = "recomputed: the step after the checkpoint (no --grad-hist-steps were recorded)";
      io::write_file_atomic(path("gradient-histograms.csv"), rows);
    }
    wrote("gradient histogram numbers", path("gradient-histograms.csv"));
    std::vector<int64_t> steps;
    std::vector<std::string> nets;
    for (const auto& h : hs) {
      if (std::find(steps.begin(), steps.end(), h.step) == steps.end()) steps.push_back(h.step);
      if (std::find(nets.begin(), nets.end(), h.network) == nets.end()) nets.push_back(h.network);
    }
    std::sort(steps.begin(), steps.end());
    std::vector<std::string> ordered;  // the recipe's order (generator first)
    for (auto& [n, m] : trainer_->recipe().networks())
      if (std::find(nets.begin(), nets.end(), n) != nets.end()) ordered.push_back(n);
    nets = ordered;
    std::string step_list;
    for (int64_t s : steps) step_list += (step_list.empty() ? "" : ", ") + std::to_string(s);
    std::vector<io::Image> parts;
    for (size_t ni = 0; ni < nets.size(); ++ni) {
      std::vector<std::string> params;
      for (const auto& h : hs)
        if (h.network == nets[ni] && std::find(params.begin(), params.end(), h.parameter) == params.end())
          params.push_back(h.parameter);
      std::vector<io::HistogramPanel> panels;
      for (const auto& par : params)
        for (int64_t s : steps) {
          auto it = std::find_if(hs.begin(), hs.end(), [&](const RecordedHistogram& h) {
            return h.network == nets[ni] && h.parameter == par && h.step == s;
          });
          io::HistogramPanel p;
          p.title = par + "  step " + std::to_string(s);
          p.colour = network_colour(nets[ni]);
          if (it != hs.end()) {
            p.hist = it->hist;
            double total = 0;
            for (double c : p.hist.counts) total += c;
            p.note = "max |g| " + fmt("%.2e", p.hist.edges.back()) + ", " + fmt("%.0f", total) + " values";
          } else {
            p.hist = io::make_histogram({}, 1, -1, 1);
            p.note = "not recorded";
          }
          panels.push_back(p);
        }
      io::HistogramGridOptions o;
      o.title = nets[ni] + ": gradient histograms per parameter (columns: steps " + step_list + "; " + source +
                "); red line at 0, counts on a log scale";
      o.columns = static_cast<int64_t>(steps.size());
      o.panel_width = std::max<int64_t>(240, 960 / std::max<int64_t>(1, o.columns));
      o.panel_height = 110;
      o.log_counts = true;
      parts.push_back(io::histogram_grid(panels, o));
    }
    if (parts.empty()) {
      note("no gradient histograms could be computed");
      return;
    }
    write_png("gradient histograms", "gradient-histograms.png", stack(parts));
  }

  const AnalyzeRequest& req_;
  AnalyzeOutputs out_;
  TrainConfig cfg_;
  std::string run_dir_, ckpt_;
  std::unique_ptr<Trainer> trainer_;
  nn::Module *g_ = nullptr, *d_ = nullptr;
  ConditionalGenerator* cg_ = nullptr;
  ConditionalDiscriminator* cd_ = nullptr;
  Tensor real_, real_labels_, z_, cond_, fake_;
  std::vector<int> real_cls_, fake_cls_;
  std::string fake_source_;
  bool has_labels_ = false;
  int64_t classes_ = 0;
  Features fnet_;
};

}  // namespace

AnalyzeOutputs analyze(const AnalyzeRequest& req) { return Analysis(req).run(); }

}  // namespace gan::models::eval
