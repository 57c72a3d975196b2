// Which bundles use which objects: the reverse index that turns an event on a source Secret or
// a target Secret into the reconciles it concerns.

export class ReferenceIndex {
  private readonly byBundle = new Map<string, Set<string>>();
  private readonly byObject = new Map<string, Set<string>>();

  set(bundle: string, refs: Iterable<string>): void {
    this.remove(bundle);
    const set = new Set(refs);
    this.byBundle.set(bundle, set);
    for (const ref of set) {
      let users = this.byObject.get(ref);
      if (!users) this.byObject.set(ref, (users = new Set()));
      users.add(bundle);
    }
  }

  remove(bundle: string): void {
    const old = this.byBundle.get(bundle);
    if (!old) return;
    this.byBundle.delete(bundle);
    for (const ref of old) {
      const users = this.byObject.get(ref);
      users?.delete(bundle);
      if (users?.size === 0) this.byObject.delete(ref);
    }
  }

  bundlesUsing(ref: string): string[] {
    return [...(this.byObject.get(ref) ?? [])];
  }

  isReferenced(ref: string): boolean {
    return this.byObject.has(ref);
  }

  /** Every object some bundle uses. */
  allRefs(): IterableIterator<string> {
    return this.byObject.keys();
  }

  refsOf(bundle: string): string[] {
    return [...(this.byBundle.get(bundle) ?? [])];
  }
}
