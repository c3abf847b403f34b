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
  const Isa best = cpu_supports(Isa::kAvx512) ? Isa::kAvx512
                   : testing::have_avx2()     ? Isa::kAvx2
                                              : Isa::kScalar;
  EXPECT_EQ(detected_isa(), best);
  EXPECT_EQ(isa_name(Isa::kAvx2), "avx2");
  EXPECT_EQ(isa_name(Isa::kAvx512), "avx512");
}

TEST(Isa, SetsAreOrderedByWhatTheyInclude) {
  // A CPU with AVX-512 runs the AVX2 kernels too; `>=` relies on it.
  if (cpu_supports(Isa::kAvx512)) EXPECT_TRUE(cpu_supports(Isa::kAvx2));
  EXPECT_LT(Isa::kScalar, Isa::kAvx2);
  EXPECT_LT(Isa::kAvx2, Isa::kAvx512);
}

}  // namespace
}  // namespace loom::kernels
