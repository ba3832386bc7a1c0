// Replay benchmark for predictive scale-out: a week of a synthetic workload
// with a steep daily peak, replayed minute by minute through the reactive
// recommender alone and through reactive + predictive, counting the minutes
// where the ready pods run over target. New pods take a few minutes to become
// ready, which is what the reactive path pays for at each peak.
// Over target = average CPU utilization of the ready pods above the target
// plus the HPA's own 10% tolerance (below that the HPA itself would not act).
// Last line: {"bench":"predictive","over_target_minutes_reactive":…,"over_target_minutes_predictive":…}
import { mulberry32 } from '../core/hashing.ts';
import { parseRecommendInput, type RecommendRequest } from '../autoscaler/pods/input.ts';
import { buildLoadProfile, predictReplicas, type LoadPoint, type LoadProfile } from '../autoscaler/pods/predictive.ts';
import { recommendWithTrace } from '../autoscaler/pods/recommend.ts';


const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
const START = Date.parse('2026-11-16T00:00:00Z');
const DAYS = 7;
const WARMUP_DAYS = 3; // history the forecast learns from before it is scored
const STARTUP_MINUTES = 3; // a new pod serves traffic this long after it is created
const LEAD_SECONDS = 10 * 60;
const TARGET = 70; // % of a 1-core request
const OVER = TARGET * 1.1;
const MIN_REPLICAS = 2;
const MAX_REPLICAS = 60;


/** Cores: 4 at night, a 10-minute ramp to 24 at 12:00 UTC, two hours of peak, growing 3% a day, ±5% noise. */
function workload(): number[] {
  // Seeded so that every run replays the same week.
  const rand = mulberry32(42);
  const out: number[] = [];
  for (let i = 0; i < DAYS * 1440; i++) {
    const minuteOfDay = i % 1440;
    const day = Math.floor(i / 1440);
    let peak = 0;
    if (minuteOfDay >= 710 && minuteOfDay < 720) peak = 20 * ((minuteOfDay - 710 + 1) / 10);
    else if (minuteOfDay >= 720 && minuteOfDay < 840) peak = 20;
    else if (minuteOfDay >= 840 && minuteOfDay < 870) peak = 20 * (1 - (minuteOfDay - 840) / 30);
    const base = 4 + peak;
    out.push(base * (1 + 0.03 * day) * (1 + (rand() - 0.5) * 0.1));
  }
  return out;
}

interface PodState {
  name: string;
  readyAt: number;
}

function simulate(load: number[], predictive: boolean): { overMinutes: number; podMinutes: number } {
  let serial = 0;
  let pods: PodState[] = Array.from({ length: MIN_REPLICAS }, () => ({ name: `web-${serial++}`, readyAt: START - DAY }));
  const recommendations: { time: number; replicas: number }[] = [];
  const scaleEvents: { time: number; replicaChange: number }[] = [];
  const history: LoadPoint[] = [];
  let profile: LoadProfile | undefined;
  let overMinutes = 0;
  let podMinutes = 0;

  for (let i = 0; i < load.length; i++) {
    const now = START + i * MINUTE;
    const demand = load[i]!;
    const ready = pods.filter((p) => p.readyAt <= now);
    const servingCount = Math.max(1, ready.length);
    const perPodMilli = Math.round((demand * 1000) / servingCount);
    const utilization = (perPodMilli / 1000) * 100;
    if (i >= WARMUP_DAYS * 1440) {
      if (utilization > OVER) overMinutes++;
      podMinutes += pods.length;
    }
    history.push({ time: now, value: demand });

    const request: RecommendRequest = {
      now: new Date(now).toISOString(),
      hpa: {
        spec: {
          scaleTargetRef: { kind: 'Deployment', name: 'web' },
          minReplicas: MIN_REPLICAS,
          maxReplicas: MAX_REPLICAS,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: TARGET } } }],
          behavior: {},
        },
        status: { currentReplicas: pods.length },
      },
      pods: pods.map((p) => ({
        metadata: { name: p.name },
        spec: { containers: [{ name: 'app', resources: { requests: { cpu: '1' } } }] },
        status:
          p.readyAt <= now
            ? {
                phase: 'Running' as const,
                startTime: new Date(p.readyAt - 30_000).toISOString(),
                conditions: [{ type: 'Ready', status: 'True' as const, lastTransitionTime: new Date(p.readyAt).toISOString() }],
              }
            : { phase: 'Pending' as const },
      })),
      podMetrics: ready.map((p) => ({
        metadata: { name: p.name },
        timestamp: new Date(now - 5_000).toISOString(),
        window: '30s',
        containers: [{ name: 'app', usage: { cpu: `${perPodMilli}m` } }],
      })),
      history: {
        recommendations: recommendations.filter((r) => r.time > now - 10 * MINUTE).map((r) => ({ time: new Date(r.time).toISOString(), replicas: r.replicas })),
        scaleEvents: scaleEvents.filter((e) => e.time > now - 5 * MINUTE).map((e) => ({ time: new Date(e.time).toISOString(), replicaChange: e.replicaChange })),
      },
    };
    const trace = recommendWithTrace(parseRecommendInput(request));
    if (trace.prenormalizedReplicas !== undefined) recommendations.push({ time: now, replicas: trace.prenormalizedReplicas });
    let desired = trace.recommendation.desiredReplicas;

    if (predictive) {
      if (i % 60 === 0) profile = buildLoadProfile(history.slice(-DAYS * 1440));
      desired = predictReplicas({
        now,
        history,
        profile,
        perReplicaTarget: TARGET / 100,
        leadTimeSeconds: LEAD_SECONDS,
        reactiveReplicas: desired,
        maxReplicas: MAX_REPLICAS,
      }).desiredReplicas;
    }

    if (desired > pods.length) {
      const add = desired - pods.length;
      for (let k = 0; k < add; k++) pods.push({ name: `web-${serial++}`, readyAt: now + STARTUP_MINUTES * MINUTE });
      scaleEvents.push({ time: now, replicaChange: add });
    } else if (desired < pods.length) {
      const remove = pods.length - desired;
      // Remove pods that are not serving yet first, then the newest.
      pods = [...pods].sort((a, b) => a.readyAt - b.readyAt).slice(0, desired);
      scaleEvents.push({ time: now, replicaChange: -remove });
    }
  }
  return { overMinutes, podMinutes };
}

const load = workload();
const started = performance.now();
const reactive = simulate(load, false);
const predictive = simulate(load, true);
const seconds = (performance.now() - started) / 1000;
console.log(
  `replayed ${DAYS} days (${load.length} minutes) twice in ${seconds.toFixed(1)} s; scored days ${WARMUP_DAYS + 1}-${DAYS}; ` +
    `pod-minutes reactive ${reactive.podMinutes}, predictive ${predictive.podMinutes}`,
);
console.log(
  JSON.stringify({ bench: 'predictive', over_target_minutes_reactive: reactive.overMinutes, over_target_minutes_predictive: predictive.overMinutes }),
);
