// Unit tests for the Jinja engine: the Jinja2 / Python semantics chat
// templates depend on, each pinned by a small template whose expected output
// is what Jinja2 (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks)
// produces. Also the safety limits a hostile template runs into.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chat/chat_template.h"

namespace hearth::chat {
namespace {

using json = nlohmann::ordered_json;

RenderOptions test_options() {
  RenderOptions o;
  o.clock = [] {
    std::tm tm{};
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 0;
    tm.tm_mday = 15;
    tm.tm_wday = 4;
    tm.tm_yday = 14;
    return tm;
  };
  return o;
}

std::string render(const std::string& source, const json& ctx = json::object(),
                   const RenderOptions& options = test_options()) {
  return ChatTemplate::parse(source).render(ctx, options);
}

// Renders and expects a TemplateError; returns it.
TemplateError render_error(const std::string& source, const json& ctx = json::object(),
                           const RenderOptions& options = test_options()) {
  try {
    render(source, ctx, options);
  } catch (const TemplateError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for: " << source;
  return TemplateError(ErrorKind::Runtime, "none");
}

const json kCtx = json::parse(R"({
  "messages": [{"role": "system", "content": "Sys"}, {"role": "user", "content": "Hi"},
               {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "function":
                 {"name": "f", "arguments": {"city": "Paris", "n": 1.5, "ok": true, "x": null}}}]}],
  "l": [3, 1, 2], "d": {"b": 2, "a": 1}, "s": "Hello World", "u": "héllo 中文 😀", "n": null, "e": ""
})");

// ------------------------------------------------------------ whitespace

TEST(JinjaWhitespace, TrimBlocksAndLstripBlocks) {
  // trim_blocks drops the newline after a block tag; lstrip_blocks drops the
  // indentation before one. Neither touches {{ }}.
  EXPECT_EQ(render("{% if true %}\n    x\n    {% endif %}\ny"), "    x\ny");
  EXPECT_EQ(render("<div>\n    {% for i in [1, 2] %}\n    <p>{{ i }}</p>\n    {% endfor %}\n</div>"),
            "<div>\n    <p>1</p>\n    <p>2</p>\n</div>");
  EXPECT_EQ(render("  {{ 'a' }}\n  {{ 'b' }}"), "  a\n  b");
  // Only spaces and tabs from the start of the line are stripped.
  EXPECT_EQ(render("a {% if true %}b{% endif %} c"), "a b c");
  EXPECT_EQ(render(" \t {% if true %}x{% endif %}"), "x");
}

TEST(JinjaWhitespace, MinusAndPlusModifiers) {
  EXPECT_EQ(render("a  \n  {{- 'b' -}}  \n  c"), "abc");
  EXPECT_EQ(render("a\n{%- if true -%}\nb\n{%- endif -%}\nc"), "abc");
  EXPECT_EQ(render("x\n  {#- comment -#}\n  y"), "xy");
  // {%+ keeps the indentation, +%} keeps the newline.
  EXPECT_EQ(render("  {%+ if true %}d{% endif +%}\ne"), "  d\ne");
  // A -%} strips all whitespace, Unicode spaces included.
  EXPECT_EQ(render("{% if true -%} \xc2\xa0\n x{% endif %}"), "x");
}

TEST(JinjaWhitespace, CommentsRawAndNewlines) {
  EXPECT_EQ(render("a {# c #} b\n  {# indented #}\nc"), "a  b\nc");
  EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
  // keep_trailing_newline=False: exactly one final newline is dropped.
  EXPECT_EQ(render("x\n"), "x");
  EXPECT_EQ(render("x\n\n"), "x\n");
  // \r\n and \r in the template become \n.
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
}

// ------------------------------------------------------------ printing

TEST(JinjaPrint, PythonStrOfValues) {
  EXPECT_EQ(render("{{ n }}|{{ true }}|{{ 1.0 }}|{{ 10/4 }}|{{ 4/2 }}|{{ -0.0 }}", kCtx), "None|True|1.0|2.5|2.0|-0.0");
  EXPECT_EQ(render("{{ 1e16 }} {{ 1e15 }} {{ 1.5e-5 }} {{ 0.0001 }} {{ 0.1 + 0.2 }} {{ 1/3 }}"),
            "1e+16 1000000000000000.0 1.5e-05 0.0001 0.30000000000000004 0.3333333333333333");
  EXPECT_EQ(render("{{ l }} {{ d }} {{ (1,) }} {{ (1, 'a') }} {{ [none, true, 'x'] }}", kCtx),
            "[3, 1, 2] {'b': 2, 'a': 1} (1,) (1, 'a') [None, True, 'x']");
  // repr picks quotes like Python and escapes control characters.
  EXPECT_EQ(render("{{ [\"it's\", 'say \"hi\"', 'a\\nb', 'both \\'\"'] }}"),
            R"(["it's", 'say "hi"', 'a\nb', 'both \'"'])");
  EXPECT_EQ(render("{{ messages[2].tool_calls[0].function.arguments }}", kCtx),
            "{'city': 'Paris', 'n': 1.5, 'ok': True, 'x': None}");
  EXPECT_EQ(render("{{ d.items() }}", kCtx), "dict_items([('b', 2), ('a', 1)])");
}

// ------------------------------------------------------------ tojson

TEST(JinjaToJson, MatchesJsonDumps) {
  EXPECT_EQ(render("{{ messages[2].tool_calls[0].function.arguments|tojson }}", kCtx),
            R"({"city": "Paris", "n": 1.5, "ok": true, "x": null})");
  EXPECT_EQ(render("{{ d|tojson(indent=2) }}", kCtx), "{\n  \"b\": 2,\n  \"a\": 1\n}");
  EXPECT_EQ(render("{{ {'x': [], 'y': {}, 'z': [1]}|tojson(indent=1) }}"),
            "{\n \"x\": [],\n \"y\": {},\n \"z\": [\n  1\n ]\n}");
  EXPECT_EQ(render("{{ d|tojson(sort_keys=true) }}", kCtx), R"({"a": 1, "b": 2})");
  EXPECT_EQ(render("{{ [1, 'a']|tojson(separators=(',', ':')) }}"), R"([1,"a"])");
  // ensure_ascii=False by default: non-ASCII as is, control characters escaped.
  EXPECT_EQ(render("{{ u|tojson }}", kCtx), "\"héllo 中文 😀\"");
  EXPECT_EQ(render("{{ u|tojson(ensure_ascii=true) }}", kCtx), R"("h\u00e9llo \u4e2d\u6587 \ud83d\ude00")");
  EXPECT_EQ(render("{{ '\\t\"\\\\\\x01\\x7f'|tojson }}"), "\"\\t\\\"\\\\\\u0001\x7f\"");
  // Floats as Python repr; dict keys converted as json.dumps does.
  EXPECT_EQ(render("{{ [1.0, 1e16, 0.1, 1e-7]|tojson }}"), "[1.0, 1e+16, 0.1, 1e-07]");
  EXPECT_EQ(render("{{ {1: 'a', true: 'b', none: 'c'}|tojson }}"), R"({"1": "b", "null": "c"})");
  // The first positional argument is ensure_ascii, as in transformers' tojson.
  EXPECT_EQ(render("{{ 'é'|tojson(2) }}"), R"("\u00e9")");
}

TEST(JinjaToJson, RefusesWhatJsonDumpsRefuses) {
  EXPECT_EQ(render_error("{{ l|map('string')|tojson }}", kCtx).message(),
            "Object of type generator is not JSON serializable");
  EXPECT_EQ(render_error("{{ nothing|tojson }}").message(), "Object of type Undefined is not JSON serializable");
  EXPECT_EQ(render_error("{{ d.items()|tojson }}", kCtx).kind(), ErrorKind::Type);
}

// ------------------------------------------------------------ loops

TEST(JinjaLoop, LoopVariables) {
  EXPECT_EQ(render("{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                   "{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
                   kCtx),
            "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|");
  EXPECT_EQ(render("{% for x in l %}{{ loop.previtem }}<{{ loop.nextitem }}>{{ loop.cycle('a', 'b') }};{% endfor %}",
                   kCtx),
            "<1>a;3<2>b;1<>a;");
  EXPECT_EQ(render("{% for x in l if x > 1 %}{{ x }}{{ loop.index }}{{ loop.last }};{% else %}none{% endfor %}", kCtx),
            "31False;22True;");
  EXPECT_EQ(render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}", kCtx),
            "b=2;a=1;ba");
  EXPECT_EQ(render("{% for a, (b, c) in [(1, (2, 3))] %}{{ a }}{{ b }}{{ c }}{% endfor %}"), "123");
  EXPECT_EQ(render("{% for x in [1,2,3,4,5] %}{% if x == 2 %}{% continue %}{% endif %}"
                   "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "13");
  EXPECT_EQ(render("{% for x in [[1, [2]], [3]] recursive %}<{% if x is iterable %}{{ loop(x) }}"
                   "{% else %}{{ x }}@{{ loop.depth }}{% endif %}>{% endfor %}"),
            "<<1@2><<2@3>>><<3@2>>");
}

TEST(JinjaLoop, FilterIsLazyAsInJinja2) {
  // loop.last peeks one item ahead, so the filter sees the namespace before
  // the body updates it (Jinja2 behaves the same way).
  EXPECT_EQ(render("{% set ns = namespace(done=false) %}{% for m in [1,2,3] if not ns.done %}{{ m }}"
                   "{% set ns.done = true %}{% endfor %}"),
            "1");
  EXPECT_EQ(render("{% set ns = namespace(done=false) %}{% for m in [1,2,3] if not ns.done %}{{ m }}{{ loop.last }}"
                   "{% set ns.done = true %}{% endfor %}"),
            "1False2True");
}

// ------------------------------------------------------------ scoping

TEST(JinjaScope, SetInsideLoopsAndBlocksDoesNotLeak) {
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }};{% endfor %}{{ x }}"),
            "111;111;1");
  EXPECT_EQ(render("{% if true %}{% set z = 3 %}{% endif %}{{ z }}"), "3");
  EXPECT_EQ(render("{% for i in [1] %}{% set z = 3 %}{% endfor %}[{{ z }}]"), "[]");
  EXPECT_EQ(render("{% set y %}{% set z = 1 %}{% endset %}{% filter upper %}{% set w = 1 %}{% endfilter %}[{{ z }}{{ w }}]"),
            "[]");
  EXPECT_EQ(render("{% with a = 1 %}{{ a }}{% endwith %}[{{ a }}]"), "1[]");
}

TEST(JinjaScope, NamespaceCarriesStateOutOfLoops) {
  EXPECT_EQ(render("{% set ns = namespace(a=1, items=[]) %}{% for x in l %}{% set ns.a = ns.a + x %}"
                   "{% set ns.items = ns.items + [x] %}{% endfor %}{{ ns.a }} {{ ns.items }} {{ ns['a'] }}",
                   kCtx),
            "7 [3, 1, 2] 7");
  EXPECT_EQ(render_error("{% set d = {} %}{% set d.x = 1 %}").message(),
            "cannot assign attribute on non-namespace object");
}

TEST(JinjaScope, MacrosSeeTheirDefiningScopeAtCallTime) {
  EXPECT_EQ(render("{% macro m() %}{{ y }}{% endmacro %}{% set y = 1 %}{{ m() }}{% set y = 2 %}{{ m() }}"), "12");
  // A macro does not see the caller's loop variables.
  EXPECT_EQ(render("{% macro m() %}[{{ x }}]{% endmacro %}{% for x in [1] %}{{ m() }}{% endfor %}"), "[]");
}

// ------------------------------------------------------------ macros

TEST(JinjaMacro, ArgumentsDefaultsVarargsKwargsCaller) {
  EXPECT_EQ(render("{% macro m(a, b=2, c=a) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, 3) }}|"
                   "{{ m(1, c=5) }}|{{ m(a=7) }}|{{ m() }}"),
            "121|131|125|727|2");
  EXPECT_EQ(render("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, x=4) }}"),
            "1(2, 3){'x': 4}");
  EXPECT_EQ(render("{% macro m(a) %}[{{ caller(a) }}]{% endmacro %}{% call(x) m(5) %}in{{ x }}{% endcall %}"),
            "[in5]");
  EXPECT_EQ(render("{% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(3) }}"), "321");
  EXPECT_EQ(render_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}").message(),
            "macro 'm' takes not more than 1 argument(s)");
  EXPECT_EQ(render_error("{% macro m(a) %}{% endmacro %}{{ m(b=1) }}").message(),
            "macro 'm' takes no keyword argument 'b'");
}

TEST(JinjaBlocks, FilterSetBlockAndGeneration) {
  EXPECT_EQ(render("{% filter upper %}hi {{ 'x' }}{% endfilter %}{% filter trim|lower %}  AB  {% endfilter %}"),
            "HI Xab");
  EXPECT_EQ(render("{% set x %}  v{{ 1 }} {% endset %}[{{ x }}]{% set y | trim %}  z  {% endset %}[{{ y }}]"),
            "[  v1 ][z]");
  EXPECT_EQ(render("{% generation %}{% set g = 1 %}gen{{ g }}{% endgeneration %}[{{ g }}]"), "gen1[]");
}

// ------------------------------------------------------------ expressions

TEST(JinjaExpr, OperatorsAndPrecedence) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ 2 ** 3 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7.5 // 2 }}"),
            "7 64 3 -4 2 3.0");
  EXPECT_EQ(render("{{ 'ab' * 2 }} {{ [1] * 2 }} {{ 'a' ~ 1 ~ none }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}"),
            "abab [1, 1] a1None True False");
  EXPECT_EQ(render("{{ 1 and 2 }} {{ 0 and 2 }} {{ 0 or 'x' }} {{ none or [] }} {{ not 0 }}"), "2 0 x [] True");
  EXPECT_EQ(render("{{ 'a' in 'abc' }} {{ 'z' not in 'abc' }} {{ 'a' in d }} {{ [1, 2] == [1, 2] }} "
                   "{{ (1, 2) == [1, 2] }} {{ 1 == 1.0 }} {{ true == 1 }}",
                   kCtx),
            "True True True True False True True");
  EXPECT_EQ(render("{{ 'x' if true }}|{{ 'x' if false }}|{{ 'a' if false else 'b' if false else 'c' }}"), "x||c");
  // Filters bind tighter than operators; `not` wraps a whole test.
  EXPECT_EQ(render("{{ 'a' ~ 'b'|upper }} {{ not n is none }} {{ -2|abs }}", kCtx), "aB False 2");
  EXPECT_EQ(render("{{ 'a' 'b' }} {{ \"\\u00e9\\x41\\101\" }}"), "ab éAA");
}

TEST(JinjaExpr, CodePointStringsAndSlicing) {
  EXPECT_EQ(render("{{ u|length }} {{ u[1] }} {{ u[-1] }} {{ u[1:4] }} {{ u[::-1] }}", kCtx),
            "10 é 😀 éll 😀 文中 olléh");
  EXPECT_EQ(render("{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[5:] }} {{ 'hello'[-100:100] }} {{ 'hello'[::-2] }}",
                   kCtx),
            "[1, 2] [3, 1] [2, 1, 3] [] hello olh");
  EXPECT_EQ(render("{{ messages[1:]|map(attribute='role')|join(',') }} {{ messages[-1].role }}", kCtx),
            "user,assistant assistant");
}

TEST(JinjaExpr, StringMethods) {
  EXPECT_EQ(render("{{ '  a  b  '.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} "
                   "{{ '  a b  c  '.split(none, 1) }} {{ 'a-b-c'.rsplit('-', 1) }}"),
            "['a', 'b'] ['a', 'b', '', 'c'] ['a', 'b c'] ['a', 'b  c  '] ['a-b', 'c']");
  EXPECT_EQ(render("{{ 'xxhixx'.strip('x') }}|{{ '  hi  '.lstrip() }}|{{ '  hi  '.rstrip() }}|"
                   "{{ '\\n\\nx\\n'.strip('\\n') }}"),
            "hi|hi  |  hi|x");
  EXPECT_EQ(render("{{ s.startswith('Hel') }} {{ s.endswith(('x', 'ld')) }} {{ s.find('o') }} {{ s.rfind('o') }} "
                   "{{ s.count('l') }} {{ s.replace('l', 'L', 2) }} {{ 'abc'.replace('', '-') }}",
                   kCtx),
            "True True 4 7 3 HeLLo World -a-b-c-");
  EXPECT_EQ(render("{{ s.upper() }} {{ \"they're\".title() }} {{ 'hello-world x_y'|title }} {{ 'aBC'|capitalize }}",
                   kCtx),
            "HELLO WORLD They'Re Hello-World X_y Abc");
  EXPECT_EQ(render("{{ '{} and {}'.format(1, 'x') }} {{ '{name}!'.format(name='Bob') }} "
                   "{{ '{:>5}|{:.2f}|{:05d}'.format('a', 3.14159, 42) }}"),
            "1 and x Bob!     a|3.14|00042");
  EXPECT_EQ(render("{{ '%s|%d|%5.2f|%-4s|%r|%05d' % ('a', 3.9, 2.345, 'b', 'c', -42) }}"), "a|3| 2.35|b   |'c'|-0042");
}

TEST(JinjaExpr, AttributeAndItemLookup) {
  // x.y falls back to x['y'] and x['y'] to x.y; methods win for attributes.
  EXPECT_EQ(render("{{ messages[0].role }} {{ messages.0['role'] }} {{ d.get('a') }} {{ d['get'] is defined }}", kCtx),
            "system system 1 True");
  EXPECT_EQ(render("{{ d.missing }}|{{ d.missing is defined }}|{{ l[10] }}|{{ 'ab'[5] }}|", kCtx), "|False|||");
}

// ------------------------------------------------------------ tests and filters

TEST(JinjaTests, IsTests) {
  EXPECT_EQ(render("{{ n is none }} {{ x is defined }} {{ x is undefined }} {{ s is string }} {{ l is sequence }} "
                   "{{ d is mapping }} {{ d is sequence }} {{ 3 is number }} {{ true is number }} {{ true is integer }} "
                   "{{ 3.0 is float }} {{ true is boolean }} {{ 4 is even }} {{ 9 is divisibleby 3 }} "
                   "{{ 3 is equalto 3 }} {{ n is sameas none }} {{ 2 is in l }} {{ s is not string }}",
                   kCtx),
            "True False True True True True True True True False True True True True True True True False");
  EXPECT_EQ(render("{{ l|select('odd')|list }} {{ l|reject('odd')|list }} {{ l|select('>', 1)|list }}", kCtx),
            "[3, 1] [2] [3, 2]");
}

TEST(JinjaFilters, CommonFilters) {
  EXPECT_EQ(render("{{ l|first }} {{ l|last }} {{ l|join(',') }} {{ l|sort }} {{ l|sort(reverse=true) }} "
                   "{{ l|reverse|list }} {{ l|sum }} {{ l|min }} {{ l|max }} {{ l|length }} {{ [1, 1, 2]|unique|list }}",
                   kCtx),
            "3 2 3,1,2 [1, 2, 3] [3, 2, 1] [2, 1, 3] 6 1 3 3 [1, 2]");
  EXPECT_EQ(render("{{ messages|map(attribute='role')|join(',') }} "
                   "{{ messages|selectattr('role', 'equalto', 'user')|list|length }} "
                   "{{ messages|rejectattr('tool_calls', 'defined')|map(attribute='role')|list }} "
                   "{{ ['a', 'B']|map('upper')|list }} {{ messages|map(attribute='zz', default='D')|first }}",
                   kCtx),
            "system,user,assistant 1 ['system', 'user'] ['A', 'B'] D");
  EXPECT_EQ(render("{{ x|default('dflt') }}|{{ e|default('dflt') }}|{{ e|default('dflt', true) }}|{{ n|d('x') }}", kCtx),
            "dflt||dflt|None");
  EXPECT_EQ(render("{{ '  x  '|trim }}|{{ 3.7|int }}|{{ '42'|int }}|{{ '3.9'|int }}|{{ 'abc'|int }}|{{ '3.5'|float }}"),
            "x|3|42|3|0|3.5");
  EXPECT_EQ(render("{{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 2.5|round(0, 'floor') }} {{ 7|round }}"),
            "2.0 4.0 2.67 2.0 7");
  EXPECT_EQ(render("{{ 'a\\nb\\n'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2) }}"),
            "a\n  b\n|  a\n  b|a\n\n  b");
  EXPECT_EQ(render("{{ d|dictsort }} {{ {'b': 'X', 'a': 'y'}|dictsort(by='value') }} {{ d|items|list }}", kCtx),
            "[('a', 1), ('b', 2)] [('b', 'X'), ('a', 'y')] [('b', 2), ('a', 1)]");
  EXPECT_EQ(render("{{ s|wordcount }} {{ 'foo bar baz qux'|truncate(9) }} {{ [1, 2, 3]|batch(2)|list }}", kCtx),
            "2 foo... [[1, 2], [3]]");
}

TEST(JinjaFilters, GeneratorsAreLazyAndSingleUse) {
  EXPECT_EQ(render("{% set g = l|select('odd') %}{{ g|list }}{{ g|list }}", kCtx), "[3, 1][]");
  EXPECT_EQ(render("{% if l|select('>', 100) %}truthy{% endif %}", kCtx), "truthy");  // a generator is truthy
  EXPECT_EQ(render_error("{{ l|select('odd')|length }}", kCtx).message(), "object of type 'generator' has no len()");
}

TEST(JinjaMarkup, SafeStringsEscapeTheirPartner) {
  // markupsafe: Markup + str escapes the str; ~ joins plainly.
  EXPECT_EQ(render("{{ 'x'|safe + '<y>' }} {{ '<y>' + 'x'|safe }} {{ '<y>' ~ 'x'|safe }} {{ '<a>'|e }}"),
            "x&lt;y&gt; &lt;y&gt;x <y>x &lt;a&gt;");
}

TEST(JinjaGlobals, RangeDictNamespaceStrftime) {
  EXPECT_EQ(render("{{ range(3)|list }} {{ range(1, 10, 3)|list }} {{ range(5, 0, -2)|list }} {{ range(2) }}"),
            "[0, 1, 2] [1, 4, 7] [5, 3, 1] range(0, 2)");
  EXPECT_EQ(render("{{ dict(a=1) }} {{ namespace(a=1).a }}"), "{'a': 1} 1");
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j') }}"),
            "15 Jan 2026|2026-01-15 00:00:00 Thursday January 015");
  EXPECT_NE(ChatTemplate::parse("{{ strftime_now('%Y') }}").render(json::object()), "");  // real clock by default
}

// ------------------------------------------------------------ undefined and errors

TEST(JinjaUndefined, LenientLikeJinja2) {
  EXPECT_EQ(render("[{{ x }}]{{ x|length }}{{ x|list }}{{ x is defined }}{% for i in x %}i{% endfor %}"
                   "{{ 'a' ~ x ~ 'b' }}{{ x == y }}{{ not x }}{{ 'a' in x }}"),
            "[]0[]FalseabTrueTrueFalse");
  EXPECT_EQ(render_error("{{ x.attr }}").message(), "'x' is undefined");
  EXPECT_EQ(render_error("{{ d.missing.deeper }}", kCtx).message(), "'dict object' has no attribute 'missing'");
  EXPECT_EQ(render_error("{{ x + 1 }}").kind(), ErrorKind::Undefined);
  EXPECT_EQ(render_error("{{ x() }}").kind(), ErrorKind::Undefined);
}

TEST(JinjaErrors, PythonTypeErrors) {
  EXPECT_EQ(render_error("{{ 'a' + d }}", kCtx).message(), "can only concatenate str (not \"dict\") to str");
  EXPECT_EQ(render_error("{% for x in n %}{% endfor %}", kCtx).message(), "'NoneType' object is not iterable");
  EXPECT_EQ(render_error("{{ n|length }}", kCtx).message(), "object of type 'NoneType' has no len()");
  EXPECT_EQ(render_error("{{ 'a' < 1 }}").message(), "'<' not supported between instances of 'str' and 'int'");
  EXPECT_EQ(render_error("{{ 1 / 0 }}").message(), "division by zero");
  EXPECT_EQ(render_error("{% set a, b = [1, 2, 3] %}").message(), "too many values to unpack (expected 2)");
}

TEST(JinjaErrors, SandboxRefusesMutationAndInternals) {
  const TemplateError e = render_error("{% set _ = l.append(4) %}", kCtx);
  EXPECT_EQ(e.kind(), ErrorKind::Security);
  EXPECT_EQ(e.message(), "access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_EQ(render_error("{{ d.update({'x': 1}) }}", kCtx).kind(), ErrorKind::Security);
  EXPECT_EQ(render_error("{{ s.__class__() }}", kCtx).kind(), ErrorKind::Security);
  EXPECT_EQ(render("[{{ l.append }}]", kCtx), "[]");  // only using it fails
}

TEST(JinjaErrors, RaiseExceptionAndLineNumbers) {
  TemplateError e = render_error("line1\n{% if true %}\n  {{ raise_exception('Roles must alternate!') }}\n{% endif %}");
  EXPECT_EQ(e.kind(), ErrorKind::Raised);
  EXPECT_EQ(e.message(), "Roles must alternate!");
  EXPECT_EQ(e.line(), 3);
  EXPECT_STREQ(e.what(), "line 3: Roles must alternate!");

  e = render_error("a\nb\n{{ 1 + 'x' }}");
  EXPECT_EQ(e.line(), 3);
  EXPECT_EQ(e.kind(), ErrorKind::Type);
}

TEST(JinjaErrors, SyntaxErrorsAtParseTime) {
  auto syntax_line = [](const std::string& src) {
    try {
      ChatTemplate::parse(src);
    } catch (const TemplateError& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Syntax) << src;
      return e.line();
    }
    ADD_FAILURE() << "parsed: " << src;
    return -1;
  };
  EXPECT_EQ(syntax_line("ok\n{% if x %}{% endfor %}"), 2);
  EXPECT_EQ(syntax_line("{% for %}"), 1);
  EXPECT_EQ(syntax_line("a\n\n{{ 1 + }}"), 3);
  EXPECT_EQ(syntax_line("{% if true %}\nunclosed"), 2);
  EXPECT_EQ(syntax_line("{{ 'unterminated }}"), 1);
  EXPECT_EQ(syntax_line("{% do x %}"), 1);
  EXPECT_EQ(syntax_line("{% break %}"), 1);
  EXPECT_EQ(syntax_line("{{ x|no_such_filter }}"), 1);
  // ... but an unknown filter inside {% if %} fails only when reached, as in Jinja2.
  EXPECT_EQ(render("{% if false %}{{ x|from_json }}{% endif %}ok"), "ok");
  EXPECT_EQ(render_error("{% if true %}{{ x|from_json }}{% endif %}").message(), "No filter named 'from_json' found.");
}

// ------------------------------------------------------------ limits

TEST(JinjaLimits, HostileTemplatesFailCleanly) {
  RenderOptions small = test_options();
  small.max_output_bytes = 1000;
  EXPECT_EQ(render_error("{% for i in range(2000) %}x{% endfor %}", {}, small).kind(), ErrorKind::Limit);
  EXPECT_EQ(render_error("{{ 'x' * 5000 }}", {}, small).kind(), ErrorKind::Limit);
  EXPECT_EQ(render_error("{{ 'x' * 100000000000 }}").kind(), ErrorKind::Limit);
  EXPECT_EQ(render_error("{{ ('x' * 1000000).replace('x', 'yyyyyyyyyyyyyyy') }}").kind(), ErrorKind::Limit);

  RenderOptions few = test_options();
  few.max_loop_iterations = 1000;
  EXPECT_EQ(render_error("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", {}, few).kind(),
            ErrorKind::Limit);

  // Unbounded and exponential recursion.
  EXPECT_EQ(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").kind(), ErrorKind::Limit);
  EXPECT_EQ(render_error("{% macro f(n) %}{{ f(n + 1) }}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").kind(),
            ErrorKind::Limit);
  // Quadratic growth through a namespace is bounded by the step budget.
  RenderOptions steps = test_options();
  steps.max_steps = 100000;
  EXPECT_EQ(render_error("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}{% set ns.l = ns.l + [i] %}"
                         "{% endfor %}",
                         {}, steps)
                .kind(),
            ErrorKind::Limit);
  EXPECT_EQ(render_error("{{ range(1000000)|list }}").kind(), ErrorKind::Value);  // the sandbox's MAX_RANGE
  // Deeply nested data built in a loop.
  EXPECT_EQ(render_error("{% set ns = namespace(v=[]) %}{% for i in range(5000) %}{% set ns.v = [ns.v] %}"
                         "{% endfor %}{{ ns.v|tojson }}")
                .kind(),
            ErrorKind::Limit);
}

TEST(JinjaLimits, NativeStackGuardStopsRecursionFirst) {
  // With the call-depth limit lifted, the native-stack guard still ends
  // unbounded recursion with an error rather than a stack overflow.
  RenderOptions o = test_options();
  o.max_call_depth = 1000000;
  o.max_steps = uint64_t{1} << 40;
  const TemplateError e = render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", {}, o);
  EXPECT_EQ(e.kind(), ErrorKind::Limit);
  EXPECT_NE(e.message().find("stack"), std::string::npos) << e.message();
}

TEST(JinjaLimits, DeepNestingInTheSourceIsASyntaxError) {
  const std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_THROW(ChatTemplate::parse("{{ " + parens + " }}"), TemplateError);
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_THROW(ChatTemplate::parse(chain + " }}"), TemplateError);
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{% if true %}";
  EXPECT_THROW(ChatTemplate::parse(ifs), TemplateError);
}

TEST(JinjaApi, RenderChatBuildsTheTransformersContext) {
  const ChatTemplate t = ChatTemplate::parse(
      "{{ bos_token }}{{ tools }}|{{ documents }}|{{ add_generation_prompt }}|{{ messages|length }}|"
      "{{ enable_thinking is defined }}{{ eos_token }}");
  EXPECT_EQ(render_chat(t, json::array({{{"role", "user"}, {"content", "x"}}}), nullptr, true, "<s>", "</s>"),
            "<s>None|None|True|1|False</s>");
  EXPECT_EQ(render_chat(t, json::array(), json::array({1}), false, "", "", json{{"enable_thinking", false}}),
            "[1]|None|False|0|True");
  EXPECT_THROW(t.render(json::array()), TemplateError);
}

}  // namespace
}  // namespace hearth::chat
