// Which consumers' verdicts count for a bundle: those its targets put it in front of.
import { consumersOf } from '../../src/controller/publish.ts';

test('a Secret target counts nginx; a truststore adds Java; an authorization server adds Go', () => {
  expect(consumersOf({ secrets: [{ namespace: 'a', name: 'b' }] })).toEqual(['nginx']);
  expect(consumersOf({ secrets: [{ namespace: 'a', name: 'b', truststore: {} }] })).toEqual([
    'nginx',
    'java',
  ]);
  expect(
    consumersOf({ configMaps: [{ namespace: 'a', name: 'b' }], authorizationServers: [{ name: 'acp' }] }),
  ).toEqual(['nginx', 'go']);
  expect(consumersOf({ authorizationServers: [{ name: 'acp' }] })).toEqual(['go']);
});

test('a bundle with no target (validation only) is judged for all three', () => {
  expect(consumersOf(undefined)).toEqual(['nginx', 'go', 'java']);
  expect(consumersOf({ rollouts: [] })).toEqual(['nginx', 'go', 'java']);
});
