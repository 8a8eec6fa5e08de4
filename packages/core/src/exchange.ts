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

/** Whoever claimed an exchange; told once, with what it claimed it as, when the exchange is over. */
export interface ExchangeSink {
  end(claim: unknown, statusCode: number): void;
}

/**
 * One request and its response, as node:http announced it. What is read here is read before any web
 * framework has touched the two objects: Express re-prototypes `req` and `res` and adds properties to
 * them, which gives each request's pair a hidden class of its own, and then every property read costs
 * V8 an inline-cache miss (measured: most of what the Express adapter cost per request). What the
 * claimant keeps about the request is its own `claim` object, opaque here.
 */
export class Exchange {
  /** Who claimed it, and its record of the request. */
  sink: ExchangeSink | undefined = undefined;
  claim: unknown = undefined;
  done = false;
  /** The next claimed exchange on the same connection (HTTP pipelining). */
  next: Exchange | undefined = undefined;

  constructor(
    readonly request: IncomingMessage,
    readonly response: ServerResponse,
    readonly socket: Socket,
    readonly rawMethod: string | undefined,
    readonly url: string | undefined,
    readonly startedAt: number,
  ) {}
}

/**
 * The exchange node:http announced last. node:http emits the server's 'request' event right after the
 * announcement, in the same tick, so a middleware installed before anything asynchronous finds its
 * request here. Nothing is stored per request: a WeakMap keyed by requests (tried first) made V8's
 * scavenger keep each finished request alive through the map's value (GC work per request nearly
 * doubled) and took a slow write barrier per insertion.
 */
let latest: Exchange | undefined;
let watching = false;

/**
 * The claimed exchanges of one connection that are not finished yet, oldest first: more than one only
 * with HTTP pipelining. Kept on the socket under a symbol: a socket's hidden class is stable, so reading it
 * there is cheap, where a WeakMap keyed by sockets cost a hash look-up at each claim and each finish
 * (measured: the claim bookkeeping cost 1.6% of an Express request's CPU time with a WeakMap and an array).
 */
class Connection {
  head: Exchange | undefined = undefined;
  tail: Exchange | undefined = undefined;
}
const CONNECTION = Symbol('kci-metrics.connection');
type Watched = Socket & { [CONNECTION]?: Connection };

/** Start following node:http exchanges (once per process; later calls do nothing). */
export function watchExchanges(): void {
  if (watching) return;
  watching = true;
  subscribe(REQUEST_START, onRequestStart);
  subscribe(RESPONSE_FINISH, onResponseFinish);
}

/**
 * The exchange node:http announced for `req`, if it is still unclaimed. Undefined when `req` is not the
 * request announced last (something asynchronous ran in between, the request started before
 * {@link watchExchanges}, or another server implementation serves it) or another sink claimed it first:
 * the caller then watches the response itself.
 */
export function unclaimedExchange(req: IncomingMessage): Exchange | undefined {
  const exchange = latest;
  return exchange !== undefined && exchange.request === req && exchange.sink === undefined ? exchange : undefined;
}

/**
 * Claim an exchange, so that `sink.end(claim, statusCode)` is called once, when it is over. Nothing is
 * changed before the one step that can throw (a socket that refuses a listener): a failed claim leaves the
 * exchange unclaimed.
 */
export function claimExchange(exchange: Exchange, sink: ExchangeSink, claim: unknown): void {
  const socket = exchange.socket as Watched;
  let connection = socket[CONNECTION];
  if (connection === undefined) {
    const created = new Connection();
    // One listener per connection, not one per request: a connection that closes while a claimed response
    // is unfinished means the client went away (or the server broke the response off).
    socket.once('close', () => abandon(created));
    socket[CONNECTION] = created;
    connection = created;
  }
  exchange.sink = sink;
  exchange.claim = claim;
  if (latest === exchange) latest = undefined; // an idle process keeps no request alive
  if (connection.tail === undefined) connection.head = exchange;
  else connection.tail.next = exchange;
  connection.tail = exchange;
}

function onRequestStart(message: unknown): void {
  const { request, response, socket } = message as HttpMessage;
  latest = new Exchange(request, response, socket, request.method, request.url, performance.now());
}

function onResponseFinish(message: unknown): void {
  const { response, socket } = message as HttpMessage;
  const connection = (socket as Watched)[CONNECTION];
  if (connection === undefined) return; // nobody claimed a request on this connection
  let previous: Exchange | undefined;
  let exchange = connection.head;
  while (exchange !== undefined && exchange.response !== response) {
    previous = exchange;
    exchange = exchange.next;
  }
  if (exchange === undefined) return; // an unclaimed response (perhaps pipelined between claimed ones)
  if (previous === undefined) connection.head = exchange.next;
  else previous.next = exchange.next;
  if (connection.tail === exchange) connection.tail = previous;
  exchange.next = undefined;
  settle(exchange, sentStatus(response)); // read with Reflect.get: Express's response misses the inline cache
}

function abandon(connection: Connection): void {
  let exchange = connection.head;
  connection.head = undefined;
  connection.tail = undefined;
  while (exchange !== undefined) {
    const next = exchange.next;
    exchange.next = undefined;
    settle(exchange, outcomeStatus(exchange.response));
    exchange = next;
  }
}

function settle(exchange: Exchange, statusCode: number): void {
  if (exchange.done) return;
  exchange.done = true;
  try {
    exchange.sink?.end(exchange.claim, statusCode);
  } catch {
    // a failing metric must not become an exception in node:http's event handlers
  }
}
