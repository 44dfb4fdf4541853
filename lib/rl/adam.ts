/**
 * The engine's AdamW (torch defaults: beta1 .9, beta2 .999, eps 1e-8, no weight decay = torch
 * Adam, as trl) over a fixed, named variable list, with a bit-exact save/restore of its state (the
 * step count and the moments) so a resumed run matches an uninterrupted one. Moments are stored
 * under torch's names exp_avg.<param> / exp_avg_sq.<param>. The JSON state keeps the field names
 * of the earlier tf.train.adam-based version (accBeta = beta^(t+1), what tfjs stored).
 */
import { tf } from '../engine';
import { AdamW } from '../engine/optim';

export interface AdamState {
  iterations: number;
  accBeta1: number;
  accBeta2: number;
}

export class NamedAdam {
  readonly optimizer: AdamW;
  private readonly names: string[];

  constructor(
    private readonly vars: Map<string, tf.Variable>,
    lr: number,
    o: { beta1?: number; beta2?: number; eps?: number } = {},
  ) {
    this.optimizer = new AdamW({ lr, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, eps: o.eps ?? 1e-8 });
    this.names = [...vars.keys()];
  }

  get learningRate(): number {
    return this.optimizer.lr;
  }
  set learningRate(lr: number) {
    this.optimizer.lr = lr;
  }

  /** Gradients keyed by HF parameter name; applied in the fixed variable order. Disposes nothing. */
  apply(grads: Map<string, tf.Tensor>): void {
    const gs = this.names.map((n) => {
      const g = grads.get(n);
      if (!g) throw new Error(`NamedAdam.apply: no gradient for "${n}"`);
      return g;
    });
    this.optimizer.apply(this.names.map((n) => this.vars.get(n)!), gs);
  }

  get iterations(): number {
    return this.optimizer.step;
  }

  /** JSON state + moment tensors (clones; caller disposes). */
  async getState(): Promise<{ state: AdamState; tensors: Map<string, tf.Tensor> }> {
    const tensors = new Map<string, tf.Tensor>();
    if (this.optimizer.step > 0) {
      for (const n of this.names) {
        const [m, v] = this.optimizer.moments(this.vars.get(n)!);
        tensors.set(`exp_avg.${n}`, m.clone());
        tensors.set(`exp_avg_sq.${n}`, v.clone());
      }
    }
    const t = this.optimizer.step;
    return { state: { iterations: t, accBeta1: this.optimizer.beta1 ** (t + 1), accBeta2: this.optimizer.beta2 ** (t + 1) }, tensors };
  }

  async setState(s: { state: AdamState; tensors: Map<string, tf.Tensor> }): Promise<void> {
    if (s.tensors.size > 0) {
      for (const n of this.names) {
        const a = s.tensors.get(`exp_avg.${n}`);
        const b = s.tensors.get(`exp_avg_sq.${n}`);
        if (!a || !b) throw new Error(`optimizer state: moments for parameter "${n}" are missing`);
        const [m, v] = this.optimizer.moments(this.vars.get(n)!);
        m.assign(a);
        v.assign(b);
      }
    }
    this.optimizer.step = s.state.iterations;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
