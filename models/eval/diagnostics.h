// The measurements behind `gan analyze`'s pictures of a trained GAN, each on plain callables or
// modules so that it can be checked on tiny networks:
//   input_gradient       dD(x)/dx per image (the discriminator's saliency), by autograd
//   latent_sensitivity   per latent dimension i, mean over samples z of
//                        |G(z + eps e_i) - G(z - eps e_i)| / (2 eps): how far the output moves per
//                        unit of z_i (a central difference of the Jacobian's column norm |dG/dz_i|)
//   critic_features      the discriminator's penultimate activations (the input of its last layer
//                        with weights), taken with forward hooks on its layers
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/nn/module.h"

namespace gan::models::eval {

using TensorFn = std::function<Tensor(const Tensor&)>;

// The gradient of the critic's outputs (one per image) with respect to its input batch x [N, ...].
// separate_rows 0: d(sum_n critic(x)_n) / dx, all N rows (row n is dD(x_n)/dx_n when each output
// depends on its own image only). separate_rows k > 0: row n (n < k) is d critic(x)_n / dx_n exactly
// even when the critic mixes the images of a batch (batch normalisation in training mode), one
// backward pass per row; [k, ...]. Same dtype and device as x.
Tensor input_gradient(const TensorFn& critic, const Tensor& x, int64_t separate_rows = 0);
// The saliency maps of an input gradient [N, C, H, W]: max over channels of |g|, [N, H, W] on the CPU.
Tensor saliency_maps(const Tensor& input_gradient);

// Sensitivity of each of z's dimensions (z: [N, nz] or [N, nz, 1, 1]); generator maps a batch of
// latents to a batch of outputs and runs without history. Batches of at most `batch` latents.
std::vector<double> latent_sensitivity(const TensorFn& generator, const Tensor& z, double eps, int64_t batch = 256);
// The same for a generator that needs to know, for each row of a batch, which of z's samples it
// perturbs (to give it that sample's condition): generator(latents, rows).
using LatentFn = std::function<Tensor(const Tensor& latents, const std::vector<int64_t>& rows)>;
std::vector<double> latent_sensitivity(const LatentFn& generator, const Tensor& z, double eps, int64_t batch = 256);

// The output of the layer that feeds `critic`'s last layer with parameters, for x [N, ...]:
// [N, F] float64 on the CPU (flattened), run without history in batches of `batch`. Throws when
// the critic has fewer than two leaf layers. `forward` runs the critic (defaults to critic(x)).
Tensor critic_features(nn::Module& critic, const Tensor& x, const TensorFn& forward = nullptr, int64_t batch = 256);

}  // namespace gan::models::eval
