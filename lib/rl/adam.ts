/**
 * tf.train.adam with torch defaults (beta1 .9, beta2 .999, eps 1e-8 — tfjs would otherwise use
 * eps 1e-7) over a fixed, named variable list, with a bit-exact save/restore of its state
 * (moments, iteration count and the running beta powers) so a resumed run matches an
 * uninterrupted one. Moments are stored under torch's names exp_avg.<param> / exp_avg_sq.<param>.
 */
import { tf } from '../engine';

export class NamedAdam {
  readonly optimizer: tf.AdamOptimizer;
  private readonly names: string[];

  constructor(
    private readonly vars: Map<string, tf.Variable>,
    lr: number,
    o: { beta1?: number; beta2?: number; eps?: number } = {},
  ) {
    this.optimizer = tf.train.adam(lr, o.beta1 ?? 0.9, o.beta2 ?? 0.999, o.eps ?? 1e-8);
    this.names = [...vars.keys()];
  }

  get learningRate(): number {
    return (this.optimizer as unknown as { learningRate: number }).learningRate;
  }
  set learningRate(lr: number) {
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
  }

  /** Gradients keyed by HF parameter name; applied in the fixed variable order. Disposes nothing. */
  apply(grads: Map<string, tf.Tensor>): void {
    const list = this.names.map((n) => {
      const g = grads.get(n);
      if (!g) throw new Error(`NamedAdam.apply: no gradient for "${n}"`);
      return { name: this.vars.get(n)!.name, tensor: g };
    });
    this.optimizer.applyGradients(list);
  }

  get iterations(): number {
    return this.optimizer.iterations;
  }

  /** JSON state + moment tensors (clones; caller disposes). */
  async getState(): Promise<{ state: { iterations: number; accBeta1: number; accBeta2: number }; tensors: Map<string, tf.Tensor> }> {
    const inner = this.optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
    const weights = await this.optimizer.getWeights();
    const tensors = new Map<string, tf.Tensor>();
    const moments = weights.slice(1);
    const n = moments.length / 2;
    for (let i = 0; i < n; i++) {
      tensors.set(`exp_avg.${this.names[i]}`, moments[i].tensor.clone());
      tensors.set(`exp_avg_sq.${this.names[i]}`, moments[n + i].tensor.clone());
    }
    tf.dispose(weights[0].tensor);
    return {
      state: { iterations: this.optimizer.iterations, accBeta1: inner.accBeta1.dataSync()[0], accBeta2: inner.accBeta2.dataSync()[0] },
      tensors,
    };
  }

  async setState(s: { state: { iterations: number; accBeta1: number; accBeta2: number }; tensors: Map<string, tf.Tensor> }): Promise<void> {
    const hasMoments = s.tensors.size > 0;
    const m: { name: string; tensor: tf.Tensor }[] = [];
    const v: { name: string; tensor: tf.Tensor }[] = [];
    if (hasMoments) {
      for (const n of this.names) {
        const a = s.tensors.get(`exp_avg.${n}`);
        const b = s.tensors.get(`exp_avg_sq.${n}`);
        if (!a || !b) throw new Error(`optimizer state: moments for parameter "${n}" are missing`);
        m.push({ name: `${this.vars.get(n)!.name}/m`, tensor: a.clone() });
        v.push({ name: `${this.vars.get(n)!.name}/v`, tensor: b.clone() });
      }
    }
    const iter = tf.scalar(s.state.iterations, 'int32');
    await this.optimizer.setWeights([{ name: 'iter', tensor: iter }, ...m, ...v]);
    iter.dispose();
    tf.dispose([...m, ...v].map((x) => x.tensor)); // setWeights made variables from them
    const inner = this.optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
    // the running products differ from pow(beta, t+1) in the last float32 bit: restore them exactly
    tf.tidy(() => {
      inner.accBeta1.assign(tf.scalar(s.state.accBeta1));
      inner.accBeta2.assign(tf.scalar(s.state.accBeta2));
    });
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
