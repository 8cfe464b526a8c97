import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { omitPaths } from '../../src/events/omit-paths.js';
import type { FieldPath } from '../../src/events/paths.js';

/** The obvious definition, for comparison: deep-copy, then delete (or blank, in an array) each path. */
function omitByDeleting(value: unknown, paths: readonly FieldPath[]): unknown {
  const copy: unknown = structuredClone(value);
  for (const path of paths) {
    let parent: unknown = copy;
    for (const [depth, segment] of path.entries()) {
      if (typeof parent !== 'object' || parent === null || !Object.hasOwn(parent, segment)) break;
      if (Array.isArray(parent) && !Number.isInteger(Number(segment))) break;
      const record = parent as Record<string, unknown>;
      if (depth === path.length - 1) {
        if (Array.isArray(parent)) record[segment] = null;
        else delete record[segment];
      } else parent = record[segment];
    }
  }
  return copy;
}

const names = fc.constantFrom('a', 'b', 'metadata', 'timestamp', '0', '1', 'length');
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.string(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(names, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).value;
const paths = fc.array(fc.array(names, { minLength: 1, maxLength: 3 }), { maxLength: 3 });

describe('omitPaths', () => {
  it('gives what deleting each path from a deep copy gives, and never changes its input', () => {
    fc.assert(
      fc.property(json, paths, (value, omitted) => {
        const before = structuredClone(value);

        const result = omitPaths(value, omitted);

        expect(result).toStrictEqual(omitByDeleting(value, omitted));
        expect(value).toStrictEqual(before);
      }),
      { numRuns: 2000 },
    );
  });

  it('blanks an ignored array element instead of shifting the rest', () => {
    const result = omitPaths({ list: ['x', 'y', 'z'] }, [['list', '1']]);

    expect(result).toEqual({ list: ['x', null, 'z'] });
  });
});
