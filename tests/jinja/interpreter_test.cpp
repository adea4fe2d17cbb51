#include "jinja/interpreter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "render_for_test.h"

namespace tether::jinja {
namespace {

using ::testing::HasSubstr;
using testing::render;

// Expected texts come from Python's Jinja2 3.1 with Hugging Face's settings.
TEST(InterpreterTest, PrintsValuesAsPythonDoes) {
  EXPECT_EQ(render("{{ 1.0 }} {{ 1e16 }} {{ 1.5e-5 }} {{ 0.1 + 0.2 }} {{ 3 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} "
                   "{{ -7 % 3 }} {{ 2 ** 10 }} {{ 7.5 // 2 }}"),
            "1.0 1e+16 1.5e-05 0.30000000000000004 1.5 3 -4 2 1024 3.0");
  EXPECT_EQ(render("{{ True }} {{ none }} {{ [1, 'a', none, true] }} {{ {'k': 'v', 'n': [1.5]} }} {{ ('a',) }}"),
            "True None [1, 'a', None, True] {'k': 'v', 'n': [1.5]} ('a',)");
  EXPECT_EQ(render(R"({{ "it's" }} {{ ["it's", 'a"b', 'both\'"'] }} {{ ['\n\t\\'] }})"),
            R"(it's ["it's", 'a"b', 'both\'"'] ['\n\t\\'])");
  EXPECT_EQ(render("{{ x }}|{{ [x] }}"), "|[Undefined]");
}

TEST(InterpreterTest, ArithmeticAndConcatenation) {
  EXPECT_EQ(render("{{ 'a' ~ none ~ 1.5 ~ true }} {{ 'x' * 3 }} {{ [1] * 2 }} {{ [1] + [2] }} {{ -2 ** 2 }}"),
            "aNone1.5True xxx [1, 1] [1, 2] 4");
  EXPECT_EQ(render("{{ 'hello %s, %d' % ('w', 3) }} {{ '%5.2f|%-4d|%s' % (3.14159, 7, none) }}"),
            "hello w, 3  3.14|7   |None");
  EXPECT_THROW(render("{{ 'a' + 1 }}"), Error);
  EXPECT_THROW(render("{{ x + 1 }}"), Error);
  EXPECT_THROW(render("{{ 1 // 0 }}"), Error);
  EXPECT_THROW(render("{{ 9223372036854775807 + 1 }}"), Error);
}

TEST(InterpreterTest, ComparisonsMembershipAndConditionals) {
  EXPECT_EQ(render("{{ 1 if true else 2 }} {{ 1 if false }} {{ 'a' in 'bab' }} {{ 1 in [1,2] }} "
                   "{{ 'k' in {'k':1} }} {{ 3 not in [1] }} {{ 1 < 2 < 3 }} {{ 1 < 2 > 3 }}"),
            "1  True True True True True False");
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ true == 1 }} {{ [1] == [1] }} {{ {'a':1} == {'a':1} }} {{ none == false }}"),
            "True True True True False");
  EXPECT_EQ(render("{{ x == none }} {{ x != 1 }} {{ not x }} {{ x or 'b' }} {{ x and 'b' }}"),
            "False True True b ");
  EXPECT_THROW(render("{{ [1] < 'a' }}"), Error);
}

TEST(InterpreterTest, SubscriptsAndSlicesCountCodePoints) {
  EXPECT_EQ(render("{{ 'abc'[1:] }} {{ 'abc'[::-1] }} {{ [1,2,3][-1] }} {{ [1,2,3][:-1] }} {{ 'h\xc3\xa9llo'[1] }} "
                   "{{ 'h\xc3\xa9llo'|length }}"),
            "bc cba 3 [1, 2] \xc3\xa9 5");
  EXPECT_EQ(render("{{ (1, 2)[0] }} {{ [1,2,3][1:2] }} {{ 'abcdef'[1:5:2] }} {{ [1,2,3,4][-2:] }} {{ 'abc'[10:] }}"),
            "1 [2] bd [3, 4] ");
  EXPECT_EQ(render("{{ messages[0].content }}|{{ messages[1] }}|{{ messages[-1].role }}",
                   R"({"messages": [{"role": "user", "content": "hi"}]})"),
            "hi||user");
}

TEST(InterpreterTest, UndefinedFollowsJinja2) {
  EXPECT_EQ(render("{{ x }}|{{ x|length }}|{% for a in x %}{{ a }}{% endfor %}|{{ x is iterable }}|{{ 'a' in x }}"),
            "|0||True|False");
  EXPECT_EQ(render("{{ none.x }}|{{ [1][5] }}|{{ {}.x }}|{{ 'ab'.zz }}"), "|||");
  EXPECT_EQ(render("{% if x is not defined %}a{% endif %}{% if not x is defined %}b{% endif %}"), "ab");
  // An attribute of an undefined value raises, as Jinja2's default Undefined does.
  EXPECT_THROW(render("{{ x.y }}"), Error);
  EXPECT_THROW(render("{{ x.y is defined }}"), Error);
  EXPECT_THROW(render("{{ x['y'] }}"), Error);
  // A dict's methods win over its keys for attribute access, keys for subscripts.
  EXPECT_EQ(render("{{ m['items'] }}", R"({"m": {"items": 5}})"), "5");
}

TEST(InterpreterTest, ForLoopsExposeLoopVariables) {
  EXPECT_EQ(render("{% for i in range(3) %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}"
                   "{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }},{% endfor %}"),
            "10TrueFalse332,21FalseFalse321,32FalseTrue310,");
  EXPECT_EQ(render("{% for i in [1,2,3] %}{{ loop.previtem }}/{{ loop.nextitem }} {% endfor %}"), "/2 1/3 2/ ");
  EXPECT_EQ(render("{% for i in range(10) if i is odd %}{{ i }}{% if i > 5 %}{% break %}{% endif %}{% endfor %}"),
            "1357");
  EXPECT_EQ(render("{% for i in range(5) %}{% if i == 2 %}{% continue %}{% endif %}{{ i }}{% endfor %}"), "0134");
  EXPECT_EQ(render("{% for i in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "a=1;b=2;");
  EXPECT_EQ(render("{% for a in [1,2] %}{% for b in [3] %}{{ loop.index }}{{ a }}{% endfor %}{{ loop.index }}"
                   "{% endfor %}"),
            "111122");
  EXPECT_EQ(render("{% for k in m %}{{ k }}{% endfor %}", R"({"m": {"b": 1, "a": 2}})"), "ba");
  EXPECT_THROW(render("{% for x in none %}{% endfor %}"), Error);
  EXPECT_THROW(render("{% for x, y in [[1,2,3]] %}{% endfor %}"), Error);
}

TEST(InterpreterTest, SetIsScopedToLoopsAndNamespacesCarryOut) {
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"), "21");
  EXPECT_EQ(render("{% set ns = namespace(x=1) %}{% for i in [1,2] %}{% set ns.x = ns.x + i %}{% endfor %}"
                   "{{ ns.x }}"),
            "4");
  EXPECT_EQ(render("{% set b %}hello {{ 1 }}{% endset %}[{{ b }}]"), "[hello 1]");
  EXPECT_EQ(render("{% set b | upper %}hi{% endset %}{{ b }}"), "HI");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
  EXPECT_THROW(render("{% set x = 1 %}{% set x.y = 2 %}"), Error);
}

TEST(InterpreterTest, MacrosTakeDefaultsKeywordsAndRecurse) {
  EXPECT_EQ(render("{% macro m(a, b=2, c='z') %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }} {{ m(1, c=3) }} "
                   "{{ m(1, 5, 6) }}"),
            "12z 123 156");
  EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}"),
            "4321");
  EXPECT_EQ(render("{% set x = 5 %}{% macro m() %}{{ x }}{% endmacro %}{{ m() }}"), "5");
  // A macro does not see its caller's loop variables.
  EXPECT_EQ(render("{% macro m() %}{{ y }}{% endmacro %}{% for y in [1] %}{{ m() }}{% endfor %}"), "");
  EXPECT_EQ(render("{% macro m(a) %}{{ a }}{% endmacro %}{{ m() }}"), "");
  EXPECT_THROW(render("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}"), Error);
  EXPECT_THROW(render("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=1) }}"), Error);
}

TEST(InterpreterTest, GlobalsOfHuggingFace) {
  try {
    render("line one\n{{ raise_exception('Roles must alternate') }}");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("Roles must alternate"));
    EXPECT_THAT(e.what(), HasSubstr("line 2"));
  }
  RenderOptions options;
  options.now = std::chrono::sys_days{std::chrono::year{2026} / 1 / 15};
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}", "{}", options), "15 Jan 2026");
  EXPECT_EQ(render("{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1) }}"),
            "[0, 1, 2] [1, 4, 7] [5, 3, 1] {'a': 1}");
  EXPECT_THROW(render("{{ range(1000000) }}"), Error);
}

TEST(InterpreterTest, RunawayRecursionStopsWithAnError) {
  try {
    render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(e.what(), HasSubstr("recursion"));
  }
}

TEST(InterpreterTest, RunawayLoopsAndOutputStopWithAnError) {
  RenderOptions options;
  options.limits.max_steps = 100'000;
  try {
    render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "{}", options);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("steps"));
  }
  options = {};
  options.limits.max_output_bytes = 1000;
  EXPECT_THROW(render("{% for i in range(1000) %}xx{% endfor %}", "{}", options), Error);
  EXPECT_THROW(render("{{ 'x' * 100000 }}", "{}", options), Error);
  EXPECT_THROW(render("{% set ns = namespace(s='xx') %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}"
                      "{% endfor %}",
                      "{}", options),
               Error);
  // A namespace that holds itself cannot make printing recurse forever.
  EXPECT_THROW(render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"), Error);
}

TEST(InterpreterTest, RenderingIsRepeatableFromOneParse) {
  const Template t("{% for m in messages %}{{ m }}{% endfor %}");
  Object a;
  a.set("messages", Value::array({Value::string("x"), Value::string("y")}));
  Object b;
  b.set("messages", Value::array({Value::integer(1)}));
  EXPECT_EQ(t.render(a), "xy");
  EXPECT_EQ(t.render(b), "1");
  EXPECT_EQ(t.render(a), "xy");
}

}  // namespace
}  // namespace tether::jinja
