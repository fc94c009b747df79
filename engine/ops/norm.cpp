// Normalisation layers.
//
// batch_norm runs one fused primitive forward. Its backward is batch_norm_backward, the fused
// three-term kernel as a differentiable op of its own, whose backward in turn differentiates
// batch_norm_backward_reference (the same gradient in differentiable ops, recomputing the batch
// statistics from x): a plain backward runs the kernel, a second derivative the reference.
//   op                  backward                          its own backward
//   batch_norm (train)  batch_norm_backward     fused     reference_vjp of batch_norm_backward_reference
//   batch_norm_act      batch_norm_act_backward fused     reference_vjp of leaky_relu_backward, then the above
//   batch_norm (eval)   affine in x, weight, bias         composite
//   instance_norm       composite: batch_norm (train) on x as [1, N C, *], weight/bias repeated N times
//   batch_norm_across   sums across processes, then composite  first order only
//   layer_norm          composite (built from differentiable ops)
//
// layer_norm is a composition of differentiable ops: it sits in WGAN-GP critics, where the
// gradient penalty differentiates it twice, and the composition gets that for free.
//   spectral_normalize  composite (matmul, sum, div); u and v refined without history
#include "engine/ops/norm.h"

#include "engine/backend/dispatch.h"
#include "engine/ops/activation.h"
#include "engine/backend/norm.h"
#include "engine/ops/op_helpers.h"
#include "engine/ops/ops.h"

namespace gan {

using namespace detail;

namespace {

// [1, C, 1, ...]: a per-channel vector shaped to broadcast against x.
Shape channel_shape(const Tensor& x) {
  Shape s(x.dim(), 1);
  s[1] = x.size(1);
  return s;
}

// Every dim except the channel dim.
std::vector<int64_t> non_channel_dims(const Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

void check_channel_vector(const Tensor& t, int64_t C, const char* what, const Tensor& x, const char* op = "batch_norm") {
  if (!t.defined()) return;
  GAN_CHECK(t.dim() == 1 && t.size(0) == C, op << ": " << what << " has shape " << shape_str(t.shape())
                                               << " but input " << shape_str(x.shape()) << " has " << C
                                               << " channels (expected [" << C << "])");
}

// What batch_norm and batch_norm_across both take: x [N, C, ...] not empty, per-channel vectors of
// C values (or undefined), running statistics given together, eps > 0.
void check_batch_norm_args(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Tensor& running_mean, const Tensor& running_var, double eps) {
  GAN_CHECK(x.dim() >= 2, op << ": expected input [N, C] or [N, C, H, W], got " << shape_str(x.shape()));
  GAN_CHECK(x.numel() > 0, op << ": empty input " << shape_str(x.shape()));
  check_same_device_dtype(op, {&x, &weight, &bias, &running_mean, &running_var});
  const int64_t C = x.size(1);
  check_channel_vector(weight, C, "weight", x, op);
  check_channel_vector(bias, C, "bias", x, op);
  check_channel_vector(running_mean, C, "running_mean", x, op);
  check_channel_vector(running_var, C, "running_var", x, op);
  GAN_CHECK(running_mean.defined() == running_var.defined(), op << ": running_mean and running_var must be given together");
  GAN_CHECK(eps > 0, op << ": eps must be positive, got " << eps);
}

// Batch statistics of x for batch_norm_backward callers that did not keep the forward's.
void batch_stats(const Tensor& x, double eps, Tensor& mean_out, Tensor& invstd_out) {
  NoGradGuard ng;
  const auto dims = non_channel_dims(x);
  Tensor mu = mean(x, dims, true);
  mean_out = mu.reshape({x.size(1)});
  invstd_out = pow(mean(square(x - mu), dims) + eps, -0.5);
}


// The training forward, with or without a fused activation, and its recorded backward.
Tensor batch_norm_train(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                        Tensor& running_var, const NormAct& act, double momentum, double eps) {
  const int64_t C = x.size(1);
  GAN_CHECK(x.numel() / C > 1,
            op << ": expected more than 1 value per channel when training, got input " << shape_str(x.shape()));
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor save_mean = Tensor::empty({C}, x.dtype(), x.device());
  Tensor save_invstd = Tensor::empty({C}, x.dtype(), x.device());
  GAN_BACKEND(x.device(), batch_norm_forward_train, x, weight, bias, act, y, save_mean, save_invstd, running_mean,
              running_var, momentum, eps);
  const bool fused = act.kind != NormActKind::None;
  autograd::record(
      fused ? "batch_norm_act" : "batch_norm", {x, weight, bias}, {&y},
      [x, weight, save_mean, save_invstd, eps, act, fused](FunctionNode& n, const Grads& g) -> Grads {
        Grads d = fused ? batch_norm_act_backward(g[0], n.output(0), act, x, weight, eps, save_mean, save_invstd)
                        : batch_norm_backward(g[0], x, weight, eps, save_mean, save_invstd);
        for (size_t i = 0; i < d.size(); ++i)
          if (!n.needs(i)) d[i] = Tensor();
        return d;
      },
      /*save_outputs=*/fused);
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean, Tensor running_var,
                  bool training, double momentum, double eps) {
  check_batch_norm_args("batch_norm", x, weight, bias, running_mean, running_var, eps);
  if (training)
    return batch_norm_train("batch_norm", x, weight, bias, running_mean, running_var, NormAct{}, momentum, eps);

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  GAN_CHECK(running_mean.defined(), "batch_norm: evaluation mode needs running_mean and running_var");
  GAN_BACKEND(x.device(), batch_norm_forward_eval, x, weight, bias, running_mean, running_var, y, eps);
  if (autograd::needs_grad({x, weight, bias})) {
    // The running stats are buffers that a later training step overwrites in place: the rule keeps
    // its own copy of what this forward used.
    Tensor mu, invstd;
    {
      NoGradGuard ng;
      mu = running_mean.clone();
      invstd = pow(running_var + eps, -0.5);
    }
    // y = (x - mu) invstd weight + bias, affine in each argument.
    autograd::record("batch_norm_eval", {x, weight, bias}, {&y},
                     [x, weight, mu, invstd](FunctionNode& n, const Grads& g) -> Grads {
                       const auto dims = non_channel_dims(x);
                       const Shape cs = channel_shape(x);
                       Grads out(3);
                       if (n.needs(0)) {
                         Tensor scale = weight.defined() ? weight * invstd : invstd;
                         out[0] = g[0] * scale.reshape(cs);
                       }
                       if (n.needs(1)) out[1] = sum(g[0] * ((x - mu.reshape(cs)) * invstd.reshape(cs)), dims);
                       if (n.needs(2)) out[2] = sum(g[0], dims);
                       return out;
                     });
  }
  return y;
}

Tensor batch_norm_act(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                      Tensor running_var, const NormAct& act, double momentum, double eps) {
  check_batch_norm_args("batch_norm_act", x, weight, bias, running_mean, running_var, eps);
  GAN_CHECK(act.kind != NormActKind::LeakyRelu || act.slope >= 0,
            "batch_norm_act: a fused leaky_relu needs a slope >= 0 (its backward reads the mask from the output), "
            "got slope "
                << act.slope << "; use batch_norm then leaky_relu");
  GAN_CHECK(act.kind != NormActKind::Relu || act.slope == 0,
            "batch_norm_act: relu has no slope, got " << act.slope);
  return batch_norm_train("batch_norm_act", x, weight, bias, running_mean, running_var, act, momentum, eps);
}

Tensor batch_norm_across(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                         Tensor running_var, const SumAcross& sum_across, double momentum, double eps) {
  GAN_CHECK(sum_across, "batch_norm_across: no function to sum the statistics across processes");
  check_batch_norm_args("batch_norm_across", x, weight, bias, running_mean, running_var, eps);
  const int64_t C = x.size(1);
  const auto dims = non_channel_dims(x);
  const Shape cs = channel_shape(x);
  Tensor total, xhat, invstd, y;
  {
    NoGradGuard ng;
    // The count stays a tensor: reading it on the host would wait for the device.
    std::vector<Tensor> first{sum(x, dims), Tensor::full({1}, static_cast<double>(x.numel() / C), x.dtype(), x.device())};
    sum_across(first);
    total = first[1];
    Tensor mu = first[0] / total;
    std::vector<Tensor> second{sum(square(x - mu.reshape(cs)), dims)};
    sum_across(second);
    Tensor var = second[0] / total;  // biased: the one that normalises
    invstd = pow(var + eps, -0.5);
    xhat = (x - mu.reshape(cs)) * invstd.reshape(cs);
    y = weight.defined() ? xhat * weight.reshape(cs) : xhat;
    if (bias.defined()) y = y + bias.reshape(cs);
    if (running_mean.defined()) {  // as the kernel: unbiased n / (n - 1) for the population estimate
      running_mean.copy_(running_mean * (1 - momentum) + mu * momentum);
      running_var.copy_(running_var * (1 - momentum) + var * total / (total - 1.0) * momentum);
    }
  }
  autograd::record("batch_norm_across", {x, weight, bias}, {&y},
                   [weight, xhat, invstd, total, sum_across, dims, cs](FunctionNode& n, const Grads& g) -> Grads {
                     GAN_CHECK(!GradMode::enabled(),
                               "batch_norm_across (batch norm synchronised across processes, --sync-bn) has no "
                               "second derivative: a gradient penalty through a critic with batch norm needs "
                               "per-process statistics or another critic normalisation");
                     Tensor dw = sum(g[0] * xhat, dims), db = sum(g[0], dims);  // this part's
                     Grads out(3);
                     if (n.needs(0)) {
                       std::vector<Tensor> s{db, dw};
                       sum_across(s);
                       Tensor scale = weight.defined() ? weight * invstd : invstd;
                       out[0] = scale.reshape(cs) *
                                (g[0] - (s[0] / total).reshape(cs) - xhat * (s[1] / total).reshape(cs));
                     }
                     if (n.needs(1)) out[1] = dw;
                     if (n.needs(2)) out[2] = db;
                     return out;
                   });
  return y;
}

Grads batch_norm_backward_reference(const Tensor& g, const Tensor& x, const Tensor& weight, double eps) {
  const auto dims = non_channel_dims(x);
  const Shape cs = channel_shape(x);
  Tensor xc = x - mean(x, dims, true);
  Tensor invstd = pow(mean(square(xc), dims, true) + eps, -0.5);
  Tensor xhat = xc * invstd;
  Tensor gw = weight.defined() ? g * weight.reshape(cs) : g;
  Tensor dx = invstd * (gw - mean(gw, dims, true) - xhat * mean(gw * xhat, dims, true));
  return {dx, sum(g * xhat, dims), sum(g, dims)};
}

Grads batch_norm_act_backward_reference(const Tensor& g, const Tensor& y, const NormAct& act, const Tensor& x,
                                        const Tensor& weight, double eps) {
  const double slope = act.kind == NormActKind::LeakyRelu ? act.slope : 0.0;
  Tensor gz = act.kind == NormActKind::None ? g : leaky_relu_backward(g, y, slope);
  return batch_norm_backward_reference(gz, x, weight, eps);
}

namespace {

// batch_norm_backward and batch_norm_act_backward: one kernel call, recorded with the reference
// formula as its own backward (three terms through the batch statistics: too intricate for a
// fused second-order kernel to pay off). y is undefined without an activation.
Grads fused_backward(const char* op, const Tensor& g, const Tensor& y, const NormAct& act, const Tensor& x,
                     const Tensor& weight, double eps, const Tensor& mean, const Tensor& invstd) {
  check_same_device_dtype(op, {&g, &y, &x, &weight, &mean, &invstd});
  check_same_shape(op, g, x);
  if (y.defined()) check_same_shape(op, y, x);
  GAN_CHECK(x.dim() >= 2 && x.numel() > 0, op << ": expected input [N, C, ...], got " << x.str());
  const int64_t C = x.size(1);
  check_channel_vector(weight, C, "weight", x, op);
  Tensor mu = mean, is = invstd;
  if (!mu.defined() || !is.defined()) batch_stats(x, eps, mu, is);
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor dw = Tensor::empty({C}, x.dtype(), x.device());
  Tensor db = Tensor::empty({C}, x.dtype(), x.device());
  GAN_BACKEND(x.device(), batch_norm_backward, g, act, y, x, weight, mu, is, dx, dw, db);
  if (act.kind == NormActKind::None) {
    autograd::record(op, {g, x, weight}, {&dx, &dw, &db},
                     [g, x, weight, eps](FunctionNode& n, const Grads& G) -> Grads {
                       auto reference = [eps](const Grads& in) {
                         return batch_norm_backward_reference(in[0], in[1], in[2], eps);
                       };
                       return reference_vjp(reference, {g, x, weight}, G, {n.needs(0), n.needs(1), n.needs(2)});
                     });
  } else {
    // The mask is piecewise constant in y: the reference gives y no gradient.
    autograd::record(op, {g, y, x, weight}, {&dx, &dw, &db},
                     [g, y, x, weight, act, eps](FunctionNode& n, const Grads& G) -> Grads {
                       auto reference = [act, eps](const Grads& in) {
                         return batch_norm_act_backward_reference(in[0], in[1], act, in[2], in[3], eps);
                       };
                       return reference_vjp(reference, {g, y, x, weight}, G,
                                            {n.needs(0), false, n.needs(2), n.needs(3)});
                     });
  }
  return {dx, dw, db};
}

}  // namespace

Grads batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& weight, double eps, const Tensor& mean,
                          const Tensor& invstd) {
  return fused_backward("batch_norm_backward", g, Tensor(), NormAct{}, x, weight, eps, mean, invstd);
}

Grads batch_norm_act_backward(const Tensor& g, const Tensor& y, const NormAct& act, const Tensor& x,
                              const Tensor& weight, double eps, const Tensor& mean, const Tensor& invstd) {
  GAN_CHECK(act.kind != NormActKind::None, "batch_norm_act_backward: no activation (use batch_norm_backward)");
  GAN_CHECK(y.defined(), "batch_norm_act_backward: the forward's output y is needed for the activation's mask");
  return fused_backward("batch_norm_act_backward", g, y, act, x, weight, eps, mean, invstd);
}

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  // Checked here, not left to batch_norm: the messages must name this op and x's own shape.
  GAN_CHECK(x.defined() && x.dim() >= 3,
            "instance_norm: expected input [N, C, H, W] (or [N, C, *]), got " << (x.defined() ? x.str() : "undefined"));
  check_same_device_dtype("instance_norm", {&x, &weight, &bias});
  const int64_t N = x.size(0), C = x.size(1);
  for (const Tensor* t : {&weight, &bias})
    GAN_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == C),
              "instance_norm: " << (t == &weight ? "weight" : "bias") << " has shape " << shape_str(t->shape())
                                << " but input " << shape_str(x.shape()) << " has " << C << " channels (expected ["
                                << C << "])");
  GAN_CHECK(eps > 0, "instance_norm: eps must be positive, got " << eps);
  GAN_CHECK(x.numel() > 0, "instance_norm: empty input " << shape_str(x.shape()));
  const int64_t S = x.numel() / (N * C);
  GAN_CHECK(S > 1, "instance_norm: expected more than 1 spatial element per plane, got input " << shape_str(x.shape()));

  // [1, N C, S]: plane (n, c) is batch-norm channel n C + c, one contiguous run of S values, which
  // the batch-norm kernels reduce as one channel (one thread or block per channel).
  auto repeated = [&](const Tensor& t) {
    return t.defined() ? broadcast_to(t.reshape({1, C}), {N, C}).reshape({N * C}) : Tensor();
  };
  Tensor y = batch_norm(x.reshape({1, N * C, S}), repeated(weight), repeated(bias), Tensor(), Tensor(),
                        /*training=*/true, /*momentum=*/0.0, eps);
  return y.reshape(x.shape());
}

Tensor layer_norm(const Tensor& x, int64_t normalized_dims, const Tensor& weight, const Tensor& bias, double eps) {
  GAN_CHECK(normalized_dims >= 1 && normalized_dims <= x.dim(), "layer_norm: cannot normalise over the last "
                                                                    << normalized_dims << " dims of input "
                                                                    << shape_str(x.shape()));
  GAN_CHECK(eps > 0, "layer_norm: eps must be positive, got " << eps);
  check_same_device_dtype("layer_norm", {&x, &weight, &bias});
  const Shape norm_shape(x.shape().end() - normalized_dims, x.shape().end());
  for (const Tensor* t : {&weight, &bias})
    GAN_CHECK(!t->defined() || t->shape() == norm_shape,
              "layer_norm: " << (t == &weight ? "weight" : "bias") << " has shape " << shape_str(t->shape())
                             << " but the normalised shape of input " << shape_str(x.shape()) << " is "
                             << shape_str(norm_shape));
  const int64_t K = numel_of(norm_shape);
  GAN_CHECK(K > 0 && x.numel() > 0, "layer_norm: empty input " << shape_str(x.shape()));

  // As [rows, K] every statistic is a reduction over one contiguous dim and the per-row vectors
  // [rows, 1] broadcast without copies; reshape is a view in both directions.
  Tensor x2 = x.reshape({x.numel() / K, K});
  Tensor xc = x2 - mean(x2, {1}, true);
  Tensor rstd = pow(mean(square(xc), {1}, true) + eps, -0.5);
  Tensor y = (xc * rstd).reshape(x.shape());
  // Trailing-dim broadcasting lines weight and bias up with the normalised dims.
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

// n(x) = x / max(||x||, eps), as torch.nn.functional.normalize.
static Tensor unit(const Tensor& x, double eps) { return div(x, clamp(sqrt(sum(square(x))), eps, INFINITY)); }

Tensor spectral_normalize(const Tensor& weight, Tensor& u, Tensor& v, int64_t dim, int iterations, double eps,
                          bool update) {
  GAN_CHECK(dim == 0 || dim == 1, "spectral_normalize: dim must be 0 or 1, got " << dim);
  GAN_CHECK(weight.dim() >= 2, "spectral_normalize: weight " << weight.str() << " needs at least 2 dims");
  const int64_t rows = weight.size(dim), cols = weight.numel() / rows;
  GAN_CHECK(u.dim() == 1 && u.size(0) == rows && v.dim() == 1 && v.size(0) == cols,
            "spectral_normalize: u " << u.str() << " and v " << v.str() << " should be [" << rows << "] and [" << cols
                                     << "] for weight " << weight.str());
  Tensor wm = weight;
  if (dim == 1) {  // the output dimension first, the others in order
    std::vector<int64_t> order{1, 0};
    for (int64_t d = 2; d < weight.dim(); ++d) order.push_back(d);
    wm = permute(weight, order);
  }
  wm = wm.reshape({rows, cols});
  if (update) {
    NoGradGuard no_grad;
    Tensor w = wm.detach(), uu = u, vv = v;
    for (int i = 0; i < iterations; ++i) {
      vv = unit(matmul(w, uu.reshape({rows, 1}), /*trans_a=*/true).reshape({cols}), eps);
      uu = unit(matmul(w, vv.reshape({cols, 1})).reshape({rows}), eps);
    }
    u.copy_(uu);
    v.copy_(vv);
  }
  // Copies: the buffers change in place at the next forward, while this graph may still be used.
  Tensor uc = u.detach().clone(), vc = v.detach().clone();
  Tensor sigma = sum(mul(uc.reshape({rows, 1}), matmul(wm, vc.reshape({cols, 1}))));
  return div(weight, sigma);
}

}  // namespace gan
