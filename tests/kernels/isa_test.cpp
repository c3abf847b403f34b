#include "kernels/isa.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace loom::kernels {
namespace {

TEST(Isa, ScalarIsAlwaysAvailableAndSelectable) {
  EXPECT_TRUE(cpu_supports(Isa::kScalar));
  testing::ScopedIsa scalar(Isa::kScalar);
  EXPECT_EQ(active_isa(), Isa::kScalar);
}

TEST(Isa, DefaultsToTheBestDetected) {
  EXPECT_EQ(active_isa(), detected_isa());
  if (testing::have_avx2()) {
    EXPECT_EQ(detected_isa(), Isa::kAvx2);
    EXPECT_EQ(isa_name(Isa::kAvx2), "avx2");
  }
}

}  // namespace
}  // namespace loom::kernels
