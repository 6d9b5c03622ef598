/**
 * Consumer lag over successive samples: does it grow, cross the alert threshold (the
 * first sample at or above it is the alert), and drain back to zero?
 */
export interface LagSample {
  time: number;
  /** Total lag in messages. */
  lag: number;
}

export interface LagFindings {
  samples: number;
  peak: number;
  grew: boolean;
  alertAt: number | undefined;
  drainedAt: number | undefined;
}

export function lag(samples: LagSample[], threshold: number): LagFindings {
  let peak = 0;
  let peakIndex = -1;
  samples.forEach((s, i) => {
    if (s.lag > peak) {
      peak = s.lag;
      peakIndex = i;
    }
  });
  const rising = samples.slice(0, peakIndex + 1);
  const grew = rising.length >= 3 && rising.some((s, i) => i > 0 && s.lag > (rising[i - 1]?.lag ?? 0));
  const alert = samples.find((s) => s.lag >= threshold);
  const drained = alert ? samples.find((s) => s.time > alert.time && s.lag === 0) : undefined;
  return { samples: samples.length, peak, grew, alertAt: alert?.time, drainedAt: drained?.time };
}
