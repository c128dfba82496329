// `npm start`: the demo app at the repo root, each block labelled with the command that made it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bin = path.join(root, 'dist/src/cli/bin.js');
const steps = [
  {
    label: 'function greet, with every context.values.get traced',
    args: ['function', 'run', '--name', 'greet', '--args', 'Ada', '--trace-values'],
  },
  {
    label: 'function orders/summary (it executes the private orders/price)',
    args: [
      'function',
      'run',
      '--name',
      'orders/summary',
      '--args',
      '[{"sku":"A1","qty":2},{"sku":"B7","qty":1}]',
    ],
  },
  {
    label: 'trigger orderPaid (DATABASE), fired with a generated insert event',
    args: [
      'trigger',
      'fire',
      '--name',
      'orderPaid',
      '--doc',
      '{"status":"paid","lines":[{"sku":"B7","qty":3}]}',
    ],
  },
];
let failed = 0;
for (const [i, step] of steps.entries()) {
  process.stdout.write(
    `${i === 0 ? '' : '\n'}=== ${step.label}\n$ triggerbox ${step.args.map(quote).join(' ')}\n\n`,
  );
  const run = spawnSync(process.execPath, [bin, ...step.args], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
process.exitCode = failed === 0 ? 0 : 1;

function quote(arg) {
  return /^[\w./=-]+$/.test(arg) ? arg : `'${arg}'`;
}
