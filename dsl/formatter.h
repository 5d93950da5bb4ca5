#pragma once

#include <string>

#include "dsl/ast.h"
#include "dsl/source.h"

namespace creditd::dsl {

// Prints `file` in canonical form: two-space indentation, one declaration,
// row or effect per line, aligned rows and table columns, canonical spacing
// around operators, blank lines between declarations of different kinds and
// around multi-line ones (and where the source had one). Every comment is
// kept, before the line it preceded or at the end of the line it ended.
// Formatting is idempotent, and parsing the result gives the same AST
// (ast::Dump) as parsing `source`.
std::string Format(const ast::File& file, const SourceFile& source);

// Prints one expression canonically, with the parentheses precedence needs
// and those the author wrote.
std::string FormatExpr(const ast::Expr& expr);

// Prints a row test canonically: "any", "<= 60%", "[1, 2]", "{A, B}", "0".
std::string FormatTest(const ast::Test& test);

// A written type as the formatter prints it: "money(0)", "set of Action", "money?".
std::string FormatType(const ast::TypeRef& type);

}  // namespace creditd::dsl
