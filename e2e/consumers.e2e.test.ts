// Every consumer example of docs/consumers.md is a TrustBundle the real API server accepts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubectl } from './harness/kube.ts';
import { REPO_ROOT } from './harness/tools.ts';
import { installCrds } from './support/operator.ts';

const dir = join(REPO_ROOT, 'docs/examples/consumers');
const examples = readdirSync(dir).filter((f) => f.endsWith('.yaml'));

beforeAll(async () => {
  await installCrds();
});

test('docs/consumers.md links every example', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs/consumers.md'), 'utf8');
  expect(examples.length).toBeGreaterThanOrEqual(5);
  for (const f of examples) expect(doc).toContain(`examples/consumers/${f}`);
});

test.each(examples)('%s is accepted by the API server (dry run)', async (file) => {
  const out = await kubectl(['apply', '--dry-run=server', '-f', join(dir, file)]);
  expect(out).toMatch(
    /trustbundle\.mtls\.openbanking\.dev\/\S+ (created|configured|unchanged) \(server dry run\)/,
  );
});

test('a broken example would be refused (the check can fail)', async () => {
  const broken = readFileSync(join(dir, 'gateway-api.yaml'), 'utf8').replace('configMaps:', 'configMapz:');
  await expect(kubectl(['apply', '--dry-run=server', '-f', '-'], { input: broken })).rejects.toThrow(
    /configMapz/,
  );
});
