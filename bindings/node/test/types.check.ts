// Compile-time checks of lib/index.d.ts (`npm run typecheck`): what must be
// accepted, and what must be rejected (each @ts-expect-error fails the
// check if the line compiles).
import { Consumer, Producer, open, codes, type ErrorCode, type ProducerRecord } from '..';

export async function accepted(): Promise<void> {
  const broker = await open('/tmp/x', { listen: '127.0.0.1:0' });
  const p = await Producer.connect({ bootstrapServers: ['a:1', 'b:2'], 'linger.ms': 5, compressionType: 'zstd' });
  const record: ProducerRecord = { topic: 't', value: null, headers: { a: ['1', Buffer.alloc(1)] } };
  const md = await p.send(record);
  const offset: number = md.offset;
  const c = await broker.consumer({ groupId: 'g', partitionAssignmentStrategy: ['range'] });
  for await (const r of c) {
    const v: Buffer | null = r.value;
    const h: Array<[string, Buffer | null]> = r.headers;
    void [v, h, offset];
  }
  const code: ErrorCode = codes.NOT_FOUND;
  void code;
}

export async function rejected(p: Producer, c: Consumer): Promise<void> {
  // @ts-expect-error a record needs a topic
  await p.send({ value: 'x' });
  // @ts-expect-error values are bytes or strings
  await p.send({ topic: 't', value: 42 });
  // @ts-expect-error poll resolves to records, not one record
  const one: import('..').Record = await c.poll();
  // @ts-expect-error unknown compression
  await Producer.connect({ bootstrapServers: 'x:1', compressionType: 'brotli' });
  // @ts-expect-error codes are a closed set
  const code: ErrorCode = 'KLOG_NOPE';
  void [one, code];
}
