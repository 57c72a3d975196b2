import {
  BUNDLE_HASH_ANNOTATION,
  BUNDLE_LABEL,
  DEFAULT_POLICY,
  cloudentityEndpoints,
  keyOf,
  resolvePolicy,
  shortHash,
} from '../../src/api/v1alpha1.ts';
import type { CloudentityTarget } from '../../src/api/v1alpha1.ts';

describe('TrustBundle v1alpha1 helpers', () => {
  it('fills every policy field a bundle leaves out with the default', () => {
    expect(resolvePolicy(undefined)).toEqual(DEFAULT_POLICY);
    expect(resolvePolicy({ expired: 'Reject', minRSABits: 3072 })).toEqual({
      ...DEFAULT_POLICY,
      expired: 'Reject',
      minRSABits: 3072,
    });
    // false and 0 are values, not absences.
    expect(resolvePolicy({ requireCA: false, expiryWarningDays: 0 })).toMatchObject({
      requireCA: false,
      expiryWarningDays: 0,
    });
  });

  it('defaults a reference key to ca.crt', () => {
    expect(keyOf({})).toBe('ca.crt');
    expect(keyOf({ key: 'bundle.pem' })).toBe('bundle.pem');
  });

  it('shortens a bundle hash to 12 hex characters', () => {
    expect(shortHash(`sha256:${'0123456789abcdef'.repeat(4)}`)).toBe('0123456789ab');
  });

  it("derives Cloudentity's token and admin URLs from url and tenant unless given", () => {
    const target: CloudentityTarget = {
      url: 'https://acp.example.com/',
      tenant: 'default',
      server: 'openbanking_brasil',
      credentialsSecret: { namespace: 'trustbundle-system', name: 'acp-admin' },
    };
    expect(cloudentityEndpoints(target)).toEqual({
      tokenURL: 'https://acp.example.com/default/admin/oauth2/token',
      adminURL: 'https://acp.example.com/api/admin/default',
      clientIDKey: 'client_id',
      clientSecretKey: 'client_secret',
    });
    expect(
      cloudentityEndpoints({
        ...target,
        tokenURL: 'https://login.example.com/token',
        adminURL: 'https://admin.example.com/api/admin/default',
        credentialsSecret: { ...target.credentialsSecret, clientIDKey: 'id', clientSecretKey: 'secret' },
      }),
    ).toEqual({
      tokenURL: 'https://login.example.com/token',
      adminURL: 'https://admin.example.com/api/admin/default',
      clientIDKey: 'id',
      clientSecretKey: 'secret',
    });
  });

  it('names the annotation and label under the API group', () => {
    expect(BUNDLE_HASH_ANNOTATION).toBe('mtls.openbanking.dev/bundle-hash');
    expect(BUNDLE_LABEL).toBe('mtls.openbanking.dev/bundle');
  });
});
