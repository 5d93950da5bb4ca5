// Evaluates every input (one JSON object per line) with GoRules ZEN and
// writes one output per line; prints the time taken to stderr.
//   node run_zen.js inputs.jsonl > zen.jsonl
const fs = require('fs');
const path = require('path');
const { ZenEngine } = require('@gorules/zen-engine');

async function main() {
  const inputs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const engine = new ZenEngine();
  const decision = engine.createDecision(fs.readFileSync(path.join(__dirname, 'grade_terms.json')));
  // Warm up, then time the whole run, one decision at a time.
  for (let i = 0; i < 200; i++) await decision.evaluate({ score: inputs[i].score_number, segment: inputs[i].segment });
  const out = [];
  const start = process.hrtime.bigint();
  for (const input of inputs) {
    const r = await decision.evaluate({ score: input.score_number, segment: input.segment });
    out.push(r.result);
  }
  const ns = Number(process.hrtime.bigint() - start);
  for (const r of out) {
    process.stdout.write(JSON.stringify({ grade: r.grade, base_limit: String(r.base_limit),
                                          payment_terms_days: r.payment_terms_days }) + '\n');
  }
  process.stderr.write(`zen: ${inputs.length} decisions in ${(ns / 1e6).toFixed(1)} ms, ` +
                       `${(inputs.length / (ns / 1e9)).toFixed(0)} decisions/s\n`);
}
main().catch((e) => { console.error(e); process.exit(1); });
