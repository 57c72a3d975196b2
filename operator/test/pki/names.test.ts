import { cnpjWithCheckDigits, normalizeCnpj, parseKeySpec, parseName } from '../../src/pki/index.ts';

describe('subject names', () => {
  test('openssl -subj form and comma form read in the same (encoding) order', () => {
    const expected = [
      { type: 'C', value: 'BR' },
      { type: 'O', value: 'Banco Exemplo S.A.' },
      { type: 'CN', value: 'Root' },
    ];
    expect(parseName('/C=BR/O=Banco Exemplo S.A./CN=Root')).toEqual(expected);
    expect(parseName('C=BR, O=Banco Exemplo S.A., CN=Root')).toEqual(expected);
  });

  test('backslash escapes the separator', () => {
    expect(parseName('/O=A\\/B/CN=x')).toEqual([
      { type: 'O', value: 'A/B' },
      { type: 'CN', value: 'x' },
    ]);
    expect(parseName('O=Acme\\, Inc., CN=y')).toEqual([
      { type: 'O', value: 'Acme, Inc.' },
      { type: 'CN', value: 'y' },
    ]);
  });

  test.each([
    ['/C=BR/XX=1', /unknown name attribute "XX"/],
    ['/C=BR/CN=', /invalid name component "CN="/],
    ['novalue', /expected TYPE=VALUE/],
  ])('%s is refused', (text, why) => {
    expect(() => parseName(text)).toThrow(why);
  });
});

describe('CNPJ', () => {
  test('check digits: the registry examples', () => {
    expect(cnpjWithCheckDigits('112223330001')).toBe('11222333000181');
    // The alphanumeric CNPJ (2026) example of the Receita Federal.
    expect(cnpjWithCheckDigits('12ABC34501DE')).toBe('12ABC34501DE35');
  });

  test('punctuation is accepted and removed', () => {
    expect(normalizeCnpj('11.222.333/0001-81')).toBe('11222333000181');
    expect(normalizeCnpj('12.abc.345/01de-35')).toBe('12ABC34501DE35');
  });

  test.each(['11.222.333/0001-80', '1122233300018', '11222333000181X', '12ABC34501DE3A'])(
    '%s is invalid',
    (v) => {
      expect(() => normalizeCnpj(v)).toThrow(/invalid CNPJ/);
    },
  );
});

describe('key specs', () => {
  test.each([
    ['rsa', { type: 'rsa', bits: 2048 }],
    ['RSA:3072', { type: 'rsa', bits: 3072 }],
    ['ec', { type: 'ec', curve: 'P-256' }],
    ['ec:p-521', { type: 'ec', curve: 'P-521' }],
    ['ed25519', { type: 'ed25519' }],
  ])('%s', (text, spec) => {
    expect(parseKeySpec(text)).toEqual(spec);
  });

  test.each(['rsa:abc', 'rsa:100', 'ec:secp256k1', 'dsa', 'ed25519:1'])('%s is refused', (text) => {
    expect(() => parseKeySpec(text)).toThrow(/invalid|unsupported/);
  });
});
