import { describe, expect, test } from '@jest/globals';
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import pino from 'pino';

import { streamed } from '../../src/daemon/stream-handler.js';
import { TerwayError } from '../../src/errors/terway-error.js';

/** The part of grpc-js's ServerWritableStream the handler uses, recording what it was given. */
class FakeCall extends EventEmitter {
  readonly written: number[] = [];
  ended = false;
  /** What write() returns: false as a full buffer would. */
  accepting = true;

  constructor(readonly request: { count: number }) {
    super();
  }

  write(part: number): boolean {
    this.written.push(part);
    return this.accepting;
  }

  end(): void {
    this.ended = true;
    this.emit('finished');
  }
}

const log = pino({ level: 'silent' });

function start(
  call: FakeCall,
  produce: (request: { count: number }) => Iterable<number | undefined>,
): void {
  streamed(
    'Test',
    log,
    produce,
  )(call as unknown as ServerWritableStream<{ count: number }, number>);
}

function settled(call: FakeCall): Promise<unknown> {
  return new Promise((resolve) => {
    call.once('finished', () => resolve('end'));
    call.once('error', (error) => resolve(error));
  });
}

describe('a streamed listing', () => {
  test('every part is written in order, then the stream ends; undefined is a pause, not a part', async () => {
    const call = new FakeCall({ count: 3 });
    const done = settled(call);
    start(call, function* ({ count }) {
      for (let part = 0; part < count; part++) {
        yield part;
        yield undefined;
      }
    });
    expect(await done).toBe('end');
    expect(call.written).toEqual([0, 1, 2]);
  });

  test('the event loop turns between two parts: work queued meanwhile runs before the next part is made', async () => {
    const call = new FakeCall({ count: 3 });
    const done = settled(call);
    const order: string[] = [];
    start(call, function* () {
      order.push('part 0');
      yield 0;
      order.push('part 1');
      yield 1;
    });
    // Queued after the handler started: an ADD arriving while the first part is out.
    setImmediate(() => order.push('other call'));
    await done;
    expect(order).toEqual(['part 0', 'other call', 'part 1']);
  });

  test('a full buffer holds the next part until it drains', async () => {
    const call = new FakeCall({ count: 2 });
    call.accepting = false;
    const done = settled(call);
    start(call, function* () {
      yield 0;
      yield 1;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(call.written).toEqual([0]);
    call.accepting = true;
    call.emit('drain');
    expect(await done).toBe('end');
    expect(call.written).toEqual([0, 1]);
  });

  test('an error after a part ends the stream with its status, not with a partial listing', async () => {
    const call = new FakeCall({ count: 2 });
    const done = settled(call);
    start(call, function* () {
      yield 0;
      throw new TerwayError('INVALID_ARGUMENT', 'not a pod: "x"');
    });
    const error = (await done) as { code: number; details: string };
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toContain('not a pod: "x"');
    expect(call.ended).toBe(false);
    expect(call.written).toEqual([0]);
  });

  test('a caller that went away stops the producer', async () => {
    const call = new FakeCall({ count: 100 });
    let made = 0;
    let closed = false;
    start(call, function* () {
      try {
        for (;;) {
          made++;
          yield made;
        }
      } finally {
        closed = true;
      }
    });
    await new Promise((resolve) => setImmediate(resolve));
    call.emit('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const madeThen = made;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(made).toBe(madeThen);
    expect(closed).toBe(true);
    expect(call.ended).toBe(false);
  });
});
