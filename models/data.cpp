#include "models/data.h"

#include <cstdlib>

#include "engine/io/file_util.h"

namespace gan::models {

std::string bundled_mnist_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("GAN_DATA_DIR")) candidates.push_back(std::string(env) + "/mnist-10k");
  candidates.push_back("data/mnist-10k");
#ifdef GAN_SOURCE_DIR
  candidates.push_back(std::string(GAN_SOURCE_DIR) + "/data/mnist-10k");
#endif
  std::string tried;
  for (const auto& c : candidates) {
    if (io::file_exists(c + "/images-idx3-ubyte.gz")) return c;
    tried += (tried.empty() ? "" : ", ") + c;
  }
  GAN_FAIL("--data mnist: the bundled MNIST subset was not found (looked in " << tried
                                                                            << "); set GAN_DATA_DIR or use mnist:PATH");
}

io::ImageDataset load_dataset(const std::string& spec, int64_t folder_size) {
  std::string kind = spec, path;
  auto colon = spec.find(':');
  if (colon != std::string::npos) {
    kind = spec.substr(0, colon);
    path = spec.substr(colon + 1);
    GAN_CHECK(!path.empty(), "--data " << spec << ": empty path after '" << kind << ":'");
  }
  if (kind == "mnist") return io::read_mnist_like(path.empty() ? bundled_mnist_dir() : path);
  if (kind == "fashion") {
    GAN_CHECK(!path.empty(), "--data fashion needs a path: fashion:PATH (see scripts/download_data.sh)");
    return io::read_mnist_like(path);
  }
  if (kind == "cifar10") {
    GAN_CHECK(!path.empty(), "--data cifar10 needs a path: cifar10:PATH (see scripts/download_data.sh)");
    return io::read_cifar10(path);
  }
  if (kind == "folder") {
    GAN_CHECK(!path.empty(), "--data folder needs a path: folder:PATH");
    return io::read_image_folder(path, folder_size, 3);
  }
  GAN_FAIL("--data " << spec << ": unknown data set '" << kind
                     << "' (expected mnist, mnist:PATH, fashion:PATH, cifar10:PATH or folder:PATH)");
}

int64_t model_image_size(const std::string& arch, int64_t data_side) {
  if (arch == "dcgan32") return 32;
  if (arch == "dcgan64") return 64;
  return data_side;
}

void fit_model_to_data(TrainConfig& cfg, const io::ImageDataset& data) {
  cfg.model.channels = data.channels;
  cfg.model.image_size = model_image_size(cfg.model.arch, std::max(data.height, data.width));
  cfg.validate();
}

}  // namespace gan::models
