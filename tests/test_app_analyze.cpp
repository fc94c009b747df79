// `gan analyze` as a user meets it: a short run trained with --grad-hist-steps, then every picture
// written (each a readable PNG) with its numbers beside it; errors name the flag and the value.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/io/image.h"
#include "tests/app_runner.h"
#include "tests/test_helpers.h"

#ifdef GAN_APP_PATH

using namespace gan;
namespace fs = std::filesystem;

namespace {

using AnalyzeApp = test::AppRunner;

}  // namespace

TEST_F(AnalyzeApp, ShortRunGetsEveryPicture) {
  auto [code, out] = gan("train --model dcgan32 --ngf 8 --ndf 8 --batch 16 --data mnist --steps 20 --log-every 5 "
                         "--sample-every 0 --grad-hist-steps 1,20 --out run");
  ASSERT_EQ(code, 0) << out;
  // gradients.csv: one row per parameter of G and D at each logged step (5, 10, 15, 20)
  std::ifstream g(p("run/gradients.csv"));
  std::string line;
  std::getline(g, line);
  EXPECT_EQ(line, "step,network,parameter,norm");
  int rows = 0;
  while (std::getline(g, line)) ++rows;
  EXPECT_EQ(rows, 4 * (10 + 8));  // dcgan32: 10 generator and 8 discriminator parameters
  auto [acode, aout] = gan("analyze --run run --n 48 --tsne-iterations 150 --sensitivity-samples 2");
  ASSERT_EQ(acode, 0) << aout;
  for (const char* f : {"gradient-flow.png", "gradient-histograms.png", "embedding-discriminator-pca.png",
                        "embedding-discriminator-tsne.png", "latent-sensitivity.png", "latent-sweeps.png", "saliency.png"}) {
    const std::string path = p(std::string("run/analysis/") + f);
    ASSERT_TRUE(fs::exists(path)) << f << "\n" << aout;
    io::Image img = io::load_image(path);
    EXPECT_GE(img.width, 300) << f;
    EXPECT_GE(img.height, 200) << f;
    EXPECT_NE(aout.find(path.substr(dir.string().size() + 1)), std::string::npos) << "not listed: " << f;
  }
  for (const char* f : {"gradient-flow.csv", "gradient-histograms.csv", "embedding-discriminator.csv",
                        "embedding-discriminator.json", "latent-sensitivity.csv", "saliency.csv", "saliency.npy"})
    EXPECT_TRUE(fs::exists(p(std::string("run/analysis/") + f))) << f;
  // --out elsewhere, from the checkpoint alone (its run folder still found for the logs)
  auto [ccode, cout] = gan("analyze --checkpoint run/checkpoints/last.safetensors --out elsewhere --n 16 "
                           "--tsne-iterations 20 --sensitivity-samples 1 --saliency-images 2");
  ASSERT_EQ(ccode, 0) << cout;
  EXPECT_TRUE(fs::exists(p("elsewhere/gradient-flow.png")));
  // The digits feature network's view beside the discriminator's, generated samples classed by it.
  auto [dcode, dout] = gan("analyze --run run --out digits --n 32 --features digits --tsne-iterations 20 "
                           "--sensitivity-samples 1 --saliency-images 2");
  ASSERT_EQ(dcode, 0) << dout;
  for (const char* f : {"digits/embedding-digits-pca.png", "digits/embedding-digits-tsne.png", "digits/embedding-digits.json"})
    EXPECT_TRUE(fs::exists(p(f))) << f << "\n" << dout;
}

TEST_F(AnalyzeApp, ErrorsNameTheFlag) {
  expect_fails("analyze", {"--run", "--checkpoint"});
  fs::create_directories(p("empty"));
  expect_fails("analyze --run empty", {"--run empty", "no checkpoint"});
  expect_fails("analyze --checkpoint missing.safetensors", {"--checkpoint missing.safetensors", "no such file"});
  expect_fails("train --model dcgan32 --ngf 8 --ndf 8 --data mnist --steps 20 --grad-hist-steps 5,50 --out r",
               {"--grad-hist-steps 50", "1..20"});
  EXPECT_FALSE(fs::exists(p("r/config.json"))) << "a refused run wrote files";
}

#endif  // GAN_APP_PATH
