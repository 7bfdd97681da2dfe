export * from './errors.js';
export * from './event.js';
export * from './channel.js';
export * from './native.js';
export * from './metrics.js';
