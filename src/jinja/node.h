#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace tether::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtList = std::vector<std::unique_ptr<Stmt>>;

// One expression node. A single struct with a kind keeps the tree walk in one
// switch; each kind documents which fields it uses.
struct Expr {
  enum class Kind {
    kLiteral,    // literal
    kName,       // name
    kList,       // items
    kTuple,      // items
    kDict,       // items: key, value, key, value, ...
    kAttribute,  // items[0].name
    kSubscript,  // items[0][items[1]]
    kSlice,      // items[0][items[1]:items[2]:items[3]], absent parts null
    kCall,       // items[0](items[1..], keywords)
    kFilter,     // items[0] | name(items[1..], keywords)
    kTest,       // items[0] is [not] name(items[1..])
    kUnary,      // op items[0]: "not", "-", "+"
    kBinary,     // items[0] op items[1]: and or + - * / // % ** ~ in "not in"
    kCompare,    // items[0] ops[0] items[1] ops[1] items[2] ... (chained)
    kCondition,  // items[1] if items[0] else items[2] (items[2] may be null)
  };

  Kind kind = Kind::kLiteral;
  size_t offset = 0;  // into the normalized source, for error positions
  Value literal;
  std::string name;  // name, attribute, filter or test name, or the operator
  bool negated = false;  // `is not`
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  std::vector<std::string> ops;  // kCompare operators
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null: required
};

struct Stmt {
  enum class Kind {
    kText,        // text
    kOutput,      // {{ expr }}
    kIf,          // conditions[i] -> bodies[i]; bodies.back() is else when one longer
    kFor,         // for targets in expr [if condition]: bodies[0] [else bodies[1]]
    kSet,         // set targets (or target.attribute) = expr
    kSetBlock,    // set target %}bodies[0]{% endset, filtered through `filters`
    kMacro,       // macro name(params): bodies[0]
    kBreak,
    kContinue,
    kCallBlock,   // call(params) expr: bodies[0] becomes `caller`
    kFilterBlock, // filter expr (a kFilter chain over a null operand): bodies[0]
    kPassThrough, // an extension block rendered as its body (generation)
  };

  Kind kind = Kind::kText;
  size_t offset = 0;
  std::string text;
  ExprPtr expr;       // output, for iterable, set value, call expression, filter chain
  ExprPtr condition;  // for ... if condition
  std::vector<std::string> targets;
  std::string attribute;  // set ns.attribute
  std::vector<ExprPtr> conditions;
  std::vector<StmtList> bodies;
  std::vector<MacroParam> params;
  bool recursive = false;  // for ... recursive
};

}  // namespace tether::jinja
