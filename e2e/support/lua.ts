// Runs an Argo CD resource health check (Lua) on an object with a real Lua interpreter. Argo CD
// hands the script the live object as the global `obj` (JSON converted to Lua tables, arrays
// 1-based) and reads back a table with `status` and `message`; it embeds gopher-lua, a Lua 5.1
// VM, so the check is run by Debian's lua5.1 and lua5.4 both.
import { execFileSync } from 'node:child_process';

export const LUA_INTERPRETERS = ['lua5.1', 'lua5.4'] as const;
export type LuaInterpreter = (typeof LUA_INTERPRETERS)[number];

export interface HealthStatus {
  status: string;
  message: string;
}

/** A Lua string literal: bytes as they are, with quotes, backslashes and control characters escaped. */
function luaString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '"') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${String(code).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A Lua table constructor for a JSON value. */
export function toLua(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'string') return luaString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `{${value.map(toLua).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `[${luaString(k)}] = ${toLua(v)}`,
    );
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`cannot convert a ${typeof value} to Lua`);
}

/** Evaluates `script` as Argo CD would, with `obj` bound to `object`. */
export function runHealthCheck(interpreter: LuaInterpreter, script: string, object: unknown): HealthStatus {
  // Each value is written as <byte length>:<bytes>, so any text comes back intact.
  const program = [
    `obj = ${toLua(object)}`,
    'local function health()',
    script,
    'end',
    'local hs = health()',
    'for _, v in ipairs({ tostring(hs.status), tostring(hs.message) }) do io.write(#v, ":", v) end',
  ].join('\n');
  const out = execFileSync(interpreter, ['-'], { input: program, stdio: ['pipe', 'pipe', 'pipe'] });
  const values: string[] = [];
  for (let at = 0; at < out.length;) {
    const colon = out.indexOf(':', at);
    const length = Number(out.subarray(at, colon).toString());
    values.push(out.subarray(colon + 1, colon + 1 + length).toString('utf8'));
    at = colon + 1 + length;
  }
  if (values.length !== 2) throw new Error(`${interpreter} printed ${JSON.stringify(out.toString())}`);
  return { status: values[0]!, message: values[1]! };
}
