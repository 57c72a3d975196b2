// Where the time goes: self time per function from a V8 .cpuprofile (`node --cpu-prof`).
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  function: string;
  location: string;
  selfMs: number;
  percent: number;
}

export function hotspots(path: string, top = 12): Hotspot[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { fn: string; location: string; us: number }>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    total += us;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const file = frame.url.startsWith('file://')
      ? relative(process.cwd(), new URL(frame.url).pathname)
      : frame.url;
    const location = file ? `${file}:${frame.lineNumber + 1}` : '(native)';
    const fn = frame.functionName || '(anonymous)';
    const key = `${fn} ${location}`;
    const entry = self.get(key) ?? { fn, location, us: 0 };
    entry.us += us;
    self.set(key, entry);
  });
  return [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({
      function: e.fn,
      location: e.location,
      selfMs: Math.round(e.us / 100) / 10,
      percent: Math.round((1000 * e.us) / total) / 10,
    }));
}
