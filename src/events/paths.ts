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
