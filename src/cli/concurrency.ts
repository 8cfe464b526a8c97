/**
 * Runs `work(index)` for every index below `count`, at most `concurrency` at once, started in index order.
 * A rejection stops new starts and rejects the whole (the items already running go on to their end).
 */
export async function forEachConcurrently(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < count) {
      const index = next++;
      try {
        await work(index);
      } catch (error) {
        stopped = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}
