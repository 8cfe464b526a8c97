import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';

/**
 * A lingering close, as nginx does it (https://nginx.org/en/docs/http/ngx_http_core_module.html#lingering_close):
 * an answer sent before the request's body has arrived (401 before the body is read, 413 for a body over the
 * limit, 415) must still reach a client that keeps sending. Closing the socket while its bytes are in flight
 * makes the kernel answer them with a reset, which discards the answer from the client's receive buffer: the
 * client sees EPIPE or ECONNRESET instead of the 413, and an API destination would retry what a retry cannot fix.
 *
 * So the connection stays open and the rest of the body is read and discarded, which RFC 9112 section 9.3
 * allows ("continue reading and discarding the request content"), within bounds: at most `maxBytes` more, for
 * at most `maxMs`. A client that finishes within them keeps its connection; one past them has it closed.
 */
export interface LingerLimits {
  maxBytes: number;
  maxMs: number;
}

/** How often the bytes read while lingering are counted. */
const CHECK_EVERY_MS = 50;

/**
 * Reads and discards the rest of `request`'s body within `limits`, then leaves the connection be, or closes
 * it. The bytes are counted on the socket: once Node has dumped an unread body (it does when the answer ends
 * first), the body's chunks no longer reach the request stream, but the socket still reads them.
 */
export function lingerOnUnreadBody(request: IncomingMessage, limits: LingerLimits): void {
  const socket = request.socket;
  // Only a request still arriving over a real connection (fastify.inject's requests have neither).
  if (request.complete !== false || !(socket instanceof Socket) || socket.destroyed) return;
  const startedAt = Date.now();
  const readBefore = socket.bytesRead;
  const stop = (): void => {
    clearInterval(check);
    request.removeListener('end', stop);
    request.removeListener('close', stop);
  };
  const check = setInterval(() => {
    if (socket.bytesRead - readBefore > limits.maxBytes || Date.now() - startedAt >= limits.maxMs) {
      stop();
      socket.destroy();
    }
  }, CHECK_EVERY_MS);
  check.unref();
  request.once('end', stop);
  request.once('close', stop);
  request.resume();
}
