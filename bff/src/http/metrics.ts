import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The process's Prometheus metrics, on its own registry (several apps may live in one test process). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    notifications: new Counter({
      name: 'channel_notifications_total',
      help: 'Inbound channel notifications by outcome',
      labelNames: ['channel', 'outcome'] as const,
      registers: [registry],
    }),
    paymentResults: new Counter({
      name: 'payment_results_applied_total',
      help: 'Channel payment results applied, by source and outcome',
      labelNames: ['channel', 'source', 'outcome'] as const,
      registers: [registry],
    }),
    hisPushes: new Counter({
      name: 'his_pushes_total',
      help: 'HIS result push attempts by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    jobsQueued: new Gauge({
      name: 'jobs_queued',
      help: 'Jobs waiting in each queue',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
