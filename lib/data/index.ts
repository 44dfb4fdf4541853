/** lib/data: dataset loaders with the paper's preparation, prompts and task definitions. */
export * from './paths';
export * from './readers';
export * from './split';
export * from './imdb';
export * from './jigsaw';
export * from './rtp';
export * from './olid';
export * from './prompts';
export * from './tasks';
export * from './hub-datasets';
