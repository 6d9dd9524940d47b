#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace allot {
namespace {

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

using Labels = std::vector<std::pair<std::string, std::string>>;

Labels Zip(const std::vector<std::string>& names, const LabelValues& values) {
  Labels labels;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    labels.emplace_back(names[i], values[i]);
  }
  return labels;
}

}  // namespace

namespace prometheus_text {

std::string Header(const std::string& name, const std::string& type, const std::string& help) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string Sample(const std::string& name, const Labels& labels, double value) {
  std::string out = name;
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out += ',';
      out += labels[i].first + "=\"" + EscapeLabelValue(labels[i].second) + "\"";
    }
    out += '}';
  }
  return out + " " + FormatValue(value) + "\n";
}

}  // namespace prometheus_text

void MetricsRegistry::DeclareCounter(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  families_.try_emplace(name, Family{false, help, std::move(label_names), {}, {}});
}

void MetricsRegistry::DeclareHistogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  std::lock_guard lock(mutex_);
  families_.try_emplace(name, Family{true, help, std::move(label_names), std::move(bounds), {}});
}

void MetricsRegistry::Add(const std::string& name, const LabelValues& labels, double amount) {
  std::lock_guard lock(mutex_);
  auto family = families_.find(name);
  if (family == families_.end() || family->second.histogram) return;
  family->second.series[labels].sum += amount;
}

void MetricsRegistry::Observe(const std::string& name, const LabelValues& labels, double value) {
  std::lock_guard lock(mutex_);
  auto family = families_.find(name);
  if (family == families_.end() || !family->second.histogram) return;
  const std::vector<double>& bounds = family->second.bounds;
  Series& series = family->second.series[labels];
  if (series.bucket_counts.empty()) series.bucket_counts.assign(bounds.size(), 0);
  auto bucket = std::lower_bound(bounds.begin(), bounds.end(), value);
  if (bucket != bounds.end()) ++series.bucket_counts[static_cast<size_t>(bucket - bounds.begin())];
  series.sum += value;
  ++series.count;
}

std::string MetricsRegistry::Render() const {
  using prometheus_text::Header;
  using prometheus_text::Sample;
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += Header(name, family.histogram ? "histogram" : "counter", family.help);
    for (const auto& [values, series] : family.series) {
      Labels labels = Zip(family.label_names, values);
      if (!family.histogram) {
        out += Sample(name, labels, series.sum);
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t b = 0; b < family.bounds.size(); ++b) {
        cumulative += series.bucket_counts[b];
        Labels with_le = labels;
        with_le.emplace_back("le", FormatValue(family.bounds[b]));
        out += Sample(name + "_bucket", with_le, static_cast<double>(cumulative));
      }
      Labels with_inf = labels;
      with_inf.emplace_back("le", "+Inf");
      out += Sample(name + "_bucket", with_inf, static_cast<double>(series.count));
      out += Sample(name + "_sum", labels, series.sum);
      out += Sample(name + "_count", labels, static_cast<double>(series.count));
    }
  }
  return out;
}

}  // namespace allot
