#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "metrics/counter.h"
#include "metrics/gauge.h"
#include "metrics/histogram.h"
#include "metrics/metric_family.h"

namespace tether::metrics {

// Prometheus metrics of one process, exposed in the text format 0.0.4
// (HELP and TYPE lines, escaped label values, histograms as _bucket{le},
// _sum and _count). Registering a name again returns the same family when
// the type and label names agree, Error(kInvalidArgument) otherwise; names
// and label names must be valid Prometheus identifiers.
//
// Names: OpenTelemetry GenAI semantic conventions where they fit
// (gen_ai_server_time_to_first_token_seconds,
// gen_ai_server_request_duration_seconds, gen_ai_client_token_usage...),
// tether_* otherwise.
class Registry {
 public:
  // One sample of a callback metric: label values (in the label names'
  // order) and the value.
  struct Sample {
    std::vector<std::string> label_values;
    double value = 0;
  };
  using SampleReader = std::function<std::vector<Sample>()>;

  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> bounds);

  // Read at scrape time (engine stats): a gauge or counter whose samples a
  // function returns. The function runs on the scraping thread.
  void callback_gauge(const std::string& name, const std::string& help, std::function<double()> read);
  void callback_counter(const std::string& name, const std::string& help, std::function<double()> read);
  void callback(const std::string& name, const std::string& help, std::string_view type,
                std::vector<std::string> label_names, SampleReader read);

  // The whole exposition, families in name order.
  std::string expose() const;

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Entry;
  Entry& find_or_add(const std::string& name, std::string_view type,
                     const std::vector<std::string>& label_names, bool& added);

  mutable std::mutex mutex_;  // guards entries_ (not the metrics' values)
  std::vector<std::unique_ptr<Entry>> entries_;
};

// Text-format helpers, exposed for tests: a label value with \, " and
// newline escaped; a HELP text with \ and newline escaped; a sample value
// (integers without a fraction, +Inf, -Inf, NaN).
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
std::string format_sample_value(double value);

}  // namespace tether::metrics
