// Node's Buffer pool: a small Buffer.from() or allocUnsafe() is a view into a shared 64 KiB slab
// (Buffer.poolSize), and a single long-lived view keeps the whole slab alive, with whatever
// short-lived bytes shared it. Bytes kept beyond one reconcile (the certificate and CRL caches,
// the source caches) get memory of their own: at 10,000 cached certificates that is ~7 MB
// instead of ~40 MB of pinned slabs.

/** `bytes` itself when it owns its memory, else a right-sized copy that does. */
export function retainable(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  const own = Buffer.alloc(bytes.length); // Buffer.alloc never draws from the pool
  bytes.copy(own);
  return own;
}
