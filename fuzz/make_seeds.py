#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora under fuzz/corpus/<fuzzer>/.

  fuzz/make_seeds.py            (from anywhere; needs protoc on PATH)

request_fuzzer: each docs/examples/<decision>.json as a serialized
credit.v1.EvaluateRequest (types from the policy's input declarations), one
asking for a trace on a pinned version, and a few one-byte inputs that pick
each decision on the fuzzer's structured path. facts_json_fuzzer: the
examples and JSON at the edges of what the reader takes. policy_eval_fuzzer:
each reference policy followed by a NUL byte and bytes that choose facts.
facts_codec_fuzzer: canonical facts texts (docs/audit.md) with every kind and
every escape.
The output is deterministic, so rerunning it changes nothing.
"""
import json
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
DECISIONS = ["credit_application", "credit_review", "dunning", "order_release"]


def input_types(policy):
    """Input name -> declared type, from the policy and everything it imports."""
    types = {}
    pending = [ROOT / "policies" / f"{policy}.credit"]
    seen = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        text = path.read_text()
        for name, type_ in re.findall(r"^input (\w+): (\w+)", text, re.M):
            types[name] = type_
        for imported in re.findall(r'^import "([^"]+)"', text, re.M):
            pending.append((path.parent / imported).resolve())
    return types


def quote(text):
    return json.dumps(text)  # a JSON string is a valid protobuf text-format string here


def request_text(decision, facts, extra=""):
    types = input_types(decision)
    lines = [f"decision: {quote(decision)}", f'customer_id: "C-{len(facts):04d}"',
             f'request_id: "seed-{decision}"', extra]
    for name, value in facts.items():
        type_ = types.get(name, "")
        if isinstance(value, bool):
            field = f"bool_value: {'true' if value else 'false'}"
        elif type_ == "int":
            field = f"int_value: {int(value)}"
        elif type_ in ("money", "decimal", "percent"):
            field = f"decimal_value: {quote(str(value))}"
        elif type_ == "date":
            field = f"date_value: {quote(str(value))}"
        else:
            field = f"enum_value: {quote(str(value))}"
        lines.append(f"facts {{ key: {quote(name)} value {{ {field} }} }}")
    return "\n".join(line for line in lines if line) + "\n"


def encode(text):
    proto = ROOT / "proto"
    return subprocess.run(
        ["protoc", f"-I{proto}", "--encode=credit.v1.EvaluateRequest",
         str(proto / "credit" / "v1" / "creditd.proto")],
        input=text.encode(), capture_output=True, check=True).stdout


def write(folder, name, data):
    path = CORPUS / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def main():
    for decision in DECISIONS:
        facts = json.loads((ROOT / "docs" / "examples" / f"{decision}.json").read_text())
        write("request_fuzzer", f"{decision}.pb", encode(request_text(decision, facts)))
        write("facts_json_fuzzer", f"{decision}.json", json.dumps(facts, indent=2) + "\n")
    facts = json.loads((ROOT / "docs" / "examples" / "dunning.json").read_text())
    write("request_fuzzer", "dunning-explain-pinned.pb",
          encode(request_text("dunning", facts, 'policy_version: "1.0.0"\nexplain: true')))
    # The structured path reads its choices from the end of the input: one
    # byte picks the decision.
    for k in range(1, 4):
        write("request_fuzzer", f"structured-{k}", bytes([k]))

    edges = {
        "nulls.json": '{"segment": null, "requested_limit": null}',
        "nested.json": '{"segment": ["new"], "grade": {"a": [1, {"b": null}]}}',
        "numbers.json": '{"requested_limit": 1e5, "debt_ratio": -0.0, "years_in_business": '
                        '99999999999999999999999999999999999999, "net_margin": 1E-400}',
        "strings.json": '{"segment": "new\\u0000", "grade": "\\ud800", "warning": "\\"none\\""}',
        "duplicate.json": '{"days_past_due": 1, "days_past_due": 2}',
        "not-an-object.json": '["days_past_due", 47]',
    }
    for name, text in edges.items():
        write("facts_json_fuzzer", name, text + "\n")

    # With no choice bytes every input takes the low end of its range; with
    # 2s, a point inside it.
    for decision in DECISIONS:
        text = (ROOT / "policies" / f"{decision}.credit").read_bytes()
        write("policy_eval_fuzzer", f"{decision}.credit", text + b"\0")
        write("policy_eval_fuzzer", f"{decision}-inside.credit", text + b"\0" + bytes([2] * 64))
    demo = (CORPUS / "parse_fuzzer" / "demo.credit").read_bytes()
    write("policy_eval_fuzzer", "demo.credit", demo + b"\0" + bytes([2] * 64))

    canonical = {
        "documented.json": '{"amount":{"decimal":"1250000.00"},"blocked":{"bool":"false"},'
                           '"days":{"int":"47"},"due":{"date":"2026-11-22"},'
                           '"segment":{"symbol":"new"}}',
        "empty.json": "{}",
        "escapes.json": '{"a\\u0000b":{"symbol":"say \\"hi\\" C:\\\\ \\u000a \\u007f caf\u00e9 '
                        '\\udcff"},"a\\u0000b":{"symbol":"x"}}',
        "ints.json": '{"n":{"int":"-9223372036854775808"},"n":{"int":"9223372036854775807"}}',
    }
    for name, text in canonical.items():
        write("facts_codec_fuzzer", name, text.encode())


if __name__ == "__main__":
    main()
