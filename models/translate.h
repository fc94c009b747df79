// Running a trained CycleGAN: one of its generators loaded from a checkpoint, and the image sets
// `gan translate` reads and writes (a folder of images, or an .npy array [N, C, H, W] in [-1, 1]).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/cyclegan.h"

namespace gan::models {

struct LoadedTranslator {
  TrainConfig config;     // the run's (its model: channels, image size, widths)
  std::string direction;  // a2b (g_ab) or b2a (g_ba)
  std::shared_ptr<ResnetGenerator> net;
  Device device;
};

// The generator of `direction` (a2b or b2a) of a cyclegan checkpoint, in eval mode on `device`.
// Throws naming the file when it is no cyclegan checkpoint, and the direction when it is neither.
LoadedTranslator load_translator(const std::string& checkpoint, const std::string& direction, Device device);

// images [N, C, H, W] in [-1, 1] (C the model's, H and W multiples of 4) through the translator,
// `chunk` at a time without history; the result [N, C, H, W] on the CPU.
Tensor translate_images(const LoadedTranslator& t, const Tensor& images, int64_t chunk = 16);

// A set of images and their names (file stems; "000000", ... for an array).
struct ImageSet {
  Tensor images;  // [N, C, S, S] float32 in [-1, 1], on the CPU
  std::vector<std::string> names;
};

// `path` an .npy array [N, C, H, W] in [-1, 1] (C must be `channels`; values outside [-1, 1] or
// not finite are refused naming the file), or a folder of PNG/JPEG/BMP/GIF/TGA images (recursive,
// sorted), each centre-cropped and resized to size x size with `channels` channels.
ImageSet read_image_set(const std::string& path, int64_t channels, int64_t size);
// To `path` ending in .npy: one array; otherwise a folder (created) of NAME.png, one per image.
// Returns what was written ("N images to PATH/").
std::string write_image_set(const std::string& path, const ImageSet& set);

}  // namespace gan::models
