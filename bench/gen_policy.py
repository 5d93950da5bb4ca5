#!/usr/bin/env python3
"""Generates a synthetic credit policy for benchmarks, and optionally the same
policy as a hand-written C++ function (the practical floor for the engine).

    gen_policy.py --rules 300 --out bench_300.credit [--cpp native.cc]

The policy has 40 inputs (money, int, percent, enum, bool) and N rules, each
a conjunction of two or three comparisons; effects refer or decline with a
reason, cap a limit, raise an approval level or add an action. The same seed
always gives the same policy.
"""
import argparse
import random

ENUMS = {
    "Segment": ["new", "existing", "strategic"],
    "Region": ["north", "south", "east", "west"],
    "Industry": ["low", "medium", "high"],
    "Channel": ["direct", "partner", "online"],
    "Tier": ["bronze", "silver", "gold", "platinum"],
}


def inputs():
    out = []
    for i in range(10):
        out.append((f"amount_{i}", "money", (0, 10_000_000)))
    for i in range(10):
        out.append((f"count_{i}", "int", (0, 1000)))
    for i in range(10):
        out.append((f"ratio_{i}", "percent", (0, 200)))
    for name in ENUMS:
        out.append((name.lower(), name, None))
    for i in range(5):
        out.append((f"flag_{i}", "bool", None))
    return out


def condition(rng, ins):
    parts = []
    for _ in range(rng.choice([2, 2, 3])):
        name, kind, rng_ = rng.choice(ins)
        if kind == "money":
            parts.append(("cmp", name, kind, rng.choice([">", ">=", "<", "<="]),
                          rng.randrange(0, 10_000_000, 50_000)))
        elif kind == "int":
            parts.append(("cmp", name, kind, rng.choice([">", ">=", "<", "<="]), rng.randrange(0, 1000)))
        elif kind == "percent":
            parts.append(("cmp", name, kind, rng.choice([">", "<="]), rng.randrange(0, 200)))
        elif kind == "bool":
            parts.append(("bool", name, kind, rng.choice([True, False]), None))
        else:
            symbols = ENUMS[kind]
            chosen = sorted(rng.sample(range(len(symbols)), rng.randint(1, len(symbols) - 1)))
            parts.append(("in", name, kind, chosen, None))
    return parts


def effects(rng, i):
    kind = rng.random()
    out = []
    if kind < 0.15:
        out.append(("decline", i))
    elif kind < 0.55:
        out.append(("refer", i))
    else:
        out.append(("reason", i))
    if rng.random() < 0.5:
        out.append(("cap", rng.randrange(0, 5_000_000, 100_000)))
    if rng.random() < 0.4:
        out.append(("raise", rng.randrange(1, 3)))
    if rng.random() < 0.3:
        out.append(("add", rng.randrange(0, 8)))
    return out


def generate(n, seed):
    rng = random.Random(seed)
    ins = inputs()
    rules = [(condition(rng, ins), effects(rng, i)) for i in range(n)]
    return ins, rules


def policy_text(n, ins, rules):
    lines = [f"policy bench_{n}", "  version 1.0.0", "  effective 2026-01-01",
             '  owner "Benchmarks"', f'  description "Synthetic policy: {n} rules over 40 inputs."', ""]
    for name, symbols in ENUMS.items():
        lines.append(f"enum {name} {{ {', '.join(symbols)} }}")
    lines.append("enum Decision { approve, refer, decline }")
    lines.append("enum Approval { clerk, manager, director }")
    lines.append("enum Flag { f0, f1, f2, f3, f4, f5, f6, f7 }")
    lines.append("")
    for i in range(len(rules)):
        lines.append(f'reason R{i} "reason {i}"')
    lines.append("")
    for name, kind, bounds in ins:
        if bounds is None:
            lines.append(f"input {name}: {kind}")
        elif kind == "percent":
            lines.append(f"input {name}: {kind} in [{bounds[0]}%, {bounds[1]}%]")
        else:
            lines.append(f"input {name}: {kind} in [{bounds[0]}, {bounds[1]}]")
    lines += ["", "outcome Decision = approve", "",
              "output limit: money = amount_0", "output approval: Approval = clerk",
              "output flags: set of Flag = {}", ""]
    for i, (cond, effs) in enumerate(rules):
        lines.append(f"rule r{i}")
        lines.append("  when " + " and ".join(cond_text(p) for p in cond))
        first = True
        for e in effs:
            lines.append(("  then " if first else "       ") + effect_text(e))
            first = False
        lines.append("")
    return "\n".join(lines)


def cond_text(p):
    kind, name, typ, a, b = p
    if kind == "cmp":
        return f"{name} {a} {b}%" if typ == "percent" else f"{name} {a} {b}"
    if kind == "bool":
        return name if a else f"not {name}"
    return f"{name} in {{{', '.join(ENUMS[typ][k] for k in a)}}}"


def effect_text(e):
    if e[0] in ("decline", "refer"):
        return f"{e[0]} R{e[1]}"
    if e[0] == "reason":
        return f"reason R{e[1]}"
    if e[0] == "cap":
        return f"cap limit at {e[1]}"
    if e[0] == "raise":
        return f"raise approval to {['clerk', 'manager', 'director'][e[1]]}"
    return f"add f{e[1]} to flags"


def cpp_text(n, ins, rules):
    """The same policy as straight-line C++ over plain structs: the floor."""
    slots = {name: k for k, (name, _, _) in enumerate(ins)}
    out = ["// Generated by bench/gen_policy.py: the bench policy as hand-written C++.",
           "#include \"bench/native_policy.h\"", "", "namespace creditd::bench {", "",
           f"void NativePolicy{n}(const NativeFacts& f, NativeDecision& d) {{",
           "  d.outcome = 0;", "  d.limit = f.money[0];", "  d.approval = 0;", "  d.flags = 0;",
           "  d.reason_count = 0;"]
    for i, (cond, effs) in enumerate(rules):
        terms = []
        for kind, name, typ, a, b in cond:
            if kind == "cmp":
                if typ == "money":
                    terms.append(f"f.money[{int(name.split('_')[1])}] {a} {b * 100}")
                elif typ == "int":
                    terms.append(f"f.ints[{int(name.split('_')[1])}] {a} {b}")
                else:
                    terms.append(f"f.ratios[{int(name.split('_')[1])}] {a} {b * 100}")
            elif kind == "bool":
                terms.append(("" if a else "!") + f"f.flags[{int(name.split('_')[1])}]")
            else:
                idx = list(ENUMS).index(typ)
                mask = sum(1 << k for k in a)
                terms.append(f"((1u << f.enums[{idx}]) & {mask}u)")
        out.append(f"  if ({' && '.join(terms)}) {{")
        for e in effs:
            if e[0] == "decline":
                out.append("    d.outcome = 2;")
                out.append(f"    d.reasons[d.reason_count++] = {i};")
            elif e[0] == "refer":
                out.append("    if (d.outcome < 1) d.outcome = 1;")
                out.append(f"    d.reasons[d.reason_count++] = {i};")
            elif e[0] == "reason":
                out.append(f"    d.reasons[d.reason_count++] = {i};")
            elif e[0] == "cap":
                out.append(f"    if (d.limit > {e[1] * 100}) d.limit = {e[1] * 100};")
            elif e[0] == "raise":
                out.append(f"    if (d.approval < {e[1]}) d.approval = {e[1]};")
            else:
                out.append(f"    d.flags |= {1 << e[1]}u;")
        out.append("  }")
    out += ["}", "", "}  // namespace creditd::bench", ""]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cpp")
    args = parser.parse_args()
    ins, rules = generate(args.rules, args.seed)
    with open(args.out, "w") as f:
        f.write(policy_text(args.rules, ins, rules))
    if args.cpp:
        with open(args.cpp, "w") as f:
            f.write(cpp_text(args.rules, ins, rules))


if __name__ == "__main__":
    main()
