// CNPJ, the Brazilian company registry number carried in serialNumber by the Open Finance Brasil
// certificate profile: 12 base characters (digits, or since 2026 also letters) + 2 check digits.

const W1 = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const W2 = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

function checkDigit(chars: string, weights: number[]): number {
  let sum = 0;
  // Each character counts as its ASCII code minus 48: digits keep their value, A = 17, …
  for (let i = 0; i < weights.length; i++) sum += (chars.charCodeAt(i) - 48) * weights[i]!;
  const r = sum % 11;
  return r < 2 ? 0 : 11 - r;
}

/** Completes a 12-character base with its two check digits. */
export function cnpjWithCheckDigits(base: string): string {
  const b = base.toUpperCase();
  if (!/^[0-9A-Z]{12}$/.test(b)) throw new Error(`CNPJ base "${base}" must be 12 digits or capital letters`);
  const d1 = checkDigit(b, W1);
  return b + String(d1) + String(checkDigit(b + String(d1), W2));
}

/** Accepts `11.222.333/0001-81` or `11222333000181`; returns the 14 characters, or throws why not. */
export function normalizeCnpj(text: string): string {
  const compact = text.replace(/[./\-\s]/g, '').toUpperCase();
  if (!/^[0-9A-Z]{12}[0-9]{2}$/.test(compact)) {
    throw new Error(`invalid CNPJ "${text}": 14 characters, the last two digits (e.g. 11.222.333/0001-81)`);
  }
  if (cnpjWithCheckDigits(compact.slice(0, 12)) !== compact) {
    throw new Error(`invalid CNPJ "${text}": the check digits do not match`);
  }
  return compact;
}
