// Secrets are replaced in every message, however short they are.
import { redact } from '../../src/authserver/errors.ts';

test('a secret of four or more characters is replaced wherever it occurs', () => {
  expect(redact('token=abcd1234; again abcd1234', ['abcd1234'])).toBe('token=[redacted]; again [redacted]');
});

test('a secret shorter than four characters is replaced where it stands alone, not inside words', () => {
  expect(redact('client_secret=x9 rejected for x9; x9z stays', ['x9'])).toBe(
    'client_secret=[redacted] rejected for [redacted]; x9z stays',
  );
  expect(redact('password "a.b" refused', ['a.b'])).toBe('password "[redacted]" refused');
});

test('Bearer and Basic credentials are replaced whatever they are', () => {
  expect(redact('Authorization: Basic dXNlcjpwYXNz', [])).toBe('Authorization: Basic [redacted]');
});
