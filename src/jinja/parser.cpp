#include "jinja/parser.h"

#include "common/error.h"
#include "jinja/builtin_filters.h"
#include "jinja/builtin_tests.h"
#include "jinja/lexer.h"

namespace tether::jinja {

// Counts nesting while a parse function is on the stack.
class NestingGuard {
 public:
  NestingGuard(Parser& parser) : parser_(parser) {
    if (++parser_.depth_ > Parser::kMaxNesting)
      parser_.fail(parser_.peek(), "template nests too deeply");
  }
  ~NestingGuard() { --parser_.depth_; }
  NestingGuard(const NestingGuard&) = delete;
  NestingGuard& operator=(const NestingGuard&) = delete;

 private:
  Parser& parser_;
};

namespace {

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kText: return "template text";
    case TokenKind::kVariableBegin: return "'{{'";
    case TokenKind::kVariableEnd: return "'}}'";
    case TokenKind::kBlockBegin: return "'{%'";
    case TokenKind::kBlockEnd: return "'%}'";
    case TokenKind::kName: return "'" + token.text + "'";
    case TokenKind::kString: return "a string";
    case TokenKind::kInteger:
    case TokenKind::kFloat: return "a number";
    case TokenKind::kOperator: return "'" + token.text + "'";
    case TokenKind::kEnd: return "the end of the template";
  }
  return "a token";
}

}  // namespace

Parser::Parser(std::vector<Token> tokens, std::string_view source)
    : tokens_(std::move(tokens)), source_(source) {
  if (tokens_.empty() || tokens_.back().kind != TokenKind::kEnd) tokens_.push_back(Token{});
}

const Token& Parser::peek(size_t ahead) const {
  return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
}

const Token& Parser::next() {
  const Token& token = tokens_[pos_];
  if (pos_ + 1 < tokens_.size()) ++pos_;
  return token;
}

bool Parser::at_operator(std::string_view op) const {
  return peek().kind == TokenKind::kOperator && peek().text == op;
}

bool Parser::at_name(std::string_view name) const {
  return peek().kind == TokenKind::kName && peek().text == name;
}

bool Parser::skip_operator(std::string_view op) {
  if (!at_operator(op)) return false;
  next();
  return true;
}

bool Parser::skip_name(std::string_view name) {
  if (!at_name(name)) return false;
  next();
  return true;
}

void Parser::expect_operator(std::string_view op) {
  if (!skip_operator(op)) fail(peek(), "expected '" + std::string(op) + "', got " + describe(peek()));
}

std::string Parser::expect_name() {
  if (peek().kind != TokenKind::kName) fail(peek(), "expected a name, got " + describe(peek()));
  return next().text;
}

void Parser::expect_block_end() {
  if (peek().kind != TokenKind::kBlockEnd) fail(peek(), "expected '%}', got " + describe(peek()));
  next();
}

void Parser::fail(const Token& token, std::string_view message) const {
  throw_error(ErrorCode::kInvalidArgument, "template syntax error at {}: {}",
              describe_position(source_, token.offset), message);
}

ExprPtr Parser::make(Expr::Kind kind, size_t offset) const {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->offset = offset;
  return expr;
}

StmtList Parser::parse() {
  StmtList body = parse_body({}, nullptr);
  if (peek().kind != TokenKind::kEnd) fail(peek(), "unexpected " + describe(peek()));
  return body;
}

StmtList Parser::parse_body(std::initializer_list<std::string_view> end_tags, std::string* found) {
  NestingGuard guard(*this);
  StmtList body;
  while (true) {
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::kEnd: {
        if (end_tags.size() == 0) return body;
        std::string expected;
        for (std::string_view tag : end_tags) expected += (expected.empty() ? "'" : " or '") + std::string(tag) + "'";
        fail(token, "unexpected end of template, expected " + expected);
      }
      case TokenKind::kText: {
        auto stmt = std::make_unique<Stmt>();
        stmt->kind = Stmt::Kind::kText;
        stmt->offset = token.offset;
        stmt->text = next().text;
        body.push_back(std::move(stmt));
        break;
      }
      case TokenKind::kVariableBegin: {
        auto stmt = std::make_unique<Stmt>();
        stmt->kind = Stmt::Kind::kOutput;
        stmt->offset = next().offset;
        stmt->expr = parse_expression();
        if (peek().kind != TokenKind::kVariableEnd) fail(peek(), "expected '}}', got " + describe(peek()));
        next();
        body.push_back(std::move(stmt));
        break;
      }
      case TokenKind::kBlockBegin: {
        const Token& name = peek(1);
        if (name.kind == TokenKind::kName) {
          for (std::string_view tag : end_tags) {
            if (name.text == tag) {
              next();
              *found = next().text;
              return body;
            }
          }
        }
        body.push_back(parse_statement());
        break;
      }
      default:
        fail(token, "unexpected " + describe(token));
    }
  }
}

std::unique_ptr<Stmt> Parser::parse_statement() {
  NestingGuard guard(*this);
  const size_t offset = next().offset;  // {%
  const Token& keyword = peek();
  if (keyword.kind != TokenKind::kName) fail(keyword, "expected a statement name, got " + describe(keyword));
  const std::string name = next().text;
  if (name == "if") return parse_if(offset);
  if (name == "for") return parse_for(offset);
  if (name == "set") return parse_set(offset);
  if (name == "macro") return parse_macro(offset);
  if (name == "filter") return parse_filter_block(offset);
  if (name == "break" || name == "continue") {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = name == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
    stmt->offset = offset;
    expect_block_end();
    return stmt;
  }
  if (name == "generation") {
    // Hugging Face's assistant-mask extension: renders its body unchanged.
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::kPassThrough;
    stmt->offset = offset;
    expect_block_end();
    std::string found;
    stmt->bodies.push_back(parse_body({"endgeneration"}, &found));
    expect_block_end();
    return stmt;
  }
  fail(keyword, "unknown tag '" + name + "'");
}

std::unique_ptr<Stmt> Parser::parse_if(size_t offset) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = Stmt::Kind::kIf;
  stmt->offset = offset;
  stmt->conditions.push_back(parse_expression());
  expect_block_end();
  while (true) {
    std::string found;
    stmt->bodies.push_back(parse_body({"elif", "else", "endif"}, &found));
    if (found == "elif") {
      stmt->conditions.push_back(parse_expression());
      expect_block_end();
    } else if (found == "else") {
      expect_block_end();
      stmt->bodies.push_back(parse_body({"endif"}, &found));
      expect_block_end();
      return stmt;
    } else {
      expect_block_end();
      return stmt;
    }
  }
}

std::unique_ptr<Stmt> Parser::parse_for(size_t offset) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = Stmt::Kind::kFor;
  stmt->offset = offset;
  const bool parenthesized = skip_operator("(");
  do {
    stmt->targets.push_back(expect_name());
  } while (skip_operator(","));
  if (parenthesized) expect_operator(")");
  if (!skip_name("in")) fail(peek(), "expected 'in' in for loop, got " + describe(peek()));
  stmt->expr = parse_expression(false);
  if (skip_name("if")) stmt->condition = parse_expression();
  if (skip_name("recursive")) stmt->recursive = true;
  expect_block_end();
  std::string found;
  stmt->bodies.push_back(parse_body({"else", "endfor"}, &found));
  if (found == "else") {
    expect_block_end();
    stmt->bodies.push_back(parse_body({"endfor"}, &found));
  }
  expect_block_end();
  return stmt;
}

std::unique_ptr<Stmt> Parser::parse_set(size_t offset) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = Stmt::Kind::kSet;
  stmt->offset = offset;
  stmt->targets.push_back(expect_name());
  if (skip_operator(".")) {
    stmt->attribute = expect_name();
  } else {
    while (skip_operator(",")) stmt->targets.push_back(expect_name());
  }
  if (skip_operator("=")) {
    const size_t value_offset = peek().offset;
    ExprPtr value = parse_expression();
    if (at_operator(",")) {
      auto tuple = make(Expr::Kind::kTuple, value_offset);
      tuple->items.push_back(std::move(value));
      while (skip_operator(",")) tuple->items.push_back(parse_expression());
      value = std::move(tuple);
    }
    stmt->expr = std::move(value);
    expect_block_end();
    return stmt;
  }
  if (!stmt->attribute.empty() || stmt->targets.size() != 1)
    fail(peek(), "a block set assigns one plain name");
  stmt->kind = Stmt::Kind::kSetBlock;
  // Optional filters applied to the captured text: {% set x | trim %}.
  if (at_operator("|")) stmt->expr = parse_filter_and_test(nullptr);
  expect_block_end();
  std::string found;
  stmt->bodies.push_back(parse_body({"endset"}, &found));
  expect_block_end();
  return stmt;
}

std::unique_ptr<Stmt> Parser::parse_macro(size_t offset) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = Stmt::Kind::kMacro;
  stmt->offset = offset;
  stmt->targets.push_back(expect_name());
  expect_operator("(");
  bool seen_default = false;
  while (!at_operator(")")) {
    MacroParam param;
    param.name = expect_name();
    if (skip_operator("=")) {
      param.default_value = parse_expression();
      seen_default = true;
    } else if (seen_default) {
      fail(peek(), "a macro parameter without a default follows one with a default");
    }
    stmt->params.push_back(std::move(param));
    if (!skip_operator(",")) break;
  }
  expect_operator(")");
  expect_block_end();
  std::string found;
  stmt->bodies.push_back(parse_body({"endmacro"}, &found));
  if (peek().kind == TokenKind::kName && peek().text == stmt->targets[0]) next();
  expect_block_end();
  return stmt;
}

std::unique_ptr<Stmt> Parser::parse_filter_block(size_t offset) {
  auto stmt = std::make_unique<Stmt>();
  stmt->kind = Stmt::Kind::kFilterBlock;
  stmt->offset = offset;
  // The filter chain applies to the block's text, given as a null operand.
  auto first = make(Expr::Kind::kFilter, peek().offset);
  first->name = expect_name();
  if (!has_filter(first->name)) fail(peek(), "no filter named '" + first->name + "'");
  if (at_operator("(")) parse_call_args(*first);
  first->items.insert(first->items.begin(), nullptr);
  stmt->expr = parse_filter_and_test(std::move(first));
  expect_block_end();
  std::string found;
  stmt->bodies.push_back(parse_body({"endfilter"}, &found));
  expect_block_end();
  return stmt;
}

ExprPtr Parser::parse_expression(bool with_condition) {
  NestingGuard guard(*this);
  if (!with_condition) return parse_or();
  ExprPtr node = parse_or();
  while (at_name("if")) {
    const size_t offset = next().offset;
    auto cond = make(Expr::Kind::kCondition, offset);
    cond->items.push_back(parse_or());
    cond->items.push_back(std::move(node));
    cond->items.push_back(skip_name("else") ? parse_expression() : nullptr);
    node = std::move(cond);
  }
  return node;
}

ExprPtr Parser::parse_or() {
  ExprPtr node = parse_and();
  while (at_name("or")) {
    auto bin = make(Expr::Kind::kBinary, next().offset);
    bin->name = "or";
    bin->items.push_back(std::move(node));
    bin->items.push_back(parse_and());
    node = std::move(bin);
  }
  return node;
}

ExprPtr Parser::parse_and() {
  ExprPtr node = parse_not();
  while (at_name("and")) {
    auto bin = make(Expr::Kind::kBinary, next().offset);
    bin->name = "and";
    bin->items.push_back(std::move(node));
    bin->items.push_back(parse_not());
    node = std::move(bin);
  }
  return node;
}

ExprPtr Parser::parse_not() {
  if (at_name("not")) {
    NestingGuard guard(*this);
    auto unary = make(Expr::Kind::kUnary, next().offset);
    unary->name = "not";
    unary->items.push_back(parse_not());
    return unary;
  }
  return parse_compare();
}

ExprPtr Parser::parse_compare() {
  ExprPtr first = parse_add();
  ExprPtr node;
  while (true) {
    std::string op;
    const Token& token = peek();
    if (token.kind == TokenKind::kOperator &&
        (token.text == "==" || token.text == "!=" || token.text == "<" || token.text == "<=" ||
         token.text == ">" || token.text == ">=")) {
      op = token.text;
      next();
    } else if (at_name("in")) {
      op = "in";
      next();
    } else if (at_name("not") && peek(1).kind == TokenKind::kName && peek(1).text == "in") {
      op = "not in";
      next();
      next();
    } else {
      break;
    }
    if (!node) {
      node = make(Expr::Kind::kCompare, first->offset);
      node->items.push_back(std::move(first));
    }
    node->ops.push_back(op);
    node->items.push_back(parse_add());
  }
  return node ? std::move(node) : std::move(first);
}

ExprPtr Parser::parse_add() {
  ExprPtr node = parse_concat();
  while (at_operator("+") || at_operator("-")) {
    auto bin = make(Expr::Kind::kBinary, peek().offset);
    bin->name = next().text;
    bin->items.push_back(std::move(node));
    bin->items.push_back(parse_concat());
    node = std::move(bin);
  }
  return node;
}

ExprPtr Parser::parse_concat() {
  ExprPtr node = parse_multiply();
  while (at_operator("~")) {
    auto bin = make(Expr::Kind::kBinary, next().offset);
    bin->name = "~";
    bin->items.push_back(std::move(node));
    bin->items.push_back(parse_multiply());
    node = std::move(bin);
  }
  return node;
}

ExprPtr Parser::parse_multiply() {
  ExprPtr node = parse_power();
  while (at_operator("*") || at_operator("/") || at_operator("//") || at_operator("%")) {
    auto bin = make(Expr::Kind::kBinary, peek().offset);
    bin->name = next().text;
    bin->items.push_back(std::move(node));
    bin->items.push_back(parse_power());
    node = std::move(bin);
  }
  return node;
}

ExprPtr Parser::parse_power() {
  ExprPtr node = parse_unary();
  while (at_operator("**")) {
    auto bin = make(Expr::Kind::kBinary, next().offset);
    bin->name = "**";
    bin->items.push_back(std::move(node));
    bin->items.push_back(parse_unary());
    node = std::move(bin);
  }
  return node;
}

ExprPtr Parser::parse_unary(bool with_filter) {
  NestingGuard guard(*this);
  ExprPtr node;
  if (at_operator("-") || at_operator("+")) {
    node = make(Expr::Kind::kUnary, peek().offset);
    node->name = next().text;
    node->items.push_back(parse_unary(false));
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_and_test(std::move(node));
  return node;
}

ExprPtr Parser::parse_primary() {
  const Token& token = peek();
  switch (token.kind) {
    case TokenKind::kName: {
      const std::string& name = token.text;
      auto node = make(Expr::Kind::kLiteral, token.offset);
      if (name == "true" || name == "True") node->literal = Value::boolean(true);
      else if (name == "false" || name == "False") node->literal = Value::boolean(false);
      else if (name == "none" || name == "None") node->literal = Value::none();
      else {
        node->kind = Expr::Kind::kName;
        node->name = name;
      }
      next();
      return node;
    }
    case TokenKind::kString: {
      auto node = make(Expr::Kind::kLiteral, token.offset);
      std::string text;
      while (peek().kind == TokenKind::kString) text += next().text;  // adjacent literals join
      node->literal = Value::string(std::move(text));
      return node;
    }
    case TokenKind::kInteger: {
      auto node = make(Expr::Kind::kLiteral, token.offset);
      node->literal = Value::integer(next().int_value);
      return node;
    }
    case TokenKind::kFloat: {
      auto node = make(Expr::Kind::kLiteral, token.offset);
      node->literal = Value::floating(next().float_value);
      return node;
    }
    case TokenKind::kOperator: {
      if (token.text == "(") {
        const size_t offset = next().offset;
        return parse_parenthesized(offset);
      }
      if (token.text == "[") {
        auto node = make(Expr::Kind::kList, next().offset);
        while (!at_operator("]")) {
          node->items.push_back(parse_expression());
          if (!skip_operator(",")) break;
        }
        expect_operator("]");
        return node;
      }
      if (token.text == "{") {
        auto node = make(Expr::Kind::kDict, next().offset);
        while (!at_operator("}")) {
          node->items.push_back(parse_expression());
          expect_operator(":");
          node->items.push_back(parse_expression());
          if (!skip_operator(",")) break;
        }
        expect_operator("}");
        return node;
      }
      break;
    }
    default:
      break;
  }
  fail(token, "unexpected " + describe(token) + " in expression");
}

ExprPtr Parser::parse_parenthesized(size_t offset) {
  if (skip_operator(")")) return make(Expr::Kind::kTuple, offset);
  ExprPtr first = parse_expression();
  if (skip_operator(")")) return first;
  auto tuple = make(Expr::Kind::kTuple, offset);
  tuple->items.push_back(std::move(first));
  while (skip_operator(",")) {
    if (at_operator(")")) break;
    tuple->items.push_back(parse_expression());
  }
  expect_operator(")");
  return tuple;
}

ExprPtr Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (at_operator(".")) {
      const size_t offset = next().offset;
      if (peek().kind == TokenKind::kInteger) {
        auto sub = make(Expr::Kind::kSubscript, offset);
        auto index = make(Expr::Kind::kLiteral, offset);
        index->literal = Value::integer(next().int_value);
        sub->items.push_back(std::move(node));
        sub->items.push_back(std::move(index));
        node = std::move(sub);
        continue;
      }
      auto attr = make(Expr::Kind::kAttribute, offset);
      attr->name = expect_name();
      attr->items.push_back(std::move(node));
      node = std::move(attr);
    } else if (at_operator("[")) {
      NestingGuard guard(*this);
      const size_t offset = next().offset;
      ExprPtr start;
      if (!at_operator(":")) start = parse_expression();
      if (skip_operator(":")) {
        auto slice = make(Expr::Kind::kSlice, offset);
        slice->items.push_back(std::move(node));
        slice->items.push_back(std::move(start));
        slice->items.push_back(at_operator("]") || at_operator(":") ? nullptr : parse_expression());
        if (skip_operator(":") && !at_operator("]")) slice->items.push_back(parse_expression());
        else slice->items.push_back(nullptr);
        node = std::move(slice);
      } else {
        auto sub = make(Expr::Kind::kSubscript, offset);
        sub->items.push_back(std::move(node));
        sub->items.push_back(std::move(start));
        node = std::move(sub);
      }
      expect_operator("]");
    } else if (at_operator("(")) {
      auto call = make(Expr::Kind::kCall, peek().offset);
      call->items.push_back(std::move(node));
      parse_call_args(*call);
      node = std::move(call);
    } else {
      return node;
    }
  }
}

void Parser::parse_call_args(Expr& call) {
  NestingGuard guard(*this);
  expect_operator("(");
  while (!at_operator(")")) {
    if (peek().kind == TokenKind::kName && peek(1).kind == TokenKind::kOperator && peek(1).text == "=") {
      std::string name = next().text;
      next();
      call.keywords.emplace_back(std::move(name), parse_expression());
    } else {
      if (!call.keywords.empty()) fail(peek(), "a positional argument follows a keyword argument");
      call.items.push_back(parse_expression());
    }
    if (!skip_operator(",")) break;
  }
  expect_operator(")");
}

ExprPtr Parser::parse_filter(ExprPtr operand) {
  auto filter = make(Expr::Kind::kFilter, peek().offset);
  filter->name = expect_name();
  while (at_operator(".") && peek(1).kind == TokenKind::kName) {
    next();
    filter->name += "." + next().text;
  }
  // Jinja2 rejects unknown filters when it compiles, not when it renders.
  if (!has_filter(filter->name)) fail(peek(), "no filter named '" + filter->name + "'");
  if (at_operator("(")) parse_call_args(*filter);
  filter->items.insert(filter->items.begin(), std::move(operand));
  return filter;
}

ExprPtr Parser::parse_filter_and_test(ExprPtr node) {
  while (true) {
    if (skip_operator("|")) {
      node = parse_filter(std::move(node));
    } else if (at_name("is")) {
      auto test = make(Expr::Kind::kTest, next().offset);
      test->negated = skip_name("not");
      test->name = expect_name();
      if (!has_test(test->name)) fail(peek(), "no test named '" + test->name + "'");
      test->items.push_back(std::move(node));
      if (at_operator("(")) {
        parse_call_args(*test);
      } else {
        const Token& arg = peek();
        const bool starts_arg =
            arg.kind == TokenKind::kString || arg.kind == TokenKind::kInteger ||
            arg.kind == TokenKind::kFloat ||
            (arg.kind == TokenKind::kName && arg.text != "else" && arg.text != "or" &&
             arg.text != "and" && arg.text != "is" && arg.text != "if" && arg.text != "not" &&
             arg.text != "in") ||
            (arg.kind == TokenKind::kOperator && (arg.text == "[" || arg.text == "{"));
        if (starts_arg) test->items.push_back(parse_postfix(parse_primary()));
      }
      node = std::move(test);
    } else if (at_operator("(")) {
      auto call = make(Expr::Kind::kCall, peek().offset);
      call->items.push_back(std::move(node));
      parse_call_args(*call);
      node = std::move(call);
    } else {
      return node;
    }
  }
}

}  // namespace tether::jinja
