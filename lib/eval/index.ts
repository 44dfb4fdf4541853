/** lib/eval: metrics, perplexity, generations tables, figures and reports (spec section 6). */
export * from './metrics';
export * from './perplexity';
export * from './generations';
export * from './evaluate';
export * from './tables';
export * from './figures';
export * from './render';
export * from './report';
