#include "models/eval/feature_net.h"

#include "engine/core/error.h"
#include "engine/io/file_util.h"
#include "models/eval/digits_net.h"
#include "models/eval/inception.h"

namespace gan::models::eval {

std::unique_ptr<FeatureNet> make_feature_net(const std::string& spec, Device device) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), path = colon == std::string::npos ? "" : spec.substr(colon + 1);
  GAN_CHECK(colon == std::string::npos || !path.empty(), "--features " << spec << ": empty path after '" << kind << ":'");
  if (kind == "digits") return make_digits_feature_net(path.empty() ? bundled_digits_weights() : path, device);
  if (kind == "inception") {
    GAN_CHECK(!path.empty(), "--features inception needs the weights: inception:WEIGHTS.safetensors (docs/evaluation.md)");
    GAN_CHECK(io::file_exists(path), "--features " << spec << ": no weights file " << path
                                                    << " (scripts/inception_weights_to_safetensors.py writes pytorch-fid's; "
                                                       "docs/evaluation.md)");
    return make_inception_feature_net(path, device);
  }
  GAN_FAIL("--features " << spec << ": unknown feature network '" << kind
                         << "' (expected digits, digits:WEIGHTS or inception:WEIGHTS)");
}

}  // namespace gan::models::eval
