#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "jinja/interpreter.h"
#include "jinja/node.h"
#include "jinja/value.h"

namespace tether::jinja {

// A parsed Jinja2 template. Parsing happens once; render is const and keeps
// no state between calls, so one Template serves many threads.
class Template {
 public:
  // Throws Error(kInvalidArgument) with line:column for a malformed template.
  explicit Template(std::string_view source);

  // Renders with `variables` as the template's globals. Throws
  // Error(kInvalidArgument) for runtime errors (including raise_exception)
  // and when a limit in `options` is reached.
  std::string render(const Object& variables, const RenderOptions& options = {}) const;

 private:
  std::string source_;  // normalized; node offsets index into it
  std::shared_ptr<const StmtList> body_;
};

}  // namespace tether::jinja
