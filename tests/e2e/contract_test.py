#!/usr/bin/env python3
"""End-to-end: a decision's contract for client teams. DescribeDecision
says which facts each reference decision takes, in which FactValue field,
with which ranges and defaults; a client builds its requests from that
alone. `creditctl schema` gives JSON Schemas that accept exactly the facts
and answers creditd and creditctl accept and give.

    contract_test.py CREDITD_BINARY CREDITCTL_BINARY SOURCE_DIR
"""
import datetime
import decimal
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import server_test as base  # noqa: E402  (compiles the stubs, reads argv)

import grpc  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402

pb = base.pb
CREDITCTL = base.CREDITCTL
SOURCE = base.SOURCE
POLICIES = os.path.join(SOURCE, "policies")
DECISIONS = ["credit_application", "credit_review", "dunning", "order_release"]


def schema(decision, of="facts"):
    return schema_of(POLICIES, decision, of)


def schema_of(directory, decision, of="facts"):
    run = subprocess.run([CREDITCTL, "schema", directory, "-d", decision, "--of", of],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    # Bounds are exact decimals: never read through binary floating point.
    return json.loads(run.stdout, parse_float=decimal.Decimal)


def by_contract(description, facts):
    """FactValues as a client in any language builds them: the field from the
    contract, never guessed from the value's shape."""
    fields = {i.name: i.type.fact_field for i in description.inputs}
    out = {}
    for name, value in facts.items():
        field = fields[name]
        if field == "decimal_value":
            value = str(value)
        out[name] = pb.FactValue(**{field: value})
    return out


def policy_source(decision):
    with open(os.path.join(POLICIES, f"{decision}.credit")) as f:
        return f.read()


class ContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = base.Server(POLICIES)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def describe(self, decision, version=""):
        return self.server.policies.DescribeDecision(
            pb.DescribeDecisionRequest(decision=decision, policy_version=version), timeout=10)

    def test_each_reference_decision_is_described_as_its_policy_declares_it(self):
        listed = self.server.policies.ListPolicies(pb.ListPoliciesRequest(), timeout=10)
        current = {p.id.name: p.id for p in listed.policies if p.current}
        for decision in DECISIONS:
            with self.subTest(decision=decision):
                d = self.describe(decision)
                self.assertEqual(d.id, current[decision])
                source = self.server.policies.GetPolicySource(
                    pb.GetPolicySourceRequest(name=decision), timeout=10).source
                # Every input the source declares, in the order declared.
                declared = re.findall(r"^input (\w+)\s*:", source, re.M)
                self.assertEqual([i.name for i in d.inputs], declared)
                self.assertEqual([o.name for o in d.outputs],
                                 re.findall(r"^output (\w+)\s*:", source, re.M))
                codes = set(re.findall(r"^reason (\w+)", source, re.M))
                self.assertEqual({r.code for r in d.reasons}, codes)
                for reason in d.reasons:
                    self.assertIn(f'reason {reason.code} "{reason.message}"', source)
                for i in d.inputs:
                    self.assertIn(i.type.fact_field, ("bool_value", "int_value", "decimal_value",
                                                      "enum_value", "date_value"))
                    self.assertEqual(i.required, not i.HasField("default_value"))

    def test_credit_application_in_detail(self):
        d = self.describe("credit_application")
        inputs = {i.name: i for i in d.inputs}
        segment = inputs["segment"]
        self.assertEqual((segment.type.kind, segment.type.enum_name, list(segment.type.symbols),
                          segment.type.fact_field),
                         ("enum", "Segment", ["new", "existing", "strategic"], "enum_value"))
        limit = inputs["requested_limit"]
        self.assertEqual((limit.type.kind, limit.type.places, limit.type.fact_field, limit.range),
                         ("money", 2, "decimal_value", ">= 0"))
        self.assertEqual(len(limit.intervals), 1)
        self.assertEqual(limit.intervals[0].low.decimal_value, "0.00")
        self.assertTrue(limit.intervals[0].low_closed)
        self.assertFalse(limit.intervals[0].HasField("high"))
        ratio = inputs["debt_ratio"]
        self.assertEqual((ratio.type.kind, ratio.type.places, ratio.range),
                         ("percent", 4, "[0%, 200%]"))
        self.assertEqual(ratio.intervals[0].high.decimal_value, "2")
        self.assertEqual(d.outcomes[0], d.initial_outcome)
        self.assertIn("refer", list(d.outcomes))
        outputs = {o.name: o.type for o in d.outputs}
        self.assertEqual(outputs["credit_limit"].kind, "money")
        self.assertEqual(outputs["requirements"].kind, "set")
        self.assertEqual(outputs["credit_limit"].fact_field, "")  # outputs are not facts

    def test_a_client_builds_requests_from_the_contract_alone(self):
        for decision in DECISIONS:
            with self.subTest(decision=decision):
                d = self.describe(decision)
                facts = base.example(decision)
                reply = self.server.decisions.Evaluate(
                    pb.EvaluateRequest(decision=decision, facts=by_contract(d, facts)),
                    timeout=10)
                self.assertEqual(reply.decision.policy, d.id)

    def test_pinned_and_unknown(self):
        d = self.describe("dunning", "1.0.0")
        self.assertEqual(d.id.version, "1.0.0")
        for decision, version in (("no_such_decision", ""), ("dunning", "9.9.9")):
            with self.assertRaises(grpc.RpcError) as e:
                self.describe(decision, version)
            self.assertEqual(e.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_the_facts_schema_accepts_what_creditd_accepts(self):
        for decision in DECISIONS:
            with self.subTest(decision=decision):
                facts_schema = schema(decision)
                Draft202012Validator.check_schema(facts_schema)
                validator = Draft202012Validator(facts_schema)
                good = base.example(decision)
                self.assertEqual(list(validator.iter_errors(good)), [])
                d = self.describe(decision)
                # Each kind of mistake: the schema refuses it and so does creditd.
                required = next(i.name for i in d.inputs if i.required)
                bounded = next((i for i in d.inputs if i.intervals and
                                i.type.kind in ("int", "money", "decimal", "percent")), None)
                bad_cases = [
                    {k: v for k, v in good.items() if k != required},  # a required fact missing
                    dict(good, no_such_input=1),                       # an unknown fact
                ]
                if bounded is not None and bounded.intervals[0].HasField("low"):
                    low = bounded.intervals[0].low
                    if low.HasField("int_value"):
                        bad_cases.append(dict(good, **{bounded.name: low.int_value - 1}))
                    else:
                        # Below the bound as a number, and (the bound being
                        # zero or more) as a negative text.
                        below = decimal.Decimal(low.decimal_value) - 1
                        bad_cases.append(dict(good, **{bounded.name: below}))
                        if not low.decimal_value.startswith("-"):
                            bad_cases.append(dict(good, **{bounded.name: "-1.00"}))
                for bad in bad_cases:
                    self.assertNotEqual(list(validator.iter_errors(bad)), [], bad)
                    facts = {k: v for k, v in bad.items() if k != "no_such_input"}
                    request = pb.EvaluateRequest(decision=decision,
                                                 facts=by_contract(d, facts))
                    if "no_such_input" in bad:
                        request.facts["no_such_input"].int_value = 1
                    with self.assertRaises(grpc.RpcError) as e:
                        self.server.decisions.Evaluate(request, timeout=10)
                    self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_the_answer_schema_accepts_what_eval_prints(self):
        for decision in DECISIONS:
            with self.subTest(decision=decision):
                answer_schema = schema(decision, "answer")
                Draft202012Validator.check_schema(answer_schema)
                run = subprocess.run(
                    [CREDITCTL, "eval", POLICIES, "-d", decision, "-f",
                     os.path.join(SOURCE, "docs", "examples", f"{decision}.json")],
                    capture_output=True, text=True)
                self.assertEqual(run.returncode, 0, run.stderr)
                answer = json.loads(run.stdout)
                errors = list(Draft202012Validator(answer_schema).iter_errors(answer))
                self.assertEqual(errors, [], [e.message for e in errors])
                answer["outputs"]["no_such_output"] = 1
                self.assertNotEqual(
                    list(Draft202012Validator(answer_schema).iter_errors(answer)), [])


EXAMPLES = os.path.join(POLICIES, "examples")


class EditionTwoTest(unittest.TestCase):
    """The example policies, written in edition 2, through the server: an
    optional input, the evaluation date, messages that quote values, and the
    log replaying a decision on the day it was made for."""

    @classmethod
    def setUpClass(cls):
        cls.server = base.Server(EXAMPLES)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        try:
            assert code == 0, f"creditd exited with {code}"
            run = subprocess.run([CREDITCTL, "audit", "replay", cls.server.audit],
                                 capture_output=True, text=True)
            assert run.returncode == 0, run.stdout + run.stderr
            report = re.search(r"(\d+) decisions replayed: (\d+) identical, (\d+) differ",
                               run.stdout)
            assert report and int(report.group(1)) > 0 and int(report.group(3)) == 0, run.stdout
        finally:
            cls.server.cleanup()

    def evaluate(self, decision, facts, **kw):
        d = self.server.policies.DescribeDecision(
            pb.DescribeDecisionRequest(decision=decision), timeout=10)
        return self.server.decisions.Evaluate(
            pb.EvaluateRequest(decision=decision, facts=by_contract(d, facts), **kw), timeout=10)

    def test_an_optional_input_is_described_and_may_be_left_out(self):
        d = self.server.policies.DescribeDecision(
            pb.DescribeDecisionRequest(decision="credit_check"), timeout=10)
        self.assertEqual(d.edition, 2)
        manual = next(i for i in d.inputs if i.name == "manual_limit")
        self.assertTrue(manual.optional)
        self.assertFalse(manual.required)
        self.assertFalse(manual.HasField("default_value"))
        limit = next(o for o in d.outputs if o.name == "limit")
        self.assertEqual((limit.type.kind, limit.type.places), ("money", 2))
        facts = {"risk_category": "medium", "open_receivables": "150000.00",
                 "open_orders": "50000.00", "open_deliveries": "20000.00",
                 "order_amount": "90000.00", "oldest_item_days": 10}
        reply = self.evaluate("credit_check", facts)
        self.assertEqual(reply.decision.outcome, "release_with_warning")
        # Percents travel as fractions in every edition.
        self.assertEqual(reply.decision.outputs["utilisation"].decimal_value, "1.0333")
        self.assertEqual(
            reply.decision.reasons[0].message,
            "Exposure 310000.00 is above the credit limit 300000.00, within the tolerance of 5%")
        self.assertEqual(reply.decision.evaluation_date, "")  # it reads no `today`
        reply = self.evaluate("credit_check", dict(facts, manual_limit="400000.00"))
        self.assertEqual(reply.decision.outcome, "release")
        self.assertEqual([r.code for r in reply.decision.reasons], ["MANUAL_LIMIT"])
        # The facts schema does not require it either.
        facts_schema = schema_of(EXAMPLES, "credit_check")
        self.assertNotIn("manual_limit", facts_schema["required"])
        self.assertEqual(list(Draft202012Validator(facts_schema).iter_errors(facts)), [])

    def test_the_evaluation_date_is_the_requests_or_the_servers(self):
        facts = {"due_date": "2026-11-10", "overdue_amount": "1250.00",
                 "current_level": "none"}
        reply = self.evaluate("dunning_procedure", facts, evaluation_date="2026-11-30")
        self.assertEqual(reply.decision.evaluation_date, "2026-11-30")
        self.assertEqual(reply.decision.outputs["level"].enum_value, "reminder")
        self.assertEqual(reply.decision.reasons[0].message,
                         "20 days overdue: dunning goes up one level")
        # Four days after the due date: not yet dunned.
        reply = self.evaluate("dunning_procedure", facts, evaluation_date="2026-11-14")
        self.assertEqual(reply.decision.outputs["level"].enum_value, "none")
        # No date: the server's, in its zone (UTC here), named in the answer.
        before = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        reply = self.evaluate("dunning_procedure", facts)
        after = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
        self.assertIn(reply.decision.evaluation_date, (before, after))
        for bad in ("2026-02-30", "30.11.2026", "x" * 5000):
            with self.subTest(bad=bad[:20]):
                with self.assertRaises(grpc.RpcError) as e:
                    self.evaluate("dunning_procedure", facts, evaluation_date=bad)
                self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertLess(len(e.exception.details()), 300)

    def test_eval_shows_percents_as_percents_and_the_answer_schema_agrees(self):
        facts = os.path.join(self.server.dir, "credit_check.json")
        with open(facts, "w") as f:
            json.dump({"risk_category": "low", "open_receivables": "150000.00",
                       "open_orders": "50000.00", "open_deliveries": "20000.00",
                       "order_amount": "30000.00", "oldest_item_days": 10}, f)
        run = subprocess.run([CREDITCTL, "eval", EXAMPLES, "-d", "credit_check", "-f", facts],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        answer = json.loads(run.stdout)
        self.assertEqual(answer["outputs"]["utilisation"], "50%")
        answer_schema = schema_of(EXAMPLES, "credit_check", "answer")
        errors = list(Draft202012Validator(answer_schema).iter_errors(answer))
        self.assertEqual(errors, [], [e.message for e in errors])


if __name__ == "__main__":
    unittest.main(verbosity=2)
