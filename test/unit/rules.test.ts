import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRules, globToRegExp, loadRulesFile, RulesFileError } from '../../src/events/rules.js';

describe('rules file', () => {
  it('matches source and detail-type globs, braces literal', () => {
    const pattern = globToRegExp('v2.detail.events.conversation.{id}.*');

    expect(pattern.test('v2.detail.events.conversation.{id}.customer.end')).toBe(true);
    expect(pattern.test('v2.detail.events.conversationX{id}.customer.end')).toBe(false);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
  });

  it('takes the first matching rule', () => {
    const [first, second] = compileRules([
      { name: 'audits', 'detail-type': 'v2.audits.*', key: ['detail.eventBody.id'] },
      { name: 'all', key: ['id'] },
    ]);

    expect(first?.matches('aws.partner/genesys.com/x', 'v2.audits.entitytype.{id}.entityid.{id}')).toBe(true);
    expect(first?.matches('aws.partner/genesys.com/x', 'v2.detail.events')).toBe(false);
    expect(second?.matches(undefined, undefined)).toBe(true);
  });

  it.each([
    [{ rules: [{ name: 'no-key', source: 'x' }] }, /rule 'no-key': key /],
    [{ rules: [{ name: 'empty', key: [] }] }, /rule 'empty': key must list at least one field path/],
    [{ rules: [{ key: ['a..b'] }] }, /rule #1: key 'a\.\.b' is not a field path/],
    [
      { rules: [{ name: 'short', key: ['id'], ttlSeconds: 60 }] },
      /rule 'short': ttlSeconds must be at least 86400/,
    ],
    [{ rules: [{ name: 'typo', key: ['id'], detailType: 'x' }] }, /rule 'typo': .*detailType/],
    [{ rule: [] }, /expected \{"rules": \[\.\.\.\]\}/],
  ])('refuses a wrong rule, naming it (%o)', (document, expected) => {
    expect(() => compileRules(document)).toThrow(RulesFileError);
    expect(() => compileRules(document)).toThrow(expected);
  });

  it('names the file when it is not JSON', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ebdedup-rules-')), 'rules.json');
    writeFileSync(file, '{ rules: ');

    expect(() => loadRulesFile(file)).toThrow(/DEDUP_RULES_FILE='.*rules\.json' is not JSON/);
    expect(() => loadRulesFile(`${file}.missing`)).toThrow(/cannot be read: ENOENT/);
  });
});
