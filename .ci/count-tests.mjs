// Reads Vitest's JSON report and fails unless GPU tests ran and passed; prints the closing line
// 'N passed, N failed'. A GPU test that was skipped counts as not run.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const tests = report.testResults.flatMap((file) => file.assertionResults.map((t) => ({ file: file.name, status: t.status })));
const gpu = tests.filter((t) => /\/test\/(node|browser)\//.test(t.file));
const count = (list, status) => list.filter((t) => t.status === status).length;
const passed = count(tests, 'passed');
const failed = count(tests, 'failed');
const skipped = tests.length - passed - failed;
console.log(`GPU tests: ${count(gpu, 'passed')} passed, ${count(gpu, 'failed')} failed, ${gpu.length - count(gpu, 'passed') - count(gpu, 'failed')} skipped`);
console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
if (failed > 0) process.exit(1);
if (count(gpu, 'passed') === 0) {
  console.error('no GPU test ran: WebGPU in Node (Dawn on lavapipe) or in Chromium is missing');
  process.exit(1);
}
if (gpu.length !== count(gpu, 'passed')) {
  console.error('some GPU tests were skipped; a skipped GPU test is not a pass');
  process.exit(1);
}
