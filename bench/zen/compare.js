// Compares two output files line by line; exits 1 on any difference.
const fs = require('fs');
const a = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n');
const b = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n');
let differ = 0;
for (let i = 0; i < Math.max(a.length, b.length); i++) {
  const x = JSON.parse(a[i] || '{}');
  const y = JSON.parse(b[i] || '{}');
  const same = x.grade === y.grade && Number(x.base_limit) === Number(y.base_limit) &&
               x.payment_terms_days === y.payment_terms_days;
  if (!same) {
    if (differ < 5) console.error(`line ${i + 1}: zen ${a[i]} creditd ${b[i]}`);
    differ++;
  }
}
console.error(`${a.length} outputs compared, ${differ} differ`);
process.exit(differ === 0 ? 0 : 1);
