#include "jinja/template.h"

#include "jinja/lexer.h"
#include "jinja/parser.h"

namespace tether::jinja {

Template::Template(std::string_view source) {
  Lexer lexer(source);
  std::vector<Token> tokens = lexer.tokenize();
  source_ = lexer.source();
  Parser parser(std::move(tokens), source_);
  body_ = std::make_shared<const StmtList>(parser.parse());
}

std::string Template::render(const Object& variables, const RenderOptions& options) const {
  Interpreter interpreter(source_, variables, options);
  std::string out;
  interpreter.render(*body_, out);
  return out;
}

}  // namespace tether::jinja
