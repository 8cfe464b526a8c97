/**
 * Node.js LTS lines and the day each reaches its end of life (https://nodejs.org/en/about/previous-releases).
 * The image and the Lambda runtime must be on a line still supported today: once a line passes its date, the
 * deploy tests fail until deploy/ moves on (add the next LTS line here when it ships).
 */
export const NODE_LTS_END_OF_LIFE: Readonly<Record<number, string>> = {
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
};

export const SUPPORTED_NODE_LINES: readonly number[] = Object.entries(NODE_LTS_END_OF_LIFE)
  .filter(([, endOfLife]) => Date.parse(`${endOfLife}T23:59:59Z`) > Date.now())
  .map(([line]) => Number(line));
