// Text for progress reports: a one-line bar for terminals and plain lines for logs.
#pragma once
#include <string>

#include "models/metrics.h"

namespace gan::models {

// "42s", "3:07", "1:02:03".
std::string format_duration(double seconds);
// "[#######.......]  512/3000 17% | 24.1 it/s 1542 img/s | ETA 1:43 | loss_d 0.812 loss_g 1.934 D(x) 0.71 D(G(z)) 0.28"
std::string progress_bar(const LogRecord& r, int bar_width = 24);
// "step 512/3000 epoch 3 loss_d 0.8120 loss_g 1.9340 D(x) 0.710 D(G(z)) 0.280 1542 img/s ETA 1:43"
std::string progress_line(const LogRecord& r);

}  // namespace gan::models
