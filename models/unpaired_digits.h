// The bundled unpaired translation task (docs/cyclegan.md), made from the bundled 10k MNIST digits:
//   domain A  digits 0..4499 as they are                         DIR/a/train-{images,labels}...
//   domain B  digits 4500..8999, strokes thickened (dilate3x3)    DIR/b/...
//   held out  digits 9000..9999, as they are and thickened        DIR/a-test/..., DIR/b-test/...
// A and B share no digit, so nothing pairs them: a translator must learn "thicken the strokes"
// from the two distributions alone. A per-pixel map (any function of one pixel's value) cannot do
// it: the thickened image lights pixels that are background in the thin one, and which of them
// depends on the neighbours. The held-out digits are also those the digits classifier of
// data/digits-features never trained on.
#pragma once
#include <string>

#include "engine/io/datasets.h"
#include "models/translate.h"

namespace gan::models {

// Each pixel the largest of its 3x3 neighbourhood (a grey-level dilation; the border counts as 0).
io::ImageDataset dilate3x3(const io::ImageDataset& ds);

// Writes the four splits above as IDX files (with labels) under `dir`; returns their folders' list.
std::string write_unpaired_digits(const io::ImageDataset& mnist, const std::string& dir);

// How well a CycleGAN trained on the task translates the held-out digits (DIR/a-test): the mean
// absolute error (images in [-1, 1]) of g_ab(a) and of a itself against dilate3x3(a), and the share
// of g_ba(g_ab(a)) (and, for scale, of a) that the digits classifier reads as a's digit.
struct TranslationScore {
  int64_t images = 0;
  double mae_translated = 0, mae_untranslated = 0;  // |g_ab(a) - T(a)|, |a - T(a)|
  double mae_back = 0;                              // |g_ba(T(a)) - a| (to compare with mae_untranslated)
  double cycle_accuracy = 0, input_accuracy = 0;    // classifier on g_ba(g_ab(a)), on a
  // The first `columns` held-out digits in rows a | g_ab(a) | T(a) | g_ba(g_ab(a)) (for a grid).
  Tensor rows;
};
TranslationScore score_unpaired_digits(const LoadedTranslator& ab, const LoadedTranslator& ba, const std::string& dir,
                                       const std::string& classifier_weights, int64_t columns = 10);

}  // namespace gan::models
