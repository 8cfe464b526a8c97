import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from './io.js';

/** A JSON object read from an event file. */
export type EventObject = Record<string, unknown>;

export interface LoadedEvent {
  /** Where it came from, as the user would name it: `samples/x.json`, `batch.json#2` (array index), `log.jsonl:7` (line). */
  label: string;
  event: EventObject;
}

export interface LoadResult {
  events: LoadedEvent[];
  /** One line per file, item or line that could not be read; the rest was still loaded. */
  problems: string[];
}

/** Files inside a folder that are read; a file named on the command line is read whatever its name. */
const EVENT_FILE = /\.(json|jsonl|ndjson)$/i;
const JSON_LINES_FILE = /\.(jsonl|ndjson)$/i;

function isEventObject(value: unknown): value is EventObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads event files and folders (recursively; files ending in .json, .jsonl or .ndjson, in name order, hidden ones
 * skipped). A file holds one event, a JSON array of events, or JSON lines (one event per line).
 */
export async function loadEvents(paths: readonly string[], cwd: string): Promise<LoadResult> {
  const result: LoadResult = { events: [], problems: [] };
  for (const given of paths) {
    await loadPath(given, path.resolve(cwd, given), true, result);
  }
  return result;
}

async function loadPath(label: string, absolute: string, named: boolean, result: LoadResult): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    result.problems.push(
      code === 'ENOENT'
        ? `${label}: no such file or folder`
        : `${label}: cannot read (${errorMessage(error)})`,
    );
    return;
  }
  if (info.isDirectory()) {
    let names: string[];
    try {
      names = (await readdir(absolute)).filter((name) => !name.startsWith('.')).sort();
    } catch (error) {
      result.problems.push(`${label}: cannot read folder (${errorMessage(error)})`);
      return;
    }
    const before = result.events.length + result.problems.length;
    for (const name of names) {
      const childAbsolute = path.join(absolute, name);
      const childLabel = path.join(label, name);
      let childInfo: Awaited<ReturnType<typeof stat>>;
      try {
        childInfo = await stat(childAbsolute);
      } catch (error) {
        result.problems.push(`${childLabel}: cannot read (${errorMessage(error)})`);
        continue;
      }
      if (childInfo.isDirectory() || EVENT_FILE.test(name)) {
        await loadPath(childLabel, childAbsolute, false, result);
      }
    }
    if (named && result.events.length + result.problems.length === before) {
      result.problems.push(`${label}: no .json, .jsonl or .ndjson files in this folder`);
    }
    return;
  }
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    result.problems.push(`${label}: cannot read (${errorMessage(error)})`);
    return;
  }
  parseEventText(label, text, result);
}

/** Parses the text of one file into events, adding problems for what is not an event. */
export function parseEventText(label: string, text: string, result: LoadResult): void {
  const content = text.replace(/^\uFEFF/, '');
  if (content.trim() === '') {
    result.problems.push(`${label}: empty file`);
    return;
  }
  if (!JSON_LINES_FILE.test(label)) {
    let whole: unknown;
    let wholeError: unknown;
    try {
      whole = JSON.parse(content);
    } catch (error) {
      wholeError = error;
    }
    if (wholeError === undefined) {
      addParsed(label, whole, result);
      return;
    }
    // Not one JSON value: JSON lines if its first line is an event on its own, else the file is not JSON.
    const firstLine = content.split(/\r?\n/).find((line) => line.trim() !== '') ?? '';
    if (!isJsonObject(firstLine)) {
      result.problems.push(`${label}: not JSON (${errorMessage(wholeError)})`);
      return;
    }
  }
  const lines = content.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const lineLabel = `${label}:${index + 1}`;
    try {
      const value: unknown = JSON.parse(line);
      if (isEventObject(value)) result.events.push({ label: lineLabel, event: value });
      else result.problems.push(`${lineLabel}: not a JSON object`);
    } catch (error) {
      result.problems.push(`${lineLabel}: not JSON (${errorMessage(error)})`);
    }
  });
}

function isJsonObject(text: string): boolean {
  try {
    return isEventObject(JSON.parse(text));
  } catch {
    return false;
  }
}

function addParsed(label: string, value: unknown, result: LoadResult): void {
  if (isEventObject(value)) {
    result.events.push({ label, event: value });
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) result.problems.push(`${label}: empty array`);
    value.forEach((item, index) => {
      const itemLabel = `${label}#${index}`;
      if (isEventObject(item)) result.events.push({ label: itemLabel, event: item });
      else result.problems.push(`${itemLabel}: not a JSON object`);
    });
    return;
  }
  result.problems.push(`${label}: not an event (a JSON object or an array of them)`);
}
