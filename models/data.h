// Data set specifications of the command line ("mnist", "fashion:PATH", "cifar10:PATH", ...)
// turned into images, and the model settings that follow from the data.
#pragma once
#include <string>

#include "engine/io/datasets.h"
#include "models/config.h"

namespace gan::models {

// Where the bundled 10k-digit MNIST subset lives: $GAN_DATA_DIR/mnist-10k, ./data/mnist-10k,
// or the source tree's data/mnist-10k, whichever exists first (throws listing them otherwise).
std::string bundled_mnist_dir();

// Loads `spec`: mnist (the bundled subset), mnist:PATH, fashion:PATH (IDX files or a folder of
// them), cifar10:PATH (batch file or folder), folder:PATH (images, resized to `folder_size`).
// Errors name the spec or the file.
io::ImageDataset load_dataset(const std::string& spec, int64_t folder_size);

// The square image side a model of `arch` works at for data of side `data_side`
// (dcgan32: 32, dcgan64: 64, mlp: the data's own side).
int64_t model_image_size(const std::string& arch, int64_t data_side);

// Sets cfg.model.channels and image_size from the data, then validates the config.
void fit_model_to_data(TrainConfig& cfg, const io::ImageDataset& data);

}  // namespace gan::models
