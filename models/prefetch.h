// Real batches prepared ahead of the training step that uses them.
//
// A background thread asks the wrapped source for the next batches while the step runs, so reading,
// shuffling and scaling images costs the step nothing; for a GPU run each batch also lands in
// page-locked host memory (Tensor::empty_pinned), so its copy to the device is queued without
// holding the host up. The batches come out in the source's own order and the data position is that
// of the batches handed out, not of those prepared: a run with prefetching sees exactly the batches,
// and checkpoints exactly the data position, of one without.
#pragma once
#include <memory>

#include "models/data.h"

namespace gan::models {

// `source` behind a prefetching thread when it asks for one (DataSource::worth_prefetching); else
// `source` itself. `pinned`: batches in page-locked memory (the run's device is a GPU).
std::unique_ptr<DataSource> prefetched(std::unique_ptr<DataSource> source, bool pinned);

}  // namespace gan::models
