// An authorization server held in memory: what syncTrust reads and what it writes.
import type { AuthorizationServer } from '../../src/authserver/index.ts';

export class MemoryServer implements AuthorizationServer {
  readonly description = 'memory server';
  writes: string[] = [];
  reads = 0;
  trust: string;
  constructor(trust = '') {
    this.trust = trust;
  }
  async readTrust(): Promise<string> {
    this.reads++;
    return this.trust;
  }
  async writeTrust(pem: string): Promise<void> {
    this.writes.push(pem);
    this.trust = pem;
  }
}
