// Model loading: the weights copied onto huge pages compute exactly what the
// memory-mapped file does.
#include "model/model.h"

#include <gtest/gtest.h>

#include "kernels/thread_pool.h"
#include "model/session.h"
#include "shared_data.h"
#include "util/huge_page_buffer.h"

namespace hearth {
namespace {

std::vector<float> logits_of(const Model& model) {
  ThreadPool pool(2);
  Session session(model, 64, &pool);
  const std::vector<TokenId> tokens = {1, 50, 100, 200, 300, 7, 9};
  const auto rows = session.eval(tokens, true);
  return {rows.begin(), rows.end()};
}

TEST(ModelLoad, HugePageCopyComputesWhatTheMappedFileDoes) {
  HEARTH_REQUIRE_SHARED(shared);
  for (const char* file : {"llama-spm-Q8_0.gguf", "llama-bpe-tied-Q4_K_M.gguf", "qwen3-F32.gguf"}) {
    SCOPED_TRACE(file);
    const std::string path = (shared / "models" / file).string();
    const auto mapped = Model::load(path, {.weights = WeightMemory::Mapped});
    const auto copied = Model::load(path, {.weights = WeightMemory::HugePages});
    // The copy really is elsewhere, not in the file mapping.
    EXPECT_NE(mapped->layers()[0].wq.data, copied->layers()[0].wq.data);
    EXPECT_EQ(logits_of(*mapped), logits_of(*copied));
  }
}

TEST(HugePageBuffer, IsAlignedToAHugePageAndWritable) {
  HugePageBuffer buf(5 << 20);
  ASSERT_NE(buf.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.data()) % (2 << 20), 0u);
  EXPECT_EQ(buf.size(), size_t{5} << 20);
  buf.data()[0] = 1;
  buf.data()[buf.size() - 1] = 2;
  HugePageBuffer moved = std::move(buf);
  EXPECT_EQ(moved.data()[moved.size() - 1], 2);
  EXPECT_EQ(buf.data(), nullptr);
  EXPECT_EQ(HugePageBuffer(0).data(), nullptr);
}

}  // namespace
}  // namespace hearth
