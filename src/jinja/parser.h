#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "jinja/node.h"
#include "jinja/token.h"

namespace tether::jinja {

// Builds the statement tree from the lexer's tokens with Jinja2's grammar and
// operator precedence (filters and tests bind tighter than arithmetic, `~`
// tighter than `+`). Nesting deeper than kMaxNesting is refused, so a hostile
// template cannot exhaust the stack here or in the interpreter.
class Parser {
 public:
  static constexpr int kMaxNesting = 96;

  Parser(std::vector<Token> tokens, std::string_view source);
  StmtList parse();

 private:
  // Parses statements until a block tag named in `end_tags`; consumes that
  // name and stores it in `found`.
  StmtList parse_body(std::initializer_list<std::string_view> end_tags, std::string* found);
  std::unique_ptr<Stmt> parse_statement();
  std::unique_ptr<Stmt> parse_if(size_t offset);
  std::unique_ptr<Stmt> parse_for(size_t offset);
  std::unique_ptr<Stmt> parse_set(size_t offset);
  std::unique_ptr<Stmt> parse_macro(size_t offset);
  std::unique_ptr<Stmt> parse_filter_block(size_t offset);

  ExprPtr parse_expression(bool with_condition = true);
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_add();
  ExprPtr parse_concat();
  ExprPtr parse_multiply();
  ExprPtr parse_power();
  ExprPtr parse_unary(bool with_filter = true);
  ExprPtr parse_primary();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_and_test(ExprPtr node);
  ExprPtr parse_filter(ExprPtr operand);
  void parse_call_args(Expr& call);
  // `(a, b)`: a tuple, `(a)`: a, after the `(` is consumed.
  ExprPtr parse_parenthesized(size_t offset);

  const Token& peek(size_t ahead = 0) const;
  const Token& next();
  bool at_operator(std::string_view op) const;
  bool at_name(std::string_view name) const;
  bool skip_operator(std::string_view op);
  bool skip_name(std::string_view name);
  void expect_operator(std::string_view op);
  std::string expect_name();
  void expect_block_end();
  [[noreturn]] void fail(const Token& token, std::string_view message) const;
  ExprPtr make(Expr::Kind kind, size_t offset) const;

  std::vector<Token> tokens_;
  std::string_view source_;
  size_t pos_ = 0;
  int depth_ = 0;
  friend class NestingGuard;
};

}  // namespace tether::jinja
