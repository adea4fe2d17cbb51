// libFuzzer target for the Jinja interpreter: the input is a chat template
// (chat templates come from GGUF files, i.e. from anyone). Parsing and
// rendering it against a fixed conversation must never crash, hang or grow
// without bound: every failure is a tether::Error, and the render limits
// (output bytes, steps, depth) hold. Any other exception escapes and is
// reported by libFuzzer as a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "jinja/template.h"

namespace {

using namespace tether::jinja;

Value message(const char* role, const char* content) {
  Object m;
  m.set("role", Value::string(role));
  m.set("content", Value::string(content));
  return Value::object(std::move(m));
}

Object make_variables() {
  Object arguments;
  arguments.set("city", Value::string("Paris"));
  Object function;
  function.set("name", Value::string("get_weather"));
  function.set("arguments", Value::object(arguments));
  Object call;
  call.set("id", Value::string("a1b2c3d4e"));
  call.set("type", Value::string("function"));
  call.set("function", Value::object(function));
  Object assistant;
  assistant.set("role", Value::string("assistant"));
  assistant.set("content", Value::none());
  assistant.set("tool_calls", Value::array({Value::object(call)}));

  Object properties;
  Object city;
  city.set("type", Value::string("string"));
  properties.set("city", Value::object(city));
  Object parameters;
  parameters.set("type", Value::string("object"));
  parameters.set("properties", Value::object(properties));
  parameters.set("required", Value::array({Value::string("city")}));
  Object tool_function;
  tool_function.set("name", Value::string("get_weather"));
  tool_function.set("description", Value::string("Weather \xc3\xbc \xf0\x9f\xa6\x99"));
  tool_function.set("parameters", Value::object(parameters));
  Object tool;
  tool.set("type", Value::string("function"));
  tool.set("function", Value::object(tool_function));

  Object variables;
  variables.set("messages", Value::array({message("system", "Be brief."), message("user", "Weather?"),
                                          Value::object(assistant), message("tool", "{\"temp\": 21}"),
                                          message("user", "Thanks \"a\" 'b' {{ x }}")}));
  variables.set("tools", Value::array({Value::object(tool)}));
  variables.set("add_generation_prompt", Value::boolean(true));
  variables.set("bos_token", Value::string("<s>"));
  variables.set("eos_token", Value::string("</s>"));
  return variables;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Object variables = make_variables();
  RenderOptions options;
  options.limits.max_output_bytes = 1 << 16;
  options.limits.max_steps = 200'000;
  options.now = std::chrono::system_clock::time_point{};
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  try {
    const Template parsed(source);
    const std::string text = parsed.render(variables, options);
    if (text.size() > options.limits.max_output_bytes) __builtin_trap();
  } catch (const tether::Error&) {
    // Malformed or failing templates are expected.
  }
  return 0;
}
