// status.certificates[].unusableFor: the consumers a published certificate does not work for.
import { buildBundle } from '../../src/bundle/index.ts';
import { certificateStatuses } from '../../src/controller/status.ts';
import { buildCert, caExtensions, CN, EXT, PURPOSE, STRING } from '../support/anchors.ts';

const good = buildCert({ subject: [[CN, STRING.utf8, 'Status Good Root']], extensions: caExtensions() });
const serverOnly = buildCert({
  subject: [[CN, STRING.utf8, 'Status Server-only Root']],
  extensions: [...caExtensions(), EXT.extKeyUsage(PURPOSE.serverAuth)],
});

test('a certificate published under unusable: Warn names the consumers it does not work for', () => {
  const r = buildBundle([{ name: 'inline[0]', content: good.pem + serverOnly.pem }], { unusable: 'Warn' });
  const { list } = certificateStatuses(r.bundle!);
  const bySubject = new Map(list.map((c) => [c.subject, c]));
  expect(bySubject.get('CN=Status Server-only Root')!.unusableFor).toEqual(['nginx', 'go']);
  expect(bySubject.get('CN=Status Good Root')).not.toHaveProperty('unusableFor');
});

test('under the default policy the same certificate keeps the bundle from being published', () => {
  const r = buildBundle([{ name: 'inline[0]', content: good.pem + serverOnly.pem }]);
  expect(r.bundle).toBeUndefined();
  expect(r.problems.find((p) => p.code === 'ClientAuthNotAllowed')?.severity).toBe('error');
});
