import { CertificateCache } from '../../src/bundle/certificate.ts';
import { parseCrlCached } from '../../src/bundle/crl.ts';
import { retainable } from '../../src/bundle/retain.ts';
import { TempDir } from '../pki/tools.ts';
import { OpenSslCA } from './openssl-ca.ts';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const ca = new OpenSslCA(tmp.path, '/CN=Retained Root');

/** A DER as the PEM reader makes it: a small Buffer.from(), i.e. a view into the shared pool. */
const pooled = (der: Buffer): Buffer => Buffer.from(der.toString('base64'), 'base64');

test('a pooled view is copied into memory of its own; a buffer that owns its memory is kept as is', () => {
  const view = pooled(ca.der);
  expect(view.buffer.byteLength).toBeGreaterThan(view.length); // the premise: Node pools small buffers
  const own = retainable(view);
  expect(own).toEqual(view);
  expect(own.buffer.byteLength).toBe(own.length);
  expect(retainable(own)).toBe(own);
});

test('the certificate and CRL caches keep no pooled slab alive', () => {
  const cert = new CertificateCache().parse(pooled(ca.der));
  if (!cert.ok) throw new Error(cert.reason);
  expect(cert.cert.der.buffer.byteLength).toBe(ca.der.length);
  const crl = parseCrlCached(pooled(ca.crl().der));
  if (!crl.ok) throw new Error(crl.reason);
  expect(crl.crl.der.buffer.byteLength).toBe(crl.crl.der.length);
});
