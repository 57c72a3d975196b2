// Strict PEM reading: CERTIFICATE blocks become certificates and X509 CRL blocks revocation
// lists; anything that is not exactly a sequence of well-formed blocks is an error naming the
// source and the position.
import { certificateFramingError } from './der.ts';
import type { Problem, ProblemCode, Source } from './types.ts';

export interface PemCertificate {
  der: Buffer;
  /** 1-based block number within the source and the line of its BEGIN marker. */
  block: number;
  line: number;
}

export interface PemReadResult {
  certificates: PemCertificate[];
  /** DER of the X509 CRL blocks (parsed and judged by crl.ts). */
  crls: PemCertificate[];
  /** Errors reject the whole source; it then contributes no certificate. */
  problems: Problem[];
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const END = /^-----END ([A-Z0-9 ]+)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
/** A whole body: base64 characters with padding only at the end (its length is checked apart). */
const BASE64_BODY = /^[A-Za-z0-9+/]+={0,2}$/;
const PRIVATE_KEY = /PRIVATE KEY/i;

function problem(
  code: ProblemCode,
  source: string,
  message: string,
  at?: { block: number; line: number },
): Problem {
  const where = at ? `, block ${at.block} (line ${at.line})` : '';
  return { severity: 'error', code, source, ...at, message: `source ${source}${where}: ${message}` };
}

function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 512);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0 || (b < 0x09 && b !== 0) || (b > 0x0d && b < 0x20 && b !== 0x1b)) return true;
  }
  return false;
}

function decodeText(source: Source): { text?: string; problem?: Problem } {
  if (typeof source.content === 'string') return { text: source.content };
  const bytes = source.content;
  if (bytes.length > 0 && bytes[0] === 0x30 && looksBinary(bytes)) {
    return {
      problem: problem(
        'NotPEM',
        source.name,
        'binary DER where PEM is expected; convert it with `openssl x509 -inform der -in FILE`',
      ),
    };
  }
  if (looksBinary(bytes)) return { problem: problem('NotPEM', source.name, 'binary data, not PEM text') };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { problem: problem('NotPEM', source.name, 'not valid UTF-8 text') };
  }
}

/**
 * Reads the CERTIFICATE and X509 CRL blocks of one source. Blank lines and `#` comment lines between blocks
 * are allowed (system CA files carry them); any other text outside a block is an error.
 * A private key anywhere rejects the source, and its content is never repeated.
 */
export function readPem(source: Source): PemReadResult {
  const decoded = decodeText(source);
  if (decoded.problem) return { certificates: [], crls: [], problems: [decoded.problem] };
  const text = decoded.text!;
  const name = source.name;

  if (PRIVATE_KEY.test(text)) {
    return {
      certificates: [],
      crls: [],
      problems: [
        problem(
          'PrivateKey',
          name,
          'contains a private key; the source is rejected and nothing from it is used (remove the key from this source and rotate it if it was exposed)',
        ),
      ],
    };
  }

  const lines = text.split(/\r?\n/);
  const certificates: PemCertificate[] = [];
  const crls: PemCertificate[] = [];
  const problems: Problem[] = [];
  let block = 0;
  let current: { label: string; line: number; body: string[]; lines: number[]; headers: boolean } | undefined;

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (!current) {
      if (line === '' || line.startsWith('#')) continue;
      const begin = BEGIN.exec(line);
      if (begin) {
        block++;
        current = { label: begin[1]!, line: lineNo, body: [], lines: [], headers: false };
        continue;
      }
      const what = block === 0 ? 'text before the first PEM block' : 'text after a PEM block';
      problems.push(
        problem(
          END.test(line) ? 'MalformedPEM' : 'TrailingData',
          name,
          END.test(line) ? `END marker without BEGIN at line ${lineNo}` : `${what} at line ${lineNo}`,
        ),
      );
      break;
    }
    const at = { block, line: current.line };
    // Body lines are checked once per block, below; only marker lines start with a dash.
    if (line.charCodeAt(0) !== 0x2d) {
      if (line.includes(':')) current.headers = true;
      else {
        current.body.push(line);
        current.lines.push(lineNo);
      }
      continue;
    }
    const end = END.exec(line);
    if (end) {
      const finished = current;
      current = undefined;
      if (end[1] !== finished.label) {
        problems.push(
          problem(
            'MalformedPEM',
            name,
            `BEGIN ${finished.label} closed by END ${end[1]} at line ${lineNo}`,
            at,
          ),
        );
        break;
      }
      const isCrl = finished.label === 'X509 CRL';
      if (finished.label !== 'CERTIFICATE' && !isCrl) {
        problems.push(
          problem(
            'UnsupportedBlock',
            name,
            `a ${finished.label} block; only CERTIFICATE and X509 CRL blocks are accepted`,
            at,
          ),
        );
        continue;
      }
      if (finished.headers) {
        problems.push(problem('PEMHeaders', name, `PEM headers inside a ${finished.label} block`, at));
        continue;
      }
      const b64 = finished.body.join('');
      if (b64.length === 0 || b64.length % 4 !== 0 || !BASE64_BODY.test(b64)) {
        const bad = finished.body.findIndex((l) => !BASE64_LINE.test(l));
        problems.push(
          bad >= 0
            ? problem('InvalidBase64', name, `invalid base64 character at line ${finished.lines[bad]}`, at)
            : problem(
                'InvalidBase64',
                name,
                'the base64 body is corrupted or truncated (length or padding)',
                at,
              ),
        );
        if (bad >= 0) break;
        continue;
      }
      const der = Buffer.from(b64, 'base64');
      if (isCrl) {
        crls.push({ der, ...at });
        continue;
      }
      const framing = certificateFramingError(der);
      if (framing) {
        problems.push(problem('UnparsableCertificate', name, `not a certificate: ${framing}`, at));
        continue;
      }
      certificates.push({ der, ...at });
      continue;
    }
    if (BEGIN.test(line)) {
      problems.push(
        problem('MalformedPEM', name, `BEGIN at line ${lineNo} inside an unterminated block`, at),
      );
      current = undefined;
      break;
    }
    problems.push(problem('InvalidBase64', name, `invalid base64 character at line ${lineNo}`, at));
    current = undefined;
    break;
  }
  if (current) {
    problems.push(
      problem('MalformedPEM', name, `truncated: no END ${current.label} line`, { block, line: current.line }),
    );
  }
  if (problems.length === 0 && block === 0) {
    problems.push(problem('NotPEM', name, 'no PEM block found'));
  }
  return problems.length > 0 ? { certificates: [], crls: [], problems } : { certificates, crls, problems };
}
