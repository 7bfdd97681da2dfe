import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERRORS, ERROR_CODES, PulseError } from '../src/index.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

describe('error registry', () => {
  it('documents every code in the README error table with its HTTP status', () => {
    for (const code of ERROR_CODES) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(row, `README row for ${code}`).toBeDefined();
      expect(row).toContain(`| ${ERRORS[code].status} |`);
    }
  });

  it('PulseError carries code, status and retryAfter', () => {
    const e = new PulseError('RATE_LIMITED', undefined, { retryAfter: 1500 });
    expect(e).toBeInstanceOf(Error);
    expect(e.toJSON()).toEqual({ code: 'RATE_LIMITED', message: 'Too many requests', retryAfter: 1500 });
    expect(e.status).toBe(429);
  });
});
