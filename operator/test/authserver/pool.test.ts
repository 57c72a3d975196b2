import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AuthorizationServerTarget } from '../../src/api/v1alpha1.ts';
import { AuthorizationServerPool, syncTrust, targetKey } from '../../src/authserver/index.ts';
import { AcpContractServer } from '../../../e2e/support/acp-contract-server.ts';
import { OpenSSL } from '../support/openssl.ts';

const ssl = new OpenSSL();
const acp = new AcpContractServer();
let target: AuthorizationServerTarget;

beforeAll(async () => {
  await acp.start();
  target = {
    cloudentity: {
      url: acp.url,
      tenant: acp.tenant,
      server: 'openbanking_brasil',
      credentialsSecret: { namespace: 'trustbundle-system', name: 'acp-admin' },
    },
  };
});
afterAll(async () => {
  await acp.stop();
  ssl.cleanup();
});

const pool = (): AuthorizationServerPool =>
  new AuthorizationServerPool({
    readSecret: async () => ({
      client_id: Buffer.from(acp.clientId),
      client_secret: Buffer.from(acp.clientSecret),
    }),
  });

describe('AuthorizationServerPool', () => {
  it('keys targets by content, not by field order', () => {
    const c = target.cloudentity;
    const reordered: AuthorizationServerTarget = {
      cloudentity: { credentialsSecret: c.credentialsSecret, server: c.server, tenant: c.tenant, url: c.url },
    };
    expect(targetKey(reordered)).toBe(targetKey(target));
    expect(targetKey({ cloudentity: { ...c, server: 'other' } })).not.toBe(targetKey(target));
  });

  it('hands out one adapter per target, so its token serves every reconcile', async () => {
    const p = pool();
    const first = p.get(target);
    await syncTrust(first, ssl.cert().pem);
    const again = p.get({ cloudentity: { ...target.cloudentity } });
    await syncTrust(again, ssl.cert().pem);
    expect(again).toBe(first);
    expect(acp.tokensIssued).toBe(1);
    expect(p.get({ cloudentity: { ...target.cloudentity, server: 'other' } })).not.toBe(first);
    expect(p.size).toBe(2);
    p.retain([target]);
    expect(p.size).toBe(1);
    expect(p.get(target)).toBe(first);
    p.close();
    expect(p.size).toBe(0);
  });
});
