import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadEvents } from '../../src/cli/load-events.js';

const event = (id: string) => ({ id, source: 'test', 'detail-type': 'x', detail: { n: id } });

describe('loadEvents', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ebdedup-load-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file holding one event, labelled with the path as given', async () => {
    // Arrange
    await writeFile(path.join(dir, 'one.json'), JSON.stringify(event('a'), null, 2));

    // Act
    const result = await loadEvents(['one.json'], dir);

    // Assert
    expect(result.problems).toEqual([]);
    expect(result.events).toEqual([{ label: 'one.json', event: event('a') }]);
  });

  it('reads a JSON array as one event per item, labelled with the index', async () => {
    await writeFile(path.join(dir, 'many.json'), JSON.stringify([event('a'), event('b')]));

    const result = await loadEvents(['many.json'], dir);

    expect(result.events.map((e) => e.label)).toEqual(['many.json#0', 'many.json#1']);
    expect(result.events.map((e) => e.event.id)).toEqual(['a', 'b']);
  });

  it('reads JSON lines (in .jsonl or .json files) as one event per line, skipping blank lines', async () => {
    const lines = `${JSON.stringify(event('a'))}\n\n${JSON.stringify(event('b'))}\r\n`;
    await writeFile(path.join(dir, 'log.jsonl'), lines);
    await writeFile(path.join(dir, 'log.json'), lines);

    const result = await loadEvents(['log.jsonl', 'log.json'], dir);

    expect(result.problems).toEqual([]);
    expect(result.events.map((e) => e.label)).toEqual([
      'log.jsonl:1',
      'log.jsonl:3',
      'log.json:1',
      'log.json:3',
    ]);
  });

  it('reports a bad line of a JSON lines file and still loads the others', async () => {
    await writeFile(
      path.join(dir, 'log.ndjson'),
      `${JSON.stringify(event('a'))}\n{oops\n${JSON.stringify(event('c'))}\n`,
    );

    const result = await loadEvents(['log.ndjson'], dir);

    expect(result.events.map((e) => e.event.id)).toEqual(['a', 'c']);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/^log\.ndjson:2: not JSON/);
  });

  it('reads a folder recursively in name order, only .json/.jsonl/.ndjson files, hidden ones skipped', async () => {
    await mkdir(path.join(dir, 'events', 'nested'), { recursive: true });
    await writeFile(path.join(dir, 'events', 'b.json'), JSON.stringify(event('b')));
    await writeFile(path.join(dir, 'events', 'a.json'), JSON.stringify(event('a')));
    await writeFile(path.join(dir, 'events', 'README.md'), '# not an event');
    await writeFile(path.join(dir, 'events', '.hidden.json'), JSON.stringify(event('hidden')));
    await writeFile(path.join(dir, 'events', 'nested', 'c.jsonl'), JSON.stringify(event('c')));

    const result = await loadEvents(['events'], dir);

    expect(result.problems).toEqual([]);
    expect(result.events.map((e) => e.label)).toEqual([
      path.join('events', 'a.json'),
      path.join('events', 'b.json'),
      path.join('events', 'nested', 'c.jsonl:1'),
    ]);
  });

  it('names a file that is not JSON in one line and still loads the rest', async () => {
    await writeFile(path.join(dir, 'good.json'), JSON.stringify(event('good')));
    await writeFile(path.join(dir, 'bad.json'), '{\n  "id": "x",\n  broken\n}\n');

    const result = await loadEvents(['bad.json', 'good.json'], dir);

    expect(result.events.map((e) => e.event.id)).toEqual(['good']);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/^bad\.json: not JSON \(/);
  });

  it('reports items that are not objects, missing paths and empty files', async () => {
    await writeFile(path.join(dir, 'mixed.json'), JSON.stringify([event('a'), 42, 'text']));
    await writeFile(path.join(dir, 'empty.json'), '  \n');
    await writeFile(path.join(dir, 'scalar.json'), '"just a string"');

    const result = await loadEvents(['mixed.json', 'missing.json', 'empty.json', 'scalar.json'], dir);

    expect(result.events.map((e) => e.label)).toEqual(['mixed.json#0']);
    expect(result.problems).toEqual([
      'mixed.json#1: not a JSON object',
      'mixed.json#2: not a JSON object',
      'missing.json: no such file or folder',
      'empty.json: empty file',
      'scalar.json: not an event (a JSON object or an array of them)',
    ]);
  });

  it("loads the repository's samples folder: five events", async () => {
    const result = await loadEvents(['samples'], path.resolve(import.meta.dirname, '../..'));

    expect(result.problems).toEqual([]);
    expect(result.events).toHaveLength(5);
  });
});
