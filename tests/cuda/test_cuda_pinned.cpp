// Page-locked host memory (engine/cuda/memory.h: pinned_host_alloc) and the prefetched batches that
// live in it: page-locked as the driver sees it, a block never handed out again while a queued copy
// still reads it, and a GPU run's batches coming through it equal to the plain loader's.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include "engine/cuda/memory.h"
#include "engine/ops/ops.h"
#include "models/data.h"
#include "models/prefetch.h"
#include "tests/cuda/gpu_skip.h"
#include "tests/test_helpers.h"

using namespace gan;

TEST(CudaPinned, EmptyPinnedIsPageLockedHostMemory) {
  SKIP_WITHOUT_GPU();
  Tensor t = Tensor::empty_pinned({1000, 3});
  ASSERT_TRUE(t.impl().storage->pinned);
  cudaPointerAttributes a{};
  ASSERT_EQ(cudaPointerGetAttributes(&a, t.raw_data()), cudaSuccess);
  EXPECT_EQ(a.type, cudaMemoryTypeHost);
}

TEST(CudaPinned, ABlockWaitsForTheCopiesThatReadIt) {
  SKIP_WITHOUT_GPU();
  const Device gpu = Device::cuda(0);
  Generator gen(3);
  Tensor a = Tensor::randn({2048, 2048}, &gen, DType::Float32, gpu);
  const int64_t n = int64_t{1} << 20;
  Tensor src = Tensor::empty_pinned({n});
  for (int64_t i = 0; i < n; ++i) src.data<float>()[i] = 1.0f;
  // Matmuls queued first keep the copy waiting on the stream (milliseconds) while the host goes on.
  Tensor busy;
  for (int i = 0; i < 20; ++i) busy = matmul(a, a);
  Tensor dev = src.to(gpu);
  src = Tensor();  // freed while its copy is still queued
  Tensor other = Tensor::empty_pinned({n});
  for (int64_t i = 0; i < n; ++i) other.data<float>()[i] = 2.0f;  // had it got the same block, the copy would read 2s
  cuda::synchronize(0);
  std::vector<double> got = dev.to_double_vector();
  int64_t wrong = 0;
  for (double v : got) wrong += v != 1.0;
  EXPECT_EQ(wrong, 0) << "a block was handed out while a copy from it was queued";
  // Once the copies have run, freed blocks are reused: the cache does not grow with every batch.
  const size_t held = cuda::pinned_host_bytes();
  other = Tensor();
  for (int i = 0; i < 8; ++i) {
    Tensor b = Tensor::empty_pinned({n});
    Tensor d = b.to(gpu);
    cuda::synchronize(0);
  }
  EXPECT_EQ(cuda::pinned_host_bytes(), held);
}

TEST(CudaPinned, PrefetchedBatchesArePageLockedAndEqualTheLoaders) {
  SKIP_WITHOUT_GPU();
  const io::ImageDataset ds = test::random_images(30, 3, 16, 4);
  auto plain = models::image_source(ds, 5, 16, 8);
  auto ahead = models::prefetched(models::image_source(ds, 5, 16, 8), true);
  for (int i = 0; i < 9; ++i) {
    Tensor p = ahead->next().real;
    EXPECT_TRUE(p.impl().storage->pinned) << "batch " << i;
    EXPECT_EQ(test::rel_error(p.to(Device::cuda(0)).cpu(), plain->next().real), 0.0) << "batch " << i;
  }
}
