import { randomUUID } from 'node:crypto';
import { type Json, loadSample, republished, SAMPLE_FILES } from '../helpers/samples.js';

/**
 * The events the chaos suite publishes: the Genesys samples in turn, each with a unique event body id
 * (`detail.eventBody.id`), so every one is a distinct notification with its own dedup key, and that id is
 * its identity in the ground truth.
 */

const GENESYS = SAMPLE_FILES.map(loadSample).filter(
  (event) => typeof event.source === 'string' && event.source.includes('genesys.com'),
);

export function chaosEvents(
  count: number,
  options: { poisonEvery?: number; poisonField?: string } = {},
): Json[] {
  return Array.from({ length: count }, (_, index) => {
    const base = GENESYS[index % GENESYS.length] as Json;
    const detail = base.detail as Json;
    const poison =
      options.poisonEvery !== undefined && index % options.poisonEvery === options.poisonEvery - 1;
    return {
      ...base,
      id: randomUUID(),
      time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      detail: {
        ...detail,
        eventBody: {
          ...(detail.eventBody as Json),
          id: randomUUID(),
          ...(poison ? { [options.poisonField ?? 'chaosPoison']: true } : {}),
        },
      },
    };
  });
}

/** The ground-truth identity of an event: its body id (shared by a re-publication, which has a new `id`). */
export function uidOf(event: Record<string, unknown>): string {
  const detail = event.detail as Json | undefined;
  const body = detail?.eventBody as Json | undefined;
  const id = body?.id;
  if (typeof id !== 'string') throw new Error('a chaos event without detail.eventBody.id');
  return id;
}

/** Whether the event was made a poison event (its `field` set in the event body). */
export function isPoison(event: Record<string, unknown>, field: string): boolean {
  const body = (event.detail as Json | undefined)?.eventBody as Json | undefined;
  return body?.[field] === true;
}

export { republished };
