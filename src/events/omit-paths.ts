import type { FieldPath } from './paths.js';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * A copy of `value` without the fields at `paths`. Only the objects along a removed path are copied; the
 * rest is shared with the input, which is never changed.
 *
 * How the content key leaves DEDUP_IGNORE_FIELDS and Genesys' volatile fields out before hashing the canonical
 * JSON of the copy (canonicalJsonOmitting in canonical.ts), quirk included: a copied object loses an own
 * `__proto__` member (see omitPath), and stored keys depend on it.
 */
export function omitPaths(value: unknown, paths: readonly FieldPath[]): unknown {
  let result = value;
  for (const path of paths) result = omitPath(result, path, 0);
  return result;
}

function omitPath(value: unknown, path: FieldPath, depth: number): unknown {
  const segment = path[depth];
  if (segment === undefined || !isRecord(value) || !Object.hasOwn(value, segment)) return value;
  const last = depth === path.length - 1;
  if (Array.isArray(value)) {
    const index = Number(segment);
    // `length` is an array's own property too, but no JSON field.
    if (!Number.isInteger(index)) return value;
    const copy: unknown[] = [...value];
    // Removing an element would shift the others; an ignored element is blanked instead.
    copy[index] = last ? null : omitPath(copy[index], path, depth + 1);
    return copy;
  }
  // Copied key by key rather than spread-then-`delete`: `delete` turns the copy into a slow dictionary-mode
  // object. `copy.__proto__ = …` runs Object.prototype's setter, so a `__proto__` member is not copied.
  const copy: Record<string, unknown> = {};
  for (const name of Object.keys(value)) {
    if (name !== segment) copy[name] = value[name];
    else if (!last) copy[name] = omitPath(value[name], path, depth + 1);
  }
  return copy;
}
