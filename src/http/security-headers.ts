/**
 * The security headers of a JSON API, as the OWASP REST Security Cheat Sheet lists them for every API response:
 * https://cheatsheetseries.owasp.org/cheatsheets/REST_Security_Cheat_Sheet.html#security-headers
 * They replace @fastify/helmet, which cost 7–8 % of the receiver's CPU (it re-parsed its CSP for every response);
 * measured again on 2026-12-04 (`npm run bench -- --replacements`, busy 2 vCPU VM): helmet 94 µs, this hook 52 µs
 * per bare-route request, 37 µs saved, ≈ 20 % of a new event's CPU (bench/results/replacements-2026-12-04.md).
 * A hand-written replacement kept by measurement: it saves far more than the 5 % of a request's CPU the rule asks
 * (17–40 % across 2026-12-04's runs). test/http/security-headers.test.ts holds this set to helmet's, header by
 * header. The receiver
 * answers only JSON, to machines (API destinations, probes, scrapers), so helmet's headers for HTML documents
 * (Cross-Origin-Opener/Resource-Policy, Origin-Agent-Cluster, X-DNS-Prefetch-Control, X-Download-Options,
 * X-Permitted-Cross-Domain-Policies, X-XSS-Protection) are left out.
 * - HSTS as helmet sent it: on every answer, TLS or not. Over plain HTTP a browser ignores it
 *   (https://www.rfc-editor.org/rfc/rfc6797#section-8.1); behind a TLS-terminating proxy, which an API
 *   destination's HTTPS endpoint usually is, the client gets it over HTTPS.
 * - `frame-ancestors 'none'` and X-Frame-Options: DENY forbid framing an answer (helmet allowed the same origin);
 *   `default-src 'none'` and Referrer-Policy are the cheat sheet's defence in depth should a browser render one.
 * - Cache-Control: no-store: an answer (processed, duplicate, a dedup key) must never come from a cache.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
});
export const SECURITY_HEADER_ENTRIES = Object.entries(SECURITY_HEADERS);
/** The same headers as raw HTTP/1.1 lines, for the answers written to a socket before Fastify has a request. */
export const SECURITY_HEADER_LINES = SECURITY_HEADER_ENTRIES.map(
  ([name, value]) => `${name}: ${value}\r\n`,
).join('');
