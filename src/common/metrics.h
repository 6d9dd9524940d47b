// Process metrics in the Prometheus text exposition format (version 0.0.4).
//
// Debian 12 packages no Prometheus client for C++, and the format is small:
// counters and histograms that the code updates as things happen, rendered
// when /metrics is scraped. Gauges that describe the cluster (quotas,
// workloads by state) are not kept here: the scrape computes them from the
// store, so that they can never drift from it.
//
// Thread-safe: any thread may observe while another renders.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace allot {

// Label values of one series, in the order of its family's label names.
using LabelValues = std::vector<std::string>;

class MetricsRegistry {
 public:
  // Declares a counter family. Declaring a name twice keeps the first.
  void DeclareCounter(const std::string& name, const std::string& help,
                      std::vector<std::string> label_names);
  // Declares a histogram family with upper bounds (ascending, in the unit of
  // the observations; +Inf is implied).
  void DeclareHistogram(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names, std::vector<double> bounds);

  // Adds `amount` to a counter series. Undeclared names are ignored, so that
  // a component with no registry wired in costs nothing.
  void Add(const std::string& name, const LabelValues& labels, double amount = 1);
  // Records one observation in a histogram series.
  void Observe(const std::string& name, const LabelValues& labels, double value);

  // Every family in the text format, families in name order.
  std::string Render() const;

 private:
  struct Series {
    std::vector<uint64_t> bucket_counts;  // histograms: per bound, not cumulative
    double sum = 0;                       // counters: the value
    uint64_t count = 0;
  };
  struct Family {
    bool histogram = false;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::map<LabelValues, Series> series;
  };

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Text-format helpers for the gauges a scrape computes.
namespace prometheus_text {

// "# HELP name help\n# TYPE name type\n".
std::string Header(const std::string& name, const std::string& type, const std::string& help);
// `name{a="x",b="y"} value\n`, label values escaped.
std::string Sample(const std::string& name,
                   const std::vector<std::pair<std::string, std::string>>& labels, double value);

}  // namespace prometheus_text

}  // namespace allot
