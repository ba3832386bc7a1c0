// The workload a pod belongs to, read from the pod's name the way
// Kubernetes' controllers name pods, for the `workload` label kept on every
// log line. Pure: the pod name in, the workload's kind and name out.
//
//   Deployment   <deployment>-<pod-template-hash>-<suffix>   web-7d9f8b6c5d-x2x9z
//   CronJob      <cronjob>-<scheduled minute>-<suffix>      backup-29410560-q7kzd
//   DaemonSet, Job, bare ReplicaSet   <name>-<suffix>         fluent-bit-5xk2p
//   StatefulSet  <statefulset>-<ordinal>                     postgres-0
//
// The pod-template-hash and the 5-character suffix are written in
// Kubernetes' "safe" alphabet (k8s.io/apimachinery rand.SafeEncodeString: no
// vowels, no 0, 1 or 3), which is what tells them from words of a name.

export type WorkloadKind = 'Deployment' | 'CronJob' | 'StatefulSet' | 'DaemonSetOrJob' | 'Pod';

export interface Workload {
  readonly kind: WorkloadKind;
  readonly name: string;
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const SUFFIX = new RegExp(`^(.+)-([${SAFE}]{5})$`);
const TEMPLATE_HASH = new RegExp(`^[${SAFE}]{1,10}$`);
/** A CronJob's Job is named after its scheduled time in minutes since the epoch (8 digits until the year 2160). */
const SCHEDULED_MINUTE = /^\d{8,10}$/;
const ORDINAL = /^(.+)-(0|[1-9]\d{0,5})$/;

/** The workload that owns a pod of this name, as far as the name tells. */
export function workloadOf(pod: string): Workload {
  const suffixed = SUFFIX.exec(pod);
  if (suffixed) {
    const owner = suffixed[1]!;
    const dash = owner.lastIndexOf('-');
    if (dash > 0) {
      const middle = owner.slice(dash + 1);
      const name = owner.slice(0, dash);
      if (SCHEDULED_MINUTE.test(middle)) return { kind: 'CronJob', name };
      if (TEMPLATE_HASH.test(middle) && /[^a-z]|^[bcdfghjklmnpqrstvwxz]{6,}$/.test(middle)) return { kind: 'Deployment', name };
    }
    return { kind: 'DaemonSetOrJob', name: owner };
  }
  const ordinal = ORDINAL.exec(pod);
  if (ordinal) return { kind: 'StatefulSet', name: ordinal[1]! };
  return { kind: 'Pod', name: pod };
}

/** The `workload` label value for a pod name. */
export function workloadName(pod: string): string {
  return workloadOf(pod).name;
}
