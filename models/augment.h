// Augmentation of the images a critic sees (docs/training.md, "Stabilisation"):
//   --augment flip,translate        real images only, classic data augmentation: each image
//                                   mirrored left-right with probability 1/2, and/or shifted by an
//                                   integer offset of up to 1/8 of its side per axis (zero padding)
//   --diffaugment color,translation,cutout
//                                   DiffAugment (Zhao et al. 2020): random differentiable transforms
//                                   on every batch the critic sees, real and generated, in both
//                                   phases, so the generator's gradient flows through them:
//       color        brightness x + (r - 0.5), saturation x 2r about the channel mean, contrast
//                    x (r + 0.5) about the image mean, one r ~ U[0, 1) per image and transform
//       translation  shifts in [-s, s] per image and axis, s = round(side / 8), zero padding
//       cutout       a square of half the side zeroed, its centre uniform over the image
// The transforms run in the order given. Their parameters are drawn from the run's noise stream
// (whose state the checkpoint keeps), so a resumed run repeats them exactly. Built from the spatial
// ops of engine/ops/spatial.h.
#pragma once
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/rng/generator.h"

namespace gan::models {

// The transforms of a spec ("" -> none). Throws naming `flag`, the bad item and the known ones.
std::vector<std::string> parse_augment_spec(const std::string& spec, const std::string& flag);

// --augment: flip, translate (not differentiated: the data batch has no history).
Tensor augment_real(const Tensor& images, const std::vector<std::string>& transforms, Generator& gen);
// --diffaugment: color, translation, cutout (differentiable in the images).
Tensor diff_augment(const Tensor& images, const std::vector<std::string>& transforms, Generator& gen);

}  // namespace gan::models
