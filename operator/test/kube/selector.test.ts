import { matches, selectorString, type LabelSelector } from '../../src/kube/selector.ts';

describe('label selectors', () => {
  const labels = { team: 'payments', env: 'prod' };

  it('matchLabels needs every pair', () => {
    expect(matches({ matchLabels: { team: 'payments' } }, labels)).toBe(true);
    expect(matches({ matchLabels: { team: 'payments', env: 'dev' } }, labels)).toBe(false);
    expect(matches({ matchLabels: { tier: 'x' } }, undefined)).toBe(false);
  });

  it('the empty selector matches everything', () => {
    expect(matches({}, labels)).toBe(true);
    expect(matches({}, undefined)).toBe(true);
  });

  it.each<[LabelSelector['matchExpressions'], boolean]>([
    [[{ key: 'env', operator: 'In', values: ['prod', 'staging'] }], true],
    [[{ key: 'env', operator: 'In', values: ['dev'] }], false],
    [[{ key: 'missing', operator: 'In', values: ['x'] }], false],
    [[{ key: 'env', operator: 'NotIn', values: ['dev'] }], true],
    [[{ key: 'env', operator: 'NotIn', values: ['prod'] }], false],
    [[{ key: 'missing', operator: 'NotIn', values: ['x'] }], true],
    [[{ key: 'team', operator: 'Exists' }], true],
    [[{ key: 'missing', operator: 'Exists' }], false],
    [[{ key: 'missing', operator: 'DoesNotExist' }], true],
    [[{ key: 'team', operator: 'DoesNotExist' }], false],
  ])('matchExpressions %j → %s', (expressions, expected) => {
    expect(matches({ matchExpressions: expressions }, labels)).toBe(expected);
  });

  it('matchLabels and matchExpressions must both hold', () => {
    const s: LabelSelector = {
      matchLabels: { team: 'payments' },
      matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }],
    };
    expect(matches(s, labels)).toBe(false);
  });

  it("prints kubectl's syntax, in a stable order", () => {
    expect(
      selectorString({
        matchLabels: { team: 'payments', a: 'b' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['staging', 'prod'] },
          { key: 'legacy', operator: 'DoesNotExist' },
          { key: 'x', operator: 'NotIn', values: ['y'] },
          { key: 'owner', operator: 'Exists' },
        ],
      }),
    ).toBe('a=b,team=payments,env in (prod,staging),!legacy,x notin (y),owner');
  });
});
