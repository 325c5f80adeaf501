// What a router with stale signals sees (docs/semantics.md, "Routers"): a copy of the replica views
// refreshed at the first routing instant of every refresh period, as a router that polls replica
// metrics sees them between two polls.
import type { ClusterView } from '../../policy/router/types.js';

export class ViewSnapshot {
  private readonly view: ClusterView;
  private nextUs = 0;

  constructor(
    private readonly periodUs: number,
    live: ClusterView,
  ) {
    const copy = (a: ArrayLike<number>) => Float64Array.from(a);
    this.view = {
      ...live,
      outstanding: copy(live.outstanding),
      usedBlocks: copy(live.usedBlocks),
      queuedPrefillTokens: copy(live.queuedPrefillTokens),
      remainingDecodeTokens: copy(live.remainingDecodeTokens),
      predictedDecodeTokens: copy(live.predictedDecodeTokens),
    };
  }

  /**
   * The view a request routed at `nowUs` sees: the live views as they were at the first routing
   * instant of the period [floor(now / period) x period, + period), before any request of that
   * instant was routed; the router's own count `routed` is always current.
   */
  at(nowUs: number, live: ClusterView): ClusterView {
    const v = this.view;
    if (nowUs >= this.nextUs) {
      (v.outstanding as Float64Array).set(live.outstanding);
      (v.usedBlocks as Float64Array).set(live.usedBlocks);
      (v.queuedPrefillTokens as Float64Array).set(live.queuedPrefillTokens);
      (v.remainingDecodeTokens as Float64Array).set(live.remainingDecodeTokens);
      (v.predictedDecodeTokens as Float64Array).set(live.predictedDecodeTokens);
      this.nextUs = (Math.floor(nowUs / this.periodUs) + 1) * this.periodUs;
    }
    v.routed = live.routed;
    return v;
  }
}
