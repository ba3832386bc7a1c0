// The shape of a monthly SLA report: what the calculator's results become
// per cluster and per month. Apart from report.ts so that the renderers
// (html.ts) and the report job both depend on it and not on each other.
import type { InstanceResult } from './calculator.ts';

export interface SlaTerms {
  commitment: number;
  multiplier: number;
  minOutageMinutes: number;
}

export interface DailyAvailability {
  date: string;
  availability: number;
}

export interface ClusterReport extends InstanceResult {
  daily: DailyAvailability[];
}

export interface SlaReport {
  tenant: string;
  month: string;
  period: { start: string; end: string };
  terms: SlaTerms;
  clusters: ClusterReport[];
  totals: { clusters: number; missed: number; compensation: number };
  /** Set when stored: */
  version?: number;
  digest?: string;
  generatedAt?: string;
}
