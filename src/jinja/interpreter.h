#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jinja/node.h"
#include "jinja/value.h"

namespace tether::jinja {

// Bounds for one render, so an untrusted template cannot run forever or
// take unbounded memory or stack.
struct RenderLimits {
  size_t max_output_bytes = 8u << 20;  // also bounds every intermediate string
  uint64_t max_steps = 20'000'000;     // statements, loop iterations, expression nodes, copied items
  int max_depth = 600;                 // nested evaluation, including macro calls
};

struct RenderOptions {
  RenderLimits limits;
  // What strftime_now formats (in UTC); the system clock when unset.
  std::optional<std::chrono::system_clock::time_point> now;
};

// Executes a parsed template against variables. One Interpreter serves one
// render; the parsed tree is shared read-only, so renders run concurrently.
class Interpreter {
 public:
  Interpreter(std::string_view source, const Object& variables, const RenderOptions& options);

  // Renders `body` into `out`; errors are Error(kInvalidArgument) naming the
  // line and column of the expression that failed.
  void render(const StmtList& body, std::string& out);

  Value eval(const Expr& expr);
  Value call(const Value& callee, CallArgs& args);
  // Counts work against max_steps; raises past it.
  void charge(uint64_t steps);
  size_t max_bytes() const { return options_.limits.max_output_bytes; }
  const RenderOptions& options() const { return options_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  struct Scope {
    std::vector<std::pair<std::string, Value>> variables;
    bool barrier = false;  // a macro body: outer loop variables are not visible
  };

  Flow exec_body(const StmtList& body, std::string& out);
  Flow exec(const Stmt& stmt, std::string& out);
  Flow exec_for(const Stmt& stmt, std::string& out);
  void exec_set(const Stmt& stmt);
  Value call_macro(const Stmt& macro, CallArgs& args);
  Value eval_call(const Expr& expr);
  Value eval_filter(const Expr& expr, const Value* block_text);
  bool eval_compare(const Expr& expr);

  Value lookup(std::string_view name) const;
  void assign(const std::string& name, Value value);
  void append_output(std::string& out, std::string_view text);

  std::string_view source_;
  const Object& variables_;
  RenderOptions options_;
  std::vector<Scope> scopes_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  size_t error_offset_ = 0;  // the innermost expression being evaluated
  friend class DepthGuard;
};

}  // namespace tether::jinja
