#include "common/quantity.h"

#include <gtest/gtest.h>

namespace allot::scenario {
namespace {

TEST(Quantity, FormatsRoundTrip) {
  EXPECT_EQ(FormatMilli(500), "0.5");
  EXPECT_EQ(FormatMilli(2000), "2");
  EXPECT_EQ(FormatMilli(1250), "1.25");
  EXPECT_EQ(FormatMilli(5), "0.005");
  EXPECT_EQ(FormatMebibytes(81920), "80Gi");
  EXPECT_EQ(FormatMebibytes(1536), "1536Mi");
  EXPECT_EQ(FormatMebibytes(2 * 1024 * 1024), "2Ti");
  EXPECT_EQ(FormatMillicores(1500), "1.5");
  EXPECT_EQ(FormatMillicores(250), "250m");
  EXPECT_EQ(FormatMillicores(4000), "4");
  for (int64_t milli : {0, 1, 999, 1000, 1001, 123456}) {
    EXPECT_EQ(*ParseMilli(FormatMilli(milli)), milli);
    EXPECT_EQ(*ParseMillicores(FormatMillicores(milli)), milli);
    EXPECT_EQ(*ParseMebibytes(FormatMebibytes(milli)), milli);
  }
}

TEST(Quantity, GpusToMilli) {
  EXPECT_EQ(*ParseMilli("0.5"), 500);
  EXPECT_EQ(*ParseMilli("2"), 2000);
  EXPECT_EQ(*ParseMilli("0.125"), 125);
  EXPECT_FALSE(ParseMilli("0.0001").ok());
  EXPECT_FALSE(ParseMilli("half").ok());
  EXPECT_FALSE(ParseMilli("").ok());
}

TEST(Quantity, MemoryToMebibytes) {
  EXPECT_EQ(*ParseMebibytes("80Gi"), 80 * 1024);
  EXPECT_EQ(*ParseMebibytes("512Mi"), 512);
  EXPECT_EQ(*ParseMebibytes("1Ti"), 1024 * 1024);
  EXPECT_EQ(*ParseMebibytes("1.5Gi"), 1536);
  EXPECT_EQ(*ParseMebibytes("2048Ki"), 2);
  EXPECT_EQ(*ParseMebibytes("1048576"), 1);  // bytes
  EXPECT_FALSE(ParseMebibytes("80GB").ok());
}

TEST(Quantity, TooLargeIsAnErrorNotAnOverflow) {
  // Found by the request fuzzer: a huge value times its unit overflowed int64.
  auto memory = ParseMebibytes("85555555555550Ti");
  ASSERT_FALSE(memory.ok());
  EXPECT_NE(memory.error().message.find("too large"), std::string::npos);
  EXPECT_FALSE(ParseMebibytes("9000000000000000Mi").ok());
  auto duration = ParseDurationMs("92000000000000h");
  ASSERT_FALSE(duration.ok());
  EXPECT_NE(duration.error().message.find("too long"), std::string::npos);
  // The largest value that parses formats to text that parses to it again.
  int64_t big = *ParseMebibytes("8000000Ti");
  EXPECT_EQ(*ParseMebibytes(FormatMebibytes(big)), big);
}

TEST(Quantity, CpuToMillicores) {
  EXPECT_EQ(*ParseMillicores("4"), 4000);
  EXPECT_EQ(*ParseMillicores("0.5"), 500);
  EXPECT_EQ(*ParseMillicores("250m"), 250);
  EXPECT_FALSE(ParseMillicores("four").ok());
}

TEST(Quantity, Durations) {
  EXPECT_EQ(*ParseDurationMs("30s"), 30'000);
  EXPECT_EQ(*ParseDurationMs("10m"), 600'000);
  EXPECT_EQ(*ParseDurationMs("2h"), 7'200'000);
  EXPECT_EQ(*ParseDurationMs("1h30m"), 5'400'000);
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("45"), 45'000);
  EXPECT_FALSE(ParseDurationMs("10 minutes").ok());
  EXPECT_FALSE(ParseDurationMs("1h30").ok());
}

}  // namespace
}  // namespace allot::scenario
