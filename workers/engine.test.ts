import { afterEach, describe, expect, it } from 'vitest';
import type { EngineError } from '../app/state/bridge.ts';
import { EngineBridge } from '../app/state/bridge.ts';
import { messagePortWorker, nodeThreadWorker } from '../test/ports.ts';
import { createEngine } from './engine.ts';
import { PROTOCOL_VERSION, type WorkerEvent } from './protocol.ts';

const noGpu = () => Promise.reject(new Error('this test needs no GPU'));
const channels: MessageChannel[] = [];
afterEach(() => channels.splice(0).forEach((channel) => (channel.port1.close(), channel.port2.close())));

/** An engine on port2; returns the events it posts and a way to send it raw messages. */
function rawEngine(): { events: WorkerEvent[]; send(message: unknown): void; next(): Promise<WorkerEvent> } {
  const channel = new MessageChannel();
  channels.push(channel);
  const handle = createEngine((event) => channel.port2.postMessage(event), noGpu);
  channel.port2.onmessage = (event) => handle(event.data);
  const events: WorkerEvent[] = [];
  const waiting: ((event: WorkerEvent) => void)[] = [];
  channel.port1.onmessage = (event) => {
    events.push(event.data as WorkerEvent);
    waiting.shift()?.(event.data as WorkerEvent);
  };
  return {
    events,
    send: (message) => channel.port1.postMessage(message),
    next: () => new Promise((resolve) => waiting.push(resolve)),
  };
}

describe('engine protocol', () => {
  it('answers a message of an unknown type with an UNKNOWN_MESSAGE error event', async () => {
    const engine = rawEngine();
    engine.send({ v: PROTOCOL_VERSION, id: 5, type: 'model.explode', payload: {} });
    const event = await engine.next();
    expect(event).toMatchObject({ type: 'error', id: 5, error: { code: 'UNKNOWN_MESSAGE' } });
    if (event.type === 'error') expect(event.error.message).toContain('model.explode');
  });

  it('answers a message of another protocol version with a PROTOCOL_VERSION error', async () => {
    const engine = rawEngine();
    engine.send({ v: PROTOCOL_VERSION + 1, id: 1, type: 'gpu.info', payload: {} });
    expect(await engine.next()).toMatchObject({ type: 'error', id: 1, error: { code: 'PROTOCOL_VERSION' } });
  });

  it('answers a message that is not an object with a BAD_MESSAGE error', async () => {
    const engine = rawEngine();
    engine.send('hello');
    expect(await engine.next()).toMatchObject({ type: 'error', error: { code: 'BAD_MESSAGE' } });
  });

  it('reports a failing command as an error for that request, with the cause', async () => {
    const engine = rawEngine();
    engine.send({ v: PROTOCOL_VERSION, id: 9, type: 'gpu.info', payload: {} });
    const event = await engine.next();
    expect(event).toMatchObject({ type: 'error', id: 9 });
    if (event.type === 'error') expect(event.error.message).toContain('this test needs no GPU');
  });
});

describe('EngineBridge', () => {
  it('rejects a request with the engine’s typed error', async () => {
    const channel = new MessageChannel();
    channels.push(channel);
    const handle = createEngine((event) => channel.port2.postMessage(event), noGpu);
    channel.port2.onmessage = (event) => handle(event.data);
    const bridge = new EngineBridge(messagePortWorker(channel.port1));
    await expect(bridge.request('gpu.info', {})).rejects.toThrow(/this test needs no GPU/);
  });

  it('rejects every pending request when the worker crashes, and every later one at once', async () => {
    const crashing = nodeThreadWorker(
      "const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => { throw new Error('boom in the worker'); });",
    );
    const dead: EngineError[] = [];
    const bridge = new EngineBridge(crashing, { onDead: (error) => dead.push(error) });
    const first = bridge.request('gpu.info', {});
    const second = bridge.request('gpu.selftest', {});
    await expect(first).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await expect(second).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    await expect(first).rejects.toThrow(/boom in the worker/);
    expect(bridge.isDead).toBe(true);
    expect(dead).toHaveLength(1);
    await expect(bridge.request('gpu.info', {})).rejects.toMatchObject({ code: 'WORKER_CRASHED' });
    bridge.dispose();
  });

  it('passes an error event tied to no request to onStrayError', async () => {
    const channel = new MessageChannel();
    channels.push(channel);
    const stray = new Promise<EngineError>((resolve) => new EngineBridge(messagePortWorker(channel.port1), { onStrayError: resolve }));
    channel.port2.postMessage({ v: PROTOCOL_VERSION, type: 'error', error: { code: 'UNKNOWN_MESSAGE', message: 'what is this?' } });
    expect(await stray).toMatchObject({ code: 'UNKNOWN_MESSAGE', message: 'what is this?' });
  });

  it('reports an event of an unknown type from the worker instead of ignoring it', async () => {
    const channel = new MessageChannel();
    channels.push(channel);
    const stray = new Promise<EngineError>((resolve) => new EngineBridge(messagePortWorker(channel.port1), { onStrayError: resolve }));
    channel.port2.postMessage({ v: PROTOCOL_VERSION, type: 'surprise' });
    expect(await stray).toMatchObject({ code: 'UNKNOWN_MESSAGE' });
  });
});
