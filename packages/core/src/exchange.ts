import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
// Node's own object, not the global: Node 20's global `performance` is a lazy accessor that runs a getter
// and a receiver check on every read (under callgrind: 390 instructions per performance.now(), 225 this way).
import { performance } from 'node:perf_hooks';
import { outcomeStatus, sentStatus } from './labels.js';

/**
 * node:http announces every request on `http.server.request.start` right after parsing its headers, and
 * every finished response on `http.server.response.finish` (nodejs/node#34895; the message objects are only
 * made while someone subscribes). Node's documentation still marks its built-in channels experimental: if
 * they ever went, every request would take the listener path below, with the same results.
 */
const REQUEST_START = 'http.server.request.start';
const RESPONSE_FINISH = 'http.server.response.finish';

interface HttpMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
}

/**
 * What a claimant keeps of an exchange it claimed: the claimant's own record of the request, which is the
 * only object made per request. `sink.end(claim, statusCode)` is called once, when the exchange is over.
 */
export interface ExchangeClaim {
  /** The response the exchange ends with (a record that is not a claim has none). */
  readonly response: ServerResponse | undefined;
  readonly sink: ExchangeSink | undefined;
  /** The next claimed exchange on the same connection (HTTP pipelining). */
  nextOnConnection: ExchangeClaim | undefined;
}

/** Whoever claimed an exchange; told once, with its claim, when the exchange is over. */
export interface ExchangeSink {
  end(claim: ExchangeClaim, statusCode: number): void;
}

/**
 * The request node:http announced last, and what was read of it before any web framework touched it:
 * Express re-prototypes `req` and `res` and adds properties to them, which gives each request's pair a
 * hidden class of its own, and then every property read costs V8 an inline-cache miss (measured: most of
 * what the Express adapter cost per request). node:http emits the server's 'request' event right after the
 * announcement, in the same tick, so a middleware installed before anything asynchronous finds its request
 * here.
 *
 * One object for the process, overwritten by each announcement: nothing is allocated per request until a
 * recorder claims it, and then only the claimant's own record. (A WeakMap keyed by requests, tried first,
 * made V8's scavenger keep each finished request alive through the map's value and took a slow write
 * barrier per insertion.) A claim clears only `request`, which is what makes it exclusive. The response
 * and socket of the last request stay referenced until the next announcement: clearing them too measured
 * 2-5 µs more CPU per request in the Express bench (interleaved runs of 16 blocks, in two sessions).
 */
export class Announcement {
  request: IncomingMessage | undefined = undefined;
  response: ServerResponse | undefined = undefined;
  socket: Socket | undefined = undefined;
  /** The method and target as received. */
  method: string | undefined = undefined;
  url: string | undefined = undefined;
  /** `performance.now()` when node:http announced it. */
  startedAt = 0;
}

const announced = new Announcement();
let watching = false;

/**
 * The claimed exchanges of one connection that are not finished yet, oldest first (more than one only with
 * HTTP pipelining), kept on the socket under a symbol: a socket's hidden class is stable, so reading it
 * there is cheap, where a WeakMap keyed by sockets cost a hash look-up at each claim and each finish.
 * `undefined`: nothing was ever claimed on the connection (no 'close' listener yet); `null`: nothing pending.
 */
const CLAIMS = Symbol('kci-metrics.claims');
type Watched = Socket & { [CLAIMS]?: ExchangeClaim | null };

/** Start following node:http exchanges (once per process; later calls do nothing). */
export function watchExchanges(): void {
  if (watching) return;
  watching = true;
  subscribe(REQUEST_START, onRequestStart);
  subscribe(RESPONSE_FINISH, onResponseFinish);
}

/**
 * node:http's announcement of `req`, if it is still unclaimed. Undefined when `req` is not the request
 * announced last (something asynchronous ran in between, the request started before {@link watchExchanges},
 * or another server implementation serves it) or another recorder claimed it first: the caller then
 * watches the response itself. Valid until the next announcement: read it, then claim it or leave it.
 */
export function announcementOf(req: IncomingMessage): Announcement | undefined {
  return announced.request === req ? announced : undefined;
}

/**
 * Claim the announced exchange, so that `claim.sink.end(claim, statusCode)` is called once, when it is
 * over: when node:http finishes its response, or when its connection closes first. Nothing is changed
 * before the one step that can throw (a socket that refuses a listener): a failed claim leaves the exchange
 * unclaimed.
 */
export function claimAnnounced(announcement: Announcement, claim: ExchangeClaim): void {
  const socket = announcement.socket as Watched;
  const pending = socket[CLAIMS];
  if (pending === undefined) {
    // One listener per connection, not one per request: a connection that closes while a claimed response
    // is unfinished means the client went away (or the server broke the response off).
    socket.once('close', onConnectionClose);
    socket[CLAIMS] = claim;
  } else if (pending === null) {
    socket[CLAIMS] = claim;
  } else {
    let last = pending;
    while (last.nextOnConnection !== undefined) last = last.nextOnConnection;
    last.nextOnConnection = claim;
  }
  announcement.request = undefined; // not claimed twice (its response and socket: see Announcement)
}

function onRequestStart(message: unknown): void {
  const { request, response, socket } = message as HttpMessage;
  announced.request = request;
  announced.response = response;
  announced.socket = socket;
  announced.method = request.method;
  announced.url = request.url;
  announced.startedAt = performance.now();
}

function onResponseFinish(message: unknown): void {
  const { response, socket } = message as HttpMessage;
  const first = (socket as Watched)[CLAIMS];
  if (first === undefined || first === null) return; // nothing claimed on this connection
  let claim: ExchangeClaim | undefined = first;
  let previous: ExchangeClaim | undefined;
  while (claim !== undefined && claim.response !== response) {
    previous = claim;
    claim = claim.nextOnConnection;
  }
  if (claim === undefined) return; // an unclaimed response (perhaps pipelined between claimed ones)
  if (previous === undefined) (socket as Watched)[CLAIMS] = claim.nextOnConnection ?? null;
  else previous.nextOnConnection = claim.nextOnConnection;
  claim.nextOnConnection = undefined;
  end(claim, sentStatus(response)); // read with Reflect.get: Express's response misses the inline cache
}

function onConnectionClose(this: Watched): void {
  let claim = this[CLAIMS];
  this[CLAIMS] = null;
  while (claim !== undefined && claim !== null) {
    const next: ExchangeClaim | undefined = claim.nextOnConnection;
    claim.nextOnConnection = undefined;
    end(claim, outcomeStatus(claim.response as ServerResponse)); // a claim always carries its response
    claim = next;
  }
}

function end(claim: ExchangeClaim, statusCode: number): void {
  try {
    claim.sink?.end(claim, statusCode);
  } catch {
    // a failing metric must not become an exception in node:http's event handlers
  }
}
