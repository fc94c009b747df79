#include "models/eval/feature_net.h"

#include "engine/core/error.h"
#include "models/eval/digits_net.h"

namespace gan::models::eval {

std::unique_ptr<FeatureNet> make_feature_net(const std::string& spec, Device device) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon), path = colon == std::string::npos ? "" : spec.substr(colon + 1);
  GAN_CHECK(colon == std::string::npos || !path.empty(), "--features " << spec << ": empty path after '" << kind << ":'");
  if (kind == "digits") return make_digits_feature_net(path.empty() ? bundled_digits_weights() : path, device);
  if (kind == "inception") {
    GAN_CHECK(!path.empty(), "--features inception needs the weights: inception:WEIGHTS.safetensors (docs/evaluation.md)");
    GAN_FAIL("--features " << spec << ": inception features: not in this build");
  }
  GAN_FAIL("--features " << spec << ": unknown feature network '" << kind
                         << "' (expected digits, digits:WEIGHTS or inception:WEIGHTS)");
}

}  // namespace gan::models::eval
