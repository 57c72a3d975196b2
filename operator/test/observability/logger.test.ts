import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/observability/logger.ts';
import { createLogger, isSensitiveName, logLevel, scrubText } from '../../src/observability/logger.ts';

let dir: string;
let privateKeyPem: string;
let certificatePem: string;

beforeAll(() => {
  // A real key and certificate made by openssl, so the scrubber is tested on the genuine article.
  dir = mkdtempSync(join(tmpdir(), 'logger-test-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=log test CA',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  privateKeyPem = readFileSync(join(dir, 'key.pem'), 'utf8');
  certificatePem = readFileSync(join(dir, 'cert.pem'), 'utf8');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(level = 'trace'): {
  log: Logger;
  lines: () => string[];
  records: () => Record<string, unknown>[];
} {
  const written: string[] = [];
  const log = createLogger({ level, destination: { write: (s: string) => void written.push(s) } });
  return {
    log,
    lines: () => written,
    records: () => written.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** The base64 body of the key, line by line: none of it may appear in a log line. */
const keyBodyLines = () => privateKeyPem.split('\n').filter((l) => l && !l.startsWith('-----'));

function expectNoKeyMaterial(line: string): void {
  expect(line).not.toContain('PRIVATE KEY-----\\n');
  expect(line).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY-----[A-Za-z0-9]/);
  for (const body of keyBodyLines()) expect(line).not.toContain(body);
}

describe('the logger', () => {
  it('writes one JSON object per line with level label, time, name and message', () => {
    const { log, lines, records } = capture();
    log.info({ bundle: 'tpp-roots', certificates: 3 }, 'bundle built');
    expect(lines()).toHaveLength(1);
    expect(lines()[0]?.endsWith('\n')).toBe(true);
    expect(records()[0]).toMatchObject({
      level: 'info',
      name: 'trustbundle-operator',
      bundle: 'tpp-roots',
      certificates: 3,
      msg: 'bundle built',
    });
    expect(Date.parse(String(records()[0]?.time))).not.toBeNaN();
  });

  it('takes its level from LOG_LEVEL and refuses an unknown one', () => {
    const saved = process.env.LOG_LEVEL;
    try {
      process.env.LOG_LEVEL = 'warn';
      expect(createLogger({ destination: { write: () => undefined } }).level).toBe('warn');
      process.env.LOG_LEVEL = 'DEBUG';
      expect(createLogger({ destination: { write: () => undefined } }).level).toBe('debug');
      delete process.env.LOG_LEVEL;
      expect(createLogger({ destination: { write: () => undefined } }).level).toBe('info');
      process.env.LOG_LEVEL = 'verbose';
      expect(() => createLogger({ destination: { write: () => undefined } })).toThrow(/LOG_LEVEL "verbose"/);
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
    }
    expect(logLevel(' error ')).toBe('error');
  });

  it('filters by level', () => {
    const { log, lines } = capture('warn');
    log.info('hidden');
    log.debug('hidden');
    log.warn('shown');
    expect(lines()).toHaveLength(1);
  });

  it('never writes a PEM private key: in a field, in the message, in an error, in a child binding', () => {
    const { log, lines, records } = capture();
    log.warn({ source: 'inline[0]', content: privateKeyPem }, 'source rejected');
    log.warn(`source inline[1] holds ${privateKeyPem} which is not allowed`);
    log.error(new Error(`could not parse:\n${privateKeyPem}`), 'parse failed');
    log.child({ pem: privateKeyPem }).info('child');
    log.info({
      deep: { deeper: [{ text: `x ${privateKeyPem.replace('BEGIN PRIVATE', 'BEGIN RSA PRIVATE')}` }] },
    });
    expect(lines()).toHaveLength(5);
    for (const line of lines()) {
      expectNoKeyMaterial(line);
      expect(line).toContain('[Redacted PRIVATE KEY]');
    }
    expect(records()[0]).toMatchObject({ source: 'inline[0]', content: '[Redacted PRIVATE KEY]\n' });
    expect(records()[1]?.msg).toBe('source inline[1] holds [Redacted PRIVATE KEY]\n which is not allowed');
    expect(records()[2]?.msg).toBe('parse failed');
  });

  it('scrubs a private key block cut off before its END line', () => {
    const truncated = privateKeyPem.slice(0, 300);
    const { log, lines } = capture();
    log.info({ fragment: truncated }, 'truncated');
    expectNoKeyMaterial(lines()[0] ?? '');
    for (const body of truncated.split('\n').slice(1, -1)) expect(lines()[0]).not.toContain(body);
  });

  it('keeps certificates, which are public', () => {
    const { log, records } = capture();
    log.info({ pem: certificatePem }, 'accepted');
    expect(records()[0]?.pem).toBe(certificatePem);
  });

  it('never writes an Authorization header value or a bearer token', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhY3AtYWRtaW4ifQ.c2lnbmF0dXJlLXZhbHVl';
    const basic = Buffer.from('acp-admin:s3cr3t-client-pw').toString('base64');
    const { log, lines, records } = capture();
    log.info(`GET /api/admin/default/servers/openbanking_brasil Authorization: Bearer ${token}`);
    log.info({ headers: { Authorization: `Bearer ${token}`, accept: 'application/json' } }, 'request');
    log.info({ curl: `curl -H 'authorization: Basic ${basic}' https://acp` }, 'replay');
    log.info(`token response: {"access_token":"${token}","token_type":"bearer"}`);
    log.info(`retrying with Bearer opaque-token-value-1234`);
    for (const line of lines()) {
      expect(line).not.toContain(token);
      expect(line).not.toContain('c2lnbmF0dXJlLXZhbHVl');
      expect(line).not.toContain(basic);
      expect(line).not.toContain('opaque-token-value-1234');
    }
    expect(records()[0]?.msg).toBe(
      'GET /api/admin/default/servers/openbanking_brasil Authorization: [Redacted]',
    );
    expect(records()[1]?.headers).toEqual({ Authorization: '[Redacted]', accept: 'application/json' });
    expect(records()[4]?.msg).toBe('retrying with Bearer [Redacted]');
  });

  it('redacts fields named like credentials at any depth, and keeps references to them', () => {
    // Addresses of credentials and ordinary fields whose names merely resemble them: all kept.
    const references = {
      tokenURL: 'https://acp.example.com/default/admin/oauth2/token',
      secretName: 'apitraffic-mtls-rootca',
      secrets: ['open-banking-apim/apitraffic-mtls-rootca'],
      source: { secret: { namespace: 'pki', name: 'ca1', key: 'ca.crt' } },
      key: 'ca.crt',
      condition: 'AuthorizationServersSynced',
    };
    const { log, records } = capture();
    log.info({
      password: 'hunter2',
      config: {
        clientSecret: 's3cr3t',
        client_secret: 's3cr3t',
        nested: {
          accessToken: 'abc',
          refresh_token: 'def',
          apiKey: 'k',
          'x-api-key': 'k2',
          privateKey: 'raw',
        },
        cookies: ['a=1'],
      },
      credentialsSecret: {
        namespace: 'trustbundle-system',
        name: 'acp-admin',
        clientSecretKey: 'client_secret',
      },
      ...references,
    });
    const r = records()[0];
    expect(r).toMatchObject({
      password: '[Redacted]',
      config: {
        clientSecret: '[Redacted]',
        client_secret: '[Redacted]',
        nested: {
          accessToken: '[Redacted]',
          refresh_token: '[Redacted]',
          apiKey: '[Redacted]',
          'x-api-key': '[Redacted]',
          privateKey: '[Redacted]',
        },
        cookies: ['[Redacted]'],
      },
      credentialsSecret: { namespace: 'trustbundle-system', name: 'acp-admin' },
      ...references,
    });
    expect(JSON.stringify(r)).not.toMatch(/hunter2|s3cr3t|"abc"|"def"|"raw"/);
  });

  it('leaves ordinary words alone', () => {
    const prose = 'certificate lacks basic constraints; the authorization server accepted 2 CAs';
    expect(scrubText(prose)).toBe(prose);
    expect(isSensitiveName('authorizationServers')).toBe(false);
    expect(isSensitiveName('Authorization')).toBe(true);
    expect(isSensitiveName('tokenURL')).toBe(false);
    expect(isSensitiveName('id_token')).toBe(true);
  });
});
