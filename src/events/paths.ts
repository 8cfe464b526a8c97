/**
 * Field paths as users write them in DEDUP_IGNORE_FIELDS and rules files: dot-separated names, where a
 * name may itself contain a hyphen (`detail-type`) and a whole number indexes an array
 * (`detail.eventBody.propertyChanges.0.property`).
 */

export type FieldPath = readonly string[];

export function parsePath(path: string): FieldPath {
  const segments = path.split('.');
  if (path.trim() === '' || segments.some((segment) => segment === '')) {
    throw new Error(`'${path}' is not a field path (expected names separated by dots)`);
  }
  return segments;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The value at `path`, or undefined where the path leads nowhere. Own properties only. */
export function getPath(value: unknown, path: FieldPath): unknown {
  let current: unknown = value;
  for (const segment of path) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

/**
 * A copy of `value` without the fields at `paths`. Only the objects along a removed path are copied; the
 * rest is shared with the input, which is never changed.
 *
 * The content key no longer calls this: canonicalJsonOmitting (canonical.ts) leaves the fields out while
 * writing, and is tested to give the canonical JSON of this function's result. So this stays the definition,
 * quirk included: a copied object loses an own `__proto__` member (see omitPath), and stored keys depend on it.
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
