// The ConfigMap target: the bundle as plain PEM under one key (`ca.crt`), which Gateway API
// implementations read for frontend client-certificate validation (caCertificateRefs).
import type { Bundle } from '../../bundle/types.ts';
import type { TargetObject } from '../../kube/objects.ts';
import { digestOf, ObjectTarget, type Desired, type TargetDeps } from './target.ts';

export class ConfigMapTarget extends ObjectTarget {
  readonly id: string;
  private readonly ref: { namespace: string; name: string; key: string };

  constructor(ref: { namespace: string; name: string; key: string }, deps: TargetDeps) {
    super(deps);
    this.ref = ref;
    this.id = `ConfigMap ${ref.namespace}/${ref.name}`;
  }

  protected async path(): Promise<string> {
    return `/api/v1/namespaces/${this.ref.namespace}/configmaps/${this.ref.name}`;
  }

  protected async holds(current: TargetObject, bundle: Bundle): Promise<boolean> {
    return current.digests.get(this.ref.key) === digestOf(bundle.pem);
  }

  protected async desired(bundle: Bundle): Promise<Desired> {
    const data = { [this.ref.key]: bundle.pem };
    return {
      body: (metadata) => ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: this.ref.name, namespace: this.ref.namespace, ...metadata },
        data,
      }),
    };
  }
}
