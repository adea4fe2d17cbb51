#pragma once

#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "jinja/json_value.h"
#include "jinja/template.h"

namespace tether::jinja::testing {

// Renders `source` with variables given as a JSON object text.
inline std::string render(std::string_view source, std::string_view variables_json = "{}",
                          const RenderOptions& options = {}) {
  Object variables;
  const boost::json::value parsed = boost::json::parse(variables_json);
  for (const auto& entry : parsed.as_object())
    variables.set(std::string(entry.key()), from_json(entry.value()));
  return Template(source).render(variables, options);
}

}  // namespace tether::jinja::testing
