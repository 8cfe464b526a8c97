import type { OutgoingHttpHeaders } from 'node:http';
import helmet from '@fastify/helmet';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { JSON_HEADERS, testApp } from '../helpers/app.js';
import { uniqueEvent } from '../helpers/samples.js';

/**
 * @fastify/helmet is the reference for the receiver's security headers. The receiver does not register it: a bare
 * Fastify route with helmet ran at 0.56–0.65× of the same route without it (defaults or CSP off), so the
 * receiver sets its own header set (SECURITY_HEADERS, src/http/security-headers.ts) from one synchronous hook
 * (src/http/app.ts). This test holds that set to helmet's: for every header helmet sets, the receiver sends the same or a stricter value, or the
 * header only matters to a document a browser renders (HTML), and the receiver's answers are never one.
 */

type Headers = Record<string, string>;

function stringHeaders(headers: OutgoingHttpHeaders | Record<string, unknown>): Headers {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)]));
}

/** What helmet adds to the answer of a bare route, with its defaults. */
async function helmetHeaders(): Promise<Headers> {
  const answer = async (withHelmet: boolean) => {
    const app = Fastify();
    if (withHelmet) await app.register(helmet);
    app.get('/', async () => ({ ok: true }));
    const response = await app.inject({ method: 'GET', url: '/' });
    await app.close();
    return stringHeaders(response.headers);
  };
  const [bare, withHelmet] = [await answer(false), await answer(true)];
  return Object.fromEntries(Object.entries(withHelmet).filter(([name]) => !(name in bare)));
}

/** A CSP as directive → source list (`'none'` is the empty list). */
function parseCsp(policy: string): Map<string, string[]> {
  return new Map(
    policy
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter(([name]) => name !== undefined && name !== '')
      .map(([name = '', ...sources]) => [name, sources.filter((source) => source !== "'none'")]),
  );
}

/** Fetch directives fall back to default-src when absent (https://www.w3.org/TR/CSP3/#directive-fallback-list). */
const FETCH_DIRECTIVES = new Set([
  'default-src',
  'child-src',
  'connect-src',
  'font-src',
  'frame-src',
  'img-src',
  'manifest-src',
  'media-src',
  'object-src',
  'script-src',
  'script-src-attr',
  'script-src-elem',
  'style-src',
  'style-src-attr',
  'style-src-elem',
  'worker-src',
]);

/**
 * Directives that act only inside a rendered HTML document: `<base>`, `<form>`, and the document's own
 * sub-resource URLs. They do not fall back to default-src; they are moot because no answer is such a document.
 */
const DOCUMENT_ONLY_DIRECTIVES = new Set(['base-uri', 'form-action', 'upgrade-insecure-requests']);

/** The receiver's answers: never HTML, never script, and never sniffed into either (RFC 8259; nosniff). */
function expectNeverADocument(answers: Headers[]): void {
  for (const headers of answers) {
    expect(headers['content-type']).toMatch(/^(application\/json|text\/plain);/);
    expect(headers['x-content-type-options']).toBe('nosniff');
  }
}

/** For each header helmet sets: how the receiver's answers compare, asserted. */
const VERDICTS: Record<string, (helmetValue: string, answers: Headers[]) => void> = {
  'content-security-policy': (helmetValue, answers) => {
    const reference = parseCsp(helmetValue);
    for (const headers of answers) {
      const own = parseCsp(headers['content-security-policy'] ?? '');
      for (const [directive, allowed] of reference) {
        if (DOCUMENT_ONLY_DIRECTIVES.has(directive)) continue;
        const fallback = FETCH_DIRECTIVES.has(directive) ? own.get('default-src') : undefined;
        const ownSources = own.get(directive) ?? fallback;
        expect(ownSources, `CSP ${directive} set`).toBeDefined();
        // Stricter or equal: every source the receiver allows, helmet allows too.
        for (const source of ownSources ?? []) expect(allowed, `CSP ${directive}`).toContain(source);
      }
    }
    expectNeverADocument(answers);
  },
  'strict-transport-security': (helmetValue, answers) => {
    const maxAge = (value: string) => Number(/max-age=(\d+)/.exec(value)?.[1] ?? '0');
    for (const headers of answers) {
      const own = headers['strict-transport-security'] ?? '';
      expect(maxAge(own)).toBeGreaterThanOrEqual(maxAge(helmetValue));
      if (helmetValue.includes('includeSubDomains')) expect(own).toContain('includeSubDomains');
    }
  },
  'x-frame-options': (helmetValue, answers) => {
    const strictness = ['SAMEORIGIN', 'DENY'];
    for (const headers of answers) {
      expect(strictness.indexOf(headers['x-frame-options'] ?? '')).toBeGreaterThanOrEqual(
        strictness.indexOf(helmetValue),
      );
    }
  },
  'referrer-policy': sameValue('referrer-policy'),
  'x-content-type-options': sameValue('x-content-type-options'),
  // Browsing-context isolation of a top-level document: no answer is a document.
  'cross-origin-opener-policy': (_, answers) => expectNeverADocument(answers),
  'origin-agent-cluster': (_, answers) => expectNeverADocument(answers),
  // Cross-origin no-cors loads of a JSON or text/plain answer sent with nosniff are already blocked by Opaque
  // Response Blocking (https://fetch.spec.whatwg.org/#orb-algorithm), which is what same-origin CORP adds.
  'cross-origin-resource-policy': (_, answers) => expectNeverADocument(answers),
  // DNS prefetching of links in a document; IE8's "open" of a downloaded HTML file; the legacy XSS filter, which
  // only ever inspected HTML (helmet's 0 switches it off): none applies to an answer that is not HTML.
  'x-dns-prefetch-control': (_, answers) => expectNeverADocument(answers),
  'x-download-options': (_, answers) => expectNeverADocument(answers),
  'x-xss-protection': (_, answers) => expectNeverADocument(answers),
  // Flash and Acrobat read a crossdomain.xml policy file; the receiver serves none (asserted in the test below).
  'x-permitted-cross-domain-policies': () => undefined,
};

function sameValue(name: string) {
  return (helmetValue: string, answers: Headers[]) => {
    for (const headers of answers) expect(headers[name], name).toBe(helmetValue);
  };
}

/** The headers of the receiver's answers: processed, invalid, unauthorized, unknown route, health, metrics. */
async function receiverAnswers(): Promise<Headers[]> {
  const { app } = await testApp();
  const post = (headers: Headers, payload: unknown) =>
    app.inject({ method: 'POST', url: '/events', headers, payload: JSON.stringify(payload) });
  const responses = [
    await post(JSON_HEADERS, uniqueEvent()),
    await post(JSON_HEADERS, { ...uniqueEvent(), id: '' }),
    await post({ ...JSON_HEADERS, 'x-api-key': 'wrong-key-0123456789' }, uniqueEvent()),
    await app.inject({ method: 'GET', url: '/nope' }),
    await app.inject({ method: 'GET', url: '/healthz' }),
    await app.inject({ method: 'GET', url: '/metrics' }),
  ];
  expect(responses.map((response) => response.statusCode)).toEqual([200, 400, 401, 404, 200, 200]);
  return responses.map((response) => stringHeaders(response.headers));
}

describe('security headers, against @fastify/helmet as the reference', () => {
  it('has a verdict for every header helmet sets', async () => {
    // Act
    const reference = await helmetHeaders();

    // Assert
    expect(Object.keys(reference).length).toBeGreaterThan(0);
    expect(Object.keys(VERDICTS).sort()).toEqual(Object.keys(reference).sort());
  });

  it('sends, for every header helmet sets, the same or a stricter value, or never answers what it protects', async () => {
    // Arrange
    const reference = await helmetHeaders();

    // Act
    const answers = await receiverAnswers();

    // Assert
    for (const [name, helmetValue] of Object.entries(reference)) {
      VERDICTS[name]?.(helmetValue, answers);
    }
  });

  it('serves no cross-domain policy file for Flash or Acrobat to read', async () => {
    // Arrange
    const { app } = await testApp();

    // Act
    const response = await app.inject({ method: 'GET', url: '/crossdomain.xml' });

    // Assert
    expect(response.statusCode).toBe(404);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
  });
});
