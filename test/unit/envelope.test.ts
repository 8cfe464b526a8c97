import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/core/errors.js';
import { validateEvent } from '../../src/events/envelope.js';
import { AUDIT, type Json, loadSample, SAMPLE_FILES } from '../helpers/samples.js';

function issuesOf(body: unknown): { path: string; message: string }[] {
  try {
    validateEvent(body, 'envelope');
  } catch (error) {
    if (error instanceof InvalidEventError) return error.issues;
    throw error;
  }
  return [];
}

describe('envelope validation', () => {
  it.each(SAMPLE_FILES)('accepts the Genesys sample %s', (file) => {
    expect(issuesOf(loadSample(file))).toEqual([]);
  });

  it('names the field as sent when detail-type is missing, and rejects detailType', () => {
    const { 'detail-type': detailType, ...rest } = loadSample(AUDIT);
    const body = { ...rest, detailType };

    expect(issuesOf(body)).toEqual([{ path: 'detail-type', message: 'is required' }]);
  });

  it('names nested Genesys detail fields', () => {
    const event = loadSample(AUDIT);
    const { topicName: _topic, ...detail } = event.detail as Json;

    expect(issuesOf({ ...event, detail })).toEqual([{ path: 'detail.topicName', message: 'is required' }]);
  });

  it('rejects a body that is not an object', () => {
    expect(issuesOf([loadSample(AUDIT)])[0]?.message).toMatch(/JSON object/);
    expect(issuesOf('text')[0]?.path).toBe('');
  });

  it('rejects a time that is not an ISO date', () => {
    expect(issuesOf({ ...loadSample(AUDIT), time: 'yesterday' }).map((issue) => issue.path)).toEqual([
      'time',
    ]);
  });

  it('keeps unknown fields in the body it hands on', () => {
    const body = { ...loadSample(AUDIT), 'x-extra': { kept: true } };

    const event = validateEvent(body, 'envelope');

    expect(event.body).toBe(body);
    expect(event.body['x-extra']).toEqual({ kept: true });
  });

  it('does not apply the Genesys detail schema to other sources', () => {
    const body = { ...loadSample(AUDIT), source: 'custom.app', detail: { anything: 1 } };

    expect(issuesOf(body)).toEqual([]);
  });
});
