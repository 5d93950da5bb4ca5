// Writes N inputs (default 10,000): a score with two decimals in [0, 100]
// and a segment, from a fixed seed. The score is given both as exact text
// (for creditd) and as a JSON number (for ZEN).
const n = Number(process.argv[2] || 10000);
let seed = 20261122;
function random() {  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const segments = ['new', 'existing', 'strategic'];
for (let i = 0; i < n; i++) {
  // Half the scores sit on or next to a grade boundary, where answers differ.
  let cents;
  if (random() < 0.5) {
    const edge = [50, 65, 80][Math.floor(random() * 3)] * 100;
    cents = edge + Math.floor(random() * 3) - 1;
  } else {
    cents = Math.floor(random() * 10001);
  }
  const score = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
  const segment = segments[Math.floor(random() * 3)];
  process.stdout.write(JSON.stringify({ score, score_number: cents / 100, segment }) + '\n');
}
