#include "jinja/builtin_filters.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "render_for_test.h"

namespace tether::jinja {
namespace {

using testing::render;

// Expected texts come from Python's Jinja2 3.1 with Hugging Face's tojson.
TEST(BuiltinFiltersTest, TojsonWritesPythonJsonDumps) {
  EXPECT_EQ(render(R"({{ "x\ny" | tojson }} {{ {'a': [1, 2, {'b': none}]} | tojson }} {{ "é😀" | tojson }})"),
            R"("x\ny" {"a": [1, 2, {"b": null}]} "é😀")");
  EXPECT_EQ(render("{{ {'a': [1, 2]} | tojson(indent=2) }}"), "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
  EXPECT_EQ(render("{{ {'z':1,'a':2}|tojson(sort_keys=true) }} {{ [1,[2,3]]|tojson(separators=(',', ':')) }}"),
            R"({"a": 2, "z": 1} [1,[2,3]])");
  EXPECT_EQ(render(R"({{ "\u0001\u007f" | tojson }} {{ 'é'|tojson(ensure_ascii=true) }} {{ true|tojson }})"),
            "\"\\u0001\x7f\" \"\\u00e9\" true");
  EXPECT_EQ(render("{{ m|tojson }}", R"({"m": {"b": [1, 2.0, 1e-7, {}, []], "a": "ü"}})"),
            R"({"b": [1, 2.0, 1e-07, {}, []], "a": "ü"})");
  EXPECT_THROW(render("{{ x|tojson }}"), Error);
}

TEST(BuiltinFiltersTest, StringFilters) {
  EXPECT_EQ(render("{{ '  x  '|trim }}|{{ 'xxhixx'|trim('x') }}|{{ 'Hello World'|upper }}|{{ 'hello world'|title }}|"
                   "{{ 'hELLO'|capitalize }}|{{ 'aaa'|replace('a','b',2) }}|{{ 'AbC'|lower }}"),
            "x|hi|HELLO WORLD|Hello World|Hello|bba|abc");
  EXPECT_EQ(render("{{ \"a\\nb\\n\"|indent(2) }}|{{ \"a\\n\\nb\"|indent(2, true) }}|{{ \"a\\n\\nb\"|indent(2, blank=true) }}"),
            "a\n  b\n|  a\n\n  b|a\n  \n  b");
  EXPECT_EQ(render("{{ '%s'|format(5) }} {{ '<a>'|e }} {{ 'x'|safe }} {{ {'a':'x'}|string }} {{ none|string }}"),
            "5 &lt;a&gt; x {'a': 'x'} None");
}

TEST(BuiltinFiltersTest, SequenceFilters) {
  EXPECT_EQ(render("{{ [3,1,2]|sort }} {{ [3,1,2]|sort(reverse=true) }} {{ ['b','A','c']|sort }} "
                   "{{ [1,2,2,3,1]|unique|list }} {{ [1,2,3]|reverse|list }} {{ 'abc'|reverse }}"),
            "[1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] [1, 2, 3] [3, 2, 1] cba");
  EXPECT_EQ(render("{{ {'b':1,'a':2}|dictsort }} {{ {'b':1,'a':2}|items|list }} {{ [1,2,3]|join('-') }} "
                   "{{ [1,2,3]|first }} {{ [1,2,3]|last }} {{ []|first }}"),
            "[('a', 2), ('b', 1)] [('b', 1), ('a', 2)] 1-2-3 1 3 ");
  EXPECT_EQ(render("{{ [1,2,3]|sum }} {{ [1,5,3]|max }} {{ [4,1]|min }} {{ 'abc'|list }} {{ [1,2,3]|length }} "
                   "{{ {'a':1}|count }}"),
            "6 5 1 ['a', 'b', 'c'] 3 1");
  EXPECT_EQ(render("{{ [{'n': 'b'}, {'n': 'a'}]|sort(attribute='n') }}"), "[{'n': 'a'}, {'n': 'b'}]");
  EXPECT_THROW(render("{{ none|length }}"), Error);
}

TEST(BuiltinFiltersTest, SelectRejectAndMap) {
  EXPECT_EQ(render("{{ [1,2,3]|select('odd')|list }} {{ [{'a':1},{'a':0}]|selectattr('a')|list }} "
                   "{{ [{'a':1},{'a':0}]|rejectattr('a')|list }} {{ [{'a':1},{'b':0}]|selectattr('a', 'defined')|list }}"),
            "[1, 3] [{'a': 1}] [{'a': 0}] [{'a': 1}]");
  EXPECT_EQ(render("{{ [{'a':1},{'a':2}]|map(attribute='a')|list }} {{ ['a','b']|map('upper')|list }} "
                   "{{ [{'t':'x'},{'t':'y'}]|selectattr('t','equalto','y')|list }} {{ [1,2,3]|select('>', 1)|list }}"),
            "[1, 2] ['A', 'B'] [{'t': 'y'}] [2, 3]");
  EXPECT_EQ(render("{{ tools|map(attribute='function.name')|join(', ') }}",
                   R"({"tools": [{"function": {"name": "a"}}, {"function": {"name": "b"}}]})"),
            "a, b");
}

TEST(BuiltinFiltersTest, NumbersAndDefaults) {
  EXPECT_EQ(render("{{ x|default('d') }} {{ none|default('d') }} {{ ''|default('d', true) }} {{ '42'|int + 1 }} "
                   "{{ '3.7'|int }} {{ 'x'|int }} {{ '2.5'|float }} {{ -3|abs }} {{ 2.5|round }} {{ 3.14159|round(2) }}"),
            "d None d 43 3 0 2.5 3 2.0 3.14");
  EXPECT_EQ(render("{{ -0.5|round }} {{ 0.5|round }} {{ 1.5|round }} {{ 2.675|round(2) }} {{ 15|round(-1) }}"),
            "-0.0 0.0 2.0 2.67 20");
}

TEST(BuiltinFiltersTest, TruncateBatchWordcountAndJoinSeparators) {
  EXPECT_EQ(render("{{ 'hello world foo bar'|truncate(9) }}|{{ 'hello world foo bar'|truncate(9, true) }}|"
                   "{{ 'hello world foo bar baz qux'|truncate(12, false, '..', 0) }}|{{ 'hello'|truncate(3) }}"),
            "hello...|hello ...|hello..|hello");
  EXPECT_EQ(render("{{ [1,2,3] | batch(2) | list }} {{ [1,2,3] | batch(2, 'x') | list }} {{ 'a b' | wordcount }}"),
            "[[1, 2], [3]] [[1, 2], [3, 'x']] 2");
  EXPECT_EQ(render("{{ [1,2] | join(none) }}"), "1None2");
}

}  // namespace
}  // namespace tether::jinja
