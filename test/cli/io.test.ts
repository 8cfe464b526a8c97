import { describe, expect, it } from 'vitest';
import { firstLine, redactUrl } from '../../src/cli/io.js';

describe('redactUrl', () => {
  it('hides everything up to the last @ of a text that is not a URL, whatever the password holds', () => {
    // Arrange: new URL() rejects each of these (the authority ends at the first / ? or #)
    const given = [
      'redis://:pa/ss@host:6379',
      'redis://default:p?w@host:6379/0',
      'https://ops:p#w@host/events',
      'ops:se/cret@host:3000/events',
      'http://ops:se@cr/et@host:3000/events',
    ];

    // Act
    const shown = given.map((url) => redactUrl(url));

    // Assert
    expect(shown).toEqual([
      'redis://***@host:6379',
      'redis://***@host:6379/0',
      'https://***@host/events',
      '***@host:3000/events',
      'http://***@host:3000/events',
    ]);
  });

  it('hides the user name and the password of a URL, and what a password cut short by / leaves in the path', () => {
    // Arrange: the last one parses as host `default`, port 1234, path `/secret@host:6379`
    const given = [
      new URL('https://ops:secret@host/events'),
      'redis://:secret@host:6379',
      'http://secret@host/',
      'redis://default:1234/secret@host:6379',
    ];

    // Act
    const shown = given.map((url) => redactUrl(url));

    // Assert
    expect(shown).toEqual([
      'https://***@host/events',
      'redis://***@host:6379',
      'http://***@host/',
      'redis://***@host:6379',
    ]);
    for (const line of shown) expect(line).not.toContain('secret');
  });

  it('leaves a URL without credentials as it is', () => {
    expect(redactUrl('http://127.0.0.1:3000/events')).toBe('http://127.0.0.1:3000/events');
    expect(redactUrl(new URL('https://sqs.eu-west-1.amazonaws.com/1/q'))).toBe(
      'https://sqs.eu-west-1.amazonaws.com/1/q',
    );
    expect(redactUrl('127.0.0.1:3000/events')).toBe('127.0.0.1:3000/events');
  });
});

describe('firstLine', () => {
  it('keeps the first line of an error, a string or anything else, cut at 300 characters', () => {
    expect(firstLine(new Error('one\ntwo'))).toBe('one');
    expect(firstLine('one\r\ntwo')).toBe('one');
    expect(firstLine(`${'y'.repeat(301)}\n`)).toBe(`${'y'.repeat(300)}…`);
    expect(firstLine('z'.repeat(300))).toBe('z'.repeat(300));
    expect(firstLine(42)).toBe('42');
  });
});
