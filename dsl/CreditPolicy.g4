// The creditd policy language. docs/language.md is the reference.
//
// The grammar is written for SLL prediction: every declaration, effect and
// row starts with its own token, expressions are layered by precedence
// (no left recursion), and rows of bands, bins and tables start with '|', so
// the parser never has to look far ahead to decide what comes next.
grammar CreditPolicy;

file
    : header importDecl* declaration* EOF
    ;

// `policy credit_application` or `library common`, then the header fields:
// version, effective, edition, owner, description (names checked by the
// checker).
header
    : kind=(POLICY | LIBRARY) name=IDENT headerField*
    ;

headerField
    : key=IDENT value=headerValue
    ;

headerValue
    : VERSION_LIT
    | DATE_LIT
    | INT_LIT
    | STRING+
    ;

importDecl
    : IMPORT path=STRING
    ;

declaration
    : enumDecl
    | reasonDecl
    | inputDecl
    | outputDecl
    | outcomeDecl
    | letDecl
    | scorecardDecl
    | bandDecl
    | tableDecl
    | ruleDecl
    ;

// enum Grade { A, B, C, D }  -- ordered, lowest first
enumDecl
    : ENUM name=IDENT '{' IDENT (',' IDENT)* ','? '}'
    ;

// reason GRADE_D "Grade D: no credit is extended"
reasonDecl
    : REASON code=IDENT message=STRING
    ;

// input debt_ratio: percent in [0%, 200%]
// input has_collateral: bool = false
inputDecl
    : INPUT name=IDENT ':' typeRef constraint? ('=' defaultValue=expr)?
    ;

constraint
    : IN interval
    | op=('<' | '<=' | '>' | '>=') bound=additive
    ;

// output credit_limit: money = 0
// output new_limit: money = current_limit priority lowest
outputDecl
    : OUTPUT name=IDENT ':' typeRef ('=' value=expr)? (PRIORITY order=IDENT)?
    ;

// outcome Outcome = approve
outcomeDecl
    : OUTCOME scale=IDENT ('=' initial=IDENT)?
    ;

// let exposure = open_receivables + open_orders + order_amount
letDecl
    : LET name=IDENT (':' typeRef)? '=' value=expr
    ;

// `money`, `set of Requirement`; an input's money may declare its decimal
// places: `money(0)`, `money(3)` (from edition 2 an output's too; the
// checker allows it nowhere else). From edition 2 an input may be optional:
// `money?`.
typeRef
    : SET OF element=IDENT optional='?'?
    | name=IDENT ('(' places=INT_LIT ')')? optional='?'?
    ;

// scorecard credit_score
//   group financial weight 40%
//     factor debt_ratio reason HIGH_LEVERAGE
//       | <= 60% => 40
//     factor current_ratio reason LOW_LIQUIDITY when < 22
scorecardDecl
    : SCORECARD name=IDENT scoreGroup+
    ;

scoreGroup
    : GROUP name=IDENT WEIGHT weight=expr factor+
    ;

// A factor's reason is given when its points are below a threshold: the
// best bin's points unless `when < N` (or `<= N`) says otherwise.
factor
    : FACTOR subject=IDENT (REASON code=IDENT (WHEN op=('<' | '<=') threshold=additive)?)? row+
    ;

// band grade on credit_score.total
//   | >= 80 => A
bandDecl
    : BAND name=IDENT (':' typeRef)? ON subject=expr row+
    ;

// One row of a band or a scorecard factor: a test on the subject, a value.
row
    : '|' test '=>' value=expr
    ;

// table base_terms hit first
//   | grade | segment   => base_limit: money, payment_terms_days: int
//   | A     | strategic => 5_000_000, 90
tableDecl
    : TABLE name=IDENT (HIT policy=(IDENT | PRIORITY) aggregate=IDENT?)? tableHeader tableRow+
    ;

tableHeader
    : '|' expr ('|' expr)* '=>' tableColumn (',' tableColumn)*
    ;

tableColumn
    : name=IDENT ':' typeRef
    ;

tableRow
    : '|' test ('|' test)* '=>' expr (',' expr)*
    ;

// A test applied to a value: `any`, a comparison, an interval, a set, or a
// value it must equal.
test
    : ANY                                           # anyTest
    | op=('<' | '<=' | '>' | '>=' | '=' | '!=') additive  # compareTest
    | interval                                      # intervalTest
    | setLiteral                                    # setTest
    | additive                                      # equalTest
    ;

// rule new_customer_collateral
//   when segment = new and requested_limit > 500_000
//   then add collateral to requirements
//        raise approval_level to credit_manager
ruleDecl
    : RULE id=IDENT (PRIORITY priority=INT_LIT)? WHEN condition=expr THEN effect+
    ;

effect
    : outcome=IDENT code=IDENT?            # outcomeEffect
    | REASON code=IDENT                    # reasonEffect
    | SET target=IDENT '=' value=expr      # setEffect
    | CAP target=IDENT AT value=expr       # capEffect
    | RAISE target=IDENT TO value=expr     # raiseEffect
    | ADD value=expr TO target=IDENT       # addEffect
    ;

// Expressions, loosest binding first.
expr
    : orExpr
    ;

orExpr
    : andExpr (OR andExpr)*
    ;

andExpr
    : notExpr (AND notExpr)*
    ;

notExpr
    : NOT notExpr
    | comparison
    ;

comparison
    : additive (op=('<' | '<=' | '>' | '>=' | '=' | '!=') additive
               | NOT? IN (interval | setLiteral))?
    ;

additive
    : multiplicative (op+=('+' | '-') multiplicative)*
    ;

multiplicative
    : unary (op+=('*' | '/') unary)*
    ;

unary
    : '-' unary
    | postfix
    ;

postfix
    : primary ('.' IDENT)*
    ;

primary
    : literal                                        # literalExpr
    | fn=IDENT '(' (expr (',' expr)*)? ')'           # callExpr
    | IDENT                                          # nameExpr
    | '(' expr ')'                                   # parenExpr
    | IF cond=expr THEN then=expr ELSE otherwise=expr  # ifExpr
    | setLiteral                                     # setExpr
    ;

literal
    : INT_LIT
    | DECIMAL_LIT
    | PERCENT_LIT
    | DATE_LIT
    | TRUE
    | FALSE
    ;

// [a, b]  [a, b)  (a, b]  (a, b)
interval
    : lo=('[' | '(') low=additive ',' high=additive hi=(']' | ')')
    ;

setLiteral
    : '{' (expr (',' expr)*)? '}'
    ;

// Keywords. Header field names, type names, function names and hit policies
// are plain identifiers, checked by the checker, so they stay usable as names.
ADD : 'add' ;
AND : 'and' ;
ANY : 'any' ;
AT : 'at' ;
BAND : 'band' ;
CAP : 'cap' ;
ELSE : 'else' ;
ENUM : 'enum' ;
FACTOR : 'factor' ;
FALSE : 'false' ;
GROUP : 'group' ;
HIT : 'hit' ;
IF : 'if' ;
IMPORT : 'import' ;
IN : 'in' ;
INPUT : 'input' ;
LET : 'let' ;
LIBRARY : 'library' ;
NOT : 'not' ;
OF : 'of' ;
ON : 'on' ;
OR : 'or' ;
OUTCOME : 'outcome' ;
OUTPUT : 'output' ;
POLICY : 'policy' ;
PRIORITY : 'priority' ;
RAISE : 'raise' ;
REASON : 'reason' ;
RULE : 'rule' ;
SCORECARD : 'scorecard' ;
SET : 'set' ;
TABLE : 'table' ;
THEN : 'then' ;
TO : 'to' ;
TRUE : 'true' ;
WEIGHT : 'weight' ;
WHEN : 'when' ;

VERSION_LIT : DIGITS '.' DIGITS '.' DIGITS ('-' [0-9A-Za-z.-]+)? ;
DATE_LIT : [0-9] [0-9] [0-9] [0-9] '-' [0-9] [0-9] '-' [0-9] [0-9] ;
PERCENT_LIT : DIGITS ('.' DIGITS)? '%' ;
DECIMAL_LIT : DIGITS '.' DIGITS ;
INT_LIT : DIGITS ;
IDENT : [A-Za-z_] [A-Za-z0-9_]* ;
STRING : '"' (~["\\\r\n] | '\\' ["\\nt])* '"' ;

LBRACE : '{' ;
RBRACE : '}' ;
LBRACK : '[' ;
RBRACK : ']' ;
LPAREN : '(' ;
RPAREN : ')' ;
COMMA : ',' ;
COLON : ':' ;
DOT : '.' ;
BAR : '|' ;
ARROW : '=>' ;
LE : '<=' ;
GE : '>=' ;
NE : '!=' ;
LT : '<' ;
GT : '>' ;
EQ : '=' ;
PLUS : '+' ;
MINUS : '-' ;
STAR : '*' ;
SLASH : '/' ;
QUESTION : '?' ;

COMMENT : '#' ~[\r\n]* -> channel(2) ;
WS : [ \t\r\n]+ -> skip ;

// Anything else is one bad character; the parser reports it as a syntax error.
BAD_CHAR : . ;

fragment DIGITS : [0-9] ('_'? [0-9])* ;
