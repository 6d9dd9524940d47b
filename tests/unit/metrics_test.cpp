// The Prometheus text the registry renders.
#include "common/metrics.h"

#include <gtest/gtest.h>

namespace allot {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry registry;
  registry.DeclareHistogram("op_seconds", "Time of an op.", {"kind"}, {0.5, 0.1, 1});
  for (double value : {0.05, 0.1, 0.3, 2.0}) registry.Observe("op_seconds", {"read"}, value);
  std::string text = registry.Render();
  EXPECT_TRUE(Has(text, "# HELP op_seconds Time of an op.")) << text;
  EXPECT_TRUE(Has(text, "# TYPE op_seconds histogram")) << text;
  // A value equal to a bound falls in that bound's bucket (le: less or equal).
  EXPECT_TRUE(Has(text, R"(op_seconds_bucket{kind="read",le="0.1"} 2)")) << text;
  EXPECT_TRUE(Has(text, R"(op_seconds_bucket{kind="read",le="0.5"} 3)")) << text;
  EXPECT_TRUE(Has(text, R"(op_seconds_bucket{kind="read",le="1"} 3)")) << text;
  EXPECT_TRUE(Has(text, R"(op_seconds_bucket{kind="read",le="+Inf"} 4)")) << text;
  EXPECT_TRUE(Has(text, R"(op_seconds_sum{kind="read"} 2.45)")) << text;
  EXPECT_TRUE(Has(text, R"(op_seconds_count{kind="read"} 4)")) << text;
}

TEST(Metrics, CountersAddPerSeriesAndEscapeLabelValues) {
  MetricsRegistry registry;
  registry.DeclareCounter("things_total", "Things.", {"name"});
  registry.Add("things_total", {"a\"b\\c"}, 2);
  registry.Add("things_total", {"a\"b\\c"});
  registry.Add("things_total", {"other"});
  registry.Add("undeclared_total", {"x"});     // ignored, not an error
  registry.Observe("things_total", {"a"}, 1);  // not a histogram: ignored
  std::string text = registry.Render();
  EXPECT_TRUE(Has(text, R"(things_total{name="a\"b\\c"} 3)")) << text;
  EXPECT_TRUE(Has(text, R"(things_total{name="other"} 1)")) << text;
  EXPECT_EQ(text.find("undeclared"), std::string::npos);
  EXPECT_EQ(text.find(R"(name="a"})"), std::string::npos);
}

}  // namespace
}  // namespace allot
