import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { canonicalJson } from '../../src/events/canonical.js';
import { sha256Base64Url } from '../../src/events/keys.js';
import { JSON_HEADERS, redisStore, testApp } from '../helpers/app.js';
import { RedisServer } from '../helpers/redis-server.js';
import { uniqueEvent } from '../helpers/samples.js';
import type { RecordingSink } from '../helpers/sinks.js';

/*
 * What JSON.parse accepts but would make two different events one (issue 21, points 3 and 5): a member name
 * written twice (the last wins), a lone surrogate escape, and an integer no double holds. Each used to be
 * taken and answered `duplicate` against the event it collapsed onto.
 */

let redis: RedisServer;

beforeAll(async () => {
  redis = await RedisServer.start();
});

afterAll(async () => {
  await redis.close();
});

function post(payload: string) {
  return { method: 'POST' as const, url: '/events', headers: JSON_HEADERS, payload };
}

/** A fresh event's text with `members` written first inside `detail.eventBody`. */
function eventWith(members: string): string {
  return JSON.stringify(uniqueEvent()).replace('"eventBody":{', `"eventBody":{${members},`);
}

describe('member names written twice', () => {
  it('answers 400 naming the path, where JSON.parse would have kept the last and keyed it as that', async () => {
    // Arrange
    const { app, sink } = await testApp({ store: redisStore(redis.url) });
    const twice = eventWith('"status":"open","status":"closed"');
    const once = twice.replace('"status":"open",', '');

    // Act
    const refused = await app.inject(post(twice));
    const taken = await app.inject(post(once));

    // Assert
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toEqual({
      error: 'invalid_event',
      issues: [
        {
          path: 'detail.eventBody.status',
          message: "the member name 'status' is written twice in one object (RFC 8785, RFC 7493)",
        },
      ],
    });
    expect(taken.json().status).toBe('processed');
    expect((sink as RecordingSink).handled.map((entry) => entry.context.rawBody)).toEqual([once]);
  });

  it('refuses a second detail-type, which a first-wins consumer would read otherwise than it was validated', async () => {
    const { app } = await testApp({ store: redisStore(redis.url) });
    const text = JSON.stringify(uniqueEvent());

    const response = await app.inject(post(text.replace('{', '{"detail-type":"Something else",')));

    expect(response.statusCode).toBe(400);
    expect(response.json().issues[0].path).toBe('detail-type');
  });

  it('takes the same name in different objects, and a name that only looks the same escaped', async () => {
    const { app } = await testApp({ store: redisStore(redis.url) });

    const response = await app.inject(
      post(eventWith('"a":{"x":1},"b":{"x":1},"c\\u0078":1,"cx2":[{"x":1},{"x":2}]')),
    );

    expect(response.statusCode).toBe(200);
  });
});

describe('lone surrogates', () => {
  it('answers 400 naming the string, and takes a surrogate pair', async () => {
    const { app } = await testApp({ store: redisStore(redis.url) });

    const lone = await app.inject(post(eventWith('"name":"x\\ud800y"')));
    const loneLow = await app.inject(post(eventWith('"names":["ok","\\udc00"]')));
    const inName = await app.inject(post(eventWith('"\\ud83d":1')));
    const pair = await app.inject(post(eventWith('"name":"\\ud83d\\ude00"')));

    expect([lone.statusCode, loneLow.statusCode, inName.statusCode, pair.statusCode]).toEqual([
      400, 400, 400, 200,
    ]);
    expect(lone.json().issues[0].path).toBe('detail.eventBody.name');
    expect(lone.json().issues[0].message).toMatch(/lone surrogate/);
    expect(loneLow.json().issues[0].path).toBe('detail.eventBody.names.1');
    expect(inName.json().issues[0].path).toBe('detail.eventBody.\ud83d');
  });
});

describe('integers beyond 2^53', () => {
  it('keeps two events apart that differ only in an integer no double holds, and each one dedups', async () => {
    // Arrange: …993 and …992 are one double; only their digits tell them apart.
    const { app, sink } = await testApp({ store: redisStore(redis.url) });
    const base = JSON.stringify(uniqueEvent());
    const exact = base.replace('"eventBody":{', '"eventBody":{"amount":9007199254740992,');
    const beyond = base.replace('"eventBody":{', '"eventBody":{"amount":9007199254740993,');

    // Act
    const first = await app.inject(post(exact));
    const second = await app.inject(post(beyond));
    const again = await app.inject(post(beyond));

    // Assert
    expect([first.json().status, second.json().status, again.json().status]).toEqual([
      'processed',
      'processed',
      'duplicate',
    ]);
    expect(second.json().key).not.toBe(first.json().key);
    expect((sink as RecordingSink).handled.map((entry) => entry.context.rawBody)).toEqual([exact, beyond]);
  });

  it('keys an integer written as RFC 8785 writes it exactly as RFC 8785 does, so no stored key changes', async () => {
    const { app } = await testApp({ store: redisStore(redis.url) });
    const event: Record<string, unknown> = {
      ...uniqueEvent(),
      source: 'com.example.billing',
      detail: { amount: 9007199254740992, nested: [12345678901234567000, -1e-7] },
    };

    const response = await app.inject(post(JSON.stringify(event)));

    const view = { source: event.source, 'detail-type': event['detail-type'], detail: event.detail };
    expect(response.json().key).toBe(sha256Base64Url(canonicalJson(view)));
  });

  it('keeps integers apart by where they stand, not only by their digits', async () => {
    const { app } = await testApp({ store: redisStore(redis.url) });
    const base = JSON.stringify(uniqueEvent());

    const ab = await app.inject(
      post(base.replace('"eventBody":{', '"eventBody":{"a":9007199254740993,"b":9007199254740992,')),
    );
    const ba = await app.inject(
      post(base.replace('"eventBody":{', '"eventBody":{"a":9007199254740992,"b":9007199254740993,')),
    );

    expect([ab.json().status, ba.json().status]).toEqual(['processed', 'processed']);
  });

  it('leaves them out of the key with an ignored field, like any other value there', async () => {
    const { app } = await testApp({
      store: redisStore(redis.url),
      env: { DEDUP_IGNORE_FIELDS: 'detail.eventBody.sequence' },
    });
    const base = JSON.stringify(uniqueEvent());

    const first = await app.inject(
      post(base.replace('"eventBody":{', '"eventBody":{"sequence":9007199254740993,')),
    );
    const second = await app.inject(
      post(base.replace('"eventBody":{', '"eventBody":{"sequence":9007199254740995,')),
    );

    expect([first.json().status, second.json().status]).toEqual(['processed', 'duplicate']);
  });

  it('keeps them apart in a dedup rule key too', async () => {
    const rules = join(mkdtempSync(join(tmpdir(), 'ebdedup-rules-')), 'rules.json');
    writeFileSync(
      rules,
      JSON.stringify({ rules: [{ name: 'by-sequence', key: ['detail.eventBody.sequence'] }] }),
    );
    onTestFinished(() => rmSync(dirname(rules), { recursive: true, force: true }));
    const { app } = await testApp({
      store: redisStore(redis.url),
      env: { DEDUP_STRATEGY: 'rules', DEDUP_RULES_FILE: rules },
    });

    const first = await app.inject(post(eventWith('"sequence":9007199254740992')));
    const second = await app.inject(post(eventWith('"sequence":9007199254740993')));
    const again = await app.inject(post(eventWith('"sequence":9007199254740993')));

    expect([first.json().status, second.json().status, again.json().status]).toEqual([
      'processed',
      'processed',
      'duplicate',
    ]);
  });

  it('still answers 400 for an integer beyond double range', async () => {
    const { app } = await testApp({ store: redisStore(redis.url) });

    const response = await app.inject(post(eventWith(`"big":1${'0'.repeat(400)}`)));

    expect(response.statusCode).toBe(400);
    expect(response.json().issues[0].path).toBe('detail.eventBody.big');
  });
});
