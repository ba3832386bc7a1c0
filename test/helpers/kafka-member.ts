// A consumer-group member in a process of its own, so a test can kill -9 it:
// consumes `metrics` with a KafkaBus built from KAFKA_MEMBER_OPTIONS and
// prints one JSON line per delivery it has handled (token, series/ts keys).
import { Registry } from 'prom-client';
import { KafkaBus, type KafkaBusOptions } from '../../core/bus/kafka/kafka-bus.ts';

const options = JSON.parse(process.env['KAFKA_MEMBER_OPTIONS'] ?? 'null') as KafkaBusOptions;
const bus = new KafkaBus({ ...options, registry: new Registry() });
await bus.consume('metrics', async (delivery) => {
  const keys: string[] = [];
  for (const b of delivery.payloads) for (let i = 0; i < b.length; i++) keys.push(`${b.seriesIds[i]}@${b.timestamps[i]}`);
  process.stdout.write(`${JSON.stringify({ token: delivery.token, keys })}\n`);
});
setInterval(() => process.stdout.write(`${JSON.stringify({ assignment: bus.assignment('metrics') })}\n`), 200);
